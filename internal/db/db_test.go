package db_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestWritable: a database that refuses writes is reported read-only, saying why; once it
// accepts writes again, new sessions are writable.
func TestWritable(t *testing.T) {
	t.Parallel()
	url := pgtest.DatabaseURL(t)
	ctx := context.Background()
	pool, err := db.Open(ctx, url, db.Options{})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, db.Writable(ctx, pool))

	pgtest.SetReadOnly(t, url, true)
	pool.Reset()
	err = db.Writable(ctx, pool)
	require.ErrorIs(t, err, db.ErrReadOnly)
	assert.Contains(t, err.Error(), "transaction_read_only")

	pgtest.SetReadOnly(t, url, false)
	pool.Reset()
	require.NoError(t, db.Writable(ctx, pool))
}

// TestJITIsOff: sessions run without JIT compilation (it cost the MRR report seconds once its
// table had statistics), unless the url asks for it.
func TestJITIsOff(t *testing.T) {
	t.Parallel()
	url := pgtest.DatabaseURL(t)
	ctx := context.Background()
	for want, u := range map[string]string{"off": url, "on": url + sep(url) + "jit=on"} {
		pool, err := db.Open(ctx, u, db.Options{})
		require.NoError(t, err)
		var got string
		require.NoError(t, pool.QueryRow(ctx, "SHOW jit").Scan(&got))
		pool.Close()
		assert.Equal(t, want, got, u)
	}
}

func sep(url string) string {
	if strings.Contains(url, "?") {
		return "&"
	}
	return "?"
}

// TestAfterConnectRunsOnEveryNewConnection: Options.AfterConnect runs once on each connection
// the pool opens, before its first use (serve warms the query API's sessions so).
func TestAfterConnectRunsOnEveryNewConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[uint32]int{}
	pool, err := db.Open(ctx, pgtest.DatabaseURL(t), db.Options{MaxConns: 3, AfterConnect: func(_ context.Context, c *pgx.Conn) error {
		mu.Lock()
		defer mu.Unlock()
		seen[c.PgConn().PID()]++
		return nil
	}})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	conns := make([]*pgxpool.Conn, 3)
	for i := range conns {
		conns[i], err = pool.Acquire(ctx)
		require.NoError(t, err)
	}
	for _, c := range conns {
		mu.Lock()
		assert.Equal(t, 1, seen[c.Conn().PgConn().PID()], "connection %d", c.Conn().PgConn().PID())
		mu.Unlock()
		c.Release()
	}
	// Reused connections are not set up again.
	for range 5 {
		_, err := pool.Exec(ctx, "SELECT 1")
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, seen, 3)
	for pid, n := range seen {
		assert.Equal(t, 1, n, "connection %d", pid)
	}
}

// TestCheckSettings: a session whose synchronous_commit is off is warned of it, one where it
// is on is not, and every other setting warns exactly when the server has its risky value.
func TestCheckSettings(t *testing.T) {
	t.Parallel()
	url := pgtest.DatabaseURL(t)
	ctx := context.Background()
	for _, sc := range []string{"off", "on"} {
		pool, err := db.Open(ctx, url+sep(url)+"synchronous_commit="+sc, db.Options{})
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		warnings, err := db.CheckSettings(ctx, pool)
		require.NoError(t, err)
		got := map[string]db.SettingWarning{}
		for _, w := range warnings {
			got[w.Setting] = w
			assert.NotEmpty(t, w.Risk, w.Setting)
		}
		want := map[string]bool{"synchronous_commit": sc == "off"}
		for name, bad := range map[string]string{"fsync": "off", "full_page_writes": "off", "autovacuum": "off"} {
			var v string
			require.NoError(t, pool.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v))
			want[name] = v == bad
		}
		for name, warned := range want {
			_, ok := got[name]
			assert.Equal(t, warned, ok, "synchronous_commit=%s: warning for %s", sc, name)
			if ok {
				assert.Equal(t, "off", got[name].Value)
			}
		}
		assert.Len(t, got, len(warnings), "one warning per setting")
	}
}
