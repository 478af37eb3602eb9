package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/readapi"
)

// The query role on a replica (--read-database-url): it reads the read models and waits for
// min_position on a read-only hot standby of the primary. Against the standby it never
// migrates, creates or LISTENs: it checks that the schema has this binary's migrations (they
// arrive with the WAL), and its projection runtime polls the replica's copy of the checkpoints
// (projections.Options.Standby). DATABASE_URL still names the primary: the event store (the
// auditors' routes), the admin listener's projection admin, and the reference the replica's
// lag is measured against.

// replicaFlags configure the query role's replica.
type replicaFlags struct {
	url  string
	poll time.Duration
}

func (r *replicaFlags) bind(fs *pflag.FlagSet) {
	stringFlag(fs, &r.url, "read-database-url", "DOTMAC_READ_DATABASE_URL", "",
		"PostgreSQL URL of a streaming replica the query role reads from (read models, min_position waits); empty: DATABASE_URL. Other roles ignore it")
	durationFlag(fs, &r.poll, "read-poll-interval", "DOTMAC_READ_POLL_INTERVAL", projections.DefaultStandbyPoll,
		"how often the query role on a replica reads the replica's checkpoints while a min_position wait is in progress (one query per interval)")
}

// replicaSchemaWait bounds how long the query role waits at start for this binary's
// migrations to be replayed on the replica (a migration just applied on the primary).
const replicaSchemaWait = 30 * time.Second

// replica is the open standby of the query role.
type replica struct {
	pool    *pgxpool.Pool
	runtime *projections.Runtime // over pool, Standby: waits and checkpoints only
}

// openReplica connects to the replica, waits (bounded) until it has every migration of this
// binary, and builds the standby projection runtime over it.
func openReplica(ctx context.Context, sys *system) (*replica, error) {
	f := sys.flags
	pool, err := db.Open(ctx, f.replica.url, db.Options{AppName: "dotmac-query", MaxConns: f.storage.db.maxConns,
		AfterConnect: readapi.WarmUp})
	if err != nil {
		return nil, fmt.Errorf("--read-database-url: %w", err)
	}
	if err := waitReplicaSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	rt, err := projections.New(ctx, pool, sys.store, registeredProjections(), projections.Options{
		Logger: sys.log.With().Str("component", "projections").Str("database", "replica").Logger(),
		// The process's projection metrics are the primary runtime's (wire_projector.go).
		Registerer: prometheus.NewRegistry(), ReadyMaxLag: f.readyMaxLag, Standby: true, StandbyPoll: f.replica.poll,
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &replica{pool: pool, runtime: rt}, nil
}

func (r *replica) close() {
	r.runtime.Stop()
	r.pool.Close()
}

// waitReplicaSchema returns once the replica has every migration of this binary, or the last
// complaint after replicaSchemaWait.
func waitReplicaSchema(ctx context.Context, pool *pgxpool.Pool) error {
	ctx, cancel := context.WithTimeout(ctx, replicaSchemaWait)
	defer cancel()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		err := requireMigrated(ctx, pool)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the replica (--read-database-url) after %s: %w", replicaSchemaWait, err)
		case <-t.C:
		}
	}
}

// replicaLag is how far the replica's copy of the projection checkpoints is behind the
// primary's: the furthest-behind projection, in events, and how long ago the replica's newest
// replayed transaction committed on the primary (0 when no checkpoint is behind).
type replicaLag struct {
	Events     uint64  `json:"lag_events"`
	Seconds    float64 `json:"lag_seconds"`
	Projection string  `json:"projection,omitempty"`
}

