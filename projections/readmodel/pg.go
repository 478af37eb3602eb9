package readmodel

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
)

// table describes a read-model table for set-based writes: its name, its columns with their
// SQL types and the columns of its primary key. Rows are written in PostgreSQL's binary COPY
// format (copyRows): new rows straight into the table; changed rows into a temporary staging
// table of the same columns, then onto the table's rows with one UPDATE ... FROM (or an
// INSERT ... ON CONFLICT of the caller's, upsertWith).
type table struct {
	name     string
	cols     []column
	key      []string
	colNames []string
	// stage is the session's temporary staging table, named after the columns so two
	// versions of a table never share one; updateSQL moves staged rows onto existing ones.
	stage, createStage, updateSQL string
	// emptyStage and truncateStage empty the stage after each use: the first leaves the rows'
	// space to be truncated later, the second gives the stage a new file (stageState).
	emptyStage, truncateStage string
}

type column struct{ name, typ string }

// newTable returns the table; key names the primary-key columns (the ON CONFLICT target).
func newTable(name string, key []string, cols ...column) *table {
	t := &table{name: name, cols: cols, key: key}
	defs := make([]string, len(cols))
	sets := make([]string, 0, len(cols))
	h := fnv.New32a()
	for i, c := range cols {
		t.colNames = append(t.colNames, c.name)
		defs[i] = c.name + " " + c.typ
		_, _ = h.Write([]byte(defs[i] + ","))
		if !slices.Contains(key, c.name) {
			sets = append(sets, c.name+" = EXCLUDED."+c.name)
		}
	}
	t.stage = fmt.Sprintf("readmodel_stage_%s_%08x", name, h.Sum32())
	// Not ON COMMIT DELETE ROWS: PostgreSQL truncates every such table of the session (and
	// rebuilds the index of each one's TOAST table) at the commit of any transaction that
	// touched a temporary table, and the truncations' invalidations reach every backend: 9 %
	// of PostgreSQL's CPU on distinct customers' commands (perf, 2026-12-05). Each use empties
	// the stage itself instead (stageAndRun).
	t.createStage = "CREATE TEMP TABLE IF NOT EXISTS " + t.stage + " (" + strings.Join(defs, ", ") + ")"
	t.emptyStage, t.truncateStage = "DELETE FROM "+t.stage, "TRUNCATE "+t.stage
	match := make([]string, len(key))
	for i, k := range key {
		match[i] = "t." + k + " = s." + k
	}
	t.updateSQL = "UPDATE " + name + " AS t SET " + strings.ReplaceAll(strings.Join(sets, ", "), "EXCLUDED.", "s.") +
		" FROM " + t.stage + " AS s WHERE " + strings.Join(match, " AND ")
	return t
}

// upsertWith returns the statement that moves the staged rows into the table with the given
// ON CONFLICT action.
func (t *table) upsertWith(action string) string {
	cols := strings.Join(t.colNames, ", ")
	return "INSERT INTO " + t.name + " AS t (" + cols + ") SELECT " + cols + " FROM " + t.stage +
		" ON CONFLICT (" + strings.Join(t.key, ", ") + ") " + action
}

// insert writes rows with COPY; a key that exists already fails the whole batch. rows are
// released (their buffer reused) once sent.
func (t *table) insert(ctx context.Context, tx pgx.Tx, rows *copyRows) error {
	defer rows.release()
	return t.copyInto(ctx, tx, t.name, rows)
}

// update replaces existing rows (read earlier in the batch) by key; a row whose key is not in
// the table is an invariant error. rows are released once sent.
func (t *table) update(ctx context.Context, tx pgx.Tx, rows *copyRows) error {
	defer rows.release()
	n, err := t.stageAndRun(ctx, tx, rows, t.updateSQL)
	if err == nil && n != int64(rows.rows) {
		err = fmt.Errorf("invariant: %d of %d rows of %s to update are not there", int64(rows.rows)-n, rows.rows, t.name)
	}
	return err
}

