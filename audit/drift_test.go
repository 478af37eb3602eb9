package audit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// TestDriftIsCaught: the live read models equal a fresh fold; a read-model row changed with
// plain SQL is reported, naming the projection and table and listing the row.
func TestDriftIsCaught(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	evs, err := readmodeltest.Generate(domainsim.Config{Tenants: []domainsim.Tenant{{Name: "demo", Currency: "USD"}},
		Customers: 10, Months: 3, Seed: 1, GraceDays: 14})
	require.NoError(t, err)
	pool, store, rt := projectedLedger(ctx, t, evs)

	checkAsOfEqualsStatement(ctx, t, store, pool)

	reports, err := audit.CheckDrift(ctx, rt, pool, nil)
	require.NoError(t, err)
	require.Len(t, reports, len(rt.Names()))
	for _, r := range reports {
		assert.Empty(t, r.Findings, r.Projection)
		assert.Positive(t, r.Tables, r.Projection)
	}

	// An "adjustment" made straight in the read model, bypassing the events.
	tag, err := pool.Exec(ctx, `UPDATE invoices SET outstanding = outstanding + 100
		WHERE invoice_id = (SELECT invoice_id FROM invoices ORDER BY invoice_id LIMIT 1)`)
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected())
	reports, err = audit.CheckDrift(ctx, rt, pool, nil)
	require.NoError(t, err)
	var found []audit.Finding
	for _, r := range reports {
		found = append(found, r.Findings...)
	}
	require.Len(t, found, 1, "%v", found)
	assert.Equal(t, audit.FindingProjectionDrift, found[0].Kind)
	assert.Equal(t, "invoices.invoices", found[0].Type)
	assert.Contains(t, found[0].Stored, `"outstanding"`, "the tampered row is listed")
	assert.Contains(t, found[0].Expected, `"outstanding"`, "and the row a fresh fold has instead")
}

// checkAsOfEqualsStatement: for every customer and month end, the as-of replay's balance
// (from the event store alone) equals the customer's statement in the read model at that date.
func checkAsOfEqualsStatement(ctx context.Context, t *testing.T, store *postgres.Store, pool *pgxpool.Pool) {
	t.Helper()
	head, err := store.Head(ctx)
	require.NoError(t, err)
	rows, err := pool.Query(ctx, `SELECT DISTINCT customer_id::text FROM statement_lines`)
	require.NoError(t, err)
	customers, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.NotEmpty(t, customers)
	a := audit.New(store)
	checked := 0
	for _, c := range customers {
		id, err := domain.ParseCustomerID(c)
		require.NoError(t, err)
		for _, day := range []string{"2025-01-20", "2025-01-31", "2025-02-28", "2025-03-15", "2025-03-31"} {
			d, err := time.Parse(time.DateOnly, day)
			require.NoError(t, err)
			var statement decimal.Decimal
			require.NoError(t, pool.QueryRow(ctx, `SELECT coalesce(sum(debit - credit), 0) FROM statement_lines
				WHERE customer_id = $1 AND entry_date <= $2 AND position <= $3`, c, d, int64(head)).Scan(&statement))
			asOf, err := a.CustomerAsOf(ctx, tenant(t), id, audit.Cutoff{Date: d})
			if errors.Is(err, audit.ErrNoHistory) {
				assert.True(t, statement.IsZero(), "%s on %s: no account yet, statement %s", c, day, statement)
				continue
			}
			require.NoError(t, err)
			assert.True(t, decimal.RequireFromString(asOf.Balance).Equal(statement), "%s on %s: as-of %s, statement %s", c, day, asOf.Balance, statement)
			checked++
		}
	}
	assert.Positive(t, checked)
}

// TestDriftOfAProjectionWithNoEvents: on a ledger whose history holds no event of some
// projections yet (customers registered, nothing invoiced), the drift check reports nothing
// for them, where it used to fail on the empty fresh fold; a row put into such a read model by
// hand is reported as drift, listed.
func TestDriftOfAProjectionWithNoEvents(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	evs, err := readmodeltest.Generate(domainsim.Config{Tenants: []domainsim.Tenant{{Name: "demo", Currency: "USD"}},
		Customers: 3, Months: 1, Seed: 1, GraceDays: 14})
	require.NoError(t, err)
	var registered []projections.Event
	for _, e := range evs {
		if e.Type == "CustomerRegistered" {
			registered = append(registered, e)
		}
	}
	require.NotEmpty(t, registered)
	pool, _, rt := projectedLedger(ctx, t, registered)

	reports, err := audit.CheckDrift(ctx, rt, pool, nil)
	require.NoError(t, err, "a projection that folded no event is not an error")
	for _, r := range reports {
		assert.Empty(t, r.Findings, r.Projection)
	}

	_, err = pool.Exec(ctx, `INSERT INTO trial_balance (tenant_id, account, account_name, currency, debit, credit, balance, position)
		VALUES ('demo', 1100, 'Accounts receivable', 'USD', 100, 0, 100, 1)`)
	require.NoError(t, err)
	reports, err = audit.CheckDrift(ctx, rt, pool, nil)
	require.NoError(t, err)
	var found []audit.Finding
	for _, r := range reports {
		found = append(found, r.Findings...)
	}
	require.Len(t, found, 1, "%v", found)
	assert.Equal(t, audit.FindingProjectionDrift, found[0].Kind)
	assert.Equal(t, "journal.trial_balance", found[0].Type)
	assert.Contains(t, found[0].Detail, "1 row(s) only in the read model, 0 only in a fresh fold")
	assert.Contains(t, found[0].Stored, `"account_name":"Accounts receivable"`)
}

// projectedLedger appends evs to a store of its own and waits until every read model has
// applied them.
func projectedLedger(ctx context.Context, t *testing.T, evs []projections.Event) (*pgxpool.Pool, *postgres.Store, *projections.Runtime) {
	t.Helper()
	pool := pgtest.Pool(t, postgres.MigrationSet(), projections.MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	_, err = readmodeltest.AppendTo(ctx, store, evs)
	require.NoError(t, err)
	rt := projectiontest.Start(t, pool, store, readmodel.All(), projections.Options{})
	head, err := store.Head(ctx)
	require.NoError(t, err)
	for _, name := range rt.Names() {
		_, err := rt.WaitFor(ctx, name, head)
		require.NoError(t, err, name)
	}
	return pool, store, rt
}
