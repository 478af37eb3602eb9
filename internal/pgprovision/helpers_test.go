package pgprovision

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
)

// testTimeout bounds each test's PostgreSQL work.
const testTimeout = 2 * time.Minute

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), testTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// skipIfShort skips tests that start or need a PostgreSQL server under `go test -short`.
func skipIfShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts or needs a PostgreSQL server; skipped with -short")
	}
}

// unusedAddr returns a loopback host:port nobody listens on (it was free a moment ago).
func unusedAddr(tb testing.TB) string {
	tb.Helper()
	port, err := freePort(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return net.JoinHostPort(loopbackHost, strconv.Itoa(port))
}

// reachableDir returns a new directory that the account the binaries run as (the postgres
// system user when the tests run as root) can pass through. t.TempDir is not: its parents
// are mode 0700. It is removed after the test, after cleanups registered later (Stop).
func reachableDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "pgprovision-test-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// requireBinaries skips the test when the machine has no PostgreSQL server binaries.
func requireBinaries(tb testing.TB) {
	tb.Helper()
	if _, err := findBinaries(defaultBinDirs(tb.Context()), ""); err != nil {
		tb.Skip("no PostgreSQL server binaries (initdb, pg_ctl, postgres) on this machine; " +
			"install postgresql to run this test")
	}
}

// randomName returns a database name unique to this run, so parallel tests never collide.
func randomName(tb testing.TB, prefix string) string {
	tb.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return prefix + "_" + hex.EncodeToString(b)
}

// testLogger writes Provision's log to the test's output.
func testLogger(tb testing.TB) zerolog.Logger {
	tb.Helper()
	return zerolog.New(zerolog.NewTestWriter(tb)).With().Timestamp().Logger()
}

// mustProvision provisions with o and stops what it started after the test.
func mustProvision(tb testing.TB, o Options) *Result {
	tb.Helper()
	res, err := Provision(testContext(tb), o)
	if err != nil {
		tb.Fatalf("Provision: %v", err)
	}
	tb.Cleanup(func() {
		if err := res.Stop(context.Background()); err != nil {
			tb.Errorf("Stop: %v", err)
		}
	})
	return res
}

// mustAnyServer returns a usable server however Provision finds one (the local server when
// it runs, else a private cluster under a temporary directory).
func mustAnyServer(tb testing.TB) *Result {
	tb.Helper()
	requireBinaries(tb)
	db := randomName(tb, "pgprovision_any")
	res := mustProvision(tb, Options{
		Database: db,
		DataDir:  filepath.Join(reachableDir(tb), "postgres"),
		Logger:   testLogger(tb),
	})
	dropDatabaseAfter(tb, res.URL, db)
	return res
}

// withDatabase returns url pointing at database db instead.
func withDatabase(tb testing.TB, rawURL, db string) string {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + db
	return u.String()
}

// mustExec runs sql on url.
func mustExec(tb testing.TB, url, sql string) {
	tb.Helper()
	ctx := testContext(tb)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// mustSelectOne proves url serves queries.
func mustSelectOne(tb testing.TB, url string) {
	tb.Helper()
	ctx := testContext(tb)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		tb.Fatalf("SELECT 1 = %d, %v", one, err)
	}
}

// dropDatabaseAfter drops database db of the server at url when the test ends.
func dropDatabaseAfter(tb testing.TB, url, db string) {
	tb.Helper()
	tb.Cleanup(func() {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			tb.Error(err)
			return
		}
		cfg.Database = "postgres"
		ctx := context.Background()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return // the server is gone (a private cluster already stopped): nothing to drop
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop %s: %v", db, err)
		}
	})
}

// provisionConcurrently runs n Provision calls with o at once; each result is stopped after
// the test.
func provisionConcurrently(tb testing.TB, o Options, n int) []*Result {
	tb.Helper()
	results, errs := make([]*Result, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = Provision(testContext(tb), o)
		})
	}
	close(start)
	wg.Wait()
	for i, res := range results {
		if errs[i] != nil {
			tb.Fatalf("Provision %d: %v", i, errs[i])
		}
		tb.Cleanup(func() { _ = res.Stop(context.Background()) })
	}
	return results
}

// syncBuffer is a bytes.Buffer safe for concurrent loggers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// assertLogged checks how many log lines carry each message so far.
func assertLogged(tb testing.TB, logs *syncBuffer, want map[string]int) {
	tb.Helper()
	for msg, n := range want {
		if got := strings.Count(logs.String(), `"message":"`+msg+`"`); got != n {
			tb.Errorf("%d log lines say %q, want %d", got, msg, n)
		}
	}
}
