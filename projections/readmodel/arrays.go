package readmodel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// arrayRowsMax is the most rows an update or upsert sends as one prepared statement over one
// typed array per column (runArrays); more go through the temporary staging table
// (stageAndRun), as a rebuild's flush of thousands of rows does.
//
// Why not the stage for every write: a staged write is CREATE TEMP TABLE IF NOT EXISTS, COPY
// into the stage, the pipelined settings, merge and RESETs, and DELETE; and a transaction that
// touched a temporary table truncates at commit every ON COMMIT DELETE ROWS table of its
// session (each stage, its TOAST table, and a rebuild of the TOAST table's index, which writes
// a file and broadcasts invalidations to every backend). Under `bench --scenario commands`
// that truncation alone was 6 % of PostgreSQL's CPU. A write over arrays touches no temporary
// table.
//
// Why prepared: an unnamed statement (ExecParams) is parsed and planned on every call, which
// cost more than the stage saved (reverted in a9a3cc2). These statements are prepared once per
// connection (prepareOn) and run on their generic plan (arraySettings), planned once.
const arrayRowsMax = 1024

// arrayTypes are the OIDs of the element and array types of the column types tables use.
var arrayTypes = map[string][2]uint32{
	"text":        {pgtype.TextOID, pgtype.TextArrayOID},
	"uuid":        {pgtype.UUIDOID, pgtype.UUIDArrayOID},
	"numeric":     {pgtype.NumericOID, pgtype.NumericArrayOID},
	"date":        {pgtype.DateOID, pgtype.DateArrayOID},
	"timestamptz": {pgtype.TimestamptzOID, pgtype.TimestamptzArrayOID},
	"boolean":     {pgtype.BoolOID, pgtype.BoolArrayOID},
	"smallint":    {pgtype.Int2OID, pgtype.Int2ArrayOID},
	"integer":     {pgtype.Int4OID, pgtype.Int4ArrayOID},
	"bigint":      {pgtype.Int8OID, pgtype.Int8ArrayOID},
	"jsonb":       {pgtype.JSONBOID, pgtype.JSONBArrayOID},
}

// arraysOf returns the row source "unnest($1::text[], ...) AS s(col, ...)" of cols and the
// OIDs of its elements and arrays. A column type without an entry in arrayTypes is a
// programmer error: it panics (tables are package variables, so at init).
func arraysOf(table string, cols []column) (src string, elems, arrays []uint32) {
	params := make([]string, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		oids, ok := arrayTypes[c.typ]
		if !ok {
			panic(fmt.Sprintf("invariant: column %s.%s has type %s, which has no array OID", table, c.name, c.typ))
		}
		params[i] = "$" + strconv.Itoa(i+1) + "::" + c.typ + "[]"
		names[i] = c.name
		elems, arrays = append(elems, oids[0]), append(arrays, oids[1])
	}
	return "unnest(" + strings.Join(params, ", ") + ") AS s(" + strings.Join(names, ", ") + ")", elems, arrays
}

// arrayHeaderBytes is the size of a one-dimensional binary array's header: dimensions,
// flags, element type, length and lower bound.
const arrayHeaderBytes = 20

// arrays splits rows into one binary array per column (the array_recv format of the
// PostgreSQL manual's binary transfer: the elements are the fields exactly as COPY has
// them, length-prefixed, -1 for NULL), elems being the columns' element type OIDs.
func (c *copyRows) arrays(elems []uint32) [][]byte {
	out := make([][]byte, len(elems))
	for i, oid := range elems {
		b := make([]byte, arrayHeaderBytes, arrayHeaderBytes+len(c.buf)/len(elems)+64)
		binary.BigEndian.PutUint32(b[0:], 1) // dimensions
		binary.BigEndian.PutUint32(b[8:], oid)
		binary.BigEndian.PutUint32(b[12:], uint32(c.rows)) //nolint:gosec // at most arrayRowsMax
		binary.BigEndian.PutUint32(b[16:], 1)              // lower bound
		out[i] = b
	}
	p := c.buf[len(copyHeader):]
	for range c.rows {
		p = p[2:] // the row's field count
		for i := range out {
			n := int32(binary.BigEndian.Uint32(p)) //nolint:gosec // -1 is NULL
			size := 4
			if n > 0 {
				size += int(n)
			} else if n < 0 {
				binary.BigEndian.PutUint32(out[i][4:], 1) // has nulls
			}
			out[i] = append(out[i], p[:size]...)
			p = p[size:]
		}
	}
	return out
}

// preparedStmt is a statement prepared by name on each connection that runs it (prepareOn).
type preparedStmt struct {
	name, sql string
	oids      []uint32 // the parameters' types
}

