package eventstore_test

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

func TestDecodeMetadataRoundTrip(t *testing.T) {
	m := eventstore.Metadata{TenantID: "acme", Actor: "user:1", CorrelationID: "c", CausationID: "d",
		CommandID: "e", IdempotencyKey: "k", RequestID: "r", RecordedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}
	raw, err := json.Marshal(&m)
	require.NoError(t, err)
	got, err := eventstore.DecodeMetadata(raw)
	require.NoError(t, err)
	assert.Equal(t, m, got)
}

// FuzzDecodeMetadata: the fast path and encoding/json agree on every input either accepts.
func FuzzDecodeMetadata(f *testing.F) {
	for _, seed := range []string{
		`{"tenant_id":"acme","recorded_at":"2026-01-02T03:04:05.000006Z"}`,
		`{"actor":"a\"b","recorded_at":"2026-01-02T03:04:05Z"}`,
		`{"tenant_id":"x","extra":1,"recorded_at":"0001-01-01T00:00:00Z"}`,
		`{ "tenant_id" : "spaced" }`,
		`{}`, `{"tenant_id":5}`, `[]`, `{"recorded_at":"yesterday"}`, `{"a":"b",}`,
		`{"recorded_at":"2026-02-29T00:00:00Z"}`, `{"recorded_at":"2026-12-03T23:59:60Z"}`, `{"recorded_at":"2026-12-03T13:05:04.1234567891Z"}`,
		`{"recorded_at":"2026-12-03T13:05:04.Z"}`, `{"recorded_at":"2026-12-03T13:05:04+01:00"}`, `{"recorded_at":"2024-02-29T24:00:00Z"}`,
		`{"reCorded_At":"0000-01-01T0:00:00+00:10"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := eventstore.DecodeMetadata(raw)
		var want eventstore.Metadata
		wantErr := json.Unmarshal(raw, &want)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("DecodeMetadata err=%v, encoding/json err=%v for %q", err, wantErr, raw)
		}
		// The same instant in the same zone, named alike (two decodes of an offset make two
		// equal but distinct *time.Location, so == is too strict).
		if err == nil && utf8.Valid(raw) && (!got.RecordedAt.Equal(want.RecordedAt) || got.RecordedAt.String() != want.RecordedAt.String()) {
			t.Fatalf("recorded_at differs for %q: %v vs %v", raw, got.RecordedAt, want.RecordedAt)
		}
		got.RecordedAt, want.RecordedAt = time.Time{}, time.Time{}
		if err == nil && utf8.Valid(raw) && got != want {
			t.Fatalf("decoded differently for %q:\n%+v\n%+v", raw, got, want)
		}
	})
}
