package providers_test

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/providers"
)

func TestParseStripeSignature(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	other := strings.Repeat("cd", 32)
	tests := []struct {
		name   string
		header string
		t      int64
		v1     int
		bad    bool
	}{
		{name: "one signature", header: "t=1700000000,v1=" + sig, t: 1700000000, v1: 1},
		{name: "two signatures while rotating", header: "t=1700000000,v1=" + sig + ",v1=" + other, t: 1700000000, v1: 2},
		{name: "any order, spaces, v0 ignored", header: " v0=" + other + ", v1=" + sig + " , t=5", t: 5, v1: 1},
		{name: "empty", header: "", bad: true},
		{name: "no timestamp", header: "v1=" + sig, bad: true},
		{name: "no v1", header: "t=1,v0=" + sig, bad: true},
		{name: "two timestamps", header: "t=1,t=2,v1=" + sig, bad: true},
		{name: "negative timestamp", header: "t=-1,v1=" + sig, bad: true},
		{name: "timestamp not a number", header: "t=soon,v1=" + sig, bad: true},
		{name: "v1 not hex", header: "t=1,v1=" + strings.Repeat("zz", 32), bad: true},
		{name: "v1 too short", header: "t=1,v1=abcd", bad: true},
		{name: "element without =", header: "t=1,v1", bad: true},
		{name: "too many v1", header: "t=1" + strings.Repeat(",v1="+sig, 9), bad: true},
		{name: "too long", header: "t=1,v1=" + sig + ",x=" + strings.Repeat("x", providers.MaxSignatureHeaderBytes), bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := providers.ParseStripeSignature(tt.header)
			if tt.bad {
				require.ErrorIs(t, err, providers.ErrBadSignature)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.t, got.Timestamp)
			assert.Len(t, got.V1, tt.v1)
		})
	}
}

// FuzzParseStripeSignature: any header either parses into a timestamp and 1 to 8 32-byte
// signatures that print back into a header parsing to the same, or is ErrBadSignature; it
// never panics.
func FuzzParseStripeSignature(f *testing.F) {
	sig := strings.Repeat("ab", 32)
	for _, s := range []string{"t=1700000000,v1=" + sig, "t=1,v1=" + sig + ",v1=" + sig, "", "t=,v1=", "v1=" + sig + ",t=9", "t=1,v1=zz", "=,=,="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got, err := providers.ParseStripeSignature(header)
		if err != nil {
			require.ErrorIs(t, err, providers.ErrBadSignature)
			return
		}
		require.GreaterOrEqual(t, got.Timestamp, int64(0))
		require.NotEmpty(t, got.V1)
		require.LessOrEqual(t, len(got.V1), 8)
		var b strings.Builder
		fmt.Fprintf(&b, "t=%d", got.Timestamp)
		for _, v := range got.V1 {
			require.Len(t, v, 32)
			b.WriteString(",v1=" + hex.EncodeToString(v))
		}
		again, err := providers.ParseStripeSignature(b.String())
		require.NoError(t, err)
		require.Equal(t, got, again)
	})
}

func TestSignStripeParses(t *testing.T) {
	h := providers.SignStripe([]byte(`{}`), "whsec_0123456789abcdef", time.Unix(1700000000, 0))
	got, err := providers.ParseStripeSignature(h)
	require.NoError(t, err)
	assert.Equal(t, int64(1700000000), got.Timestamp)
}
