package pgstore

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppendHeadersReadsBackAsEncodingJSONWrites: every map, plain or with characters JSON
// escapes, decodes to what it was, exactly as json.Marshal's encoding does.
func TestAppendHeadersReadsBackAsEncodingJSONWrites(t *testing.T) {
	t.Parallel()
	for _, h := range []map[string]string{
		nil,
		{},
		{"ETag": `"41"`, "X-Ledger-Position": "10137", "Location": "/v1/customers/c/payments/p"},
		{`back\slash`: "tab\there", "nul": "a\x00b", "html": "<a&b>", "utf8": "café ✓", "bad": "\xff\xfe", "del": "\x7f"},
	} {
		got := appendHeaders([]byte("prefix"), h)
		require.Equal(t, "prefix", string(got[:6]))
		want, err := json.Marshal(h)
		require.NoError(t, err)
		var fromOurs, fromJSON map[string]string
		require.NoError(t, json.Unmarshal(got[6:], &fromOurs), string(got[6:]))
		require.NoError(t, json.Unmarshal(want, &fromJSON))
		assert.Equal(t, fromJSON, fromOurs)
		if h == nil {
			assert.Equal(t, "null", string(got[6:]))
		}
	}
}

func BenchmarkAppendHeaders(b *testing.B) {
	h := map[string]string{"ETag": `"41"`, "X-Ledger-Position": "10137", "Location": "/v1/customers/019ad94d-e098-747a-b821-8b986c959e88/payments/01a24338-7e34-743d-98cb-a05c453465b2"}
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = appendHeaders(buf[:0], h)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(h)
		}
	})
}
