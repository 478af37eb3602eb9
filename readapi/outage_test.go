package readapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/readapi"
)

// A query whose database cannot be reached is a 503 with Retry-After naming the kind of
// outage, not a 500: the portal retries it.
func TestDatabaseOutageAnswers503(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u, err := url.Parse(e.pool.Config().ConnString())
	require.NoError(t, err)
	proxy := pgtest.TCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := db.Open(ctx, u.String(), db.Options{AppName: "dotmac-test", MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	e.handler = e.serve(readapi.Config{DB: pool, Auth: e.key, Positions: e.pos, Now: func() time.Time { return fixedNow }})
	tok := e.token("t1")

	e.ok(tok, "/v1/customers")
	proxy.Cut()
	r := e.get(tok, "/v1/customers")
	require.Equal(t, http.StatusServiceUnavailable, r.Status, string(r.Body))
	require.Equal(t, "5", r.Header.Get("Retry-After"))
	require.Equal(t, "connection", r.json(t)["cause"])
	proxy.Restore()
	require.Eventually(t, func() bool { return e.get(tok, "/v1/customers").Status == http.StatusOK },
		20*time.Second, 100*time.Millisecond, "answers again once the database is back")
}
