package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVersionFlag: dotmac --version prints one line: the version, the revision and the Go
// release.
func TestVersionFlag(t *testing.T) {
	t.Parallel()
	root, _ := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"--version"})
	require.NoError(t, root.Execute())
	assert.Regexp(t, `^dotmac \S+ \(revision \S+, go1\.\S+\)\n$`, out.String())
	assert.Contains(t, out.String(), runtime.Version())
}

// TestBuildInfoGauge: the registry every role serves has dotmac_build_info at 1 with the
// version, revision and Go release.
func TestBuildInfoGauge(t *testing.T) {
	t.Parallel()
	mfs, err := newRegistry().Gather()
	require.NoError(t, err)
	var found bool
	for _, mf := range mfs {
		if mf.GetName() != "dotmac_build_info" {
			continue
		}
		found = true
		require.Len(t, mf.GetMetric(), 1)
		m := mf.GetMetric()[0]
		assert.InDelta(t, 1.0, m.GetGauge().GetValue(), 0)
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		b := currentBuild()
		assert.Equal(t, map[string]string{"version": b.Version, "revision": b.Revision, "go_version": runtime.Version()}, labels)
	}
	assert.True(t, found, "no dotmac_build_info")
	var _ prometheus.Gatherer = newRegistry()
}

// TestBuiltBinaryReportsVersionAndRevision: a binary built by scripts/build.sh (make build)
// reports the version git describe gives and the commit it was built from.
func TestBuiltBinaryReportsVersionAndRevision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	head, err := exec.CommandContext(t.Context(), "git", "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	describe, err := exec.CommandContext(t.Context(), "git", "describe", "--tags", "--always", "--dirty").Output()
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "dotmac")
	build := exec.CommandContext(t.Context(), filepath.Join("..", "..", "scripts", "build.sh"), bin, "./cmd/dotmac")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.CommandContext(t.Context(), bin, "--version").CombinedOutput() // #nosec G204 -- the binary just built
	require.NoError(t, err, "%s", out)
	assert.True(t, strings.HasPrefix(string(out), "dotmac "+strings.TrimSpace(string(describe))+" (revision "+strings.TrimSpace(string(head))),
		"%s", out)
}
