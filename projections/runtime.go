package projections

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationSet is the runtime's schema (projection_registry, projection_builds), for
// internal/migrate. It belongs in the application schema, beside the event store's, and
// requires the feed consumers' (each build's checkpoint is a row of feed_checkpoints).
func MigrationSet() migrate.Set {
	s := migrate.Embedded("projections", "projections_schema_migrations", migrationFiles)
	s.Requires = []migrate.Set{consumer.MigrationSet()}
	return s
}

// Options tune a Runtime. Zero values take the defaults.
type Options struct {
	Logger zerolog.Logger
	// Registerer receives the runtime's Prometheus metrics (nil: a private registry).
	Registerer prometheus.Registerer
	// Decode turns a stored event into its domain payload (default codec.Decode).
	Decode func(*eventstore.Envelope) (domain.Event, error)
	// DecodeTrimmed decodes for projections whose Tuning is Trimmed (default
	// codec.DecodeTrimmed: an InvoiceIssued as its domain.InvoiceIssuedHead).
	DecodeTrimmed func(*eventstore.Envelope) (domain.Event, error)
	// LiveBatchEvents is the most events the live projector applies per transaction
	// (default 1000).
	LiveBatchEvents int
	// MinBatchInterval paces each live partition on a busy feed: after a batch that was not
	// full, the next one starts no sooner than this after the batch began, and applies the
	// events appended meanwhile together (up to LiveBatchEvents), so that a partition runs at
	// most one transaction per interval instead of one per append. An event after an idle
	// stretch longer than this is applied at once, and a WaitFor of this process asking for a
	// later position ends the pause (default DefaultMinBatchInterval; negative: off, each
	// batch starts as soon as the previous one is committed).
	MinBatchInterval time.Duration
	// LiveConcurrency is how many live batches of this runtime's projections run their
	// transactions at once; the others wait their turn, and their partitions gather what is
	// appended meanwhile into their next batch (default DefaultLiveConcurrency, half the
	// processors; negative: no bound). The live projectors work in the background of the
	// command path: on a busy feed each projection's batches competing for the processors
	// with the event store's appends (and with each other: a PostgreSQL backend each) cost
	// every command more CPU than taking turns does. An idle batch (one that only moves a
	// checkpoint) never waits.
	LiveConcurrency int
	// ReplayBatchEvents is the most events a replay (rebuild, as-of, catch-up) applies per
	// transaction (default 20,000).
	ReplayBatchEvents int
	// ReplayPageEvents is how many events a replay reads per query (default 10,000).
	ReplayPageEvents int
	// ReplayReaders is how many queries a replay runs ahead in parallel, each decoding its
	// page (default GOMAXPROCS, at least 2).
	ReplayReaders int
	// CatchUpEvents: a live build further than this behind the head is caught up by a replay
	// before the live projector takes over (default 10,000).
	CatchUpEvents int
	// SwapMaxLag: a rebuild keeps catching up until it is at most this many events behind
	// the head, then swaps under the projection's lock (default 5,000).
	SwapMaxLag int
	// MaxRetries is how often the live projector retries a failing batch, with exponential
	// backoff from RetryInitial to RetryMax, before it looks for the failing event and
	// stalls there (defaults 3, 100 ms, 2 s).
	MaxRetries   int
	RetryInitial time.Duration
	RetryMax     time.Duration
	// ReadyMaxLag: Ready fails while a projection's oldest unapplied event is older than
	// this (default 30 s).
	ReadyMaxLag time.Duration
	// Interval is how often lag metrics are sampled and stopped live projectors restarted
	// where they may run again (default 1 s).
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Lease tunes the live builds' leases: a projection runs live only in the process
	// holding its live build's lease (feed_checkpoints row projections.<build>). Every
	// projection of a Runtime is held under one holder name (default
	// consumer.DefaultHolder()).
	Lease consumer.LeaseConfig
	// Partitions is how many tenant-hash partitions a new live or shadow build is split into
	// (at most MaxPartitions; 0: a rebuild keeps the live build's count, and a first build has
	// one; a projection whose Tuning is CrossTenant always has one). Each partition has its own
	// checkpoint and lease, so the projector processes share a projection's live work: each
	// runs about its share of the partitions. The count of a build never changes: a new count
	// takes effect with the next build (dotmac projections rebuild); until then the live build
	// keeps its own, whatever this option says.
	Partitions int
	// MaxCopies caps how many as-of copies (RebuildOptions.Into) may exist at once; a copy
	// beyond it is refused with ErrTooManyCopies (default DefaultMaxCopies).
	MaxCopies int
	// Standby: pool is a read-only hot standby (the query role on a replica). The runtime then
	// never writes or LISTENs (a standby refuses both): WaitFor is woken by one poller that
	// reads every checkpoint each StandbyPoll while anyone waits, whatever the number of
	// waiters, and Start is refused.
	Standby bool
	// StandbyPoll is the poller's interval (default 50 ms): the most a read-your-writes wait
	// on a standby oversleeps, and the poller's one query per interval is its whole cost.
	StandbyPoll time.Duration

	// pause holds a live handler for d after a batch, or less when rise is closed or ctx ends
	// (default sleepPause; tests replace it, see export_test.go).
	pause func(ctx context.Context, d time.Duration, rise <-chan struct{})
}

