package webhooks_test

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/integration/webhooks"
	"github.com/dotmac/ledger/internal/pgtest"
)

// env is one test's database, event store and webhooks service.
type env struct {
	pool  *pgxpool.Pool
	store *postgres.Store
	svc   *webhooks.Service
}

// testConfig delivers fast: millisecond backoffs, a short poll, loopback allowed.
func testConfig() webhooks.Config {
	return webhooks.Config{Guard: webhooks.Guard{AllowLoopback: true}, Workers: 8, PerEndpoint: 2, Timeout: 5 * time.Second,
		MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, Poll: 5 * time.Millisecond, LagInterval: 50 * time.Millisecond,
		Lease: consumer.LeaseConfig{TTL: 3 * time.Second}}
}

func newEnv(t testing.TB, cfg webhooks.Config) *env {
	t.Helper()
	pool := pgtest.Pool(t, postgres.MigrationSet(), consumer.MigrationSet(), webhooks.MigrationSet())
	store, err := postgres.Open(testCtx(t), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	svc, err := webhooks.New(pool, store, cfg)
	require.NoError(t, err)
	return &env{pool: pool, store: store, svc: svc}
}

// run runs the service until the test ends.
func (e *env) run(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// register adds an endpoint of tenant at url, receiving the events after the head.
func (e *env) register(t testing.TB, tenant, url string, types ...string) (webhooks.Endpoint, string) {
	t.Helper()
	key := uuid.NewString()
	sum := sha256.Sum256([]byte(key))
	ep, secret, replayed, err := e.svc.Store().Create(testCtx(t), webhooks.NewEndpoint{Tenant: tenant, URL: url, EventTypes: types,
		Secret: webhooks.NewSecret(), Enabled: true, IdempotencyKey: key, RequestHash: sum[:]}, time.Now(), e.store.Head)
	require.NoError(t, err)
	require.False(t, replayed)
	return ep, secret
}

// registerCustomer appends a CustomerRegistered of tenant and returns its event id and position.
func (e *env) registerCustomer(t testing.TB, tenant string) (string, eventstore.Position) {
	t.Helper()
	tid, err := domain.ParseTenantID(tenant)
	require.NoError(t, err)
	u, _ := uuid.NewV7()
	cid, err := domain.NewCustomerID(u)
	require.NoError(t, err)
	usd, err := domain.ParseCurrency("USD")
	require.NoError(t, err)
	ev := domain.CustomerRegistered{CustomerID: cid, Name: "Ada", Email: "ada@example.org", Currency: usd,
		RegisteredAt: time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)}
	data, err := codec.Encode(eventstore.Metadata{TenantID: tenant, Actor: "test"}, ev)
	require.NoError(t, err)
	res, err := e.store.Append(testCtx(t), domain.CustomerStream(tid, cid), eventstore.NoStream(), data...)
	require.NoError(t, err)
	return data[0].ID.String(), res.LastPosition
}

// delivery returns the endpoint's only delivery of event id.
func (e *env) delivery(t testing.TB, ep webhooks.Endpoint, eventID string) (webhooks.Delivery, bool) {
	t.Helper()
	ds, _, err := e.svc.Store().Deliveries(testCtx(t), ep.Tenant, ep.ID, "", nil, 500)
	require.NoError(t, err)
	for _, d := range ds {
		if d.EventID.String() == eventID {
			return d, true
		}
	}
	return webhooks.Delivery{}, false
}

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
	status int
}

// receiver is an HTTP endpoint that answers with respond(n) to its n-th request (from 1)
// and records every request.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []received
	n       atomic.Int64
	active  atomic.Int64
	maxSeen atomic.Int64
}

func newReceiver(t testing.TB, respond func(n int64, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur := rc.active.Add(1)
		defer rc.active.Add(-1)
		for {
			m := rc.maxSeen.Load()
			if cur <= m || rc.maxSeen.CompareAndSwap(m, cur) {
				break
			}
		}
		body, _ := io.ReadAll(r.Body)
		status := respond(rc.n.Add(1), r)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body, status: status})
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// oks counts the requests answered 2xx.
func (rc *receiver) oks() int {
	n := 0
	for _, r := range rc.requests() {
		if r.status/100 == 2 {
			n++
		}
	}
	return n
}

func always(status int) func(int64, *http.Request) int {
	return func(int64, *http.Request) int { return status }
}

// waitDelivered waits until the endpoint's delivery of event id is delivered after attempts
// attempts.
func (e *env) waitDelivered(t testing.TB, ep webhooks.Endpoint, eventID string, attempts int) {
	t.Helper()
	require.Eventually(t, func() bool {
		d, ok := e.delivery(t, ep, eventID)
		return ok && d.Status == webhooks.StatusDelivered && d.Attempts == attempts
	}, 30*time.Second, 5*time.Millisecond)
}
