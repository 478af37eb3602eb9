package readmodel_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// generatedHistory simulates generated's history once per test binary (seconds under -race);
// the tests share its events read-only.
var generatedHistory = sync.OnceValues(func() ([]projections.Event, error) {
	return readmodeltest.Generate(domainsim.Config{Customers: 15, Months: 8, Seed: 7,
		Tenants: []domainsim.Tenant{{Name: "acme", Currency: "USD"}, {Name: "gulf", Currency: "BHD"}}})
})

// generated is a realistic history of two tenants (USD and BHD) over eight months, with
// every event type in it (a copy of the slice: the events themselves are shared).
func generated(t testing.TB) []projections.Event {
	t.Helper()
	evs, err := generatedHistory()
	require.NoError(t, err)
	evs = slices.Clone(evs)
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.Type] = true
	}
	for _, e := range domain.AllEvents() {
		require.True(t, seen[e.EventType()], "the generated history has no %s", e.EventType())
	}
	return evs
}

// deep is true under DOTMAC_TEST_DEEP (make test-deep): the most expensive batch sizes run too.
func deep() bool { return os.Getenv("DOTMAC_TEST_DEEP") != "" }

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
	batches := []int{1, 7, 100, 997}
	if deep() {
		batches = append(batches, 2)
	}
	for _, batch := range batches {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			t.Parallel()
			other := build(t, evs, batch)
			diffs, err := readmodel.CompareBuilds(context.Background(), whole, schemaOf(t, whole), schemaOf(t, other), nil)
			require.NoError(t, err)
			require.Empty(t, diffs, "%d events, batches of %d", len(evs), batch)
		})
	}
}

// A rebuild's Load (rows held across batches, written when it holds enough and at Flush)
// must leave exactly the rows Apply does, whatever the batches and however often it writes
// and reads back its rows.
func TestLoadEqualsApply(t *testing.T) {
	t.Parallel()
	evs := generated(t)
	whole := build(t, evs, len(evs))
	cases := []struct{ batch, maxRows int }{{7, 3}, {100, 10}, {997, 1_000_000}, {len(evs), 50}}
	if deep() { // one event per batch, a write per row: minutes under -race
		cases = append(cases, struct{ batch, maxRows int }{1, 1})
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("batch=%d,maxRows=%d", c.batch, c.maxRows), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := pgtest.Pool(t)
			require.NoError(t, readmodeltest.Setup(ctx, pool, readmodel.All()))
			require.NoError(t, readmodeltest.Load(ctx, pool, readmodel.All(), evs, c.batch, func(p projections.Projection) projections.Load {
				return readmodel.NewLoadHolding(p, c.maxRows)
			}))
			diffs, err := readmodel.CompareBuilds(ctx, whole, schemaOf(t, whole), schemaOf(t, pool), nil)
			require.NoError(t, err)
			require.Empty(t, diffs)
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

// A trimmed projection must write the same rows from trimmed payloads (what a replay of only
// such projections decodes: an InvoiceIssued as its head, without its lines) as from full ones.
func TestTrimmedPayloadsGiveTheSameRows(t *testing.T) {
	t.Parallel()
	evs := generated(t)
	trimmed := make([]projections.Event, len(evs))
	dropped := 0
	for i, ev := range evs {
		p, err := codec.DecodeTrimmed(&ev.Envelope)
		require.NoError(t, err)
		if full, ok := ev.Payload.(domain.InvoiceIssued); ok && len(full.Lines) > 0 {
			head, ok := p.(domain.InvoiceIssuedHead)
			require.True(t, ok, "position %d decoded as %T", ev.Position, p)
			decoded, err := codec.Decode(&ev.Envelope)
			require.NoError(t, err)
			issued, ok := decoded.(domain.InvoiceIssued)
			require.True(t, ok)
			require.Equal(t, issued.InvoiceIssuedHead, head)
			dropped++
		}
		trimmed[i] = projections.Event{Envelope: ev.Envelope, Payload: p}
	}
	require.Positive(t, dropped, "the trimmed decode dropped no invoice lines: the test would prove nothing")
	var projs []projections.Projection
	for _, p := range readmodel.All() {
		if p.Tuning().Trimmed {
			projs = append(projs, p)
		}
	}
	require.NotEmpty(t, projs)
	full, trim := buildWith(t, projs, evs, 500), buildWith(t, projs, trimmed, 500)
	diffs, err := readmodel.CompareBuilds(context.Background(), full, schemaOf(t, full), schemaOf(t, trim), nil)
	require.NoError(t, err)
	require.Empty(t, diffs)
}

// A Load fails on an event its rows do not allow, as Apply does, and its error names the
// event's position (a Load's batch cannot be re-run in parts to find it).
func TestLoadNamesTheEventItCannotApply(t *testing.T) {
	t.Parallel()
	evs := generated(t)
	var broken []projections.Event
	dropped := ""
	for _, ev := range evs {
		if c, ok := ev.Payload.(domain.InvoiceCreated); ok && dropped == "" {
			dropped = c.InvoiceID.String()
			continue
		}
		broken = append(broken, ev)
	}
	var want projections.Event
	for _, ev := range broken { // the first event about the dropped invoice
		var id domain.InvoiceID
		switch e := ev.Payload.(type) {
		case domain.InvoiceLineAdded:
			id = e.InvoiceID
		case domain.InvoiceIssued:
			id = e.InvoiceID
		case domain.InvoiceVoided:
			id = e.InvoiceID
		}
		if id.String() == dropped {
			want = ev
			break
		}
	}
	require.NotZero(t, want.Position, "the generated history never issues invoice %s", dropped)
	ctx := context.Background()
	pool := pgtest.Pool(t)
	projs := []projections.Projection{readmodel.Invoices{}}
	require.NoError(t, readmodeltest.Setup(ctx, pool, projs))
	err := readmodeltest.Load(ctx, pool, projs, broken, 100, func(p projections.Projection) projections.Load { return p.Tuning().NewLoad() })
	require.ErrorContains(t, err, fmt.Sprintf("%s at position %d: unknown invoice %s", want.Payload.EventType(), want.Position, dropped))
}
