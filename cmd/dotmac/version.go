package main

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// version is the release this binary was built as: scripts/build.sh sets it with
// -ldflags "-X main.version=..." (git describe); a plain go build leaves "dev", or the module
// version go install recorded.
var version = "dev"

// revision is the commit scripts/build.sh saw (-X main.revision=...), for builds where Go
// records none itself (-buildvcs=false, a git worktree); Go's own vcs.revision wins.
var revision = ""

// buildInfo says what this binary is: its version, the commit it was built from (with
// "-modified" when the working tree had uncommitted changes) and the Go release.
type buildInfo struct {
	Version   string
	Revision  string
	GoVersion string
}

// currentBuild reads the build info the Go toolchain embeds (vcs.revision, vcs.modified).
func currentBuild() buildInfo {
	b := buildInfo{Version: version, Revision: cmp.Or(revision, "unknown"), GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && b.Revision != "unknown" {
		b.Revision += "-modified"
	}
	return b
}

func (b buildInfo) String() string {
	return fmt.Sprintf("dotmac %s (revision %s, %s)", b.Version, b.Revision, b.GoVersion)
}

// registerBuildInfo adds the dotmac_build_info gauge (always 1) to reg, labelled with b.
func registerBuildInfo(reg prometheus.Registerer, b buildInfo) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "dotmac_build_info",
		Help:        "Always 1; the labels say which build of dotmac runs: version, VCS revision (-modified: uncommitted changes) and Go release.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "go_version": b.GoVersion},
	})
	g.Set(1)
	reg.MustRegister(g)
}
