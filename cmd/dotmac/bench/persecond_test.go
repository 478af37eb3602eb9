package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPerSecondFindsTheBadSeconds(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 5, 15, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	for _, tc := range []struct {
		name          string
		at            []time.Duration // when each request was sent, from start
		took          []time.Duration
		seconds, over int
		worst         time.Duration
	}{
		{"no request", nil, nil, 0, 0, 0},
		{"one fast second", []time.Duration{0, 100 * ms, 900 * ms}, []time.Duration{3 * ms, 4 * ms, 5 * ms}, 1, 0, 5 * ms},
		{"a slow second among fast ones", []time.Duration{0, 1100 * ms, 1200 * ms, 2500 * ms},
			[]time.Duration{3 * ms, 80 * ms, 2 * ms, 4 * ms}, 3, 1, 80 * ms},
		{"a second without requests is not counted", []time.Duration{0, 3 * time.Second},
			[]time.Duration{60 * ms, 10 * ms}, 2, 1, 60 * ms},
		{"the target itself is not over it", []time.Duration{0}, []time.Duration{50 * ms}, 1, 0, 50 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var p perSecond
			for i := range tc.at {
				p.add(start.Add(tc.at[i]), tc.took[i])
			}
			seconds, over, worst := p.seconds(50 * ms)
			assert.Equal(t, tc.seconds, seconds)
			assert.Equal(t, tc.over, over)
			assert.Equal(t, tc.worst, worst)
		})
	}
}

// TestPerSecondP99s: each second's p99 in order, nothing for a second without requests.
func TestPerSecondP99s(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)
	var p perSecond
	assert.Empty(t, p.p99s(), "no request")
	p.add(start, 3*time.Millisecond)
	p.add(start.Add(200*time.Millisecond), 7*time.Millisecond)
	p.add(start.Add(2100*time.Millisecond), 80*time.Millisecond)
	got := p.p99s()
	if assert.Len(t, got, 3) {
		assert.Equal(t, 7.0, *got[0])
		assert.Nil(t, got[1], "a second without requests")
		assert.Equal(t, 80.0, *got[2])
	}
}