// lag measures the replica against primary (a runtime over the primary). The primary's
// checkpoints are read first: whatever the replica holds afterwards that is below them is
// truly missing there. Seconds come from pg_last_xact_replay_timestamp(), read only when
// behind: an idle primary commits nothing, and its last commit's age is no lag.
func (r *replica) lag(ctx context.Context, primary *projections.Runtime) (replicaLag, error) {
	want, err := primary.Checkpoints(ctx)
	if err != nil {
		return replicaLag{}, fmt.Errorf("the primary's checkpoints: %w", err)
	}
	have, err := r.runtime.Checkpoints(ctx)
	if err != nil {
		return replicaLag{}, fmt.Errorf("the replica's checkpoints: %w", err)
	}
	var out replicaLag
	for name, p := range want {
		if h := have[name]; p > h && uint64(p-h) > out.Events {
			out.Events, out.Projection = uint64(p-h), name
		}
	}
	if out.Events == 0 {
		return out, nil
	}
	var secs *float64
	if err := r.pool.QueryRow(ctx, `SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8`).Scan(&secs); err != nil {
		return out, fmt.Errorf("the replica's replay time: %w", err)
	}
	if secs == nil {
		return out, fmt.Errorf("%w by %d events of %s, and it has replayed no transaction since it started", errReplicaBehind, out.Events, out.Projection)
	}
	out.Seconds = max(0, *secs)
	return out, nil
}

// errReplicaBehind: the replica lags the primary by more than --ready-max-lag.
var errReplicaBehind = errors.New("the replica is behind the primary")

// readyCheck is the query role's readiness check on a replica: it fails while the replica's
// checkpoints lag the primary's by more than maxLag (what it serves is that old).
func (r *replica) readyCheck(primary *projections.Runtime, maxLag time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		l, err := r.lag(ctx, primary)
		if err != nil {
			return err
		}
		if l.Seconds > maxLag.Seconds() {
			return fmt.Errorf("%w: %.1fs (%d events of %s), over %s", errReplicaBehind, l.Seconds, l.Events, l.Projection, maxLag)
		}
		return nil
	}
}

// replicaCollector exports the replica's lag, measured at each scrape.
type replicaCollector struct {
	r             *replica
	primary       *projections.Runtime
	events, secs  *prometheus.Desc
	failedMeasure *prometheus.Desc
}

func newReplicaCollector(r *replica, primary *projections.Runtime) *replicaCollector {
	return &replicaCollector{r: r, primary: primary,
		events:        prometheus.NewDesc("dotmac_replica_lag_events", "How many events the replica's copy of the furthest-behind projection checkpoint lags the primary's (query role on a replica).", nil, nil),
		secs:          prometheus.NewDesc("dotmac_replica_lag_seconds", "How long ago the replica's newest replayed transaction committed, while a checkpoint is behind the primary's; 0 when none is.", nil, nil),
		failedMeasure: prometheus.NewDesc("dotmac_replica_lag_measure_failed", "1 when the last scrape could not measure the replica's lag (the primary or the replica did not answer).", nil, nil)}
}

// replicaScrapeTimeout bounds one scrape's measure.
const replicaScrapeTimeout = 2 * time.Second

func (c *replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.events
	ch <- c.secs
	ch <- c.failedMeasure
}

func (c *replicaCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), replicaScrapeTimeout)
	defer cancel()
	l, err := c.r.lag(ctx, c.primary)
	failed := 0.0
	if err != nil {
		failed = 1
	} else {
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.GaugeValue, float64(l.Events))
		ch <- prometheus.MustNewConstMetric(c.secs, prometheus.GaugeValue, l.Seconds)
	}
	ch <- prometheus.MustNewConstMetric(c.failedMeasure, prometheus.GaugeValue, failed)
}

// startReplica opens the query role's replica (sys.replica) and adds its readiness checks
// (reachable; not lagging the primary by more than --ready-max-lag) and lag metrics.
func startReplica(ctx context.Context, sys *system) (*replica, error) {
	primary, err := projectionRuntime(ctx, sys)
	if err != nil {
		return nil, err
	}
	rep, err := openReplica(ctx, sys)
	if err != nil {
		return nil, err
	}
	if sys.pools != nil {
		sys.pools.Add("replica", rep.pool)
	}
	if err := sys.registry.Register(newReplicaCollector(rep, primary)); err != nil {
		rep.close()
		return nil, fmt.Errorf("replica metrics: %w", err)
	}
	sys.replica = rep
	sys.health.Add("read_database", func(ctx context.Context) error { return rep.pool.Ping(ctx) })
	sys.health.Add("replica_lag", rep.readyCheck(primary, sys.flags.readyMaxLag))
	sys.log.Info().Dur("poll", sys.flags.replica.poll).Msg("query role reads from the replica (--read-database-url)")
	return rep, nil
}
