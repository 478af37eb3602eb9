package gen_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/gen"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestGenerate: a generated history decodes, folds without invariant errors, balances, and
// holds every kind of activity the generator promises.
func TestGenerate(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := pgtest.Pool(t, postgres.MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	defer store.Close()

	stats, err := gen.Generate(ctx, store, gen.Config{Customers: 60, Months: 12, Seed: 7}, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(60), stats.Customers)
	assert.Positive(t, stats.Invoices)
	assert.Positive(t, stats.Payments)
	assert.Positive(t, stats.Suspensions, "some customers never pay: dunning suspends them")
	assert.Positive(t, stats.CreditNotes)

	head, err := store.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, stats.Events, int64(head))

	var totals domain.LedgerTotals
	accounts := map[string][]domain.Event{}
	var after eventstore.Position
	for {
		envs, err := store.ReadAll(ctx, after, 5000)
		require.NoError(t, err)
		if len(envs) == 0 {
			break
		}
		for i := range envs {
			e, err := codec.Decode(&envs[i])
			require.NoError(t, err)
			entry, ok, err := domain.Postings(e)
			require.NoError(t, err)
			if ok {
				totals.Post(entry)
			}
			if _, kind, _, err := domain.ParseStream(envs[i].StreamID); err == nil && kind == domain.StreamCustomer {
				accounts[envs[i].StreamID] = append(accounts[envs[i].StreamID], e)
			}
		}
		after = envs[len(envs)-1].Position
	}
	usd, _ := domain.ParseCurrency("USD")
	assert.True(t, totals.Net(usd).IsZero(), "the journal nets to zero")
	assert.Len(t, accounts, 60)
	for stream, evs := range accounts {
		_, err := domain.FoldAccount(evs)
		require.NoError(t, err, stream)
	}
}
