package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dotmac/ledger/internal/logging"
)

// Every setting is a flag with an environment variable of the name DESIGN.md fixes (scripts
// rely on those names); the flag wins when both are given. The variables are read once the
// command line is parsed (applyEnv, from the root's PersistentPreRunE), after --env-file is
// loaded, and a value that does not parse stops the command with one line naming the
// variable, the value and what is expected: configuration never fails open.
//
// Flags that are arguments of one invocation (audit --stream, demo --customers, token --ttl,
// ...) have no variable: a stale DOTMAC_AUDIT_STREAM in a shell would silently change what a
// command reads. env_test.go lists them; every other flag must have a variable, and every
// variable must be in .env.example and the README's environment table.

// envAnnotation is the pflag annotation holding a flag's variable and its declared default.
const envAnnotation = "dotmac/env"

// bindEnv records that flag name reads variable env, whose default is def (as written in
// .env.example).
func bindEnv(fs *pflag.FlagSet, name, env, def string) {
	if err := fs.SetAnnotation(name, envAnnotation, []string{env, def}); err != nil {
		panic(err) // the flag was just defined: a programming error
	}
}

// choicesAnnotation holds the values a string flag accepts.
const choicesAnnotation = "dotmac/choices"

// oneOf restricts string flag name to choices (in any case): another value, from the command
// line or the variable, stops the command naming it.
func oneOf(fs *pflag.FlagSet, name string, choices ...string) {
	if err := fs.SetAnnotation(name, choicesAnnotation, choices); err != nil {
		panic(err) // the flag was just defined: a programming error
	}
}

// flagEnv returns the variable of f and its declared default, if it has one.
func flagEnv(f *pflag.Flag) (env, def string, ok bool) {
	a := f.Annotations[envAnnotation]
	if len(a) != 2 {
		return "", "", false
	}
	return a[0], a[1], true
}

func withEnv(usage, env string) string { return fmt.Sprintf("%s (env %s)", usage, env) }

func stringFlag(fs *pflag.FlagSet, p *string, name, env, def, usage string) {
	fs.StringVar(p, name, def, withEnv(usage, env))
	bindEnv(fs, name, env, def)
}

func boolFlag(fs *pflag.FlagSet, p *bool, name, env string, def bool, usage string) {
	fs.BoolVar(p, name, def, withEnv(usage, env))
	bindEnv(fs, name, env, strconv.FormatBool(def))
}

func durationFlag(fs *pflag.FlagSet, p *time.Duration, name, env string, def time.Duration, usage string) {
	fs.DurationVar(p, name, def, withEnv(usage, env))
	bindEnv(fs, name, env, def.String())
}

func intFlag(fs *pflag.FlagSet, p *int, name, env string, def int, usage string) {
	fs.IntVar(p, name, def, withEnv(usage, env))
	bindEnv(fs, name, env, strconv.Itoa(def))
}

func int32Flag(fs *pflag.FlagSet, p *int32, name, env string, def int32, usage string) {
	fs.Int32Var(p, name, def, withEnv(usage, env))
	bindEnv(fs, name, env, strconv.FormatInt(int64(def), 10))
}

// expected says what a value of a flag type looks like, for the error naming a bad variable.
func expected(flagType string, err error) string {
	switch flagType {
	case "bool":
		return "not a boolean (use true or false)"
	case "duration":
		return "not a duration (use e.g. 45s, 2m)"
	case "stringSlice":
		return `not a comma-separated list (a " opens a quoted item, which must be closed)`
	case "int", "int32", "int64", "uint", "uint32", "uint64":
		if errors.Is(err, strconv.ErrRange) {
			return "out of range for " + flagType
		}
		return "not a whole number (use e.g. 32)"
	default:
		return err.Error()
	}
}

// applyEnv sets every flag of cmd that has a variable and was not given on the command line
// from that variable, when it is set and not empty. It reports every bad value, on one line.
func applyEnv(cmd *cobra.Command) error {
	var bad []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		env, _, ok := flagEnv(f)
		source := "--" + f.Name
		if ok && !f.Changed {
			v, set := os.LookupEnv(env)
			if !set || v == "" {
				return
			}
			// Value.Set, not FlagSet.Set: the flag stays unchanged, as code asking Changed expects.
			if err := f.Value.Set(v); err != nil {
				bad = append(bad, fmt.Sprintf("%s=%q: %s", env, v, expected(f.Value.Type(), err)))
				return
			}
			source = env
		}
		if choices := f.Annotations[choicesAnnotation]; len(choices) > 0 && !slices.ContainsFunc(choices, func(c string) bool {
			return strings.EqualFold(c, strings.TrimSpace(f.Value.String()))
		}) {
			bad = append(bad, fmt.Sprintf("%s=%q: not one of %s", source, f.Value.String(), strings.Join(choices, ", ")))
		}
	})
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

// globalFlags are shared by every command.
type globalFlags struct {
	logLevel    string
	logFormat   string
	dataDirFlag string
	dataDir     dataDir // resolved before any command runs
	cpuProfile  string
	envFile     string
}

func (g *globalFlags) bind(root *cobra.Command) {
	fs := root.PersistentFlags()
	stringFlag(fs, &g.logLevel, "log-level", "LOG_LEVEL", "info", "log level: debug, info, warn or error")
	stringFlag(fs, &g.logFormat, "log-format", "LOG_FORMAT", "auto", "log format: auto (console on a terminal), json or console")
	oneOf(fs, "log-level", "trace", "debug", "info", "warn", "error")
	oneOf(fs, "log-format", "auto", "json", "console")
	fs.StringVar(&g.dataDirFlag, "data-dir", "", "directory for local state: the private PostgreSQL cluster and the development JWT key "+
		"(default: env DOTMAC_DATA_DIR, else var/ of the repository containing the working directory, else of the one holding the binary, else ./var)")
	bindEnv(fs, "data-dir", "DOTMAC_DATA_DIR", "")
	stringFlag(fs, &g.cpuProfile, "cpu-profile", "DOTMAC_CPU_PROFILE", "", "write a CPU profile (pprof) of the whole command to this file")
	fs.StringVar(&g.envFile, "env-file", "", "read variables from this file (KEY=value lines, # comments) before the flags are resolved; "+
		"a variable set in the environment wins (env DOTMAC_ENV_FILE)")
	bindEnv(fs, "env-file", "DOTMAC_ENV_FILE", "")
}

// loadEnv reads --env-file (else DOTMAC_ENV_FILE), then sets the flags from the environment.
func (g *globalFlags) loadEnv(cmd *cobra.Command) error {
	path := g.envFile
	if path == "" {
		path = os.Getenv("DOTMAC_ENV_FILE")
	}
	if path != "" {
		if err := loadEnvFile(path); err != nil {
			return err
		}
	}
	return applyEnv(cmd)
}

func (g *globalFlags) logger() (zerolog.Logger, error) {
	return logging.New(os.Stderr, g.logLevel, logging.Format(g.logFormat))
}
