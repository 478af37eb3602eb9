package loadtest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/readapi/loadtest"
)

// The latencies are the successful answers': a server refusing two reads of three at once (503,
// as a busy one sheds load) does not pull them down; Success says how many were refused.
func TestLatenciesAreTheSuccessfulAnswers(t *testing.T) {
	t.Parallel()
	const slow = 40 * time.Millisecond
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%3 != 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		time.Sleep(slow)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(ts.Close)

	res, err := loadtest.Run(context.Background(), loadtest.Config{BaseURL: ts.URL, Rate: 100, Duration: time.Second},
		loadtest.Group{Name: "reads", Paths: []string{"/v1/invoices"}})
	require.NoError(t, err)
	require.Len(t, res, 1)
	r := res[0]
	assert.InDelta(t, 1.0/3, r.Success, 0.05)
	assert.Positive(t, r.Status["503"])
	// Every successful answer took at least slow; two answers of three took none, so with them
	// counted the median would be near zero.
	assert.GreaterOrEqual(t, r.P50, slow)
	assert.GreaterOrEqual(t, r.P99, slow)
}
