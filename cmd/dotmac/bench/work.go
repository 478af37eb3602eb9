package bench

import (
	"context"
)

// Work is what one command asked of PostgreSQL and of the server's Go heap over a load phase:
// counts, not times, so they do not move with the host's speed or with what else it runs. A
// change to the command path shows in them in one run, where CPU per command moves by 15–20 %
// from minute to minute on a shared host and needs many alternating runs to compare.
//
// The database's counters are the scratch database's (pg_stat_database): each backend reports
// its counts at most once a second, when it is idle, so each end of the phase misses up to a
// second of the activity before it; over a steady phase of ten seconds or more the two misses
// about cancel. They include the harness's own statements in that database (the lag probe's,
// about twenty a second). The WAL figures are the whole cluster's (its insert position and
// pg_stat_wal): anything else writing to the cluster meanwhile is counted too.
type Work struct {
	// Commits and Rollbacks are transactions ended in the scratch database.
	Commits   float64 `json:"commits"`
	Rollbacks float64 `json:"rollbacks"`
	// RowsWritten is rows inserted, updated and deleted (tup_inserted + tup_updated +
	// tup_deleted), in the event store, the command side's tables and the read models.
	RowsWritten float64 `json:"rows_written"`
	// BufferAccesses is shared buffers read or found (blks_hit + blks_read): the pages the
	// statements touched, a measure of the executor's work.
	BufferAccesses float64 `json:"buffer_accesses"`
	// BufferReads is the part of BufferAccesses not found in shared buffers (blks_read):
	// read from the OS into a buffer, evicting another, once the tables and indexes a command
	// touches outgrow shared_buffers.
	BufferReads float64 `json:"buffer_reads"`
	// BackendWrites is dirty buffers the cluster's backends wrote out themselves to free one
	// (pg_stat_bgwriter's buffers_backend, the whole cluster's; absent from PostgreSQL 17):
	// work the checkpointer and the background writer did not do ahead of them.
	BackendWrites float64 `json:"backend_writes"`
	// WALBytes is how far the cluster's WAL insert position moved; WALRecords and
	// FullPageImages are pg_stat_wal's (absent before PostgreSQL 14).
	WALBytes       float64 `json:"wal_bytes"`
	WALRecords     float64 `json:"wal_records"`
	FullPageImages float64 `json:"full_page_images"`
	// ServerAllocatedBytes is what the server under test allocated on its Go heap
	// (go_memstats_alloc_bytes_total): the collector's work grows with it.
	ServerAllocatedBytes float64 `json:"server_allocated_bytes"`
	// RowsWrittenByTable is RowsWritten by table (schema.table, pg_stat_user_tables), for
	// the tables a command wrote at least 0.01 rows of: which writes a command's rows are.
	RowsWrittenByTable map[string]float64 `json:"rows_written_by_table,omitempty"`
}

// workSample is the cumulative counters Work is the difference of.
type workSample struct {
	commits, rollbacks, rowsWritten, buffers float64
	bufferReads, backendWrites               float64
	walBytes, walRecords, fpi                float64
	allocated                                float64
	tables                                   map[string]float64
	ok, wal, heap, bgwriter                  bool
}

// workMeter samples the counters of a load phase.
type workMeter struct {
	r     *run
	srv   *server
	start workSample
}

// startWork samples the counters as a load phase begins.
func (r *run) startWork(ctx context.Context, srv *server) *workMeter {
	return &workMeter{r: r, srv: srv, start: r.sampleWork(ctx, srv)}
}

// stop returns the work per command of the phase begun at startWork, which answered commands
// (nil when the counters could not be read).
func (m *workMeter) stop(ctx context.Context, commands float64) *Work {
	end := m.r.sampleWork(ctx, m.srv)
	return workPerCommand(m.start, end, commands)
}

// workPerCommand divides the counters' change from start to end by commands.
func workPerCommand(start, end workSample, commands float64) *Work {
	if !start.ok || !end.ok || commands <= 0 {
		return nil
	}
	per := func(a, b float64) float64 { return max(0, b-a) / commands }
	w := &Work{
		Commits:        per(start.commits, end.commits),
		Rollbacks:      per(start.rollbacks, end.rollbacks),
		RowsWritten:    per(start.rowsWritten, end.rowsWritten),
		BufferAccesses: per(start.buffers, end.buffers),
		BufferReads:    per(start.bufferReads, end.bufferReads),
		WALBytes:       per(start.walBytes, end.walBytes),
	}
	if start.wal && end.wal {
		w.WALRecords, w.FullPageImages = per(start.walRecords, end.walRecords), per(start.fpi, end.fpi)
	}
	if start.bgwriter && end.bgwriter {
		w.BackendWrites = per(start.backendWrites, end.backendWrites)
	}
	if start.heap && end.heap {
		w.ServerAllocatedBytes = per(start.allocated, end.allocated)
	}
	for table, rows := range end.tables {
		if n := per(start.tables[table], rows); n >= 0.01 {
			if w.RowsWrittenByTable == nil {
				w.RowsWrittenByTable = map[string]float64{}
			}
			w.RowsWrittenByTable[table] = n
		}
	}
	return w
}

// sampleWork reads the cumulative counters: the scratch database's, the cluster's WAL and the
// server's heap. A counter it cannot read leaves its part out.
func (r *run) sampleWork(ctx context.Context, srv *server) workSample {
	var s workSample
	// Each query is a transaction of its own, so it reads the statistics afresh.
	err := r.pool.QueryRow(ctx, `SELECT xact_commit::float8, xact_rollback::float8,
		(tup_inserted + tup_updated + tup_deleted)::float8, (blks_hit + blks_read)::float8,
		blks_read::float8, (pg_current_wal_lsn() - '0/0'::pg_lsn)::float8
		FROM pg_stat_database WHERE datname = current_database()`).
		Scan(&s.commits, &s.rollbacks, &s.rowsWritten, &s.buffers, &s.bufferReads, &s.walBytes)
	s.ok = err == nil
	if err := r.pool.QueryRow(ctx, `SELECT wal_records::float8, wal_fpi::float8 FROM pg_stat_wal`).Scan(&s.walRecords, &s.fpi); err == nil {
		s.wal = true
	}
	if err := r.pool.QueryRow(ctx, `SELECT buffers_backend::float8 FROM pg_stat_bgwriter`).Scan(&s.backendWrites); err == nil {
		s.bgwriter = true
	}
	s.tables = r.rowsByTable(ctx)
	if srv != nil {
		if v, err := srv.metric(ctx, "go_memstats_alloc_bytes_total"); err == nil && v > 0 {
			s.allocated, s.heap = v, true
		}
	}
	return s
}

// rowsByTable reads the rows written so far in each table of the scratch database (nil when
// they cannot be read).
func (r *run) rowsByTable(ctx context.Context) map[string]float64 {
	rows, err := r.pool.Query(ctx, `SELECT schemaname || '.' || relname, (n_tup_ins + n_tup_upd + n_tup_del)::float8
		FROM pg_stat_user_tables`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var table string
		var n float64
		if err := rows.Scan(&table, &n); err != nil {
			return nil
		}
		out[table] = n
	}
	if rows.Err() != nil {
		return nil
	}
	return out
}
