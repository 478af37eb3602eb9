package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/mattn/go-isatty"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/integration/webhooks"
	"github.com/dotmac/ledger/internal/admission"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/readapi"
)

// Roles a serve process can play; the default plays all of them.
const (
	roleCommand   = "command"
	roleQuery     = "query"
	roleProjector = "projector"
)

var allRoles = []string{roleCommand, roleQuery, roleProjector}

// defaultCommandConns sizes the command side's own pool: enough for the billing run's workers
// (commands.BillingRunWorkers), the event store's writer and the API's idempotency statements.
const defaultCommandConns = 32

type serveFlags struct {
	storage     storeFlags
	key         keyFlags
	signing     signingFlags
	commandAddr string
	queryAddr   string
	roles       string
	devTenant   string
	readyMaxLag time.Duration
	adminAddr   string
	pprof       bool
	maxCopies   int
	partitions  int
	// batchInterval paces the live projection batches (0: off); projections.Options.MinBatchInterval.
	batchInterval time.Duration
	// liveConcurrency bounds the live projection batches running at once (0: half the
	// processors; negative: no bound); projections.Options.LiveConcurrency.
	liveConcurrency int
	memoryLimit     string
	gcPercent       int
	cacheSize       int
	// elasticTarget is the foreground p99 a billing run yields to keep (0: it never yields).
	elasticTarget time.Duration
	// maxInFlight and queueWait bound the requests the command and query APIs each serve at
	// once (httpx.Limiter; maxInFlight < 1: no bound).
	maxInFlight int
	maxQueued   int
	queueWait   time.Duration
	// providersFile is the JSON file of the tenants' payment-provider accounts.
	providersFile string
	// commandConns sizes the command side's own pool (0: it shares the main pool).
	commandConns int32
	process      processFlags
	forward      forwardFlags
	webhooks     webhookFlags
	migrate      bool
	replica      replicaFlags
}

