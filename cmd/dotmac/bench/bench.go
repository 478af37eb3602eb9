// Package bench is `dotmac bench`: one command that measures what users of the ledger care
// about — appends, commands over HTTP, projection rebuilds, queries, projection lag, audit
// verification and the server's memory — each beside a baseline measured in the same run on
// the same PostgreSQL, in a scratch database it creates and drops. The history the rebuild,
// verify, command and query scenarios run on is the customer simulator's (domain/domainsim),
// appended by StoreSink.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/internal/db"
)

// Scenarios, in the order they run.
const (
	ScenarioAppend   = "append"
	ScenarioRebuild  = "rebuild"
	ScenarioVerify   = "verify"
	ScenarioCommands = "commands"
	// ScenarioCommandsHot is commands on one customer: a reseller's or a payment provider's
	// burst (16 and 64 clients).
	ScenarioCommandsHot = "commands_hot"
	ScenarioLag         = "lag"
	ScenarioQuery       = "query"
	// ScenarioBillingRun is a tenant's billing run with the portal reading meanwhile.
	ScenarioBillingRun = "billing_run"
)

// AllScenarios lists every scenario.
var AllScenarios = []string{ScenarioAppend, ScenarioRebuild, ScenarioVerify, ScenarioCommands, ScenarioCommandsHot, ScenarioLag, ScenarioQuery, ScenarioBillingRun}

// Config sizes a run. Zero values take the defaults.
type Config struct {
	// ServerURL is a PostgreSQL URL whose server hosts the scratch database (its database
	// part is replaced).
	ServerURL string
	// Binary is the dotmac executable the server under test runs from (os.Executable()).
	Binary string
	// Scenarios to run (default all).
	Scenarios []string
	// Events is how many events the rebuild and verify scenarios generate (default 1,000,000).
	Events int
	// Duration of each load phase: baseline, append, commands, each query rate (default 10 s).
	Duration time.Duration
	// Clients is the concurrency of appends and commands (default 64).
	Clients int
	// QueryRates are the fixed rates of the query scenario (default 1,000 and 5,000 req/s).
	QueryRates []int
	// BillingQueryRate is the portal's read rate during the billing_run scenario (req/s);
	// 0 runs the billing alone.
	BillingQueryRate int
	// BillingCustomers, if above 0, adds that many customers with one active service each to
	// the history (in bulk, through the store's multi-stream appends) for the billing_run
	// scenario to invoice besides the history's own.
	BillingCustomers int
	// RolesApart runs the server under test's command (with the process managers), query
	// and projector roles in a `dotmac serve --role=...` process each, as deploy/'s compose
	// file and Kubernetes manifests do: the portal's reads then share the cores with a bill
	// day's work, not one Go runtime's scheduler.
	RolesApart bool
	// Keep leaves the scratch database in place.
	Keep bool
	// ProfileDir, if set, receives CPU profiles of the server under test taken during the
	// commands scenario and the first query rate (commands.pprof, query.pprof), each with the
	// allocations of the same seconds beside it (commands.allocs.pprof, ...).
	ProfileDir string
	Logger     zerolog.Logger
	// Progress, if set, is told what runs now and how far it is (done of total; total 0:
	// unknown).
	Progress func(step string, done, total int64)
}

func (c *Config) setDefaults() {
	if len(c.Scenarios) == 0 {
		c.Scenarios = AllScenarios
	}
	if c.Events <= 0 {
		c.Events = 1_000_000
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Clients <= 0 {
		c.Clients = 64
	}
	if len(c.QueryRates) == 0 {
		c.QueryRates = []int{1000, 5000}
	}
	if c.Progress == nil {
		c.Progress = func(string, int64, int64) {}
	}
}

func (c *Config) validate() error {
	for _, s := range c.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			return fmt.Errorf("scenario %q: use all or %s", s, strings.Join(AllScenarios, ", "))
		}
	}
	if c.Binary == "" && (c.wants(ScenarioCommands) || c.wants(ScenarioCommandsHot) || c.wants(ScenarioBillingRun) || c.wants(ScenarioLag) || c.wants(ScenarioQuery)) {
		return errors.New("bench: the server scenarios need the dotmac binary")
	}
	return nil
}

func (c *Config) wants(s string) bool { return slices.Contains(c.Scenarios, s) }

// Run measures the configured scenarios and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	scratch, drop, err := createScratch(ctx, cfg.ServerURL)
	if err != nil {
		return nil, err
	}
	if !cfg.Keep {
		defer drop()
	} else {
		cfg.Logger.Info().Str("database", scratch).Msg("keeping the scratch database")
	}
	r := &run{cfg: cfg, url: scratch, report: newReport(cfg)}
	defer r.close()
	if err := r.execute(ctx); err != nil {
		return r.report, err
	}
	r.report.Finished = time.Now().UTC()
	return r.report, nil
}

// run holds one benchmark run's state.
type run struct {
	cfg    Config
	url    string // the scratch database
	pool   *pgxpool.Pool
	report *Report
	server *server
	phase  string // the scenario running, the server's phase once it has started

	generated           bool // the history is in the scratch database
	genSeconds, genRate float64
}

func (r *run) close() {
	if r.server != nil {
		r.server.stop()
	}
	if r.pool != nil {
		r.pool.Close()
	}
}

func (r *run) execute(ctx context.Context) error {
	var err error
	if r.pool, err = db.Open(ctx, r.url, db.Options{AppName: "dotmac-bench", MaxConns: 80}); err != nil {
		return err
	}
	if err := migrateAll(ctx, r.pool); err != nil {
		return err
	}
	if err := describePostgres(ctx, r.pool, &r.report.Machine); err != nil {
		return err
	}
	base, err := r.baselineInserts(ctx)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	r.report.Baseline = base
	if r.cfg.wants(ScenarioCommands) || r.cfg.wants(ScenarioLag) {
		if r.report.Baseline.AtCommandClients, err = r.tailBaseline(ctx); err != nil {
			return fmt.Errorf("baseline at %d clients: %w", r.cfg.Clients, err)
		}
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{ScenarioAppend, r.appendScenario},
		{ScenarioRebuild, r.rebuildScenario},
		{ScenarioVerify, r.verifyScenario},
		{ScenarioCommands, r.commandsAndLag},
		{ScenarioCommandsHot, r.hotCommandsScenario},
		{ScenarioQuery, r.queryScenario},
		{ScenarioBillingRun, r.billingRunScenario},
	}
	for _, s := range steps {
		if !r.cfg.wants(s.name) && (s.name != ScenarioCommands || !r.cfg.wants(ScenarioLag)) {
			continue
		}
		r.cfg.Logger.Info().Str("scenario", s.name).Msg("running")
		r.phase = s.name
		if r.server != nil {
			r.server.setPhase(s.name)
		}
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if r.server != nil {
		r.report.Scenarios.Memory = r.server.memory()
	}
	return nil
}

// createScratch creates a new database on serverURL's server and returns its URL and a
// function dropping it.
func createScratch(ctx context.Context, serverURL string) (string, func(), error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("parse database url: %w", err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "dotmac_bench_" + hex.EncodeToString(b[:])
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return "", nil, fmt.Errorf("connect to create the scratch database: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create the scratch database: %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(dctx, admin.String())
		if err != nil {
			return
		}
		defer c.Close(dctx)
		_, _ = c.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}