func (o *Options) setDefaults() {
	if o.Decode == nil {
		o.Decode = codec.Decode
	}
	if o.DecodeTrimmed == nil {
		o.DecodeTrimmed = codec.DecodeTrimmed
	}
	setDefault(&o.LiveBatchEvents, 1000)
	setDefault(&o.ReplayBatchEvents, 20_000)
	setDefault(&o.ReplayPageEvents, 10_000)
	setDefault(&o.ReplayReaders, max(2, runtime.GOMAXPROCS(0)))
	setDefault(&o.CatchUpEvents, 10_000)
	setDefault(&o.SwapMaxLag, 5_000)
	setDefault(&o.MaxRetries, 3)
	setDefault(&o.RetryInitial, 100*time.Millisecond)
	setDefault(&o.RetryMax, 2*time.Second)
	setDefault(&o.ReadyMaxLag, 30*time.Second)
	setDefault(&o.Interval, time.Second)
	setDefault(&o.StandbyPoll, DefaultStandbyPoll)
	if o.MinBatchInterval == 0 {
		o.MinBatchInterval = DefaultMinBatchInterval
	}
	if o.LiveConcurrency == 0 {
		o.LiveConcurrency = DefaultLiveConcurrency()
	}
	if o.pause == nil {
		o.pause = sleepPause
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Lease.Holder == "" {
		o.Lease.Holder = consumer.DefaultHolder()
	}
}

func setDefault[T int | time.Duration](p *T, def T) {
	if *p <= 0 {
		*p = def
	}
}

// Limits on the options.
const (
	maxLiveBatchEvents   = 10_000
	maxReplayBatchEvents = 200_000
	maxReplayReaders     = 16
	maxLiveConcurrency   = 1024
)

func (o *Options) validate() error {
	switch {
	case o.LiveBatchEvents > maxLiveBatchEvents:
		return fmt.Errorf("projections: LiveBatchEvents %d is over %d", o.LiveBatchEvents, maxLiveBatchEvents)
	case o.ReplayBatchEvents > maxReplayBatchEvents:
		return fmt.Errorf("projections: ReplayBatchEvents %d is over %d", o.ReplayBatchEvents, maxReplayBatchEvents)
	case o.ReplayPageEvents > eventstore.MaxReadLimit*10:
		return fmt.Errorf("projections: ReplayPageEvents %d is over %d", o.ReplayPageEvents, eventstore.MaxReadLimit*10)
	case o.ReplayReaders > maxReplayReaders:
		return fmt.Errorf("projections: ReplayReaders %d is over %d", o.ReplayReaders, maxReplayReaders)
	case o.LiveConcurrency > maxLiveConcurrency:
		return fmt.Errorf("projections: LiveConcurrency %d is over %d", o.LiveConcurrency, maxLiveConcurrency)
	case o.Partitions > MaxPartitions:
		return fmt.Errorf("projections: Partitions %d is over %d", o.Partitions, MaxPartitions)
	}
	return nil
}

// entry is one registered projection.
type entry struct {
	p          Projection
	handles    map[string]bool // the event types Apply uses (nil: every type)
	tuning     Tuning
	name       string
	tables     []string
	lockKey    int64  // serializes applying to the live build (every process)
	rebuildKey int64  // one rebuild of the projection at a time (every process)
	demand     demand // what this process's waiters ask of the live build (see pace.go)
}

// Runtime runs projections: it keeps their builds and views, feeds the live builds from the
// event store through a Watermill router, rebuilds on demand, and reports status and lag.
// Create it with New; Start runs the live projectors (the projector role); a Runtime that is
// not started still answers status, WaitFor and rebuild requests (the query role, the CLI).
type Runtime struct {
	pool    *pgxpool.Pool
	store   eventstore.Store
	feed    feed
	opts    Options
	log     zerolog.Logger
	app     string // the application schema: registry, builds table and views live here
	sqls    sqlText
	entries map[string]*entry
	order   []string
	metrics *metrics
	slots   *liveSlots // Options.LiveConcurrency
	note    watcher
	known   knownStatuses // the live statuses waiters read (wait.go)

	stallLogs stallLogs // tenant stalls to log once their transaction commits

	membersMu sync.Mutex
	members   map[string]int // memberKey -> projector processes running it, as last counted

	life   context.Context // ends at Stop: background work (rebuilds, catch-ups, the loop)
	stop   context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	start  bool
	live   *projector
	busy   map[string]string // projection -> what this process is doing with it (catch-up)
	builds map[string]*buildRun

	// Catch-ups queue here and run one replay at a time, projections at the same checkpoint
	// sharing it (see catchUps); catchGate holds them while Start queues every projection.
	catchQueue []*entry
	catching   bool
	catchGate  chan struct{}
}

// New returns a Runtime for projs over pool (whose search_path's first schema is the
// application schema, migrated with MigrationSet) and store. It starts nothing.
func New(ctx context.Context, pool *pgxpool.Pool, store eventstore.Store, projs []Projection, opts Options) (*Runtime, error) {
	if opts.Partitions < 0 {
		return nil, fmt.Errorf("projections: Partitions %d: give 1 to %d (0: keep the live build's)", opts.Partitions, MaxPartitions)
	}
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	var app, searchPath string
	if err := pool.QueryRow(ctx, "SELECT current_schema(), current_setting('search_path')").Scan(&app, &searchPath); err != nil {
		return nil, fmt.Errorf("projections: read the application schema: %w", err)
	}
	f, err := newFeed(store)
	if err != nil {
		return nil, err
	}
	r := &Runtime{pool: pool, store: store, feed: f, opts: opts, log: opts.Logger, app: app,
		sqls: newSQLText(app, searchPath), entries: map[string]*entry{}, busy: map[string]string{}, builds: map[string]*buildRun{}}
	for _, p := range projs {
		if err := r.register(p); err != nil {
			return nil, err
		}
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	r.metrics = m
	r.slots = newLiveSlots(opts.LiveConcurrency)
	r.life, r.stop = context.WithCancel(context.Background())
	if opts.Standby {
		r.note = newPoller(r)
		r.known.off = true
	} else {
		r.note = newNotifier(r)
	}
	return r, nil
}

func (r *Runtime) register(p Projection) error {
	name := p.Name()
	if !ValidName(name) {
		return fmt.Errorf("projections: name %q: use a lower-case letter, then up to 39 of a-z, 0-9 and '_'", name)
	}
	if _, dup := r.entries[name]; dup {
		return fmt.Errorf("projections: %q is registered twice", name)
	}
	if p.Version() < 1 {
		return fmt.Errorf("projections: %s: version %d, must be 1 or more", name, p.Version())
	}
	tables := p.Tables()
	for _, t := range tables {
		if !tablePattern.MatchString(t) {
			return fmt.Errorf("projections: %s: table name %q is not a plain lower-case identifier", name, t)
		}
		for _, other := range r.entries {
			if slices.Contains(other.tables, t) {
				return fmt.Errorf("projections: %s and %s both list table %q: their views would collide", other.name, name, t)
			}
		}
	}
	tuning := p.Tuning()
	var handles map[string]bool
	if tuning.Handles != nil {
		handles = map[string]bool{}
		for _, t := range tuning.Handles {
			handles[t] = true
		}
	}
	r.entries[name] = &entry{p: p, handles: handles, tuning: tuning, name: name, tables: tables,
		lockKey: lockKey(r.app, "apply", name), rebuildKey: lockKey(r.app, "rebuild", name)}
	r.order = append(r.order, name)
	return nil
}

// Names lists the registered projections in registration order.
func (r *Runtime) Names() []string { return append([]string(nil), r.order...) }

// AppSchema is the application schema the runtime's views and tables live in.
func (r *Runtime) AppSchema() string { return r.app }

func (r *Runtime) entry(name string) (*entry, error) {
	e, ok := r.entries[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProjection, name)
	}
	return e, nil
}

// Start brings every projection's live build up to date and runs the live projectors until
// Stop. For each projection it creates the first build (tables and views) if there is none,
// resumes a stalled projection from its checkpoint, starts a rebuild in the background when
// this binary's version differs from the live build's (the old build keeps serving), replays
// a large backlog before going live, and then runs a Watermill handler fed by the event store.
// ctx bounds the start-up only.
func (r *Runtime) Start(ctx context.Context) error {
	if r.opts.Standby {
		return errors.New("projections: a runtime over a standby cannot run projectors (it cannot write)")
	}
	r.mu.Lock()
	if r.start {
		r.mu.Unlock()
		return errors.New("projections: runtime already started")
	}
	r.start = true
	r.mu.Unlock()
	if err := r.forgetStaleMembers(ctx); err != nil {
		return err
	}
	r.heartbeat(ctx)
	var rebuild []*entry
	for _, name := range r.order {
		e := r.entries[name]
		versionChanged, err := r.prepare(ctx, e)
		if err != nil {
			return err
		}
		if versionChanged {
			rebuild = append(rebuild, e)
		}
	}
	live, err := newProjector(r)
	if err != nil {
		return err
	}
	if err := live.run(r.life); err != nil {
		return err
	}
	r.mu.Lock()
	r.live = live
	r.mu.Unlock()
	if len(rebuild) > 0 {
		r.rebuildForVersion(rebuild)
	}
	gate := make(chan struct{})
	r.mu.Lock()
	r.catchGate = gate
	r.mu.Unlock()
	for _, name := range r.order {
		r.activate(ctx, r.entries[name])
	}
	close(gate) // the projections that queued for a catch-up share its replays
	r.goBackground(r.loop)
	return nil
}

// Stop ends the live projectors (a batch in flight is rolled back, never half applied),
// rebuilds running in this process (their shadow builds are dropped) and the background
// loops, and waits for them.
func (r *Runtime) Stop() {
	r.stop()
	r.mu.Lock()
	live := r.live
	r.mu.Unlock()
	if live != nil {
		live.close()
	}
	r.wg.Wait()
	r.note.Stop()
	if live != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.leaveMembership(ctx)
	}
}

func (r *Runtime) goBackground(f func(ctx context.Context)) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f(r.life)
	}()
}

// loop samples lag for the metrics and restarts live projectors that stopped (a stall
// cleared by a rebuild, a version swap) until Stop.
func (r *Runtime) loop(ctx context.Context) {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.heartbeat(ctx)
		sts, err := r.List(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn().Err(err).Msg("projections: reading status failed")
			}
			continue
		}
		r.metrics.observe(sts)
		for _, st := range sts {
			if st.State != StateStalled && st.Version == st.CodeVersion && st.LiveBuild != "" {
				r.activate(ctx, r.entries[st.Name])
			}
		}
	}
}
