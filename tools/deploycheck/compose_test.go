package deploycheck

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loadCompose loads deploy/compose.yaml as `docker compose` would, validating it against the
// compose specification's JSON schema, with the given profiles and variables.
func loadCompose(t *testing.T, file string, profiles []string, env ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnv(env), cli.WithProfiles(profiles), cli.WithResolvedPaths(true))
	require.NoError(t, err)
	return opts.LoadProject(context.Background())
}

func TestComposeFileFollowsTheSchemaAndTheTopology(t *testing.T) {
	file := inRepo("deploy/compose.yaml")
	p, err := loadCompose(t, file, nil, "DOTMAC_JWT_SECRET=x")
	require.NoError(t, err)
	assert.NotContains(t, p.ServiceNames(), "kurrentdb", "KurrentDB is an optional profile")

	svc := func(name string) types.ServiceConfig {
		s, err := p.GetService(name)
		require.NoError(t, err)
		return s
	}
	for _, name := range []string{"postgres", "postgres-replica"} {
		assert.NotNil(t, svc(name).HealthCheck, "%s has a health check the others wait on", name)
	}
	replica := svc("postgres-replica")
	assert.Equal(t, "service_healthy", replica.DependsOn["postgres"].Condition)

	migrate := svc("migrate")
	assert.Equal(t, types.ShellCommand{"migrate", "up"}, migrate.Command)
	assert.Equal(t, "no", migrate.Restart, "a one-shot job")
	assert.Equal(t, 1, migrate.GetScale())

	dockerfile := ""
	for _, role := range []string{"command", "query", "projector"} {
		s := svc(role)
		assert.Equal(t, types.ShellCommand{"serve", "--role", role}, s.Command, role)
		assert.Equal(t, 2, s.GetScale(), "%s ×2", role)
		assert.Equal(t, "service_completed_successfully", s.DependsOn["migrate"].Condition, "%s starts after the migration", role)
		assert.Equal(t, "false", env(s, "DOTMAC_MIGRATE"), "%s does not migrate", role)
		assert.Equal(t, "true", env(s, "DOTMAC_PRODUCTION"), role)
		assert.Contains(t, env(s, "DATABASE_URL"), "@postgres:", "%s writes to the primary", role)
		assert.Equal(t, migrate.Image, s.Image, "one image for every role")
		if assert.NotNil(t, s.Build, role) {
			dockerfile = filepath.Join(s.Build.Context, s.Build.Dockerfile)
		}
	}
	assert.Contains(t, env(svc("query"), "DOTMAC_READ_DATABASE_URL"), "@postgres-replica:", "the query role reads from the replica")
	assert.FileExists(t, dockerfile, "the services build the repository's Dockerfile")

	p, err = loadCompose(t, file, []string{"kurrentdb"}, "DOTMAC_JWT_SECRET=x")
	require.NoError(t, err)
	assert.Contains(t, p.ServiceNames(), "kurrentdb")
}

func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

// TestComposeSchemaValidationCanFail: a misspelt key is refused, so the test above means
// something.
func TestComposeSchemaValidationCanFail(t *testing.T) {
	text, err := os.ReadFile(inRepo("deploy/compose.yaml"))
	require.NoError(t, err)
	bad := strings.Replace(string(text), "    deploy:\n      replicas: 2\n", "    deploy:\n      replica: 2\n", 1)
	require.NotEqual(t, string(text), bad)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "postgres"), 0o755))
	file := filepath.Join(dir, "compose.yaml")
	require.NoError(t, os.WriteFile(file, []byte(bad), 0o600))
	_, err = loadCompose(t, file, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "additional properties 'replica' not allowed")
}

// TestComposeScriptsExist: the files the compose file mounts are in the repository.
func TestComposeScriptsExist(t *testing.T) {
	p, err := loadCompose(t, inRepo("deploy/compose.yaml"), []string{"kurrentdb"})
	require.NoError(t, err)
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				assert.FileExists(t, v.Source, "%s mounts %s", s.Name, v.Source)
				assert.True(t, slices.Contains([]string{".sh"}, filepath.Ext(v.Source)), v.Source)
			}
		}
	}
}
