package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/events"
	"github.com/dotmac/ledger/internal/fastjson"
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

// TestPartialTypesHaveTheirEventsFields: each field a partial payload type decodes is a field
// of its event, with the same name, JSON name and type.
func TestPartialTypesHaveTheirEventsFields(t *testing.T) {
	for part, full := range events.PartialTypes() {
		byTag := map[string]reflect.StructField{}
		for i := range full.NumField() {
			byTag[full.Field(i).Tag.Get("json")] = full.Field(i)
		}
		for i := range part.NumField() {
			f := part.Field(i)
			want, ok := byTag[f.Tag.Get("json")]
			if assert.True(t, ok, "%s.%s is not a field of %s", part.Name(), f.Name, full.Name()) {
				assert.Equal(t, want.Type, f.Type, "%s.%s", part.Name(), f.Name)
				assert.Equal(t, want.Name, f.Name, "%s.%s", part.Name(), f.Name)
			}
		}
	}
}

// TestPartialDecodersMatchDecode: over a generated history, every event's journal entry
// decoded by DecodeForPostings is the one Decode gives, memo and all, and decoded by
// DecodeForLedger has the same lines, customer and date; and the partial payload types do
// decode (the fast path does not decline them).
func TestPartialDecodersMatchDecode(t *testing.T) {
	t.Parallel()
	envs := generatedHistory(t)
	for _, tc := range []struct {
		name     string
		decode   func(*eventstore.Envelope) (domain.Event, error)
		withMemo bool
	}{{"DecodeForPostings", events.DecodeForPostings, true}, {"DecodeForLedger", events.DecodeForLedger, false}} {
		t.Run(tc.name, func(t *testing.T) {
			money := map[string]int{}
			for i := range envs {
				full, err := events.Decode(&envs[i])
				require.NoError(t, err)
				part, err := tc.decode(&envs[i])
				require.NoError(t, err)
				a, okA, errA := domain.Postings(full)
				b, okB, errB := domain.Postings(part)
				require.NoError(t, errA)
				require.NoError(t, errB)
				require.Equal(t, okA, okB)
				at := fmt.Sprintf("%s at %d", envs[i].Type, envs[i].Position)
				assert.Equal(t, a.Lines(), b.Lines(), at)
				assert.Equal(t, a.Customer(), b.Customer(), at)
				assert.Equal(t, a.Date(), b.Date(), at)
				if tc.withMemo {
					assert.Equal(t, a.Memo(), b.Memo(), at)
				}
				if okA {
					money[envs[i].Type]++
				}
			}
			assert.Positive(t, money["InvoiceIssued"])
			assert.Positive(t, money["PaymentRecorded"])
		})
	}
	for part, full := range events.PartialTypes() {
		ev, ok := reflect.Zero(full).Interface().(domain.Event)
		require.True(t, ok, "%s is not a domain event", full)
		for i := range envs {
			if envs[i].Type == ev.EventType() {
				require.True(t, fastjson.For(part).Decode(envs[i].Data, reflect.New(part).Elem()),
					"the fast path declined %s as %s at %d: %s", ev.EventType(), part, envs[i].Position, envs[i].Data)
			}
		}
	}
}

// TestCodecDecodesAsEncodingJSON: over a generated history, the codec (which takes the
// fastjson path) decodes every event exactly as encoding/json does, and the fast path does
// decode them (no silent fallback hiding a slow path).
func TestCodecDecodesAsEncodingJSON(t *testing.T) {
	t.Parallel()
	envs := generatedHistory(t)
	types := map[string]bool{}
	for i := range envs {
		got, err := events.Decode(&envs[i])
		require.NoError(t, err)
		want := reflect.New(reflect.TypeOf(got))
		require.NoError(t, json.Unmarshal(envs[i].Data, want.Interface()))
		require.Equal(t, want.Elem().Interface(), got, "%s at %d", envs[i].Type, envs[i].Position)
		require.True(t, fastjson.For(reflect.TypeOf(got)).Decode(envs[i].Data, reflect.New(reflect.TypeOf(got)).Elem()),
			"the fast path declined %s at %d: %s", envs[i].Type, envs[i].Position, envs[i].Data)
		types[envs[i].Type] = true
	}
	assert.GreaterOrEqual(t, len(types), 10, "the history holds most event types")
}

// FuzzDecodeMatchesEncodingJSON: for every domain event type and any payload, the codec's
// result is encoding/json's, error or not.
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
		got, err := events.Decode(env)
		want := reflect.New(reflect.TypeOf(e))
		wantErr := json.Unmarshal(data, want.Interface())
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("%s %q: codec error %v, encoding/json error %v", e.EventType(), data, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want.Elem().Interface()) {
			t.Fatalf("%s %q: codec %+v, encoding/json %+v", e.EventType(), data, got, want.Elem().Interface())
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
	_, err = gen.Generate(ctx, store, gen.Config{Customers: 15, Months: 4}, nil)
	require.NoError(t, err)
	envs, err := store.ReadAll(ctx, 0, eventstore.MaxReadLimit)
	require.NoError(t, err)
	return envs
}
