package readmodel_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// fixture is readmodeltest.Fixture: two tenants, every event type.
func fixture(t testing.TB) []projections.Event {
	t.Helper()
	evs, err := readmodeltest.Fixture()
	require.NoError(t, err)
	return evs
}

// build applies evs to every read model in a fresh schema, batch events per transaction.
func build(t testing.TB, evs []projections.Event, batch int) *pgxpool.Pool {
	t.Helper()
	return buildWith(t, readmodel.All(), evs, batch)
}

// buildWith applies evs to projs in a fresh schema, batch events per transaction.
func buildWith(t testing.TB, projs []projections.Projection, evs []projections.Event, batch int) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	require.NoError(t, readmodeltest.Setup(ctx, pool, projs))
	require.NoError(t, readmodeltest.Apply(ctx, pool, projs, evs, batch))
	return pool
}

// rows returns the rows of query as "col|col|..." strings.
func rows(t testing.TB, pool *pgxpool.Pool, query string, args ...any) []string {
	t.Helper()
	out, err := readmodeltest.Rows(context.Background(), pool, query, args...)
	require.NoError(t, err)
	return out
}

// expandIDs replaces "#n" in each row by the fixture id "01940000-0000-7000-8000-000000000n".
func expandIDs(rows []string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.ReplaceAll(r, "#", "01940000-0000-7000-8000-000000000")
	}
	return out
}

// calendarFixture is readmodeltest.CalendarFixture: the fixture with an opening balance and a
// billing adjustment.
func calendarFixture(t testing.TB) []projections.Event {
	t.Helper()
	evs, err := readmodeltest.CalendarFixture()
	if err != nil {
		t.Fatal(err)
	}
	return evs
}
