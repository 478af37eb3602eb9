package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// invocationCommands are the commands whose own flags are arguments of one invocation (what
// to read, seed, import or measure), not configuration: they have no variable, so that a
// stale one in a shell cannot change what a command does. Their database flags are
// configuration and have variables like every other.
var invocationCommands = []string{"dotmac audit", "dotmac bench", "dotmac billing", "dotmac demo", "dotmac import", "dotmac projections",
	"dotmac receipts", "dotmac dev"}

// invocationFlags are single invocation arguments of commands that also take configuration.
var invocationFlags = []string{"dotmac token --tenant", "dotmac token --operator", "dotmac token --subject",
	"dotmac token --perm", "dotmac token --ttl"}

type treeFlag struct {
	path string // command path, e.g. "dotmac serve"
	flag *pflag.Flag
}

// treeFlags walks the command tree of newRoot: every flag, with the command defining it.
func treeFlags(t *testing.T) []treeFlag {
	t.Helper()
	root, _ := newRoot()
	var out []treeFlag
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && f.Name != "version" {
				out = append(out, treeFlag{path: c.CommandPath(), flag: f})
			}
		})
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	require.NotEmpty(t, out)
	return out
}

func isInvocationArgument(tf treeFlag) bool {
	for _, p := range invocationCommands {
		if tf.path == p || strings.HasPrefix(tf.path, p+" ") {
			return true
		}
	}
	return slices.Contains(invocationFlags, tf.path+" --"+tf.flag.Name)
}

// envVars returns every flag's variable with the flags reading it.
func envVars(t *testing.T) map[string][]treeFlag {
	t.Helper()
	out := map[string][]treeFlag{}
	for _, tf := range treeFlags(t) {
		if env, _, ok := flagEnv(tf.flag); ok {
			out[env] = append(out[env], tf)
		}
	}
	return out
}

func TestEveryConfigurationFlagHasAVariable(t *testing.T) {
	for _, tf := range treeFlags(t) {
		_, _, ok := flagEnv(tf.flag)
		if isInvocationArgument(tf) {
			continue
		}
		assert.True(t, ok, "%s --%s has no environment variable: define it with stringFlag/boolFlag/durationFlag/intFlag/int32Flag "+
			"(or, if it is an argument of one invocation, list it in invocationFlags)", tf.path, tf.flag.Name)
	}
	// The example: it had none.
	assert.Contains(t, envVars(t), "DOTMAC_DB_MAX_CONNS")
}

func TestAFlagsVariablesAgreeOnTypeAndDefault(t *testing.T) {
	for env, tfs := range envVars(t) {
		_, def0, _ := flagEnv(tfs[0].flag)
		for _, tf := range tfs[1:] {
			_, def, _ := flagEnv(tf.flag)
			assert.Equal(t, tfs[0].flag.Value.Type(), tf.flag.Value.Type(), "%s: type of %s --%s", env, tf.path, tf.flag.Name)
			assert.Equal(t, def0, def, "%s: default of %s --%s", env, tf.path, tf.flag.Name)
		}
	}
}

// badValues has, for every flag type with a variable, a value that does not parse and the
// line the command stops with.
var badValues = map[string]struct{ value, want string }{
	"bool":        {"yes", `%s="yes": not a boolean (use true or false)`},
	"duration":    {"45", `%s="45": not a duration (use e.g. 45s, 2m)`},
	"int":         {"14d", `%s="14d": not a whole number (use e.g. 32)`},
	"int32":       {"4294967296", `%s="4294967296": out of range for int32`},
	"stringSlice": {`"a.pub`, `%s="\"a.pub": not a comma-separated list (a " opens a quoted item, which must be closed)`},
}

// executeDotmac runs dotmac with args on a cancelled context: a command that got past its
// configuration stops at once instead of serving.
func executeDotmac(t *testing.T, root *cobra.Command, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	root.SetArgs(args)
	root.SetOut(&strings.Builder{})
	root.SetErr(&strings.Builder{})
	return root.ExecuteContext(ctx)
}

