package readmodel

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Difference reports a table whose rows differ between two builds: how many rows of build a
// are not in build b and the other way round (as multisets: EXCEPT ALL).
type Difference struct {
	Table   string
	OnlyInA int64
	OnlyInB int64
}

func (d Difference) String() string {
	return fmt.Sprintf("%s: %d rows only in the first build, %d only in the second", d.Table, d.OnlyInA, d.OnlyInB)
}

// Querier is what CompareBuilds needs of a connection, pool or transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// maxCompareTables bounds the tables CompareBuilds looks at in one schema.
const maxCompareTables = 64

// CompareBuilds compares two builds of the same projection version, schema a and schema b,
// table by table with EXCEPT ALL both ways, and returns the tables that differ (none: the
// builds hold exactly the same rows). tables nil compares every table of schema a. This is
// the check "a rebuild gives exactly the rows of the live projection".
func CompareBuilds(ctx context.Context, q Querier, a, b string, tables []string) ([]Difference, error) {
	if tables == nil {
		var err error
		if tables, err = tablesOf(ctx, q, a); err != nil {
			return nil, err
		}
	}
	var diffs []Difference
	for _, t := range tables {
		ta, tb := pgx.Identifier{a, t}.Sanitize(), pgx.Identifier{b, t}.Sanitize()
		d := Difference{Table: t}
		err := q.QueryRow(ctx, `SELECT (SELECT count(*) FROM (TABLE `+ta+` EXCEPT ALL TABLE `+tb+`) x),
			(SELECT count(*) FROM (TABLE `+tb+` EXCEPT ALL TABLE `+ta+`) y)`).Scan(&d.OnlyInA, &d.OnlyInB)
		if err != nil {
			return nil, fmt.Errorf("compare %s: %w", t, err)
		}
		if d.OnlyInA != 0 || d.OnlyInB != 0 {
			diffs = append(diffs, d)
		}
	}
	return diffs, nil
}

func tablesOf(ctx context.Context, q Querier, schema string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name LIMIT $2`, schema, maxCompareTables)
	if err != nil {
		return nil, fmt.Errorf("list the tables of %s: %w", schema, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