func newServe(g *globalFlags) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the command API, the query API and the projectors (all roles by default)",
		Long: `Serve runs DotMac Ledger. With no flags it plays every role in one process: the command API
(writes, :8080), the query API (reads, :8081) and the projectors that keep the read models.
It finds PostgreSQL (DATABASE_URL, else 127.0.0.1:5432, else a private cluster it starts under
--data-dir/postgres), creates the database if missing and applies migrations first (with
--migrate=false it only checks that they are applied: deploy/ runs dotmac migrate up as a job).

Every flag can also be set through the environment variable named in its description.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd.Context(), g, f) },
	}
	fs := cmd.Flags()
	f.storage.bind(fs)
	f.key.bind(cmd)
	f.signing.bind(fs)
	stringFlag(fs, &f.commandAddr, "command-addr", "DOTMAC_COMMAND_ADDR", ":8080", "listen address of the command API")
	stringFlag(fs, &f.queryAddr, "query-addr", "DOTMAC_QUERY_ADDR", ":8081", "listen address of the query API")
	stringFlag(fs, &f.roles, "role", "DOTMAC_ROLE", strings.Join(allRoles, ","), "comma-separated roles to play: command, query, projector")
	boolFlag(fs, &f.key.production, "production", "DOTMAC_PRODUCTION", false, "refuse to start on a development JWT key: none configured, or the generated one passed as the secret")
	stringFlag(fs, &f.devTenant, "dev-tenant", "DOTMAC_DEV_TENANT", "demo", "tenant of the development token printed when no JWT key is configured")
	f.process.bind(fs)
	f.forward.bind(fs)
	f.replica.bind(fs)
	f.webhooks.bind(fs)
	boolFlag(fs, &f.migrate, "migrate", "DOTMAC_MIGRATE", true,
		"apply pending migrations at start; false (deploy/): refuse to start unless `dotmac migrate up` has applied them")
	stringFlag(fs, &f.memoryLimit, "memory-limit", "DOTMAC_MEMORY_LIMIT", "200MiB",
		"soft memory limit of the Go heap (GOMEMLIMIT syntax; off: no limit; the GOMEMLIMIT variable wins when set)")
	intFlag(fs, &f.gcPercent, "gc-percent", "DOTMAC_GC_PERCENT", defaultGCPercent,
		"how far the Go heap grows past what is live before the next collection, in percent (GOGC syntax; -1: only at the memory limit; the GOGC variable wins when set)")
	int32Flag(fs, &f.storage.db.minConns, "db-min-conns", "DOTMAC_DB_MIN_CONNS", 0,
		"PostgreSQL connections each pool opens at start and keeps (at most its maximum): a request finding every connection busy below the maximum waits for a new session, which a host saturated by a billing run takes up to a second to start; with --db-max-conns equal, the pool never grows under load")
	int32Flag(fs, &f.commandConns, "db-command-conns", "DOTMAC_DB_COMMAND_CONNS", defaultCommandConns,
		"connections of the command side's own PostgreSQL pool (event store, idempotency keys, invoice numbers, billing index), apart from the pool of the query API and the projectors (--db-max-conns); 0: one shared pool")
	intFlag(fs, &f.cacheSize, "command-cache-streams", "DOTMAC_COMMAND_CACHE_STREAMS", commands.DefaultCacheStreams,
		"folded streams the command side keeps in memory (-1: none)")
	durationFlag(fs, &f.elasticTarget, "elastic-latency-target", "DOTMAC_ELASTIC_LATENCY_TARGET", admission.DefaultTarget,
		"a billing run gives way to this process's API requests: while their p99 is above this, fewer of the run's groups run at once (down to one); with no requests it runs at full speed; 0: never gives way")
	intFlag(fs, &f.maxInFlight, "http-max-in-flight", "DOTMAC_HTTP_MAX_IN_FLIGHT", httpx.DefaultMaxInFlight,
		"requests the command API and the query API each serve at once; beyond it a request waits up to --http-queue-wait for one to finish, else is answered 503 with Retry-After (the probes and /metrics are never held); 0: no limit")
	durationFlag(fs, &f.queueWait, "http-queue-wait", "DOTMAC_HTTP_QUEUE_WAIT", httpx.DefaultQueueWait,
		"how long a request beyond --http-max-in-flight waits for a slot before it is answered 503")
	intFlag(fs, &f.maxQueued, "http-max-queued", "DOTMAC_HTTP_MAX_QUEUED", httpx.DefaultMaxQueued,
		"how many requests beyond --http-max-in-flight may wait for a slot at once, in each API; one beyond them is answered 503 at once; 0: as many as come within --http-queue-wait")
	stringFlag(fs, &f.providersFile, "payment-providers", "DOTMAC_PAYMENT_PROVIDERS", "",
		"JSON file of the tenants' payment-provider accounts (Stripe signing secrets, M-Pesa short codes; docs/payments-in.md) that POST /v1/providers/{provider}/callbacks verifies with; empty: none")
	stringFlag(fs, &f.adminAddr, "admin-addr", "DOTMAC_ADMIN_ADDR", defaultAdminAddr,
		"listen address of the admin API (every role): /metrics, /healthz, /readyz (detail with an operator token), projection admin (operator token), pprof with --pprof; empty: none. Keep it private")
	boolFlag(fs, &f.pprof, "pprof", "DOTMAC_PPROF", false, "serve Go's pprof profiles (/debug/pprof/) on the admin address")
	intFlag(fs, &f.maxCopies, "max-copies", "DOTMAC_MAX_ASOF_COPIES", projections.DefaultMaxCopies,
		"how many as-of copies of projections may exist at once; beyond it a copy is refused until one is dropped")
	durationFlag(fs, &f.readyMaxLag, "ready-max-lag", "DOTMAC_READY_MAX_LAG", 30*time.Second, "/readyz fails while a projection is further behind the head than this")
	partitionsFlag(fs, &f.partitions)
	durationFlag(fs, &f.batchInterval, "projection-batch-interval", "DOTMAC_PROJECTION_BATCH_INTERVAL", projections.DefaultMinBatchInterval,
		"on a busy feed, each live projection partition starts a batch at most this often after the last began, applying the events appended meanwhile together (fewer transactions per event, events applied up to this much later); an event after an idle stretch is applied at once; 0: off")
	intFlag(fs, &f.liveConcurrency, "projection-live-concurrency", "DOTMAC_PROJECTION_LIVE_CONCURRENCY", 0,
		"how many live projection batches of this process run their transactions at once, the others taking turns (less CPU per command on a busy feed, events applied later); 0: half the processors (GOMAXPROCS), at least 1; negative: no bound")
	return cmd
}

func (f *serveFlags) parseRoles() ([]string, error) {
	var roles []string
	for _, r := range strings.Split(f.roles, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !slices.Contains(allRoles, r) {
			return nil, fmt.Errorf("unknown role %q: use %s", r, strings.Join(allRoles, ", "))
		}
		roles = append(roles, r)
	}
	if len(roles) == 0 {
		return nil, fmt.Errorf("no role to play: use --role with %s", strings.Join(allRoles, ", "))
	}
	return roles, nil
}

func runServe(ctx context.Context, g *globalFlags, f *serveFlags) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	roles, err := f.parseRoles()
	if err != nil {
		return err
	}
	if err := applyMemoryLimit(f.memoryLimit); err != nil {
		return err
	}
	if err := applyGCPercent(f.gcPercent); err != nil {
		return err
	}
	if err := checkMinConns(f.storage.db.minConns, f.storage.db.maxConns); err != nil {
		return err
	}
	key, keySource, err := f.key.load(g)
	if err != nil {
		return err
	}
	f.storage.db.warm = mainPoolWarmUp(roles, f)
	b, err := openServeBackend(ctx, log, g, f)
	if err != nil {
		return err
	}
	// Deferred steps run last first: process managers, projectors, then the database; the
	// "shutdown complete" line says what each drained and how long it took.
	sd := newShutdown(time.Now)
	defer sd.log(log)
	defer sd.step("database", func() *zerolog.Event { return closeBackend(b, log) })
	dbase, store := b.database, b.store

	sys := &system{log: log, pool: dbase.pool, commandPool: dbase.commandPool(), store: store, key: key, registry: newRegistry(),
		health: httpx.NewHealth(), flags: f}
	if sys.elastic, err = elasticController(sys, roles); err != nil {
		return err
	}
	// "main": the query API, the projectors and the process managers; "commands": the command
	// side and the event store, when they have a pool of their own (else they use main's).
	sys.pools = db.NewPoolCollector()
	sys.pools.Add("main", sys.pool)
	sys.pools.Add("commands", sys.commandPool)
	sys.registry.MustRegister(sys.pools)
	if b.metrics != nil {
		sys.registry.MustRegister(b.metrics)
	}
	sys.health.Add("database", func(ctx context.Context) error { return dbase.pool.Ping(ctx) })
	sys.health.Add("eventstore", func(ctx context.Context) error { _, err := store.Head(ctx); return err })
	if slices.Contains(roles, roleCommand) || slices.Contains(roles, roleProjector) {
		sys.health.Add("database_writable", func(ctx context.Context) error { return db.Writable(ctx, dbase.pool) })
	}
	warnRiskySettings(ctx, log, dbase.pool)

	stopSigner, err := startSigner(ctx, sys, g, roles)
	if err != nil {
		return err
	}
	defer sd.step("signer", func() *zerolog.Event { stopSigner(); return nil })
	// Each role's wiring lives in its own file: wire_command.go, wire_query.go, wire_projector.go.
	if slices.Contains(roles, roleProjector) {
		stop, err := startProjector(ctx, sys)
		if err != nil {
			return err
		}
		defer sd.step("projectors", func() *zerolog.Event { return stopProjectors(sys.runtime, stop) })
		stopForwarder, err := startForwarder(ctx, sys)
		if err != nil {
			return err
		}
		defer sd.step("forwarder", func() *zerolog.Event { stopForwarder(); return nil })
		stopWebhooks, err := startWebhooks(ctx, sys)
		if err != nil {
			return err
		}
		defer sd.step("webhooks", func() *zerolog.Event { stopWebhooks(); return nil })
	}
	servers := map[string]*http.Server{}
	if slices.Contains(roles, roleCommand) {
		mount, commandAPI, err := commandRoutes(ctx, sys)
		if err != nil {
			return err
		}
		// Once the HTTP servers drained (before the database closes): the answers still being
		// stored under their idempotency keys.
		defer sd.step("idempotency_completions", func() *zerolog.Event { return waitCompletions(commandAPI) })
		servers[roleCommand] = httpx.NewServer(f.commandAddr, sys.handler(roleCommand, mount))
		if f.process.enabled {
			stop, err := startProcessManagers(ctx, sys)
			if err != nil {
				return err
			}
			defer sd.step("process_managers", func() *zerolog.Event { stop(); return nil }) // before the store and pool close
		}
	}
	if slices.Contains(roles, roleQuery) {
		if f.replica.url != "" {
			rep, err := startReplica(ctx, sys)
			if err != nil {
				return err
			}
			defer sd.step("replica", func() *zerolog.Event { rep.close(); return nil })
		}
		mount, err := queryRoutes(ctx, sys)
		if err != nil {
			return err
		}
		servers[roleQuery] = httpx.NewServer(f.queryAddr, sys.handler(roleQuery, mount))
	}
	if f.adminAddr != "" {
		h, err := sys.adminHandler(ctx)
		if err != nil {
			return err
		}
		servers[adminAPI] = httpx.NewServer(f.adminAddr, h)
	}
	log.Info().Strs("roles", roles).Dict("addrs", listenAddrs(servers)).Str("database", string(dbase.source)).Str("eventstore", f.storage.backend).
		Str("jwt_key", string(keySource)).Str("data_dir", g.dataDir.path).Str("data_dir_rule", g.dataDir.rule).Msg("dotmac serving")
	if keySource == auth.FromDevKey {
		announceDevKey(log, key, f, terminal(os.Stderr))
	}
	opts := []httpx.ServeOption{httpx.WithDrainHook(sd.stopSignal)}
	if hook, ok := ctx.Value(listeningKey{}).(func(map[string]net.Addr)); ok {
		opts = append(opts, httpx.WithListening(hook))
	}
	return httpx.Serve(ctx, log, servers, opts...)
}

// listeningKey is the context key of a func(map[string]net.Addr) that serve calls with the
// addresses its listeners bound (tests serve on port 0 and learn the ports so).
type listeningKey struct{}

// system is what the roles share.
type system struct {
	log  zerolog.Logger
	pool *pgxpool.Pool
	// commandPool holds the command side's tables (the event store's too): pool unless
	// --db-command-conns gives them their own.
	commandPool *pgxpool.Pool
	store       eventstore.Store
	key         *auth.Key
	registry    *prometheus.Registry
	health      *httpx.Health
	flags       *serveFlags
	// elastic lets the billing run give way to this process's API requests; nil without the
	// command role or with --elastic-latency-target 0.
	elastic *admission.Controller

	// Built on first use, shared by the roles of this process.
	handlersOnce sync.Once
	handlers     *commands.Handlers
	handlersErr  error
	index        *pgstore.Index // the handlers' billing index and payment references
	runtimeOnce  sync.Once
	runtime      *projections.Runtime
	runtimeErr   error
	signer       *audit.Signer     // nil in a process that does not sign
	replica      *replica          // the query role's standby (--read-database-url); nil: it reads the primary
	pools        *db.PoolCollector // the pools' metrics: main, commands, replica
	webhooksOnce sync.Once
	webhooks     *webhooks.Service
	webhooksErr  error
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerBuildInfo(reg, currentBuild())
	return reg
}

// handler builds one public API's handler: the terse probes (/healthz, /readyz), then the
// API's own routes (mount). Metrics, detailed health and projection admin are the admin
// listener's (wire_admin.go).
func (s *system) handler(api string, mount func(*mux.Router)) http.Handler {
	r := newRouter()
	s.health.MountProbes(r)
	if mount != nil {
		mount(r)
	}
	limit := httpx.NewLimiter(s.registry, api, httpx.Limits{MaxInFlight: s.flags.maxInFlight, MaxQueued: s.flags.maxQueued, QueueWait: s.flags.queueWait})
	return s.observe(api, limit.Wrap(r))
}

// newRouter returns a router that answers unknown paths and methods with problems.
func newRouter() *mux.Router {
	r := mux.NewRouter()
	r.Use(httpx.TagRoute)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		httpx.WriteProblem(w, req, httpx.NotFound("no such endpoint: "+req.Method+" "+req.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		httpx.WriteProblem(w, req, &httpx.Problem{Type: "/problems/method-not-allowed", Title: "Method not allowed",
			Status: http.StatusMethodNotAllowed, Detail: req.Method + " is not served at " + req.URL.Path})
	})
	return r
}

// observe logs and measures api's requests, and tells the elastic controller how long the
// command and query APIs' took. The admin listener's are not the portal's: a profile taken
// over 30 s, or a slow scrape, would make a billing run give way to nobody.
func (s *system) observe(api string, r http.Handler) http.Handler {
	if s.elastic != nil && api != adminAPI {
		r = s.elastic.Foreground(r)
	}
	return httpx.Observe(s.log.With().Str("api", api).Logger(), httpx.NewHTTPMetrics(s.registry, api), r)
}

// elasticController returns the controller the billing run of a process with the command role
// gives way through, fed by this process's command and query APIs (nil: none).
func elasticController(sys *system, roles []string) (*admission.Controller, error) {
	if !slices.Contains(roles, roleCommand) || sys.flags.elasticTarget <= 0 {
		return nil, nil
	}
	return admission.New(admission.Config{Max: commands.BillingRunWorkers, Target: sys.flags.elasticTarget, Registerer: sys.registry})
}

// devTokenLifetime is how long the development token serve prints stays valid (at most the
// configured maximum lifetime).
const devTokenLifetime = 24 * time.Hour

// announceDevKey says loudly that a development key is in use. The token it mints to try the
// APIs with goes to term, the terminal (nil when stderr is not one), never into the log,
// which may be shipped and kept.
func announceDevKey(log zerolog.Logger, key *auth.Key, f *serveFlags, term io.Writer) {
	log.Warn().Str("mint_token", "dotmac token --tenant "+f.devTenant+" --perm '*'").
		Msg("NO JWT KEY CONFIGURED: using a generated development key. Set DOTMAC_JWT_SECRET or DOTMAC_JWT_PUBLIC_KEY (and --production) for real use.")
	if term == nil {
		return
	}
	tok, err := key.Mint(auth.Principal{Subject: "dev", Tenant: f.devTenant, Permissions: []string{auth.All}}, time.Now(),
		min(devTokenLifetime, f.key.policy.MaxLifetime))
	if err != nil {
		log.Warn().Err(err).Msg("could not mint a development token")
		return
	}
	fmt.Fprintf(term, `
  Development token (tenant %q, every permission; mint more with: bin/dotmac token --tenant %s --perm '*';
  the projection admin routes take an operator token instead: bin/dotmac token --operator):

    export TOKEN=%s
    curl -s -H "Authorization: Bearer $TOKEN" http://%s/v1/customers

  Admin API (metrics, health, projection admin with an operator token): %s

