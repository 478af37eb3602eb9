package consumer_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
)

func TestCatchUpAppliesEveryEventOnce(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	ctx := testCtx(t)
	c := mustConsumer(t, e, "test.index", record("p"), consumer.Config{PageEvents: 10})
	head := e.appendEvents(t, 25)
	require.NoError(t, c.CatchUp(ctx))
	n, _ := e.applied(t, 0)
	assert.Equal(t, 25, n)
	pos, err := c.Position(ctx)
	require.NoError(t, err)
	assert.Equal(t, head, pos)

	head = e.appendEvents(t, 5)
	require.NoError(t, c.CatchUp(ctx))
	require.NoError(t, c.CatchUp(ctx), "nothing new: nothing applied")
	n, _ = e.applied(t, 0)
	assert.Equal(t, 30, n)
	pos, err = c.Position(ctx)
	require.NoError(t, err)
	assert.Equal(t, head, pos)
}

// TestCatchUpToSkipsWhatACatchUpReached: a reader needing the events up to a position its
// process has caught up to already reads nothing; one needing more, or asking for the head
// (0), catches up to the head; and a catch-up of another process, which this one cannot know
// of, does not count.
func TestCatchUpToSkipsWhatACatchUpReached(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	ctx := testCtx(t)
	c := mustConsumer(t, e, "test.index", record("p"), consumer.Config{PageEvents: 10})
	assert.Zero(t, c.Reached(), "no catch-up yet")
	first := e.appendEvents(t, 12)
	require.NoError(t, c.CatchUpTo(ctx, first))
	assert.Equal(t, first, c.Reached())

	head := e.appendEvents(t, 3)
	require.NoError(t, c.CatchUpTo(ctx, first), "reached already")
	require.NoError(t, c.CatchUpTo(ctx, first-5), "reached already")
	n, _ := e.applied(t, 0)
	assert.Equal(t, 12, n, "nothing read for a position reached")

	require.NoError(t, c.CatchUpTo(ctx, first+1))
	n, _ = e.applied(t, 0)
	assert.Equal(t, 15, n, "a position not reached catches up to the head")
	assert.Equal(t, head, c.Reached())

	head = e.appendEvents(t, 2)
	require.NoError(t, c.CatchUpTo(ctx, 0))
	n, _ = e.applied(t, 0)
	assert.Equal(t, 17, n, "0 catches up to the head")
	assert.Equal(t, head, c.Reached())

	other := mustConsumer(t, e, "test.index", record("q"), consumer.Config{PageEvents: 10})
	head = e.appendEvents(t, 4)
	require.NoError(t, other.CatchUp(ctx))
	assert.Equal(t, head, other.Reached())
	require.NoError(t, c.CatchUpTo(ctx, head), "another process's catch-up: this one looks, finds nothing new")
	assert.Equal(t, head, c.Reached())
	n, _ = e.applied(t, 0)
	assert.Equal(t, 21, n, "every event applied once")
}

// TestCrashMidPageRollsBack: whatever ends a page's transaction early, its rows and the
// checkpoint go together: the first page stays applied, the second is not, and the next
// catch-up applies it once.
func TestCrashMidPageRollsBack(t *testing.T) {
	t.Parallel()
	crashes := map[string]func(ctx context.Context, tx pgx.Tx, cancel context.CancelFunc) error{
		"error": func(context.Context, pgx.Tx, context.CancelFunc) error { return errors.New("boom") },
		"panic": func(context.Context, pgx.Tx, context.CancelFunc) error { panic("boom") },
		"cancelled context": func(ctx context.Context, _ pgx.Tx, cancel context.CancelFunc) error {
			cancel()
			return ctx.Err()
		},
		"killed session": func(ctx context.Context, tx pgx.Tx, _ context.CancelFunc) error {
			_, err := tx.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
			return err
		},
	}
	for name, crash := range crashes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := mustEnv(t)
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			rec := record("p")
			c := mustConsumer(t, e, "test.crash", func(ctx context.Context, tx pgx.Tx, envs []eventstore.Envelope) error {
				if err := rec(ctx, tx, envs); err != nil {
					return err
				}
				if envs[0].Position > 10 {
					return crash(ctx, tx, cancel)
				}
				return nil
			}, consumer.Config{PageEvents: 10})
			head := e.appendEvents(t, 25)
			err := c.CatchUp(ctx)
			require.Error(t, err)
			if name == "panic" {
				assert.ErrorIs(t, err, consumer.ErrHandlerPanic)
			}
			n, _ := e.applied(t, 0)
			assert.Equal(t, 10, n, "the failed page's rows are rolled back")
			pos, err := c.Position(testCtx(t))
			require.NoError(t, err)
			assert.Equal(t, eventstore.Position(10), pos, "with its checkpoint")

			healthy := mustConsumer(t, e, "test.crash", record("p"), consumer.Config{PageEvents: 10})
			require.NoError(t, healthy.CatchUp(testCtx(t)))
			n, _ = e.applied(t, 0)
			assert.Equal(t, 25, n)
			pos, err = healthy.Position(testCtx(t))
			require.NoError(t, err)
			assert.Equal(t, head, pos)
		})
	}
}

