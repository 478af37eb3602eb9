package readmodel

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
)

// copyRows accumulates rows in PostgreSQL's binary COPY format (see the COPY page of the
// PostgreSQL manual, "Binary Format"), one typed field at a time: no reflection, no boxing
// into []any, no per-value encode plans. Rebuilds write millions of rows this way; the
// driver's generic CopyFrom spent half of the projections' Go time encoding values.
//
// Each row starts with row() and must then write exactly the table's columns, in order,
// with the method matching each column's SQL type; copy checks the field count.
type copyRows struct {
	buf    []byte
	rows   int
	fields int
	// sent: a COPY of buf ended well, so the driver reads it no more (after a failed one,
	// its reading goroutine may outlive the call) and release may hand it back.
	sent bool
}

// pgEpoch is the origin of PostgreSQL's binary dates and timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyStartBytes is a new copyRows' first buffer when the pool has none: a live batch's rows
// for one table are mostly a few kilobytes (64 KB each was 4 % of a busy server's
// allocations).
const copyStartBytes = 8 << 10

// copyKeepBytes is the largest buffer given back to copyBufs: a replay's, of a few megabytes,
// is kept while the replay reuses it and dropped after it.
const copyKeepBytes = 4 << 20

// copyBufs holds the buffers (*[]byte) of copyRows sent already. Most live batches make their
// copyRows anew, and each grew its buffer from copyStartBytes (a few copies of every batch's
// rows, 7 % of a busy command server's allocations); a buffer is handed back once its rows are
// in the table (release) and the next batch's rows start in it.
var copyBufs sync.Pool

func (c *copyRows) row(cols int) {
	if len(c.buf) == 0 {
		if c.buf == nil {
			if b, ok := copyBufs.Get().(*[]byte); ok {
				c.buf = (*b)[:0]
			} else { // the pool is empty
				c.buf = make([]byte, 0, copyStartBytes)
			}
		}
		c.buf = append(c.buf, copyHeader...)
	}
	c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(cols)) //nolint:gosec // a table has few columns
	c.rows++
}

// reset empties c for the next rows, keeping its buffer (a Load writes rows of about the
// same size batch after batch).
func (c *copyRows) reset() {
	c.buf, c.rows, c.fields, c.sent = c.buf[:0], 0, 0, false
}

// release empties c and, when its rows were sent, hands its buffer back to copyBufs for the
// next rows of any batch (a buffer whose COPY failed is left to the collector). c may be
// written again; it then takes a buffer from the pool.
func (c *copyRows) release() {
	if c.sent && cap(c.buf) <= copyKeepBytes {
		b := c.buf[:0]
		copyBufs.Put(&b)
	}
	c.buf, c.rows, c.fields, c.sent = nil, 0, 0, false
}

func (c *copyRows) field(n int) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(n)) //nolint:gosec // field sizes are small
	c.fields++
}

func (c *copyRows) null() {
	c.buf = binary.BigEndian.AppendUint32(c.buf, 0xffffffff)
	c.fields++
}

func (c *copyRows) text(s string) {
	c.field(len(s))
	c.buf = append(c.buf, s...)
}

// textOrNull writes s, or NULL for "".
func (c *copyRows) textOrNull(s string) {
	if s == "" {
		c.null()
		return
	}
	c.text(s)
}

func (c *copyRows) uuid(u uuid.UUID) {
	c.field(16)
	c.buf = append(c.buf, u[:]...)
}

// uuidOrNull writes u, or NULL for the nil UUID.
func (c *copyRows) uuidOrNull(u uuid.UUID) {
	if u == uuid.Nil {
		c.null()
		return
	}
	c.uuid(u)
}

func (c *copyRows) int2(v int) {
	c.field(2)
	c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(int16(v))) //nolint:gosec // callers pass small values
}

func (c *copyRows) int4(v int) {
	c.field(4)
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(int32(v))) //nolint:gosec // callers pass int4 values
}

func (c *copyRows) int8(v int64) {
	c.field(8)
	c.buf = binary.BigEndian.AppendUint64(c.buf, uint64(v)) //nolint:gosec // two's complement on the wire
}

func (c *copyRows) bool(v bool) {
	c.field(1)
	if v {
		c.buf = append(c.buf, 1)
	} else {
		c.buf = append(c.buf, 0)
	}
}

func (c *copyRows) date(d domain.Date) {
	c.field(4)
	days := int32(d.Time().Sub(pgEpoch) / (24 * time.Hour))    //nolint:gosec // dates are years 1900-9999
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(days)) //nolint:gosec // two's complement on the wire
}

// dateOrNull writes d, or NULL for the zero Date.
func (c *copyRows) dateOrNull(d domain.Date) {
	if d.IsZero() {
		c.null()
		return
	}
	c.date(d)
}