// runnableArgs returns the arguments running the command at path, or its first runnable
// subcommand when it is a group (a group's persistent flags reach its subcommands).
func runnableArgs(t *testing.T, root *cobra.Command, path string) []string {
	t.Helper()
	c, _, err := root.Find(strings.Fields(strings.TrimPrefix(path, "dotmac")))
	require.NoError(t, err)
	for !c.Runnable() {
		require.NotEmpty(t, c.Commands(), path)
		c = c.Commands()[0]
	}
	args := strings.Fields(strings.TrimPrefix(c.CommandPath(), "dotmac"))
	if c.CommandPath() == "dotmac receipts allocate" { // its arguments: a receipt and a customer
		args = append(args, "0194f3a2-7b1c-7d4e-9a10-3f5e6c7d8e9f", "0194f3a2-7b1c-7d4e-9a10-3f5e6c7d8e9f")
	}
	return args
}

// TestABadValueStopsTheCommandNamingIt goes through every typed variable of every command.
func TestABadValueStopsTheCommandNamingIt(t *testing.T) {
	t.Setenv("DOTMAC_ENV_FILE", "")
	seen := map[string]bool{}
	for _, tf := range treeFlags(t) {
		env, _, ok := flagEnv(tf.flag)
		typ := tf.flag.Value.Type()
		if !ok || typ == "string" || seen[tf.path+env] {
			continue
		}
		seen[tf.path+env] = true
		bad, known := badValues[typ]
		require.True(t, known, "%s (%s) is of type %s: add a bad value and its message to badValues", env, tf.flag.Name, typ)
		t.Run(strings.ReplaceAll(tf.path, " ", "_")+"/"+env, func(t *testing.T) {
			t.Setenv(env, bad.value)
			root, _ := newRoot()
			err := executeDotmac(t, root, runnableArgs(t, root, tf.path)...)
			require.Error(t, err)
			assert.Equal(t, strings.ReplaceAll(bad.want, "%s", env), err.Error())
		})
	}
	for _, typ := range []string{"bool", "duration", "int", "int32"} {
		assert.Contains(t, seen, "dotmac serve"+map[string]string{"bool": "DOTMAC_PRODUCTION", "duration": "DOTMAC_READY_MAX_LAG",
			"int": "DOTMAC_COMMAND_CACHE_STREAMS", "int32": "DOTMAC_DB_MAX_CONNS"}[typ], "covers type %s", typ)
	}
}

// TestAValueOutsideItsChoicesStopsTheCommandNamingIt: string flags with a fixed set of values
// (log level and format, event store) refuse another, from a variable or a flag.
func TestAValueOutsideItsChoicesStopsTheCommandNamingIt(t *testing.T) {
	t.Setenv("DOTMAC_ENV_FILE", "")
	seen := map[string]bool{}
	for _, tf := range treeFlags(t) {
		choices := tf.flag.Annotations[choicesAnnotation]
		env, _, ok := flagEnv(tf.flag)
		if len(choices) == 0 || !ok || seen[env] {
			continue
		}
		seen[env] = true
		want := " not one of " + strings.Join(choices, ", ")
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "bogus")
			root, _ := newRoot()
			args := runnableArgs(t, root, tf.path)
			err := executeDotmac(t, root, args...)
			require.Error(t, err)
			assert.Equal(t, env+`="bogus":`+want, err.Error())

			t.Setenv(env, strings.ToUpper(choices[0])) // accepted in any case; the flag wins over it
			root, _ = newRoot()
			err = executeDotmac(t, root, append(args, "--"+tf.flag.Name+"=other")...)
			require.Error(t, err)
			assert.Equal(t, "--"+tf.flag.Name+`="other":`+want, err.Error())
		})
	}
	assert.Equal(t, map[string]bool{"LOG_LEVEL": true, "LOG_FORMAT": true, "DOTMAC_EVENTSTORE": true}, seen)
}

func TestEveryBadValueIsReportedOnOneLine(t *testing.T) {
	t.Setenv("DOTMAC_ENV_FILE", "")
	t.Setenv("DOTMAC_PRODUCTION", "yes")
	t.Setenv("DOTMAC_READY_MAX_LAG", "45")
	root, _ := newRoot()
	err := executeDotmac(t, root, "serve")
	require.Error(t, err)
	assert.Equal(t, `DOTMAC_PRODUCTION="yes": not a boolean (use true or false); DOTMAC_READY_MAX_LAG="45": not a duration (use e.g. 45s, 2m)`, err.Error())
}

