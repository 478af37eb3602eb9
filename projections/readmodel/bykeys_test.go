package readmodel

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
)

// TestLoadsReadByKey: every statement a batch loads its rows with looks each key up by index,
// however large and however analyzed the table. Written as a plain join, PostgreSQL hashed the
// whole table instead: at 20,000 analyzed balances a batch's 200 keys cost a scan of all of
// them (13 ms against 1 ms), every batch, growing with the table.
func TestLoadsReadByKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	for _, p := range All() {
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return p.Setup(ctx, tx) }), p.Name())
	}
	const n = 20000
	_, err := pool.Exec(ctx, `INSERT INTO customer_balances (tenant_id, customer_id, currency, receivable, credit, balance, position)
		SELECT 'acme', gen_random_uuid(), 'USD', 0, 0, 0, i FROM generate_series(1, $1) AS i`, n)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `ANALYZE customer_balances`)
	require.NoError(t, err)

	var tenants, currencies []string
	var ids []pgtype.UUID
	require.NoError(t, pool.QueryRow(ctx, `SELECT array_agg(tenant_id), array_agg(customer_id), array_agg(currency)
		FROM (SELECT * FROM customer_balances ORDER BY position DESC LIMIT 200) AS s`).Scan(&tenants, &ids, &currencies))
	plan := pgtest.Explain(ctx, t, pool, loadBalances, tenants, ids, currencies)
	assert.NotContains(t, plan, "Hash Join", "the balances were hashed, not looked up by key:\n%s", plan)
	assert.NotContains(t, plan, "Seq Scan", "the balances were scanned, not looked up by key:\n%s", plan)
	assert.Contains(t, plan, "customer_balances_pkey", plan)

	got := 0
	rows, err := pool.Query(ctx, loadBalances, tenants, ids, currencies)
	require.NoError(t, err)
	for rows.Next() {
		got++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 200, got, "one row per key")

	// Every load statement is a lookup per key whatever the planner knows: a nested loop over
	// the keys, never a hash or merge join of the table.
	one := []pgtype.UUID{pgUUID(uuid.New())}
	for name, sql := range map[string]string{
		"balances": loadBalances, "services": loadServices, "customers": loadCustomers, "invoices": loadInvoices,
		"payments": loadPayments, "mrr services": loadMRRServices,
		"journal posting states": newPostingStates(journalPostingStatesTable).load,
		"balance posting states": newPostingStates(balancePostingStatesTable).load,
	} {
		args := []any{[]string{"acme"}, one}
		if sql == loadBalances {
			args = append(args, []string{"USD"})
		}
		plan := pgtest.Explain(ctx, t, pool, sql, args...)
		assert.Contains(t, plan, "Nested Loop", "%s:\n%s", name, plan)
		assert.NotContains(t, plan, "Hash Join", "%s:\n%s", name, plan)
		assert.NotContains(t, plan, "Merge Join", "%s:\n%s", name, plan)
	}
}
