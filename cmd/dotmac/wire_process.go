package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/process"
)

// processFlags configure the process managers (billing runs, dunning, the overdue scheduler)
// that the command role runs.
type processFlags struct {
	enabled         bool
	graceDays       int
	tickInterval    time.Duration
	billingSchedule bool
	resumeAfter     time.Duration
	dueDays         int
}

func (p *processFlags) bind(fs *pflag.FlagSet) {
	boolFlag(fs, &p.enabled, "process-managers", "DOTMAC_PROCESS_MANAGERS", true,
		"run the process managers (overdue marks, dunning, scheduled billing runs) in a command process; false: serve the API only")
	intFlag(fs, &p.graceDays, "dunning-grace-days", "DOTMAC_DUNNING_GRACE_DAYS", process.DefaultGraceDays,
		"days an invoice may be overdue before dunning suspends the customer's services")
	durationFlag(fs, &p.tickInterval, "process-tick-interval", "DOTMAC_PROCESS_TICK_INTERVAL", process.DefaultTickInterval,
		"how often the scheduler marks overdue invoices and sweeps dunning (it also runs at start-up)")
	boolFlag(fs, &p.billingSchedule, "billing-schedule", "DOTMAC_BILLING_SCHEDULE", false,
		"start every tenant's billing run of the month on the month's first scheduler tick")
	durationFlag(fs, &p.resumeAfter, "billing-resume-after", "DOTMAC_BILLING_RESUME_AFTER", process.DefaultResumeAfter,
		"resume a started billing run that has made no progress for this long")
	intFlag(fs, &p.dueDays, "billing-due-days", "DOTMAC_BILLING_DUE_DAYS", commands.DefaultDueDays,
		"payment term in days of invoices of scheduled and resumed billing runs")
}

// defaultProcessFlags are the process flags' defaults (for tests building a system by hand).
func defaultProcessFlags() *processFlags {
	return &processFlags{enabled: true, graceDays: process.DefaultGraceDays, tickInterval: process.DefaultTickInterval,
		resumeAfter: process.DefaultResumeAfter, dueDays: commands.DefaultDueDays}
}

// startProcessManagers starts the process managers over the process's command handlers
// until ctx ends; stop ends them and waits. They need the watermill and process migration
// sets (migrationSets applies both).
func startProcessManagers(ctx context.Context, sys *system) (stop func(), err error) {
	h, err := commandHandlers(sys)
	if err != nil {
		return nil, err
	}
	f := defaultProcessFlags()
	if sys.flags != nil {
		f = &sys.flags.process
	}
	m, err := process.New(process.Config{Handlers: h, Store: sys.store, Pool: sys.pool, Registerer: sys.registry,
		Logger: sys.log, GraceDays: f.graceDays, TickInterval: f.tickInterval, BillingSchedule: f.billingSchedule,
		DueDays: f.dueDays, ResumeAfter: f.resumeAfter})
	if err != nil {
		return nil, fmt.Errorf("process managers: %w", err)
	}
	if err := m.Start(ctx); err != nil {
		return nil, err
	}
	return m.Stop, nil
}
