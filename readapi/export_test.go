package readapi

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// ExplainWarmReads plans each statement WarmUp plans, with its arguments, on conn, and returns
// how many there are and the errors of those that failed (by statement).
func ExplainWarmReads(ctx context.Context, conn *pgx.Conn) (int, map[string]error) {
	failed := map[string]error{}
	for _, w := range warmReads {
		if err := explainRead(ctx, conn, w); err != nil {
			failed[w.sql] = err
		}
	}
	return len(warmReads), failed
}
