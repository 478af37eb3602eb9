package events_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/events"
	"github.com/dotmac/ledger/internal/gen"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestInvoiceIssuedHeadHasEveryFieldButLines: the head decodes every field of InvoiceIssued
// except the lines, under the same JSON names.
func TestInvoiceIssuedHeadHasEveryFieldButLines(t *testing.T) {
	head := map[string]reflect.Type{}
	ht := events.InvoiceIssuedHeadType()
	for i := range ht.NumField() {
		head[ht.Field(i).Tag.Get("json")] = ht.Field(i).Type
	}
	full := reflect.TypeFor[domain.InvoiceIssued]()
	for i := range full.NumField() {
		f := full.Field(i)
		if f.Name == "Lines" {
			continue
		}
		assert.Equal(t, f.Type, head[f.Tag.Get("json")], "field %s (%s)", f.Name, f.Tag.Get("json"))
	}
	assert.Len(t, head, full.NumField()-1)
}

// TestDecodeForPostingsMatchesDecode: over a generated history, every event's journal entry is
// the same decoded either way.
func TestDecodeForPostingsMatchesDecode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	defer store.Close()
	_, err = gen.Generate(ctx, store, gen.Config{Customers: 15, Months: 4}, nil)
	require.NoError(t, err)
	envs, err := store.ReadAll(ctx, 0, eventstore.MaxReadLimit)
	require.NoError(t, err)
	issued := 0
	for i := range envs {
		full, err := events.Decode(&envs[i])
		require.NoError(t, err)
		fast, err := events.DecodeForPostings(&envs[i])
		require.NoError(t, err)
		a, okA, errA := domain.Postings(full)
		b, okB, errB := domain.Postings(fast)
		require.NoError(t, errA)
		require.NoError(t, errB)
		assert.Equal(t, okA, okB)
		assert.Equal(t, a, b, "%s at %d", envs[i].Type, envs[i].Position)
		if envs[i].Type == "InvoiceIssued" {
			issued++
		}
	}
	assert.Positive(t, issued)
}
