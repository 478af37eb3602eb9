package pgprovision

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// errNoBinaries: no directory searched holds initdb, pg_ctl and postgres together.
var errNoBinaries = errors.New("no PostgreSQL server binaries found")

const pgConfigTimeout = 5 * time.Second

// serverBinaries must all be present for a directory to qualify.
var serverBinaries = []string{"initdb", "pg_ctl", "postgres"}

// binaries is a directory holding the PostgreSQL server programs.
type binaries struct{ dir string }

func (b binaries) path(name string) string { return filepath.Join(b.dir, name) }

// findBinaries returns the first of dirs holding all server binaries. When the data directory
// already exists with major version dataVersion ("" if none), a Debian-style
// /usr/lib/postgresql/<dataVersion>/bin among dirs is preferred, so an installed newer
// major version does not refuse to open an older cluster.
func findBinaries(dirs []string, dataVersion string) (binaries, error) {
	for _, d := range preferVersion(dirs, dataVersion) {
		if hasServerBinaries(d) {
			return binaries{dir: d}, nil
		}
	}
	return binaries{}, errNoBinaries
}

func hasServerBinaries(dir string) bool {
	if dir == "" {
		return false
	}
	for _, name := range serverBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

func preferVersion(dirs []string, version string) []string {
	if version == "" {
		return dirs
	}
	matches := func(d string) bool { return filepath.Base(filepath.Dir(filepath.Clean(d))) == version }
	out := slices.Clone(dirs)
	slices.SortStableFunc(out, func(a, b string) int {
		ma, mb := matches(a), matches(b)
		switch {
		case ma && !mb:
			return -1
		case mb && !ma:
			return 1
		}
		return 0
	})
	return out
}

// defaultBinDirs is the default search: `pg_config --bindir` if pg_config is on PATH, the
// Debian/Ubuntu directories newest first, the source-install prefix, then PATH.
func defaultBinDirs(ctx context.Context) []string {
	var dirs []string
	if d := pgConfigBinDir(ctx); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, versionedBinDirs("/usr/lib/postgresql")...)
	dirs = append(dirs, "/usr/local/pgsql/bin")
	return append(dirs, filepath.SplitList(os.Getenv("PATH"))...)
}

func pgConfigBinDir(ctx context.Context) string {
	bin, err := exec.LookPath("pg_config")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, pgConfigTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--bindir").Output() // #nosec G204 -- pg_config from PATH, fixed argument
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// versionedBinDirs returns root/<version>/bin for every installed version, newest first.
func versionedBinDirs(root string) []string {
	dirs, err := filepath.Glob(filepath.Join(root, "*", "bin"))
	if err != nil {
		return nil // only ErrBadPattern, and the pattern is fixed
	}
	version := func(d string) string { return filepath.Base(filepath.Dir(d)) }
	slices.SortFunc(dirs, func(a, b string) int { return compareVersions(version(b), version(a)) })
	return dirs
}

// compareVersions orders dotted numeric versions ("9.6" < "10" < "15"); a non-numeric part
// counts as 0.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		if c := versionPart(as, i) - versionPart(bs, i); c != 0 {
			return max(-1, min(1, c))
		}
	}
	return 0
}

func versionPart(parts []string, i int) int {
	if i >= len(parts) {
		return 0
	}
	n, err := strconv.Atoi(parts[i])
	if err != nil {
		return 0
	}
	return n
}
