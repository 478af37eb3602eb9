package bench

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// payments counts the payments an httptest server was sent, by customer.
type payments struct {
	mu  sync.Mutex
	per map[string]int
	// slow, if set, is how long the first payment of a customer takes: a cold customer's fold.
	slow time.Duration
}

func (p *payments) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	customer := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/customers/"), "/payments")
	p.mu.Lock()
	p.per[customer]++
	first := p.per[customer] == 1
	p.mu.Unlock()
	if first {
		time.Sleep(p.slow)
	}
	w.WriteHeader(http.StatusCreated)
}

func (p *payments) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.per))
	for k, v := range p.per {
		out[k] = v
	}
	return out
}

func TestAttackStopsAfterItsLimit(t *testing.T) {
	t.Parallel()
	p := &payments{per: map[string]int{}}
	ts := httptest.NewServer(p)
	t.Cleanup(ts.Close)
	customers := []string{"a", "b", "c", "d", "e", "f", "g"}

	// No duration: only the limit ends the attack.
	attackPaymentsN(&server{commandURL: ts.URL, token: "t"}, customers, 3, 0, 7)

	require.Equal(t, map[string]int{"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1, "g": 1}, p.counts(),
		"one pass pays each customer exactly once")
}

// The warm-up's timed part starts only once every customer had its first payment, however long
// those took: a cold customer's first payment is what the measured window must not hold.
func TestWarmUpPaysEveryCustomerFirst(t *testing.T) {
	t.Parallel()
	p := &payments{per: map[string]int{}, slow: 300 * time.Millisecond}
	ts := httptest.NewServer(p)
	t.Cleanup(ts.Close)
	customers := make([]string, 40)
	for i := range customers {
		customers[i] = string(rune('A' + i))
	}

	// 40 cold customers at 300 ms each over 4 clients take 3 s: longer than the 100 ms the
	// warm-up runs by time.
	warmUp(&server{commandURL: ts.URL, token: "t"}, customers, 4, 100*time.Millisecond)

	counts := p.counts()
	require.Len(t, counts, len(customers), "every customer was paid during the warm-up")
	for _, c := range customers {
		require.GreaterOrEqual(t, counts[c], 1, c)
	}
}
