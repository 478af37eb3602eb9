package process_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestTrackerReadsInvoicesByKey: the tracker settles a page's payments and deletes the
// invoices they paid through the primary key, so that a page costs the same however many
// invoices are open. The previous delete named the invoices alone, the second column of the
// key, and scanned every open invoice of every tenant on each page. (On a table small beside
// the page, PostgreSQL may still prefer to scan it: that costs no more than the table.)
func TestTrackerReadsInvoicesByKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := openInvoices(t, 60000)
	var invoices, amounts []string
	rows, err := pool.Query(ctx, `SELECT invoice_id::text FROM proc_open_invoices WHERE tenant = 'acme1' LIMIT 50`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		invoices, amounts = append(invoices, id), append(amounts, "40.00")
	}
	require.NoError(t, rows.Err())
	invoices = append(invoices, uuid.NewString()) // an invoice the tracker no longer holds
	amounts = append(amounts, "1.00")

	for _, mode := range []string{"auto", "force_custom_plan", "force_generic_plan"} {
		for _, st := range []struct {
			name string
			sql  string
			args []any
		}{
			{"settle", process.SettleSQL, []any{"acme1", invoices, amounts}},
			{"delete settled", process.DeleteSettledSQL, []any{"acme1", invoices}},
		} {
			t.Run(mode+"/"+st.name, func(t *testing.T) {
				tx, err := pool.Begin(ctx)
				require.NoError(t, err)
				defer func() { _ = tx.Rollback(ctx) }()
				_, err = tx.Exec(ctx, fmt.Sprintf("SET LOCAL plan_cache_mode = %s", mode))
				require.NoError(t, err)
				text := pgtest.Explain(ctx, t, tx, st.sql, st.args...)
				assert.NotContains(t, text, "Seq Scan on proc_open_invoices", text)
				assert.Contains(t, text, "proc_open_invoices_pkey", text)
			})
		}
	}

	// And they do what they did: the amounts are subtracted, summed per invoice, and an
	// invoice paid in full is gone.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	paid := invoices[0]
	_, err = tx.Exec(ctx, process.SettleSQL, "acme1", []string{invoices[1], paid, invoices[1], paid}, []string{"10.50", "60", "0.25", "40"})
	require.NoError(t, err)
	_, err = tx.Exec(ctx, process.DeleteSettledSQL, "acme1", []string{paid, invoices[1]})
	require.NoError(t, err)
	var outstanding string
	require.NoError(t, tx.QueryRow(ctx, `SELECT outstanding::text FROM proc_open_invoices WHERE tenant = 'acme1' AND invoice_id = $1`, invoices[1]).Scan(&outstanding))
	assert.Equal(t, "89.25", outstanding)
	var left int
	require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM proc_open_invoices WHERE invoice_id = $1`, paid).Scan(&left))
	assert.Zero(t, left, "an invoice paid in full is deleted")
}

// TestSettlementsJoinInLinearTime: a page's settlements are joined to the invoices they
// settle by hashing, not by rescanning the page's sums for every invoice read (the generic
// plan's nested loop, which expects one invoice from the key: with a page of 1,000 payments
// on as many invoices, half a million comparisons).
func TestSettlementsJoinInLinearTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := openInvoices(t, 30000)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	// As the tracker runs a page: its settings, then the statement on its generic plan.
	_, err = tx.Exec(ctx, process.PageSettingsSQL)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `PREPARE settle(text, uuid[], text[]) AS `+process.SettleSQL)
	require.NoError(t, err)
	var invoices string
	require.NoError(t, tx.QueryRow(ctx, `SELECT array_agg(invoice_id)::text FROM (SELECT invoice_id FROM proc_open_invoices WHERE tenant = 'acme1' LIMIT 1000) p`).Scan(&invoices))
	rows, err := tx.Query(ctx, fmt.Sprintf(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE settle('acme1', '%s', '{%s}')`,
		invoices, strings.TrimSuffix(strings.Repeat("0.01,", 1000), ",")))
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	plan := strings.Join(lines, "\n")
	assert.NotContains(t, plan, "Join Filter", plan)
	assert.NotContains(t, plan, "Nested Loop", plan)
	assert.Contains(t, plan, "proc_open_invoices_pkey", plan)
	assert.Contains(t, plan, "rows=1000", plan)
}

// openInvoices returns a pool on a new schema whose tracker holds n open invoices of three
// tenants, analyzed.
func openInvoices(t *testing.T, n int) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet(), pgstore.MigrationSet(), process.MigrationSet())
	_, err := pool.Exec(ctx, `INSERT INTO proc_open_invoices (tenant, invoice_id, customer_id, due_date, outstanding)
		SELECT 'acme' || (i % 3), gen_random_uuid(), gen_random_uuid(), date '2026-01-01' + i % 300, 100
		FROM generate_series(1, $1::int) i`, n)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `ANALYZE proc_open_invoices`)
	require.NoError(t, err)
	return pool
}

// TestTrackerPlansMadeYoungReadByKey: the tracker's generic plans are made once per
// connection, maybe on the empty table of a new install, and kept until an ANALYZE, which
// never comes with autovacuum off: made then, they must still read the invoices through the
// primary key once the table has grown (a sequential scan made on the empty table would read
// every open invoice on every page).
func TestTrackerPlansMadeYoungReadByKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet(), pgstore.MigrationSet(), process.MigrationSet())
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	statements := []struct{ name, sql, args string }{
		{"settle", `settle(text, uuid[], text[]) AS ` + process.SettleSQL, `('acme1', ARRAY[gen_random_uuid()], '{1.00}')`},
		{"delete_settled", `delete_settled(text, uuid[]) AS ` + process.DeleteSettledSQL, `('acme1', ARRAY[gen_random_uuid()])`},
	}
	explain := func(name, args string) string {
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, process.PageSettingsSQL)
		require.NoError(t, err)
		return pgtest.Explain(ctx, t, tx, `EXECUTE `+name+args)
	}
	for _, st := range statements {
		_, err := conn.Exec(ctx, `PREPARE `+st.sql)
		require.NoError(t, err)
		explain(st.name, st.args) // planned on the empty table
	}
	_, err = conn.Exec(ctx, `INSERT INTO proc_open_invoices (tenant, invoice_id, customer_id, due_date, outstanding)
		SELECT 'acme' || (i % 3), gen_random_uuid(), gen_random_uuid(), date '2026-01-01' + i % 300, 100
		FROM generate_series(1, 30000) i`)
	require.NoError(t, err)
	for _, st := range statements {
		plan := explain(st.name, st.args)
		assert.NotContains(t, plan, "Seq Scan on proc_open_invoices", "%s: %s", st.name, plan)
		assert.Contains(t, plan, "proc_open_invoices_pkey", "%s: %s", st.name, plan)
	}
}
