package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dotmac/ledger/internal/logging"
)

// Every setting is a flag whose default comes from an environment variable of the name
// DESIGN.md fixes (scripts rely on those names); the flag wins when both are given.

func envString(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envBool(name string, def bool) bool {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func stringFlag(fs *pflag.FlagSet, p *string, name, env, def, usage string) {
	fs.StringVar(p, name, envString(env, def), fmt.Sprintf("%s (env %s)", usage, env))
}

func boolFlag(fs *pflag.FlagSet, p *bool, name, env string, def bool, usage string) {
	fs.BoolVar(p, name, envBool(env, def), fmt.Sprintf("%s (env %s)", usage, env))
}

func durationFlag(fs *pflag.FlagSet, p *time.Duration, name, env string, def time.Duration, usage string) {
	fs.DurationVar(p, name, envDuration(env, def), fmt.Sprintf("%s (env %s)", usage, env))
}

// globalFlags are shared by every command.
type globalFlags struct {
	logLevel    string
	logFormat   string
	dataDirFlag string
	dataDir     dataDir // resolved before any command runs
	cpuProfile  string
}

func (g *globalFlags) bind(root *cobra.Command) {
	fs := root.PersistentFlags()
	stringFlag(fs, &g.logLevel, "log-level", "LOG_LEVEL", "info", "log level: debug, info, warn or error")
	stringFlag(fs, &g.logFormat, "log-format", "LOG_FORMAT", "auto", "log format: auto (console on a terminal), json or console")
	fs.StringVar(&g.dataDirFlag, "data-dir", "", "directory for local state: the private PostgreSQL cluster and the development JWT key "+
		"(default: env DOTMAC_DATA_DIR, else var/ of the repository containing the working directory, else of the one holding the binary, else ./var)")
	fs.StringVar(&g.cpuProfile, "cpu-profile", "", "write a CPU profile (pprof) of the whole command to this file")
}

func (g *globalFlags) logger() (zerolog.Logger, error) {
	return logging.New(os.Stderr, g.logLevel, logging.Format(g.logFormat))
}
