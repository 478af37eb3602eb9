package forwarder_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/integration/forwarder"
	"github.com/dotmac/ledger/internal/pgtest"
)

// Environment of the child process of TestForwarderKilled.
const (
	childDB     = "DOTMAC_FORWARDER_CHILD_DB"
	childTarget = "DOTMAC_FORWARDER_CHILD_TARGET"
)

const childLeaseTTL = 2 * time.Second

// childStallsAfter is how many events the child publishes before it stalls (waiting to be
// killed): in the middle of its fourth page.
const childStallsAfter = 175

// TestForwarderKilled: a forwarder process killed with SIGKILL in the middle of the feed (its
// lease still held, a page published but not checkpointed) is taken over by another process
// once the lease runs out, which resumes from the checkpoint: every event is in the JetStream
// stream exactly once, the republished ones dropped by their Nats-Msg-Id.
func TestForwarderKilled(t *testing.T) {
	t.Parallel()
	url := pgtest.SchemaURL(t)
	pool := pgtest.PoolOn(t, url, postgres.MigrationSet(), consumer.MigrationSet())
	store, err := postgres.Open(testCtx(t), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	e := &env{pool: pool, store: store}
	head := e.seed(t, 8, "acme", "gulf", "edo")
	raw, stream, _ := natsTarget(t)

	child := exec.Command(os.Args[0], "-test.run=^TestForwarderChild$", "-test.count=1") // #nosec G204 -- this test binary
	child.Env = append(os.Environ(), childDB+"="+url, childTarget+"="+raw)
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	js := natsConn(t)
	eventually(t, "the child forwards part of the feed", func() bool {
		info, err := js.StreamInfo(stream)
		return err == nil && info.State.Msgs >= childStallsAfter
	})
	require.NoError(t, child.Process.Kill()) // SIGKILL: no rollback, no lease release
	_ = child.Wait()
	info, err := js.StreamInfo(stream)
	require.NoError(t, err)
	tg := target(t, raw)
	r := start(t, e, tg.Dial, forwarder.Config{Name: tg.Kind, Prefix: tg.Prefix, Lease: consumer.LeaseConfig{TTL: childLeaseTTL}})
	at, err := r.f.Position(context.Background())
	require.NoError(t, err)
	require.Equal(t, childStallsAfter, int(info.State.Msgs))
	require.Equal(t, 150, int(at), "killed in the fourth page of 50, its 25 events published but not checkpointed")

	waitForwarded(t, r, head)
	msgs := natsMessages(t, stream)
	checkDelivered(t, e.feed(t), msgs, tg.Prefix, false)
	require.Len(t, msgs, int(head))
}

// TestForwarderChild is the process TestForwarderKilled kills: it forwards childStallsAfter
// events, then stalls in the middle of a page until it is killed. Run on its own, it does
// nothing.
func TestForwarderChild(t *testing.T) {
	url, raw := os.Getenv(childDB), os.Getenv(childTarget)
	if url == "" {
		return
	}
	ctx := context.Background()
	pool := pgtest.PoolOn(t, url)
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	tg := target(t, raw)
	sent := 0 // publishes are sequential
	stalling := func(ctx context.Context) (forwarder.Publisher, error) {
		p, err := tg.Dial(ctx)
		if err != nil {
			return nil, err
		}
		return publisherFunc{pub: func(ctx context.Context, topic string, msg *message.Message) error {
			if sent == childStallsAfter {
				select {} // killed here
			}
			sent++
			return p.Publish(ctx, topic, msg)
		}, close: p.Close}, nil
	}
	f, err := forwarder.New(pool, store, stalling, forwarder.Config{Name: tg.Kind, Prefix: tg.Prefix, PageEvents: 50,
		Lease: consumer.LeaseConfig{TTL: childLeaseTTL}})
	require.NoError(t, err)
	_ = f.Run(ctx) // until killed
}
