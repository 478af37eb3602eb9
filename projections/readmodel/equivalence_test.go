package readmodel_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// generated is a realistic history of two tenants (USD and BHD) over eight months, with
// every event type in it.
func generated(t testing.TB) []projections.Event {
	t.Helper()
	evs, err := readmodeltest.Generate(readmodeltest.Config{Customers: 24, Months: 8, Seed: 7,
		Tenants: []readmodeltest.Tenant{{Name: "acme", Currency: "USD"}, {Name: "gulf", Currency: "BHD"}}})
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.Type] = true
	}
	for _, e := range domain.AllEvents() {
		require.True(t, seen[e.EventType()], "the generated history has no %s", e.EventType())
	}
	return evs
}

func schemaOf(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT current_schema()").Scan(&s))
	return s
}

// The in-memory fold of a batch must equal applying its events one by one: whatever the
// batch boundaries, every projection ends with exactly the same rows (EXCEPT ALL both ways).
func TestBatchBoundariesDoNotChangeRows(t *testing.T) {
	t.Parallel()
	evs := generated(t)
	whole := build(t, evs, len(evs))
	for _, batch := range []int{1, 2, 7, 100, 997} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			t.Parallel()
			other := build(t, evs, batch)
			diffs, err := readmodel.CompareBuilds(context.Background(), whole, schemaOf(t, whole), schemaOf(t, other), nil)
			require.NoError(t, err)
			require.Empty(t, diffs, "%d events, batches of %d", len(evs), batch)
		})
	}
}

// CompareBuilds finds a changed row, a missing row and an extra row.
func TestCompareBuildsFindsDifferences(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	evs := fixture(t)
	a, b := build(t, evs, 1000), build(t, evs, 1000)
	_, err := b.Exec(ctx, `UPDATE invoices SET outstanding = outstanding + 1 WHERE number = 'A-0001'`)
	require.NoError(t, err)
	_, err = b.Exec(ctx, `DELETE FROM journal_lines WHERE position = 16 AND line_no = 3`)
	require.NoError(t, err)
	diffs, err := readmodel.CompareBuilds(ctx, a, schemaOf(t, a), schemaOf(t, b), nil)
	require.NoError(t, err)
	require.Equal(t, []readmodel.Difference{
		{Table: "invoices", OnlyInA: 1, OnlyInB: 1},
		{Table: "journal_lines", OnlyInA: 1, OnlyInB: 0},
	}, diffs)
}
