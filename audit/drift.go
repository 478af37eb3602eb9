package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/readmodel"
)

// Limits of the drift check.
const (
	// driftAttempts is how often a projection that moved during its comparison is compared
	// again (with a fresh fold) before it is reported as moving.
	driftAttempts = 3
	// driftRowsListed is how many differing rows per table and side a finding lists.
	driftRowsListed = 10
	// driftSettle bounds the wait for a projection to reach the head before its comparison.
	driftSettle = 30 * time.Second
)

// DriftReport is the outcome of CheckDrift for one projection.
type DriftReport struct {
	Projection string              `json:"projection"`
	Position   eventstore.Position `json:"position"`
	Tables     int                 `json:"tables_compared"`
	Seconds    float64             `json:"seconds"`
	Findings   []Finding           `json:"findings"`
}

// CheckDrift compares every read model with a fresh fold of the same events: for each
// projection it builds a copy up to the live build's checkpoint (a point-in-time build of the
// runtime, in a scratch schema dropped afterwards), compares both builds table by table (SQL
// EXCEPT ALL both ways) and reports each table that differs, listing up to ten differing rows
// of each side. A projection whose checkpoint moved during the comparison is compared again.
func CheckDrift(ctx context.Context, rt *projections.Runtime, pool *pgxpool.Pool, progress func(name string)) ([]DriftReport, error) {
	var out []DriftReport
	for _, name := range rt.Names() {
		if progress != nil {
			progress(name)
		}
		r, err := checkOne(ctx, rt, pool, name)
		if err != nil {
			return out, fmt.Errorf("drift of %s: %w", name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func checkOne(ctx context.Context, rt *projections.Runtime, pool *pgxpool.Pool, name string) (DriftReport, error) {
	start := time.Now()
	rep := DriftReport{Projection: name, Findings: []Finding{}}
	if err := settle(ctx, rt, name); err != nil {
		rep.Findings = append(rep.Findings, Finding{Kind: FindingProjectionBehind, Detail: fmt.Sprintf("projection %s: %v", name, err)})
		return rep, nil
	}
	for range driftAttempts {
		st, err := rt.Status(ctx, name)
		if errors.Is(err, projections.ErrNotBuilt) || err == nil && st.LiveBuild == "" {
			rep.Findings = append(rep.Findings, Finding{Kind: FindingProjectionBehind, Detail: fmt.Sprintf("projection %s has no live build to compare", name)})
			return rep, nil
		}
		if err != nil {
			return rep, err
		}
		findings, tables, moved, err := compareAt(ctx, rt, pool, name, st)
		if err != nil {
			return rep, err
		}
		if !moved {
			rep.Position, rep.Tables, rep.Findings = st.Position, tables, findings
			rep.Seconds = time.Since(start).Seconds()
			return rep, nil
		}
	}
	rep.Findings = append(rep.Findings, Finding{Kind: FindingProjectionBehind,
		Detail: fmt.Sprintf("projection %s kept moving during %d comparisons: run the check when writes are quieter", name, driftAttempts)})
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// settle waits (bounded) for the projection to reach the head, so that it is compared at the
// newest history; a stalled projection is reported instead.
func settle(ctx context.Context, rt *projections.Runtime, name string) error {
	head, err := rt.Head(ctx)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, driftSettle)
	defer cancel()
	_, err = rt.WaitFor(wctx, name, head)
	if errors.Is(err, projections.ErrNotReached) && ctx.Err() == nil || errors.Is(err, projections.ErrNotBuilt) {
		return nil // compare at whatever checkpoint it reached (or report it unbuilt)
	}
	return err
}

// compareAt folds a copy up to st's checkpoint and compares it with the live build; moved
// reports that the live checkpoint changed meanwhile (the comparison then means nothing).
func compareAt(ctx context.Context, rt *projections.Runtime, pool *pgxpool.Pool, name string, st projections.Status) (findings []Finding, tables int, moved bool, err error) {
	scratch := scratchSchema(rt.AppSchema(), name)
	defer dropCopy(rt, pool, scratch)
	pos := st.Position
	var diffs []readmodel.Difference
	_, err = rt.Rebuild(ctx, name, projections.RebuildOptions{AsOf: &projections.AsOf{Position: pos}, Into: scratch})
	switch {
	case errors.Is(err, projections.ErrEmptyCopy):
		// No event up to pos is the projection's (a new install, a tenant that has not
		// invoiced yet): a fresh fold is empty, so every row of the live build is drift.
		scratch = ""
		diffs, err = rowsOf(ctx, pool, st.LiveBuild)
	case err != nil:
		return nil, 0, false, fmt.Errorf("fold a fresh copy: %w", err)
	default:
		diffs, err = readmodel.CompareBuilds(ctx, pool, st.LiveBuild, scratch, nil)
	}
	if err != nil {
		return nil, 0, false, err
	}
	after, err := rt.Checkpoint(ctx, name)
	if err != nil || after != pos {
		return nil, 0, after != pos, err
	}
	n, err := countTables(ctx, pool, st.LiveBuild)
	if err != nil {
		return nil, 0, false, err
	}
	for _, d := range diffs {
		f, err := driftFinding(ctx, pool, name, st.LiveBuild, scratch, d, pos)
		if err != nil {
			return nil, 0, false, err
		}
		findings = append(findings, f)
	}
	return findings, n, false, nil
}

func driftFinding(ctx context.Context, pool *pgxpool.Pool, name, live, fresh string, d readmodel.Difference, pos eventstore.Position) (Finding, error) {
	onlyLive, err := sampleRows(ctx, pool, live, fresh, d.Table)
	if err != nil {
		return Finding{}, err
	}
	onlyFresh, err := sampleRows(ctx, pool, fresh, live, d.Table)
	if err != nil {
		return Finding{}, err
	}
	detail := fmt.Sprintf("projection %s, table %s at position %d: %d row(s) only in the read model, %d only in a fresh fold of the events",
		name, d.Table, pos, d.OnlyInA, d.OnlyInB)
	return Finding{Kind: FindingProjectionDrift, Position: pos, Type: name + "." + d.Table, Detail: detail,
		Stored: strings.Join(onlyLive, "\n"), Expected: strings.Join(onlyFresh, "\n")}, nil
}

// rowsOf reports each table of schema that has rows, as differences from an empty build.
func rowsOf(ctx context.Context, pool *pgxpool.Pool, schema string) ([]readmodel.Difference, error) {
	rows, err := pool.Query(ctx, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`, schema)
	if err != nil {
		return nil, fmt.Errorf("list the tables of %s: %w", schema, err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list the tables of %s: %w", schema, err)
	}
	var diffs []readmodel.Difference
	for _, t := range tables {
		d := readmodel.Difference{Table: t}
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema, t}.Sanitize()).Scan(&d.OnlyInA); err != nil {
			return nil, fmt.Errorf("count the rows of %s: %w", t, err)
		}
		if d.OnlyInA > 0 {
			diffs = append(diffs, d)
		}
	}
	return diffs, nil
}

// sampleRows lists up to driftRowsListed rows of schema a's table that schema b lacks (b ""
// stands for an empty build), as JSON.
func sampleRows(ctx context.Context, pool *pgxpool.Pool, a, b, table string) ([]string, error) {
	if a == "" {
		return []string{}, nil
	}
	from := `TABLE ` + pgx.Identifier{a, table}.Sanitize()
	if b != "" {
		from += ` EXCEPT ALL TABLE ` + pgx.Identifier{b, table}.Sanitize()
	}
	rows, err := pool.Query(ctx, `SELECT row_to_json(x)::text FROM (`+from+`) x LIMIT $1`, driftRowsListed)
	if err != nil {
		return nil, fmt.Errorf("list differing rows of %s: %w", table, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func countTables(ctx context.Context, pool *pgxpool.Pool, schema string) (int, error) {
	var n int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, schema).Scan(&n)
	return n, err
}

// scratchSchema names a schema for one fresh fold, unique per check, within 63 bytes.
func scratchSchema(app, name string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := app + "_drift_" + name
	if len(prefix) > 54 {
		prefix = prefix[:54]
	}
	return prefix + "_" + hex.EncodeToString(b[:])
}

// dropCopy drops the scratch copy and its entry of the copy catalog (so that drift checks do
// not use up the cap on as-of copies).
func dropCopy(rt *projections.Runtime, pool *pgxpool.Pool, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = rt.DropCopy(ctx, schema)
	// A copy that failed before the catalog knew it may still have left its schema.
	_, _ = pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
}