// upsertUsing stages rows and runs sql (from upsertWith) to move them into the table. rows
// are released once sent.
func (t *table) upsertUsing(ctx context.Context, tx pgx.Tx, rows *copyRows, sql string) error {
	defer rows.release()
	_, err := t.stageAndRun(ctx, tx, rows, sql)
	return err
}

// runIndexed runs sql, which joins the staging table to the read-model table, with hash and
// merge joins off: the planner has no statistics of the temporary stage and, for thousands
// of staged rows, would scan the whole read-model table once per batch (rebuilds got slower
// as the tables grew); one primary-key lookup per staged row is what is wanted. The settings
// go back to their defaults, and the stage is emptied by then (empty), in the same round trip.
func (t *table) runIndexed(ctx context.Context, tx pgx.Tx, sql, empty string) (pgconn.CommandTag, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`)
	b.Queue(sql)
	b.Queue(`RESET enable_hashjoin`)
	b.Queue(`RESET enable_mergejoin`)
	b.Queue(empty)
	br := tx.SendBatch(ctx, b)
	_, err := br.Exec()
	tag, err2 := br.Exec()
	if err2 != nil && err == nil {
		err = err2
	}
	for range 3 {
		if _, e := br.Exec(); e != nil && err == nil {
			err = e
		}
	}
	if e := br.Close(); e != nil && err == nil {
		err = e
	}
	return tag, err
}

// stageTruncateBytes is how much row data a connection stages into one stage between two
// truncations of it. Each use deletes its rows, which leaves their space behind: a temporary
// table is never vacuumed, so the stage would grow for as long as the connection lives, each
// use would scan what the ones before it left, and the session's stages would outgrow its
// temp_buffers (8 MB by default) and spill to disk. A truncation gives the stage a new,
// empty file, at the cost of a catalog row's update; once a megabyte that is nothing.
const stageTruncateBytes = 1 << 20

// stageState is what a connection's session knows of one stage (pgconn's CustomData).
type stageState struct {
	// bytes of rows staged since the stage was last truncated on this connection, committed
	// or not (the rows of a rolled-back transaction leave their space behind too).
	bytes int
}

// stageOf returns the state of the stage on tx's connection.
func (t *table) stageOf(tx pgx.Tx) *stageState {
	data := tx.Conn().PgConn().CustomData()
	key := "readmodel." + t.stage
	st, ok := data[key].(*stageState)
	if !ok {
		st = &stageState{}
		data[key] = st
	}
	return st
}

// stageAndRun copies rows into the staging table, runs sql and returns how many rows it
// changed. The stage is empty again when it returns: the runtime may call Apply more than
// once in a transaction (savepoints), and the next upsert must not see these rows.
func (t *table) stageAndRun(ctx context.Context, tx pgx.Tx, rows *copyRows, sql string) (int64, error) {
	if rows.rows == 0 {
		return 0, nil
	}
	// The stage is created (if this session has none yet) in the COPY's message: a round
	// trip of its own for it was paid on every use of a stage.
	if err := t.copyAfter(ctx, tx, t.createStage, t.stage, rows); err != nil {
		return 0, fmt.Errorf("stage %s: %w", t.name, err)
	}
	st, empty := t.stageOf(tx), t.emptyStage
	st.bytes += len(rows.buf)
	truncate := st.bytes >= stageTruncateBytes
	if truncate {
		empty = t.truncateStage
	}
	tag, err := t.runIndexed(ctx, tx, sql, empty)
	if err != nil {
		// The truncation may not have run: the rows' space is still counted.
		return 0, fmt.Errorf("write %d rows into %s: %w", rows.rows, t.name, err)
	}
	if truncate {
		st.bytes = 0 // (a later rollback undoes it; the next megabyte truncates again)
	}
	return tag.RowsAffected(), nil
}

// key identifies an entity by tenant and UUID.
type key struct {
	tenant string
	id     uuid.UUID
}

// byKeys returns the FROM clause of a statement reading the rows of table (as alias) whose
// key columns equal one of the tuples its array arguments give, $1, $2, ... in the order of
// keys ("column type" each):
//
//	unnest($1::text[], $2::uuid[]) AS k(k1, k2)
//	CROSS JOIN LATERAL (SELECT * FROM table alias WHERE alias.c1 = k.k1 AND alias.c2 = k.k2 OFFSET 0) alias
//
// one index lookup per tuple. The OFFSET 0 keeps the planner from flattening the subquery
// into a join, which it would run as a hash join over the whole table: its costs assume index
// pages come from disk, so for a few hundred keys it prefers reading every row (a batch of the
// balances projection took 13 ms at 20,000 customers against 1 ms by key, and grew with the
// table; docs/performance.md, "Read models loaded by key").
func byKeys(table, alias string, keys ...string) string {
	arrays, names, match := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		col, typ, _ := strings.Cut(k, " ")
		arrays[i] = fmt.Sprintf("$%d::%s[]", i+1, typ)
		names[i] = fmt.Sprintf("k%d", i+1)
		match[i] = fmt.Sprintf("%s.%s = k.%s", alias, col, names[i])
	}
	return "unnest(" + strings.Join(arrays, ", ") + ") AS k(" + strings.Join(names, ", ") + ")\nCROSS JOIN LATERAL (SELECT * FROM " +
		table + " " + alias + " WHERE " + strings.Join(match, " AND ") + " OFFSET 0) " + alias
}

// keyArgs returns the tenants and ids of keys as two array arguments, for a statement reading
// by byKeys(table, alias, "tenant_id text", "<id column> uuid").
func keyArgs(keys []key) (tenants []string, ids []pgtype.UUID) {
	tenants, ids = make([]string, len(keys)), make([]pgtype.UUID, len(keys))
	for i, k := range keys {
		tenants[i], ids[i] = k.tenant, pgUUID(k.id)
	}
	return tenants, ids
}

// keySet collects the keys of rows a batch needs to read, once each, in first-seen order.
type keySet struct {
	seen map[key]bool
	list []key
}

func (s *keySet) add(k key) {
	if s.seen == nil {
		s.seen = map[key]bool{}
	}
	if !s.seen[k] {
		s.seen[k] = true
		s.list = append(s.list, k)
	}
}

// loadByKeys runs query (which must join unnest($1::text[], $2::uuid[])) for keys and calls
// scan for each row. It does nothing for no keys.
func loadByKeys(ctx context.Context, tx pgx.Tx, query string, keys []key, scan func(pgx.Rows) error) error {
	if len(keys) == 0 {
		return nil
	}
	tenants, ids := keyArgs(keys)
	rows, err := tx.Query(ctx, query, tenants, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// minorUnits returns the minor units of the currency with the given code (0 if unknown).
func minorUnits(code string) int32 {
	c, err := domain.ParseCurrency(code)
	if err != nil {
		return 0
	}
	return c.MinorUnits()
}

// decimalOf reads a NUMERIC back at exactly places decimals. The driver drops the scale of
// a zero ("0.00" reads as 0), so amounts are re-scaled to their currency's minor units.
func decimalOf(n pgtype.Numeric, places int32) decimal.Decimal {
	if !n.Valid || n.Int == nil {
		return decimal.New(0, -places)
	}
	return decimal.NewFromBigInt(n.Int, n.Exp).Round(places)
}

// zeroIn is zero with the minor units of currency c.
func zeroIn(c domain.Currency) decimal.Decimal { return domain.Zero(c).Amount() }

// pgUUID is u as the driver encodes it without conversions (uuid.UUID goes through its
// string form).
func pgUUID(u uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: u, Valid: true} }

// dateFrom converts a scanned nullable date.
func dateFrom(t pgtype.Date) domain.Date {
	if !t.Valid {
		return domain.Date{}
	}
	return domain.DateOf(t.Time)
}

// timeFrom converts a scanned nullable timestamptz.
func timeFrom(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