// newPrepared names sql after its text: the same text is one statement per connection.
func newPrepared(sql string, oids []uint32) preparedStmt {
	h := fnv.New64a()
	_, _ = h.Write([]byte(sql))
	return preparedStmt{name: fmt.Sprintf("readmodel_%016x", h.Sum64()), sql: sql, oids: oids}
}

// arraySettings makes the write that follows it in its transaction run on its generic plan,
// planned once per connection and statement (the parameter arrays' length is not known to it:
// PostgreSQL guesses 10 rows), with hash and merge joins off so that the plan is one primary
// key lookup per row whatever the table's size when it was planned. It keeps the settings it
// found (in dotmac.readmodel_restore; the subquery runs first, OFFSET 0 keeps it apart), and
// arrayRestore, after the write in the same round trip, puts them back: a live batch's own
// plan_cache_mode (projections sets it for the batch) holds for its statements after the write.
var (
	arraySettings = newPrepared(`SELECT set_config('dotmac.readmodel_restore', o.p || ' ' || o.h || ' ' || o.m, true),
set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_hashjoin', 'off', true),
set_config('enable_mergejoin', 'off', true)
FROM (SELECT current_setting('plan_cache_mode') AS p, current_setting('enable_hashjoin') AS h,
current_setting('enable_mergejoin') AS m OFFSET 0) o`, nil)
	arrayRestore = newPrepared(`SELECT set_config('plan_cache_mode', split_part(o.s, ' ', 1), true),
set_config('enable_hashjoin', split_part(o.s, ' ', 2), true), set_config('enable_mergejoin', split_part(o.s, ' ', 3), true)
FROM (SELECT current_setting('dotmac.readmodel_restore') AS s OFFSET 0) o`, nil)
)

// prepareOn prepares each of stmts on pc unless pc has it already (pc.CustomData remembers
// which: a connection's prepared statements outlive its transactions, rolled back or not, and
// end with it). A statement the server lost (forget) is prepared again on the next call.
func prepareOn(ctx context.Context, pc *pgconn.PgConn, stmts ...preparedStmt) error {
	data := pc.CustomData()
	for _, s := range stmts {
		if data[s.name] != nil {
			continue
		}
		if _, err := pc.Prepare(ctx, s.name, s.sql, s.oids); err != nil {
			return fmt.Errorf("prepare %s: %w", s.name, err)
		}
		data[s.name] = true
	}
	return nil
}

// forget drops the memory of stmts on pc when err says the server does not have one of them
// (SQLSTATE 26000, invalid_sql_statement_name): something deallocated them behind our back.
func forget(pc *pgconn.PgConn, err error, stmts ...preparedStmt) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "26000" {
		for _, s := range stmts {
			delete(pc.CustomData(), s.name)
		}
	}
}

// runArrays runs w (one of t's statements over arrays) with rows as its parameters, in one
// round trip besides the first call's preparation on the connection; it returns how many rows
// w changed.
func (t *table) runArrays(ctx context.Context, tx pgx.Tx, rows *copyRows, w preparedStmt) (int64, error) {
	if err := t.checkFields(rows); err != nil {
		return 0, err
	}
	pc := tx.Conn().PgConn()
	stmts := []preparedStmt{arraySettings, w, arrayRestore}
	if err := prepareOn(ctx, pc, stmts...); err != nil {
		return 0, fmt.Errorf("write %d rows into %s: %w", rows.rows, t.name, err)
	}
	b := &pgconn.Batch{}
	b.ExecPrepared(arraySettings.name, nil, nil, nil)
	b.ExecPrepared(w.name, rows.arrays(t.elemOIDs), allBinary, nil)
	b.ExecPrepared(arrayRestore.name, nil, nil, nil)
	res, err := pc.ExecBatch(ctx, b).ReadAll()
	if err == nil && len(res) < 2 {
		err = fmt.Errorf("invariant: %d results of the write's batch", len(res))
	}
	if err != nil {
		forget(pc, err, stmts...)
		return 0, fmt.Errorf("write %d rows into %s: %w", rows.rows, t.name, err)
	}
	return res[1].CommandTag.RowsAffected(), nil
}

// checkFields is the invariant that rows has every column of every row.
func (t *table) checkFields(rows *copyRows) error {
	if rows.fields != rows.rows*len(t.cols) {
		return fmt.Errorf("invariant: %d fields for %d rows of the %d columns of %s", rows.fields, rows.rows, len(t.cols), t.name)
	}
	return nil
}

// allBinary is the format code of parameters all in binary.
var allBinary = []int16{pgx.BinaryFormatCode}
