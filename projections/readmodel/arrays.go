package readmodel

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// arrayRowsMax is the most rows a write sends as one statement over one typed array per
// column (unnest); more go through COPY (and the staging table for updates and upserts).
// Live batches write a few rows per table: COPY costs two round trips (the server waits for
// the data) and a staged update five statements (CREATE TEMP TABLE, COPY, the pipelined
// update, DELETE) plus the truncation of the session's ON COMMIT DELETE ROWS tables at
// commit; one statement over arrays costs one round trip and leaves the temporary namespace
// alone. BenchmarkWriteRows (server time per row, journal_lines of 100,000 rows, a busy
// 2-core host): arrays take about half the server time of COPY and of the stage up to 64
// rows, about as much at 256, and more from 1,024 (updates 27 against 20-24 us a row, where
// the planner also turns to a hash join over the whole table).
const arrayRowsMax = 256

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

// runArrays runs sql, which reads rows from t.arrays, with rows as its parameters, in one
// round trip; it returns how many rows sql changed. The unnamed statement is planned with
// the arrays' values, so the planner knows how many rows unnest gives (unlike the staging
// table's, of which it has no statistics): no need to turn hash and merge joins off.
func (t *table) runArrays(ctx context.Context, tx pgx.Tx, rows *copyRows, sql string) (int64, error) {
	if err := t.checkFields(rows); err != nil {
		return 0, err
	}
	res := tx.Conn().PgConn().ExecParams(ctx, sql, rows.arrays(t.elemOIDs), t.arrayOIDs, allBinary, nil).Read()
	if res.Err != nil {
		return 0, fmt.Errorf("write %d rows into %s: %w", rows.rows, t.name, res.Err)
	}
	return res.CommandTag.RowsAffected(), nil
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
