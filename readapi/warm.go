package readapi

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// warmRead is a statement WarmUp plans, with the arguments it plans it for.
type warmRead struct {
	sql  string
	args []any
}

// warmReads are the statements of the portal's most frequent reads, the ones their handlers
// run, which between them name every read-model view, table and index those reads use.
var warmReads = func() []warmRead {
	const tenant, id = "", "00000000-0000-0000-0000-000000000000"
	reads := []warmRead{}
	for _, sql := range []string{invoiceDetailSQL, paymentDetailSQL, creditNoteDetailSQL, customerByIDSQL, customerExistsSQL, balanceSQL} {
		reads = append(reads, warmRead{sql, []any{tenant, id}})
	}
	// A customer's first page of invoices, as listInvoices builds it.
	q := newQuery(invoiceColumns, tenant)
	q.and("customer_id = ?", id)
	sql, args := q.page([]string{"invoice_id"}, nil, DefaultLimit)
	return append(reads, warmRead{sql, args})
}()

// WarmUp plans the statements of the portal's most frequent reads on conn (EXPLAIN: nothing
// runs), so that a new session has the read models' views, tables and indexes in its catalog
// caches before a read needs them. During a billing run a session's first plan of the
// invoice read took 6–41 ms (median 10) against 0.5–0.9 ms for a session that had planned it
// before, and a session plans a statement anew for each of its first five executions: those
// reads were the slowest of the bill day (docs/performance.md, "Sessions warmed for the
// portal's reads"). A pool calls it for every connection it opens (pgxpool.Config's
// AfterConnect).
//
// It is best effort and never fails: a database whose read models do not exist yet, or any
// other error, leaves the session as it was, and its reads plan as they would have.
func WarmUp(ctx context.Context, conn *pgx.Conn) error {
	for _, w := range warmReads {
		if !plan(ctx, conn, w) {
			break // the caller gave up or the session is gone: nothing left to warm
		}
	}
	return nil
}

// plan has conn plan w (explainRead) and says whether the session is still there to plan the
// next one; a statement that fails is skipped.
func plan(ctx context.Context, conn *pgx.Conn, w warmRead) bool {
	err := explainRead(ctx, conn, w)
	return err == nil || (ctx.Err() == nil && !conn.IsClosed())
}

// explainRead plans w with its arguments on conn, over the simple protocol: nothing runs, and
// the statement is not kept among the session's prepared statements.
func explainRead(ctx context.Context, conn *pgx.Conn, w warmRead) error {
	_, err := conn.Exec(ctx, "EXPLAIN "+w.sql, append([]any{pgx.QueryExecModeSimpleProtocol}, w.args...)...)
	return err
}