// resolvedServeFlags runs `dotmac args...` with serve replaced by a function reading its flags.
func resolvedServeFlags(t *testing.T, args ...string) (map[string]string, error) {
	t.Helper()
	root, _ := newRoot()
	got := map[string]string{}
	for _, c := range root.Commands() {
		if c.Name() == "serve" {
			c.RunE = func(cmd *cobra.Command, _ []string) error {
				cmd.Flags().VisitAll(func(f *pflag.Flag) { got[f.Name] = f.Value.String() })
				return nil
			}
		}
	}
	err := executeDotmac(t, root, args...)
	return got, err
}

func TestEnvFileIsLoadedAndTheEnvironmentAndFlagsWin(t *testing.T) {
	file := filepath.Join(t.TempDir(), "prod.env")
	require.NoError(t, os.WriteFile(file, []byte(`# production
LOG_LEVEL=debug
DOTMAC_READY_MAX_LAG=45s
export DOTMAC_DEV_TENANT='acme'
DOTMAC_COMMAND_ADDR=":9999" # the flag wins
DOTMAC_DB_MAX_CONNS=8 # a comment
DOTMAC_JWT_SECRET="a$b\"c"
`), 0o600))
	// Empty counts as unset; t.Setenv restores the test process's values afterwards.
	for _, v := range []string{"DOTMAC_ENV_FILE", "DOTMAC_READY_MAX_LAG", "DOTMAC_DEV_TENANT", "DOTMAC_COMMAND_ADDR", "DOTMAC_DB_MAX_CONNS", "DOTMAC_JWT_SECRET"} {
		t.Setenv(v, "")
	}
	t.Setenv("LOG_LEVEL", "warn") // set in the environment: wins over the file

	got, err := resolvedServeFlags(t, "serve", "--env-file", file, "--command-addr", ":7777")
	require.NoError(t, err)
	assert.Equal(t, "warn", got["log-level"], "the environment wins over the file")
	assert.Equal(t, (45 * time.Second).String(), got["ready-max-lag"], "from the file")
	assert.Equal(t, "acme", got["dev-tenant"], "single quotes")
	assert.Equal(t, ":7777", got["command-addr"], "the flag wins over the file")
	assert.Equal(t, "8", got["db-max-conns"], "unquoted, comment cut")
	assert.Equal(t, `a$b"c`, got["jwt-secret"], "no $ expansion; escapes in double quotes")
}