`, f.devTenant, f.devTenant, tok, displayAddr(f.queryAddr), adminText(f.adminAddr))
}

// terminal returns f when it is a terminal, else nil.
func terminal(f *os.File) io.Writer {
	if isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()) {
		return f
	}
	return nil
}

func displayAddr(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "localhost" + addr
	}
	return addr
}

// mainPoolWarmUp is what the main pool runs on each connection it opens: readapi.WarmUp when
// the query API reads through it (the query role, without --read-database-url, whose pool
// the replica's warm-up serves), else nothing.
func mainPoolWarmUp(roles []string, f *serveFlags) func(context.Context, *pgx.Conn) error {
	if slices.Contains(roles, roleQuery) && f.replica.url == "" {
		return readapi.WarmUp
	}
	return nil
}

// checkMinConns refuses a --db-min-conns the pools cannot keep.
func checkMinConns(minConns, maxConns int32) error {
	if minConns < 0 || minConns > maxConns {
		return fmt.Errorf("--db-min-conns %d: want 0 to --db-max-conns (%d)", minConns, maxConns)
	}
	return nil
}

// applyMemoryLimit sets the runtime's soft memory limit (the GOMEMLIMIT variable wins):
// a server replaying a long history keeps its pages within it by collecting more often.
func applyMemoryLimit(limit string) error {
	if os.Getenv("GOMEMLIMIT") != "" || limit == "" || limit == "off" {
		return nil
	}
	n, err := parseBytes(limit)
	if err != nil {
		return fmt.Errorf("--memory-limit %q: %w", limit, err)
	}
	debug.SetMemoryLimit(n)
	return nil
}

// defaultGCPercent is the server's GC target: a command allocates about 90 KB, nearly all of
// it garbage by its answer, over a live heap of some 20 MB, so Go's default (100) collects
// about 25 times a second under load; at 300 the heap peaks near 80 MB, far below the memory
// limit, and the collector's share of the CPU falls (docs/performance.md, "The collector").
const defaultGCPercent = 300

// applyGCPercent sets the collector's target (the GOGC variable wins when set).
func applyGCPercent(percent int) error {
	if os.Getenv("GOGC") != "" {
		return nil
	}
	if percent <= 0 && percent != -1 {
		return fmt.Errorf("--gc-percent %d: want a percentage above 0, or -1 to collect only at the memory limit", percent)
	}
	debug.SetGCPercent(percent)
	return nil
}

// parseBytes reads a size like GOMEMLIMIT does: a number with an optional B, KiB, MiB, GiB
// or TiB suffix.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = num, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("want a size like 200MiB or 1GiB")
	}
	return n * mult, nil
}

// warnRiskySettings logs, once at start, a warning for each PostgreSQL setting at odds with
// what the ledger promises (db.CheckSettings: fsync or full_page_writes off put acknowledged
// appends at risk, synchronous_commit off the records written outside the event store, which
// turns it on for its appends; autovacuum off lets the tables updated in place grow). The
// server runs all the same: the operator may have reasons (a test machine).
func warnRiskySettings(ctx context.Context, log zerolog.Logger, q db.Row) {
	warnings, err := db.CheckSettings(ctx, q)
	if err != nil {
		log.Warn().Err(err).Msg("could not check PostgreSQL's settings")
		return
	}
	for _, w := range warnings {
		log.Warn().Str("setting", w.Setting).Str("value", w.Value).Msg("PostgreSQL's " + w.Setting + " is " + w.Value + ": " + w.Risk)
	}
}
