package forwarder

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Failures in a row back off exponentially from MinBackoff, capped at MaxBackoff; a success
// starts again from MinBackoff and passes Ready.
func TestBackoffDoublesUpToTheCap(t *testing.T) {
	f := &Forwarder{cfg: Config{Name: "t", MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}, m: newMetrics("t")}
	var got []time.Duration
	for range 7 {
		got = append(got, f.failed(errors.New("refused")))
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second, time.Second}, got)
	err := f.Ready(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "7 failures in a row")
	f.succeeded()
	require.NoError(t, f.Ready(t.Context()))
	assert.Equal(t, 100*ms, f.failed(errors.New("refused")))
}
