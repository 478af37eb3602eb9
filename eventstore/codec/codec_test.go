package codec_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// TestDecodeTrimmedMatchesDecode: over a generated history, every event decoded trimmed posts
// the journal entry Decode's event posts (lines, customer, date and memo); an InvoiceIssued
// comes back as the head of the full event; the head's fast path does not decline.
func TestDecodeTrimmedMatchesDecode(t *testing.T) {
	t.Parallel()
	envs := generatedHistory(t)
	money := map[string]int{}
	for i := range envs {
		at := fmt.Sprintf("%s at %d", envs[i].Type, envs[i].Position)
		full, err := codec.Decode(&envs[i])
		require.NoError(t, err, at)
		trimmed, err := codec.DecodeTrimmed(&envs[i])
		require.NoError(t, err, at)
		if issued, ok := full.(domain.InvoiceIssued); ok {
			require.Equal(t, issued.InvoiceIssuedHead, trimmed, at)
			require.True(t, codec.FastPathTakes(reflect.TypeFor[domain.InvoiceIssuedHead](), envs[i].Data), at)
		} else {
			require.Equal(t, full, trimmed, at)
		}
		a, okA, errA := domain.Postings(full)
		b, okB, errB := domain.Postings(trimmed)
		require.NoError(t, errA, at)
		require.NoError(t, errB, at)
		require.Equal(t, okA, okB, at)
		assert.Equal(t, a.Lines(), b.Lines(), at)
		assert.Equal(t, a.Customer(), b.Customer(), at)
		assert.Equal(t, a.Date(), b.Date(), at)
		assert.Equal(t, a.Memo(), b.Memo(), at)
		if okA {
			money[envs[i].Type]++
		}
	}
	assert.Positive(t, money["InvoiceIssued"])
	assert.Positive(t, money["PaymentRecorded"])
}

// TestCodecDecodesAsEncodingJSON: over a generated history, the codec decodes every event
// exactly as encoding/json does, and its fast path does decode them (no silent fallback
// hiding a slow path).
func TestCodecDecodesAsEncodingJSON(t *testing.T) {
	t.Parallel()
	envs := generatedHistory(t)
	types := map[string]bool{}
	for i := range envs {
		got, err := codec.Decode(&envs[i])
		require.NoError(t, err)
		want := reflect.New(reflect.TypeOf(got))
		require.NoError(t, json.Unmarshal(envs[i].Data, want.Interface()))
		require.Equal(t, want.Elem().Interface(), got, "%s at %d", envs[i].Type, envs[i].Position)
		require.True(t, codec.FastPathTakes(reflect.TypeOf(got), envs[i].Data),
			"the fast path declined %s at %d: %s", envs[i].Type, envs[i].Position, envs[i].Data)
		types[envs[i].Type] = true
	}
	assert.GreaterOrEqual(t, len(types), 10, "the history holds most event types")
}

// TestEncodeWritesWhatDecodeReads: every event type encodes under its name and schema version
// and decodes back equal; an event type the codec does not know is refused.
func TestEncodeWritesWhatDecodeReads(t *testing.T) {
	evs, err := codec.Encode(eventstore.Metadata{TenantID: "acme"}, domain.PlanRetired{}, domain.CustomerDeactivated{Reason: "moved"})
	require.NoError(t, err)
	require.Len(t, evs, 2)
	assert.Equal(t, "PlanRetired", evs[0].Type)
	assert.Equal(t, 1, evs[1].SchemaVersion)
	assert.NotEqual(t, evs[0].ID, evs[1].ID)
	back, err := codec.Decode(&eventstore.Envelope{Type: evs[1].Type, SchemaVersion: evs[1].SchemaVersion, Data: evs[1].Data})
	require.NoError(t, err)
	assert.Equal(t, domain.CustomerDeactivated{Reason: "moved"}, back)
	_, _, _, err = codec.EncodeEvent(domain.InvoiceIssuedHead{})
	assert.ErrorIs(t, err, eventstore.ErrUnknownEventType, "a head is read, never stored")
}

// FuzzDecodeMatchesEncodingJSON: for every domain event type and any payload, the codec's
// result is encoding/json's, error or not; and so is DecodeTrimmed's for an InvoiceIssued.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	all := domain.AllEvents()
	for i, e := range all {
		if data, err := json.Marshal(e); err == nil {
			f.Add(uint8(i), data)
		}
	}
	f.Add(uint8(0), []byte(`{"customer_id":"0194d0c8-7f0e-7c4a-9b1e-3c1f0a2b4c5d","name":"A","email":"a@b.c","currency":"USD"}`))
	f.Add(uint8(5), []byte(`{"total":{"amount":"1.00","currency":"USD"},"lines":[{"description":"x","amount":{"amount":"1.00","currency":"USD"}}],"issue_date":"2026-01-31"}`))
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		e := all[int(typ)%len(all)]
		env := &eventstore.Envelope{Type: e.EventType(), SchemaVersion: e.SchemaVersion(), Data: data}
		got, err := codec.Decode(env)
		want := reflect.New(reflect.TypeOf(e))
		wantErr := json.Unmarshal(data, want.Interface())
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%s %q: codec error %v, encoding/json error %v", e.EventType(), data, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want.Elem().Interface()) {
			t.Fatalf("%s %q: codec %+v, encoding/json %+v", e.EventType(), data, got, want.Elem().Interface())
		}
		if _, issued := e.(domain.InvoiceIssued); issued {
			head, err := codec.DecodeTrimmed(env)
			var wantHead domain.InvoiceIssuedHead
			wantErr := json.Unmarshal(data, &wantHead)
			if (err == nil) != (wantErr == nil) || (err == nil && !reflect.DeepEqual(head, wantHead)) {
				t.Fatalf("trimmed %q: codec %+v (%v), encoding/json %+v (%v)", data, head, err, wantHead, wantErr)
			}
		}
	})
}

// generatedHistory returns the events of a small generated history (15 customers, 4 months).
func generatedHistory(t *testing.T) []eventstore.Envelope {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	defer store.Close()
	evs, err := readmodeltest.Generate(domainsim.Config{Customers: 15, Months: 4})
	require.NoError(t, err)
	_, err = readmodeltest.AppendTo(ctx, store, evs)
	require.NoError(t, err)
	envs, err := store.ReadAll(ctx, 0, eventstore.MaxReadLimit)
	require.NoError(t, err)
	return envs
}
