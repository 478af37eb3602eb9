package readapi

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// sqlQuery builds a tenant-scoped SELECT with optional filters and a keyset page.
type sqlQuery struct {
	sql   strings.Builder
	args  []any
	where []string
	// groupBy, when set, groups the rows (before the page's ORDER BY).
	groupBy string
}

// newQuery starts "<selectFrom> WHERE tenant_id = $1".
func newQuery(selectFrom, tenant string) *sqlQuery {
	q := &sqlQuery{args: []any{tenant}}
	q.sql.WriteString(selectFrom)
	q.where = []string{"tenant_id = $1"}
	return q
}

// and adds a condition; each "?" in cond becomes the next argument's placeholder.
func (q *sqlQuery) and(cond string, args ...any) {
	for _, a := range args {
		q.args = append(q.args, a)
		cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(q.args)), 1)
	}
	q.where = append(q.where, cond)
}

// page orders by the key columns and returns up to limit+1 rows after the key after (the
// extra row tells whether there is a next page).
func (q *sqlQuery) page(keyCols []string, after []any, limit int) (string, []any) {
	if len(after) == len(keyCols) && len(after) > 0 {
		marks := make([]string, len(after))
		for i := range after {
			marks[i] = "?"
		}
		q.and("("+strings.Join(keyCols, ", ")+") > ("+strings.Join(marks, ", ")+")", after...)
	}
	q.sql.WriteString(" WHERE " + strings.Join(q.where, " AND "))
	if q.groupBy != "" {
		q.sql.WriteString(" GROUP BY " + q.groupBy)
	}
	q.sql.WriteString(" ORDER BY " + strings.Join(keyCols, ", "))
	q.args = append(q.args, limit+1)
	fmt.Fprintf(&q.sql, " LIMIT $%d", len(q.args))
	return q.sql.String(), q.args
}

// list is a page of items.
type list[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// collectPage runs a page query, scans up to limit items, and sets the next cursor from the
// key of the last one when more rows follow.
func collectPage[T any](ctx context.Context, r *request, db Querier, sql string, args []any,
	scan func(pgx.Rows) (T, []string, error)) (list[T], error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return list[T]{}, err
	}
	defer rows.Close()
	out := list[T]{Items: make([]T, 0, min(r.limit, 64))}
	var lastKey []string
	for rows.Next() {
		if len(out.Items) == r.limit {
			c := encodeCursor(r.fingerprint(), lastKey...)
			out.NextCursor = &c
			break
		}
		item, key, err := scan(rows)
		if err != nil {
			return list[T]{}, err
		}
		out.Items, lastKey = append(out.Items, item), key
	}
	return out, rows.Err()
}

// instant formats a timestamp (RFC 3339, UTC).
func instant(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// instantOrNil formats a nullable timestamp.
func instantOrNil(t pgtype.Timestamptz) *string {
	if !t.Valid {
		return nil
	}
	s := instant(t.Time)
	return &s
}

// textOrNil is a nullable text.
func textOrNil(t pgtype.Text) *string {
	if !t.Valid {
		return nil
	}
	return &t.String
}

// grouped returns the query grouped and ordered by cols (a comma-separated list), unpaged.
func (q *sqlQuery) grouped(cols string) (string, []any) {
	q.sql.WriteString(" WHERE " + strings.Join(q.where, " AND ") + " GROUP BY " + cols + " ORDER BY " + cols)
	return q.sql.String(), q.args
}