// TestTwoProcessesCatchUpInTurns: consumers of one name in two processes (two Consumers)
// catching up at once take turns on the checkpoint row: every event is applied once (the
// handler's primary key would fail a second time).
func TestTwoProcessesCatchUpInTurns(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	head := e.appendEvents(t, 60)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, holder := range []string{"p1", "p2"} {
		c := mustConsumer(t, e, "test.turns", record(holder), consumer.Config{PageEvents: 7})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if err := c.CatchUp(testCtx(t)); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	n, _ := e.applied(t, 0)
	assert.Equal(t, int(head), n) //nolint:gosec // small
}

// TestApplySkipsWhatIsApplied: the live mode's Apply applies only the events after the
// checkpoint.
func TestApplySkipsWhatIsApplied(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	ctx := testCtx(t)
	e.appendEvents(t, 8)
	envs, err := e.store.ReadAll(ctx, 0, 100)
	require.NoError(t, err)
	c := mustConsumer(t, e, "test.apply", record("p"), consumer.Config{})
	require.NoError(t, c.Apply(ctx, envs[:5]))
	require.NoError(t, c.Apply(ctx, envs[3:]), "events 4 and 5 again: skipped")
	n, _ := e.applied(t, 0)
	assert.Equal(t, 8, n)
	pos, err := c.Position(ctx)
	require.NoError(t, err)
	assert.Equal(t, envs[7].Position, pos)
}

// TestCatchUpSkipsPagesWithoutItsTypes: a consumer whose handler acts only on some types moves
// its checkpoint past a page without any of them without calling the handler (once this
// process knows where the checkpoint is); a page with one is applied in a transaction; and a
// checkpoint another process moved meanwhile is never skipped from where this one thought
// it was: every event the handler acts on is applied exactly once.
func TestCatchUpSkipsPagesWithoutItsTypes(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	ctx := testCtx(t)
	var mu sync.Mutex
	calls := map[string]int{}
	wanted := func(holder string) consumer.Handler {
		rec := record(holder)
		return func(ctx context.Context, tx pgx.Tx, envs []eventstore.Envelope) error {
			mu.Lock()
			calls[holder]++
			mu.Unlock()
			var mine []eventstore.Envelope
			for _, env := range envs {
				if env.Type == "Wanted" {
					mine = append(mine, env)
				}
			}
			if len(mine) == 0 {
				return nil
			}
			return rec(ctx, tx, mine)
		}
	}
	callsOf := func(holder string) int {
		mu.Lock()
		defer mu.Unlock()
		return calls[holder]
	}
	cfg := consumer.Config{PageEvents: 10, Types: []string{"Wanted"}}
	c := mustConsumer(t, e, "test.index", wanted("p"), cfg)

	head := e.appendEvents(t, 25)
	require.NoError(t, c.CatchUp(ctx))
	assert.Equal(t, 1, callsOf("p"), "the first page in a transaction (the checkpoint not known yet), the next two skipped")
	pos, err := c.Position(ctx)
	require.NoError(t, err)
	assert.Equal(t, head, pos)

	e.appendEvents(t, 3)
	e.appendTyped(t, "Wanted", 1)
	head = e.appendEvents(t, 2)
	require.NoError(t, c.CatchUp(ctx))
	assert.Equal(t, 2, callsOf("p"), "a page with a wanted event is applied")
	n, holders := e.applied(t, 0)
	assert.Equal(t, 1, n)
	assert.Equal(t, []string{"p"}, holders)
	assert.Equal(t, head, c.Reached())

	// Another process applies what follows, a wanted event past the end of this process's
	// next page included: skipping that page from where this process left the checkpoint
	// would move it back, and the wanted event would be applied twice.
	other := mustConsumer(t, e, "test.index", wanted("q"), cfg)
	e.appendEvents(t, 15)
	head = e.appendTyped(t, "Wanted", 1)
	require.NoError(t, other.CatchUp(ctx))
	require.NoError(t, c.CatchUp(ctx), "the checkpoint moved past where this process left it")
	n, holders = e.applied(t, 0)
	assert.Equal(t, 2, n, "every wanted event applied once")
	assert.ElementsMatch(t, []string{"p", "q"}, holders)
	pos, err = c.Position(ctx)
	require.NoError(t, err)
	assert.Equal(t, head, pos, "never moved back")
	assert.Equal(t, head, c.Reached())
}
