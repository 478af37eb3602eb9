package pgtest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/migrate"
)

// Proxy is a TCP proxy in front of the test server (or any TCP service: TCPProxy) that a test
// cuts (every connection through it is dropped and new ones are refused, as in an outage) and
// restores; the service behind it keeps running.
type Proxy struct {
	ln     net.Listener
	target string
	direct string // the schema's URL, bypassing the proxy

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// ProxiedPool returns a pool on a fresh schema (sets migrated) whose connections go through a
// Proxy, and the proxy; both end with tb.
func ProxiedPool(tb testing.TB, sets ...migrate.Set) (*pgxpool.Pool, *Proxy) {
	tb.Helper()
	u, err := url.Parse(SchemaURL(tb))
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	p := startProxy(tb, u.Host)
	p.direct = u.String()
	u.Host = p.ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := db.Open(ctx, u.String(), db.Options{AppName: "dotmac-test", MaxConns: 24})
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(pool.Close)
	if err := migrate.Up(ctx, pool, sets...); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return pool, p
}

// TCPProxy returns a Proxy in front of target (host:port), listening on Addr, until tb ends.
func TCPProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	return startProxy(tb, target)
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func startProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("pgtest: proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

// Direct returns another pool on the proxied pool's schema that bypasses the proxy, as
// another process would reach the database; closed when tb ends.
func (p *Proxy) Direct(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := db.Open(ctx, p.direct, db.Options{AppName: "dotmac-test", MaxConns: 24})
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// Cut drops every connection through the proxy and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		_ = c.Close()
	}
}

// Restore lets connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve pipes c to the server while the proxy is up.
func (p *Proxy) serve(c net.Conn) {
	defer p.wg.Done()
	if !p.track(c) {
		_ = c.Close()
		return
	}
	defer p.untrack(c)
	var d net.Dialer
	s, err := d.DialContext(context.Background(), "tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(s) {
		_ = s.Close()
		return
	}
	defer p.untrack(s)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go pipe(s, c)
	go pipe(c, s)
	<-done
	<-done
}

// track registers c, or reports false while the proxy is down.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = c.Close()
	delete(p.conns, c)
}

func (p *Proxy) close() {
	err := p.ln.Close()
	p.Cut()
	if err == nil || errors.Is(err, net.ErrClosed) {
		p.wg.Wait()
	}
}
