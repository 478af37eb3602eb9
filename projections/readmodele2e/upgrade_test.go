package readmodele2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// invoicesV2 has the shape of version 2 of the invoices read model: no credit note
// allocations, no credit applications, no credit_notes.unapplied. (Its rows do not matter:
// Apply folds nothing.)
type invoicesV2 struct{ readmodel.Invoices }

func (invoicesV2) Version() int { return 2 }

func (invoicesV2) Tables() []string {
	return []string{"invoices", "invoice_lines", "payments", "payment_allocations", "credit_notes", "credit_note_lines"}
}

func (v invoicesV2) Setup(ctx context.Context, tx pgx.Tx) error {
	if err := v.Invoices.Setup(ctx, tx); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DROP TABLE credit_note_allocations, credit_applications; ALTER TABLE credit_notes DROP COLUMN unapplied`)
	return err
}

func (invoicesV2) Apply(context.Context, pgx.Tx, []projections.Event) error { return nil }

func (invoicesV2) Tuning() projections.Tuning { return projections.Tuning{} }

// TestInvoicesVersion3Upgrade: a binary with version 3 of the invoices read model, started
// over a live build of version 2, rebuilds it and swaps it in: the views then have the new
// tables and the credit_notes view its new column, replaced in place (the same view, so
// nothing that depends on it is dropped), with the rows a clean build folds.
func TestInvoicesVersion3Upgrade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	evs, err := readmodeltest.Generate(domainsim.Config{Customers: 12, Months: 6, Seed: 11})
	require.NoError(t, err)
	pool := pgtest.Pool(t, postgres.MigrationSet(), projections.MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	appendHistory(t, store, evs)
	opts := projections.Options{Interval: 50 * time.Millisecond}

	rt1 := projectiontest.Start(t, pool, store, []projections.Projection{invoicesV2{}}, opts)
	projectiontest.WaitCaughtUp(t, rt1, readmodel.NameInvoices, time.Minute)
	app := rt1.AppSchema()
	view := pgx.Identifier{app, "credit_notes"}.Sanitize()
	var before uint32
	require.NoError(t, pool.QueryRow(ctx, `SELECT $1::regclass::oid`, view).Scan(&before))
	rt1.Stop()

	rt2 := projectiontest.Start(t, pool, store, []projections.Projection{readmodel.Invoices{}}, opts)
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := rt2.Status(ctx, readmodel.NameInvoices)
		require.NoError(t, err)
		if st.Version == 3 && st.State == projections.StateRunning {
			break
		}
		require.True(t, time.Now().Before(deadline), "version 3 is not live: %+v", st)
		time.Sleep(50 * time.Millisecond)
	}
	projectiontest.WaitCaughtUp(t, rt2, readmodel.NameInvoices, time.Minute)
	var after uint32
	require.NoError(t, pool.QueryRow(ctx, `SELECT $1::regclass::oid`, view).Scan(&after))
	assert.Equal(t, before, after, "the credit_notes view is replaced in place")

	clean := pgtest.Pool(t)
	require.NoError(t, readmodeltest.Setup(ctx, clean, []projections.Projection{readmodel.Invoices{}}))
	require.NoError(t, readmodeltest.Apply(ctx, clean, []projections.Projection{readmodel.Invoices{}}, evs, 1000))
	for _, q := range []string{
		`SELECT count(*), coalesce(sum(unapplied), 0)::text FROM credit_notes`,
		`SELECT count(*), coalesce(sum(amount), 0)::text FROM credit_note_allocations`,
		`SELECT count(*), coalesce(sum(amount), 0)::text FROM credit_applications`,
	} {
		var n, cleanN int
		var sum, cleanSum string
		require.NoError(t, pool.QueryRow(ctx, q).Scan(&n, &sum), q)
		require.NoError(t, clean.QueryRow(ctx, q).Scan(&cleanN, &cleanSum), q)
		assert.Equal(t, cleanN, n, q)
		assert.Equal(t, cleanSum, sum, q)
		assert.Positive(t, n, "the generated history fills %s", q)
	}
}