func TestEnvFileFromTheEnvironmentAndItsErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.env")
	require.NoError(t, os.WriteFile(bad, []byte("DOTMAC_PRODUCTION=yes\n"), 0o600))
	t.Setenv("DOTMAC_PRODUCTION", "")
	t.Setenv("DOTMAC_ENV_FILE", bad)
	_, err := resolvedServeFlags(t, "serve")
	require.Error(t, err)
	assert.Equal(t, `DOTMAC_PRODUCTION="yes": not a boolean (use true or false)`, err.Error(), "a bad value from the file is named too")

	_, err = resolvedServeFlags(t, "serve", "--env-file", filepath.Join(dir, "missing.env"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--env-file: open "+filepath.Join(dir, "missing.env"))

	syntax := filepath.Join(dir, "syntax.env")
	require.NoError(t, os.WriteFile(syntax, []byte("# ok\nLOG_LEVEL info\n"), 0o600))
	_, err = resolvedServeFlags(t, "serve", "--env-file", syntax)
	require.Error(t, err)
	assert.Equal(t, "--env-file "+syntax+":2: not KEY=value", err.Error())
}

func TestParseEnvFile(t *testing.T) {
	good := []struct {
		name, text string
		want       [][2]string
	}{
		{"empty", "\n# only comments\n   \n", nil},
		{"plain", "A=1\nB = two words \n", [][2]string{{"A", "1"}, {"B", "two words"}}},
		{"export", "export A=x", [][2]string{{"A", "x"}}},
		{"empty value", "A=", [][2]string{{"A", ""}}},
		{"comment after value", "A=x #y", [][2]string{{"A", "x"}}},
		{"hash inside a value", "A=postgres://h/db#frag", [][2]string{{"A", "postgres://h/db#frag"}}},
		{"single quotes are literal", `A='$x \n #y'`, [][2]string{{"A", `$x \n #y`}}},
		{"double-quote escapes", `A="l1\nl2\t\"q\" \\ \$"`, [][2]string{{"A", "l1\nl2\t\"q\" \\ $"}}},
		{"equals in value", "A=k=v", [][2]string{{"A", "k=v"}}},
	}
	for _, c := range good {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseEnvFile("f", c.text)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
	bad := []struct{ name, text, want string }{
		{"no equals", "A=1\nB", "f:2: not KEY=value"},
		{"bad name", "1A=x", `f:1: "1A" is not a variable name`},
		{"space in name", "MY VAR=x", `f:1: "MY VAR" is not a variable name`},
		{"set twice", "A=1\n\nA=2", "f:3: A is already set on line 1"},
		{"unterminated double", `A="x`, `f:1: A: unterminated " quote (a value spans one line; write a newline as \n)`},
		{"unterminated single", `A='x`, `f:1: A: unterminated ' quote`},
		{"text after quote", `A="x" y`, `f:1: A: text after the closing quote: "y"`},
		{"unknown escape", `A="\q"`, `f:1: A: unknown escape \q (use \" \\ \n \t \$)`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseEnvFile("f", c.text)
			require.Error(t, err)
			assert.Equal(t, c.want, err.Error())
		})
	}
}

// TestEnvExampleListsEveryVariable: .env.example names every flag's variable, once, after a
// comment, with the flag's default, and nothing else.
func TestEnvExampleListsEveryVariable(t *testing.T) {
	text, err := os.ReadFile("../../.env.example")
	require.NoError(t, err)
	vars, err := parseEnvFile(".env.example", string(text))
	require.NoError(t, err, ".env.example must be a valid --env-file")
	example := map[string]string{}
	for _, kv := range vars {
		example[kv[0]] = kv[1]
	}
	lines := strings.Split(string(text), "\n")
	for i, l := range lines {
		if name, _, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			assert.True(t, i > 0 && strings.HasPrefix(lines[i-1], "# "), ".env.example: %s needs a one-line comment above it", name)
		}
	}
	flags := envVars(t)
	for env, tfs := range flags {
		v, ok := example[env]
		if !assert.True(t, ok, ".env.example lacks %s (flag --%s of %s)", env, tfs[0].flag.Name, tfs[0].path) {
			continue
		}
		_, def, _ := flagEnv(tfs[0].flag)
		if tfs[0].flag.Value.Type() == "duration" {
			d, err := time.ParseDuration(v)
			if assert.NoError(t, err, ".env.example: %s", env) {
				assert.Equal(t, def, d.String(), ".env.example: %s must show the default", env)
			}
			continue
		}
		assert.Equal(t, def, v, ".env.example: %s must show the default", env)
	}
	for env := range example {
		if slices.Contains(envOnlyVariables, env) {
			continue
		}
		assert.Contains(t, flags, env, ".env.example names %s, which no flag reads", env)
	}
}

// envOnlyVariables are read from the environment only, never a flag: passwords, which a flag
// would show in every process listing.
var envOnlyVariables = []string{"DOTMAC_DB_OWNER_PASSWORD", "DOTMAC_DB_APP_PASSWORD"}

// TestREADMEEnvironmentTableIsComplete: the README's configuration table names every variable
// with (one of) its flag(s).
func TestREADMEEnvironmentTableIsComplete(t *testing.T) {
	text, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	row := regexp.MustCompile("(?m)^\\| `([A-Z0-9_]+)` \\| `--([a-z0-9-]+)` \\|")
	table := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(text), -1) {
		table[m[1]] = m[2]
	}
	flags := envVars(t)
	for env, tfs := range flags {
		flag, ok := table[env]
		if !assert.True(t, ok, "README's configuration table lacks %s (--%s)", env, tfs[0].flag.Name) {
			continue
		}
		assert.True(t, slices.ContainsFunc(tfs, func(tf treeFlag) bool { return tf.flag.Name == flag }),
			"README: %s is not the variable of --%s", env, flag)
	}
	for env := range table {
		assert.Contains(t, flags, env, "README's table names %s, which no flag reads", env)
	}
}
