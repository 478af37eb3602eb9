package readapi

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// warmStatements are planned by WarmUp: the portal's most frequent reads, which between them
// name every read-model view, table and index those reads use.
var warmStatements = []string{
	invoiceDetailSQL,
	paymentDetailSQL,
	creditNoteDetailSQL,
	customerColumns + ` WHERE tenant_id = $1 AND customer_id = $2`,
	`SELECT EXISTS (SELECT 1 FROM customers WHERE tenant_id = $1 AND customer_id = $2)`,
	invoiceColumns + ` WHERE tenant_id = $1 AND customer_id = $2 ORDER BY invoice_id LIMIT 50`,
	`SELECT currency, receivable::text, credit::text, balance::text FROM customer_balances WHERE tenant_id = $1 AND customer_id = $2`,
}

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
	for _, sql := range warmStatements {
		if !plan(ctx, conn, sql) {
			break // the caller gave up or the session is gone: nothing left to warm
		}
	}
	return nil
}

// plan has conn plan sql with an empty tenant and the nil id for its parameters, over the
// simple protocol (not kept among the session's prepared statements), and says whether the
// session is still there to plan the next one; a statement that fails is skipped.
func plan(ctx context.Context, conn *pgx.Conn, sql string) bool {
	_, err := conn.Exec(ctx, "EXPLAIN "+sql, pgx.QueryExecModeSimpleProtocol, "", "00000000-0000-0000-0000-000000000000")
	return err == nil || (ctx.Err() == nil && !conn.IsClosed())
}
