package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// makeBuild runs `make build` at the repository root with env added, the binary going to bin.
func makeBuild(t *testing.T, bin string, env ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	args := []string{"-C", filepath.Join("..", ".."), "--no-print-directory", "build", "BIN=" + bin}
	cmd := exec.CommandContext(t.Context(), "make", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestColdBuildSaysWhatItDoes: on a cold module cache `make build` says it is downloading
// modules (how many, about how much and how long that usually takes) and how long that took,
// instead of printing the go build line and then nothing for minutes. Offline, so that it
// costs nothing: the download fails at once, saying so.
func TestColdBuildSaysWhatItDoes(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	out, err := makeBuild(t, filepath.Join(tmp, "dotmac"), "GOMODCACHE="+filepath.Join(tmp, "mod"), "GOCACHE="+filepath.Join(tmp, "cache"),
		"GOFLAGS=-mod=mod -modcacherw", "GOPROXY=off", "GOTOOLCHAIN=local")
	require.Error(t, err, out)
	assert.Contains(t, out, "downloading up to")
	assert.Regexp(t, `\d+ modules \(about \d+ MB; typically [\d-]+ s`, out)
	assert.Regexp(t, `downloading the modules failed after [\d.]+ s \(GOPROXY=off\)`, out)
	assert.NoFileExists(t, filepath.Join(tmp, "dotmac"))
}

// TestFirstBuildSaysItCompilesEverything: without a binary yet, `make build` says it is the
// first compile (how many packages, how long that usually takes) and how long it took. A
// stand-in go command keeps it cheap.
func TestFirstBuildSaysItCompilesEverything(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	fakeGo := filepath.Join(tmp, "go")
	require.NoError(t, os.WriteFile(fakeGo, []byte(`#!/usr/bin/env bash
case $1 in
list) printf 'a\nb\nc\n' ;;
env) echo /tmp/cache ;;
build) touch "$3"; chmod +x "$3" ;;
esac
`), 0o700)) // #nosec G306 -- a test's stand-in for go, executable by design
	bin := filepath.Join(tmp, "dotmac")
	out, err := makeBuild(t, bin, "GO="+fakeGo)
	require.NoError(t, err, out)
	assert.Contains(t, out, "first compile of ./cmd/dotmac (3 packages")
	assert.Contains(t, out, "typically 1-3 min on two cores")
	assert.Regexp(t, `built in [\d.]+ s`, out)

	out, err = makeBuild(t, bin, "GO="+fakeGo)
	require.NoError(t, err, out)
	assert.NotContains(t, out, "first compile", "a rebuild is not announced")
}
