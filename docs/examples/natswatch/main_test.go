package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// The README's consumer prints the events of its subject from a real JetStream stream.
func TestWatchPrintsInvoiceIssued(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs NATS JetStream (skipped with -short, as the PostgreSQL tests are)")
	}
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	require.NoError(t, err, "NATS with JetStream must run on 127.0.0.1:4222 (.ci/run starts it)")
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	stream, prefix := "WATCHTEST_"+hex.EncodeToString(b), "watchtest"+hex.EncodeToString(b)
	_, err = js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{prefix + ".>"}})
	require.NoError(t, err)
	defer func() { _ = js.DeleteStream(stream) }()
	for i, typ := range []string{"billing.invoice_issued", "billing.payment_recorded", "billing.invoice_issued"} {
		ev := `{"type":"` + typ + `","subject":"inv-` + string(rune('a'+i)) + `","tenant":"demo","position":"` +
			string(rune('1'+i)) + `","data":{"number":"INV-1"}}`
		_, err := js.Publish(prefix+".demo."+typ, []byte(ev))
		require.NoError(t, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- watch(ctx, nats.DefaultURL, stream, prefix+".*.billing.invoice_issued", out) }()
	deadline := time.Now().Add(time.Minute)
	for strings.Count(out.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	require.ErrorIs(t, <-done, jetstream.ErrMsgIteratorClosed)
	require.Equal(t, "demo billing.invoice_issued inv-a #1 {\"number\":\"INV-1\"}\n"+
		"demo billing.invoice_issued inv-c #3 {\"number\":\"INV-1\"}\n", out.String())
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
