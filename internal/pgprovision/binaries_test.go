package pgprovision

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// mustFakeBinDir creates dir/<version>/bin holding the named files, executable or not.
func mustFakeBinDir(tb testing.TB, root, version string, mode os.FileMode, names ...string) string {
	tb.Helper()
	dir := filepath.Join(root, version, "bin")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		tb.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), mode); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func TestVersionedBinDirsNewestFirst(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, v := range []string{"9.6", "15", "10", "16"} {
		mustFakeBinDir(t, root, v, 0o755)
	}
	var got []string
	for _, d := range versionedBinDirs(root) {
		got = append(got, filepath.Base(filepath.Dir(d)))
	}
	if want := []string{"16", "15", "10", "9.6"}; !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
}

// A directory qualifies only with initdb, pg_ctl and postgres all present and executable;
// with a cluster of major version 15 on disk, 15's binaries win over a newer version's.
func TestFindBinaries(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	partial := mustFakeBinDir(t, root, "17", 0o755, "initdb", "pg_ctl")
	notExec := mustFakeBinDir(t, root, "14", 0o644, serverBinaries...)
	v16 := mustFakeBinDir(t, root, "16", 0o755, serverBinaries...)
	v15 := mustFakeBinDir(t, root, "15", 0o755, serverBinaries...)
	dirs := []string{"", partial, notExec, v16, v15}

	for _, tc := range []struct {
		name, dataVersion, want string
	}{
		{"first complete dir", "", v16},
		{"the data's version first", "15", v15},
		{"unknown data version", "12", v16},
	} {
		got, err := findBinaries(dirs, tc.dataVersion)
		if err != nil || got.dir != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got.dir, err, tc.want)
		}
	}
	if _, err := findBinaries([]string{partial, notExec}, ""); err == nil {
		t.Error("incomplete dirs qualified")
	}
}

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"9.6", "10", -1}, {"15", "15", 0}, {"16", "9.6", 1}, {"15", "15.1", -1}, {"x", "1", -1},
	} {
		if got := compareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
