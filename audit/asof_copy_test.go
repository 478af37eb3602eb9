package audit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// TestBusinessDateCopies: copies of the journal and the balances as of a business date (the
// default of `projections rebuild --as-of DATE`) hold the trial balance and the customer
// balances the auditor computes from the event store for that date, entries recorded later
// about it included (carol's opening balance as of 2025-12-31 was recorded on 2026-03-12; the
// credit note of alice's late termination is dated 2026-03-12). A journal copy as of a date
// before any entry is empty: ErrEmptyCopy.
func TestBusinessDateCopies(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pool := pgtest.Pool(t, postgres.MigrationSet(), projections.MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	defer store.Close()
	evs, err := readmodeltest.CalendarFixture()
	require.NoError(t, err)
	_, err = readmodeltest.AppendTo(ctx, store, evs)
	require.NoError(t, err)
	rt := projectiontest.Start(t, pool, store, []projections.Projection{readmodel.Journal{}, readmodel.Balances{}}, projections.Options{MaxCopies: 20}) // 7 dates × 2 copies
	a := audit.New(store)

	for i, day := range []string{"2025-12-31", "2026-01-05", "2026-01-12", "2026-01-31", "2026-02-28", "2026-03-11", "2026-03-31"} {
		asOf, err := projections.ParseAsOf(day)
		require.NoError(t, err)
		journal, balances := fmt.Sprintf("journal_at_%d", i), fmt.Sprintf("balances_at_%d", i)
		t.Cleanup(func() {
			_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+journal+`, `+balances+` CASCADE`)
		})
		_, err = rt.Rebuild(ctx, readmodel.NameJournal, projections.RebuildOptions{AsOf: &asOf, Into: journal})
		require.NoError(t, err, day)
		_, err = rt.Rebuild(ctx, readmodel.NameBalances, projections.RebuildOptions{AsOf: &asOf, Into: balances})
		require.NoError(t, err, day)
		d, err := time.Parse(time.DateOnly, day)
		require.NoError(t, err)
		if day == "2025-12-31" { // only carol's opening balance, recorded in March, is dated by then
			var ar string
			require.NoError(t, pool.QueryRow(ctx, `SELECT balance::text FROM `+journal+`.trial_balance
				WHERE tenant_id = 'globex' AND account = 1100`).Scan(&ar))
			assert.True(t, decimal.RequireFromString("5").Equal(decimal.RequireFromString(ar)), ar)
		}
		for _, tenant := range []string{"acme", "globex"} {
			checkTrialBalance(ctx, t, a, pool, journal, tenant, d)
			checkCustomerBalances(ctx, t, a, pool, balances, tenant, d)
		}
	}

	early, err := projections.ParseAsOf("2025-06-30")
	require.NoError(t, err)
	_, err = rt.Rebuild(ctx, readmodel.NameJournal, projections.RebuildOptions{AsOf: &early, Into: "journal_early"})
	require.ErrorIs(t, err, projections.ErrEmptyCopy)
}

type poolQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func checkTrialBalance(ctx context.Context, t *testing.T, a *audit.Auditor, pool poolQuerier, schema, tenant string, day time.Time) {
	t.Helper()
	id, err := domain.ParseTenantID(tenant)
	require.NoError(t, err)
	want, err := a.TrialBalanceAsOf(ctx, id, audit.Cutoff{Date: day})
	require.NoError(t, err)
	assert.Equal(t, audit.BalanceByBusinessDate, want.BalanceBy)
	wantRows := map[string]string{}
	for _, l := range want.Lines {
		wantRows[fmt.Sprintf("%d %s", l.Account, l.Currency)] = decimal.RequireFromString(l.Balance).String()
	}
	got := map[string]string{}
	rows, err := pool.Query(ctx, `SELECT account::text || ' ' || currency, balance::text FROM `+schema+`.trial_balance WHERE tenant_id = $1`, tenant)
	require.NoError(t, err)
	var key, balance string
	_, err = pgx.ForEachRow(rows, []any{&key, &balance}, func() error {
		if b := decimal.RequireFromString(balance); !b.IsZero() || wantRows[key] != "" {
			got[key] = b.String()
		}
		return nil
	})
	require.NoError(t, err)
	for k, v := range wantRows {
		if decimal.RequireFromString(v).IsZero() && got[k] == "" {
			delete(wantRows, k)
		}
	}
	assert.Equal(t, wantRows, got, "trial balance of %s as of %s", tenant, day.Format(time.DateOnly))
}

func checkCustomerBalances(ctx context.Context, t *testing.T, a *audit.Auditor, pool poolQuerier, schema, tenant string, day time.Time) {
	t.Helper()
	id, err := domain.ParseTenantID(tenant)
	require.NoError(t, err)
	rows, err := pool.Query(ctx, `SELECT customer_id::text, balance::text FROM `+schema+`.customer_balances WHERE tenant_id = $1`, tenant)
	require.NoError(t, err)
	var customer, balance string
	copied := map[string]string{}
	_, err = pgx.ForEachRow(rows, []any{&customer, &balance}, func() error {
		copied[customer] = balance
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, copied, "%s as of %s", tenant, day.Format(time.DateOnly))
	for c, b := range copied {
		cid, err := domain.ParseCustomerID(c)
		require.NoError(t, err)
		asOf, err := a.CustomerAsOf(ctx, id, cid, audit.Cutoff{Date: day})
		if errors.Is(err, audit.ErrNoHistory) {
			assert.True(t, decimal.RequireFromString(b).IsZero(), "%s as of %s: no history, copy %s", c, day.Format(time.DateOnly), b)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, audit.BalanceByBusinessDate, asOf.BalanceBy)
		assert.True(t, decimal.RequireFromString(asOf.Balance).Equal(decimal.RequireFromString(b)),
			"%s as of %s: audit %s, copy %s", c, day.Format(time.DateOnly), asOf.Balance, b)
	}
}