func (c *copyRows) timestamptz(t time.Time) {
	c.field(8)
	c.buf = binary.BigEndian.AppendUint64(c.buf, uint64(t.Sub(pgEpoch).Microseconds())) //nolint:gosec // two's complement
}

// timestamptzOrNull writes t, or NULL for the zero time.
func (c *copyRows) timestamptzOrNull(t time.Time) {
	if t.IsZero() {
		c.null()
		return
	}
	c.timestamptz(t)
}

// jsonb writes JSON text as jsonb (format version 1).
func (c *copyRows) jsonb(b []byte) {
	c.field(1 + len(b))
	c.buf = append(append(c.buf, 1), b...)
}

// numeric writes d as a NUMERIC with d's own scale ("0.00" keeps its two decimals).
func (c *copyRows) numeric(d decimal.Decimal) {
	var digits [48]byte
	exp := d.Exponent()
	neg := d.Sign() < 0
	var s []byte
	if d.NumDigits() <= 18 { // the coefficient fits an int64: read it without copying it
		v := d.CoefficientInt64()
		if neg {
			v = -v
		}
		s = strconv.AppendInt(digits[:0], v, 10)
	} else {
		s = d.Coefficient().Append(digits[:0], 10)
		if neg {
			s = s[1:]
		}
	}
	scale := 0
	if exp > 0 {
		s = append(s, strings.Repeat("0", int(exp))...)
	} else {
		scale = int(-exp)
	}
	c.numericDigits(s, scale, neg)
}

// numericDigits writes the decimal digits s (no sign) with scale of them after the point,
// grouped into base-10000 digits as PostgreSQL stores them.
func (c *copyRows) numericDigits(s []byte, scale int, neg bool) {
	intLen := len(s) - scale // <= 0 for 0.05: no integer digits
	// Pad the integer part on the left and the fraction on the right to whole groups of 4;
	// the first group's weight is its power of 10000 (-1 for the first after the point).
	lead, weight := (4-intLen%4)%4, (intLen+(4-intLen%4)%4)/4-1
	if intLen <= 0 {
		lead, weight = -intLen, -1 // the fraction's zeros after the point
	}
	var paddedBuf [64]byte
	padded := paddedBuf[:0]
	for range lead {
		padded = append(padded, '0')
	}
	padded = append(padded, s...)
	for len(padded)%4 != 0 {
		padded = append(padded, '0')
	}
	var groupsBuf [16]uint16
	groups := groupsBuf[:0]
	for i := 0; i < len(padded); i += 4 {
		groups = append(groups, uint16((padded[i]-'0'))*1000+uint16((padded[i+1]-'0'))*100+uint16((padded[i+2]-'0'))*10+uint16(padded[i+3]-'0'))
	}
	for len(groups) > 0 && groups[0] == 0 { // strip leading zero groups
		groups, weight = groups[1:], weight-1
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	sign := uint16(0)
	if neg && len(groups) > 0 {
		sign = 0x4000
	}
	if len(groups) == 0 {
		weight = 0
	}
	c.field(8 + 2*len(groups))
	c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(len(groups)))   //nolint:gosec // at most a dozen groups
	c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(int16(weight))) //nolint:gosec // small weights
	c.buf = binary.BigEndian.AppendUint16(c.buf, sign)
	c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(scale)) //nolint:gosec // scales are small
	for _, g := range groups {
		c.buf = binary.BigEndian.AppendUint16(c.buf, g)
	}
}

// copyInto sends rows of t's columns to relation with COPY ... FROM STDIN (FORMAT binary).
func (t *table) copyInto(ctx context.Context, tx pgx.Tx, relation string, rows *copyRows) error {
	return t.copyAfter(ctx, tx, "", relation, rows)
}

// copyAfter is copyInto with a statement run first in the COPY's own message (before, "" for
// none): one round trip for both. A failure of before is the COPY's error, and the server
// drops the copy data that follows it.
func (t *table) copyAfter(ctx context.Context, tx pgx.Tx, before, relation string, rows *copyRows) error {
	if rows.rows == 0 {
		return nil
	}
	if rows.fields != rows.rows*len(t.cols) {
		return fmt.Errorf("invariant: %d fields for %d rows of the %d columns of %s", rows.fields, rows.rows, len(t.cols), t.name)
	}
	data := binary.BigEndian.AppendUint16(rows.buf, 0xffff)
	sql := "COPY " + relation + " (" + strings.Join(t.colNames, ", ") + ") FROM STDIN (FORMAT binary)"
	if before != "" {
		sql = before + "; " + sql
	}
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), sql); err != nil {
		return fmt.Errorf("copy %d rows into %s: %w", rows.rows, relation, err)
	}
	rows.sent = true
	return nil
}
