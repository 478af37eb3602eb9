package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestAcceptance runs every scenario file of testdata/acceptance through the public HTTP APIs
// of a real `dotmac serve` (all roles, in this process, on its own schema): see the header of
// billing-examples.yaml for what a scenario says and what is checked after every step.
func TestAcceptance(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/acceptance/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(file) // #nosec G304 -- the test's own scenario files
			require.NoError(t, err)
			var sc scenario
			require.NoError(t, yaml.Unmarshal(raw, &sc))
			newRunner(t, startServer(t), sc).run()
		})
	}
}

// scenario is one acceptance file.
type scenario struct {
	Tenant string `yaml:"tenant"`
	Plans  []struct {
		Code, Name, Price, Currency string
		TaxRate                     string `yaml:"tax_rate"`
	} `yaml:"plans"`
	Customers []struct{ Name, Currency string } `yaml:"customers"`
	Steps     []step                            `yaml:"steps"`
}

// step is one command and what must follow from it.
type step struct {
	Name      string `yaml:"name"`
	Subscribe *struct {
		Customer, Service, Plan, On string
	} `yaml:"subscribe"`
	Run        string `yaml:"run"`
	ChangePlan *struct {
		Service, To, On string
	} `yaml:"change_plan"`
	Terminate *struct {
		Service string
		LastDay string `yaml:"last_day"`
	} `yaml:"terminate"`
	Pay *struct {
		Customer, Amount, Received string
	} `yaml:"pay"`
	Adjustment []string            `yaml:"adjustment"` // nil: not checked; []: none issued
	Scheduled  bool                `yaml:"scheduled"`
	Lines      map[string][]string `yaml:"lines"`
	Totals     map[string]string   `yaml:"totals"`
	Balances   map[string]string   `yaml:"balances"`
	Credits    map[string]string   `yaml:"credits"` // customer credit (2200)
	Open       map[string][]string `yaml:"open"`    // each open invoice's "status outstanding", sorted
}

// server is a running `dotmac serve`.
type server struct {
	command, query string // base URLs
	admin          string // base URL of the admin listener
	key            *auth.Key
	dbURL          string // the database (schema) it serves
}

// startServer runs `dotmac serve` in this process on a fresh schema, until the test ends,
// without process managers: the calendar is back-dated, and no overdue sweep or dunning may
// step into the figures.
func startServer(t *testing.T) *server {
	t.Helper()
	return startServerOn(t, pgtest.SchemaURL(t), "--process-managers=false")
}

// startServerOn runs `dotmac serve` in this process on the database url, with extra flags,
// until the test ends.
func startServerOn(t *testing.T, url string, extra ...string) *server {
	t.Helper()
	secret := strings.Repeat("acceptance-secret-", 3)
	// Every listener on port 0: serve tells the ports it bound (listeningKey), so no other
	// test process can take a port between choosing it and listening on it.
	root, _ := newRoot()
	root.SetArgs(append([]string{"serve", "--database-url", url, "--command-addr", "127.0.0.1:0", "--query-addr", "127.0.0.1:0",
		"--admin-addr", "127.0.0.1:0", "--jwt-secret", secret, "--data-dir", t.TempDir(), "--log-level", "warn", "--log-format", "json"}, extra...))
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	bound := make(chan map[string]net.Addr, 1)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), listeningKey{}, func(addrs map[string]net.Addr) { bound <- addrs }))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	stopped := false // done was read
	t.Cleanup(func() {
		cancel()
		if stopped {
			return
		}
		select {
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("serve did not stop within a minute")
		}
	})
	key, err := auth.HS256([]byte(secret))
	require.NoError(t, err)
	var addrs map[string]net.Addr
	select {
	case addrs = <-bound:
	case err := <-done:
		stopped = true
		t.Fatalf("serve stopped before it listened: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("serve did not listen within two minutes")
	}
	base := func(api string) string {
		if a, ok := addrs[api]; ok {
			return "http://" + a.String()
		}
		return "http://127.0.0.1:1" // not served by this process: refused
	}
	s := &server{command: base(roleCommand), query: base(roleQuery), admin: base(adminAPI), key: key, dbURL: url}
	var bases []string
	for _, api := range []string{adminAPI, roleCommand, roleQuery} {
		if _, ok := addrs[api]; ok {
			bases = append(bases, base(api))
		}
	}
	for _, b := range bases {
		require.Eventually(t, func() bool {
			resp, err := http.Get(b + "/healthz") // #nosec G107 -- loopback test server
			if err != nil {
				return false
			}
			_ = resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, 2*time.Minute, 50*time.Millisecond, "serve on %s", b)
	}
	return s
}

// reply is an HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m), "%s", r.body)
	return m
}

func (s *server) do(t *testing.T, method, url, token, key string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// dec parses a decimal string the API returned.
func dec(t *testing.T, v any) decimal.Decimal {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "want a decimal string, got %v", v)
	d, err := decimal.NewFromString(s)
	require.NoError(t, err)
	return d
}

func amountOf(t *testing.T, money any) decimal.Decimal {
	t.Helper()
	m, ok := money.(map[string]any)
	require.True(t, ok, "want money, got %v", money)
	return dec(t, m["amount"])
}

func position(t *testing.T, m map[string]any) uint64 {
	t.Helper()
	n, ok := m["position"].(json.Number)
	require.True(t, ok, "no position in %v", m)
	p, err := strconv.ParseUint(n.String(), 10, 64)
	require.NoError(t, err)
	return p
}
