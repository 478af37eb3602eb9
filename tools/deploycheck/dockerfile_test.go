package deploycheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseDockerfile parses text with BuildKit's own Dockerfile parser and instruction parser
// (what `docker build` and buildah's imagebuilder front end read).
func parseDockerfile(t *testing.T, text []byte) ([]instructions.Stage, map[string]string, error) {
	t.Helper()
	res, err := parser.Parse(bytes.NewReader(text))
	if err != nil {
		return nil, nil, err
	}
	assert.Empty(t, res.Warnings, "parser warnings")
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			args[kv.Key] = kv.ValueString()
		}
	}
	return stages, args, err
}

// TestDockerfile: two stages; the build is static (CGO_ENABLED=0, -trimpath) on Go 1.26; the
// image runs the binary as a non-root user on distroless/static (or scratch).
func TestDockerfile(t *testing.T) {
	text, err := os.ReadFile(inRepo("Dockerfile"))
	require.NoError(t, err)
	stages, args, err := parseDockerfile(t, text)
	require.NoError(t, err)
	require.Len(t, stages, 2)
	build, final := stages[0], stages[1]

	assert.Equal(t, "build", build.Name)
	assert.True(t, strings.HasSuffix(strings.Split(os.Expand(build.BaseName, func(k string) string { return args[k] }), "@")[0], "/golang:1.26"),
		"builder on Go 1.26: %s (%v)", build.BaseName, args)
	var goBuild string
	for _, c := range build.Commands {
		if r, ok := c.(*instructions.RunCommand); ok && strings.Contains(strings.Join(r.CmdLine, " "), "go build") {
			goBuild = strings.Join(r.CmdLine, " ")
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/dotmac"} {
		assert.Contains(t, goBuild, want)
	}

	base := os.Expand(final.BaseName, func(k string) string { return args[k] })
	assert.True(t, base == "scratch" || strings.HasPrefix(base, "gcr.io/distroless/static"), "final image: %s", base)
	var user string
	var copied, entry bool
	for _, c := range final.Commands {
		switch v := c.(type) {
		case *instructions.UserCommand:
			user = v.User
		case *instructions.CopyCommand:
			copied = copied || v.From == "build"
		case *instructions.EntrypointCommand:
			entry = strings.Contains(strings.Join(v.CmdLine, " "), "dotmac")
		case *instructions.RunCommand:
			t.Errorf("the final image runs nothing at build time (it has no shell): %v", v.CmdLine)
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	assert.NotContains(t, []string{"", "0", "root"}, uid, "the final stage sets a non-root USER")
	assert.True(t, copied, "the binary comes from the build stage")
	assert.True(t, entry, "the entrypoint is dotmac")
}

func TestDockerfileParsingCanFail(t *testing.T) {
	_, _, err := parseDockerfile(t, []byte("FROM scratch\nCOPY\n"))
	assert.Error(t, err)
	_, _, err = parseDockerfile(t, []byte("FROM scratch\nUSER\n"))
	assert.Error(t, err)
}

// TestDockerignoreKeepsWhatTheBuildNeeds: every Go and embedded file of ./cmd/dotmac's
// packages reaches the build context (through .dockerignore's rules, as the engines apply
// them), and local state and secrets never do.
func TestDockerignoreKeepsWhatTheBuildNeeds(t *testing.T) {
	f, err := os.Open(inRepo(".dockerignore"))
	require.NoError(t, err)
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	require.NoError(t, err)
	pm, err := patternmatcher.New(patterns)
	require.NoError(t, err)
	excluded := func(p string) bool {
		m, err := pm.MatchesOrParentMatches(filepath.ToSlash(p))
		require.NoError(t, err)
		return m
	}

	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}`,
		"./cmd/dotmac")
	cmd.Dir = repo
	out, err := cmd.Output()
	require.NoError(t, err)
	abs, err := filepath.Abs(repo)
	require.NoError(t, err)
	files := []string{"go.mod", "go.sum"}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		rel, err := filepath.Rel(abs, l)
		require.NoError(t, err)
		files = append(files, rel)
	}
	require.Greater(t, len(files), 50)
	embedded := 0
	for _, f := range files {
		assert.False(t, excluded(f), ".dockerignore leaves %s out of the build context", f)
		if !strings.HasSuffix(f, ".go") {
			embedded++
		}
	}
	assert.Positive(t, embedded, "the migrations and OpenAPI documents are embedded")
	for _, p := range []string{".env", ".git/config", "var/postgres/PG_VERSION", "bin/dotmac", "deploy/compose.yaml"} {
		assert.True(t, excluded(p), ".dockerignore keeps %s out", p)
	}
}
