package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
)

// TestDemoSeedArrivesOnNATS: a server with --forward-to forwards every event of a demo seed to
// NATS JetStream exactly once, in feed order, on <prefix>.<tenant>.<type>; its /readyz checks
// the forwarder and its /metrics show the forwarder's series.
func TestDemoSeedArrivesOnNATS(t *testing.T) {
	t.Parallel()
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	require.NoError(t, err, "NATS with JetStream must run on 127.0.0.1:4222 (.ci/run starts it)")
	t.Cleanup(nc.Close)
	js, err := nc.JetStream()
	require.NoError(t, err)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	stream, prefix := "SERVETEST_"+hex.EncodeToString(b), "servetest"+hex.EncodeToString(b)
	t.Cleanup(func() { _ = js.DeleteStream(stream) })

	url := pgtest.SchemaURL(t)
	s := startServerOn(t, url, "--process-managers=false",
		"--forward-to", "nats://127.0.0.1:4222?stream="+stream+"&prefix="+prefix)
	root, _ := newRoot()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"demo", "seed", "--database-url", url, "--customers", "12", "--months", "3", "--seed", "3", "--log-level", "warn"})
	require.NoError(t, root.ExecuteContext(t.Context()))

	ctx := t.Context()
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	var head uint64
	require.NoError(t, pool.QueryRow(ctx, `SELECT max(position) FROM es_events`).Scan(&head))
	require.Eventually(t, func() bool {
		info, err := js.StreamInfo(stream)
		return err == nil && info.State.Msgs >= head
	}, 2*time.Minute, 50*time.Millisecond, "every event of the seed reaches the stream")

	info, err := js.StreamInfo(stream)
	require.NoError(t, err)
	require.Equal(t, head, info.State.Msgs, "once each")
	ids := map[string]bool{}
	last := uint64(0)
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := js.GetMsg(stream, seq)
		require.NoError(t, err)
		var ev struct{ ID, Type, Tenant, Position string }
		require.NoError(t, json.Unmarshal(m.Data, &ev))
		require.Equal(t, ev.ID, m.Header.Get(nats.MsgIdHdr))
		require.Equal(t, prefix+"."+ev.Tenant+"."+ev.Type, m.Subject)
		require.False(t, ids[ev.ID])
		ids[ev.ID] = true
		var pos uint64
		require.NoError(t, json.Unmarshal([]byte(ev.Position), &pos))
		require.Greater(t, pos, last, "feed order")
		last = pos
	}

	r := ready(t, s.command)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	checks, _ := r.json(t)["checks"].(map[string]any)
	assert.Contains(t, checks, "forwarder")
	metrics := get(t, s.admin+"/metrics")
	for _, name := range []string{"dotmac_forwarder_lag_events", "dotmac_forwarder_published_total",
		"dotmac_forwarder_errors_total", "dotmac_forwarder_last_published_position"} {
		assert.Contains(t, metrics, name+`{sink="nats"}`)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return strings.TrimSpace(string(body))
}
