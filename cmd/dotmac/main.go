// Command dotmac is the one binary of DotMac Ledger: serve the APIs and projectors, migrate
// the database, mint development tokens, and (as the other commands land) administer
// projections, audit the ledger, seed demo data and benchmark.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root, stopProfile := newRoot()
	err := root.ExecuteContext(ctx)
	stopProfile() // also when the command failed: a profile of a failing run is still wanted
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dotmac:", err)
		var ec exitCoder
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

// exitCoder lets a command choose its exit status (audit verify exits 2 on findings).
type exitCoder interface{ ExitCode() int }

// newRoot returns the root command and the function that ends its --cpu-profile (if any).
func newRoot() (*cobra.Command, func()) {
	root := &cobra.Command{
		Use:           "dotmac",
		Short:         "DotMac Ledger: the event-sourced billing ledger of the DotMac ISP Framework",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       currentBuild().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	g := &globalFlags{}
	g.bind(root)
	stopProfile := func() {}
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := g.loadEnv(cmd); err != nil {
			return err
		}
		g.dataDir = resolveDataDir(g.dataDirFlag, root.PersistentFlags().Changed("data-dir"))
		stop, err := startCPUProfile(g.cpuProfile)
		if err == nil {
			stopProfile = stop
		}
		return err
	}
	root.AddCommand(newServe(g), newMigrate(g), newToken(g), newAudit(g), newDemo(g), newBench(g), newProjections(g), newImport(g), newKeys(g), newReceipts(g), newDev(g),
		newBilling(g))
	return root, func() { stopProfile() }
}

// startCPUProfile starts pprof CPU profiling into path ("" = off) and returns its stop.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path) // #nosec G304 -- the operator names the profile file
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}
