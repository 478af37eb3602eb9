package commands_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/admission"
)

// countingElastic is an elastic controller that counts its admissions and the most units it
// let run at once.
type countingElastic struct {
	commands.Elastic
	admitted, running, most atomic.Int64
}

func (c *countingElastic) Admit(ctx context.Context) (func(), error) {
	done, err := c.Elastic.Admit(ctx)
	if err != nil {
		return nil, err
	}
	c.admitted.Add(1)
	n := c.running.Add(1)
	for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
	}
	return func() { c.running.Add(-1); done() }, nil
}

// announcingElastic is a controller that closes entered when Admit is first called.
type announcingElastic struct {
	*admission.Controller
	entered chan struct{}
	once    sync.Once
}

func (a *announcingElastic) Admit(ctx context.Context) (func(), error) {
	a.once.Do(func() { close(a.entered) })
	return a.Controller.Admit(ctx)
}

// TestBillingRunGivesWayToTheForegroundAndBillsEveryoneOnce: while the foreground is slow
// (a request taking a second observed over and over) the controller's allowance falls to its
// floor (one group at a time), yet the run bills every customer once and completes; every group
// went through the controller.
func TestBillingRunGivesWayToTheForegroundAndBillsEveryoneOnce(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	customers := billableCustomers(t, f, newHandlers(f.store), 24)
	// The controller's clock moves only with the pressure below: every interval has its slow
	// request, however the host schedules the goroutines.
	var clock atomic.Int64
	ctrl, err := admission.New(admission.Config{Max: commands.BillingRunWorkers, Interval: time.Millisecond,
		Now: func() time.Time { return now.Add(time.Duration(clock.Load())) }})
	require.NoError(t, err)
	elastic := &countingElastic{Elastic: ctrl}
	h, err := commands.New(commands.Config{Store: f.store, Numbers: pgstore.NewNumbers(f.pool, pgstore.Options{}),
		Index: pgstore.NewIndex(f.pool, f.store), Now: func() time.Time { return now }, Elastic: elastic})
	require.NoError(t, err)
	period := domain.DateOf(now).Period()

	pressure, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { // the portal, slow: the allowance stays at its floor
		for pressure.Err() == nil {
			ctrl.Observe(time.Second)
			clock.Add(int64(time.Millisecond))
			time.Sleep(100 * time.Microsecond)
		}
	})
	require.Eventually(t, func() bool { return ctrl.Allowance() <= admission.MinAllowance }, 10*time.Second, time.Millisecond)

	res, err := h.RunBilling(context.Background(), f.meta, commands.RunBilling{Period: period, DueDays: 14})
	stop()
	wg.Wait()
	require.NoError(t, err)
	assert.True(t, res.Completed)
	assert.Equal(t, 24, res.CustomersInvoiced)
	requireNumbers(t, requireBilledOnce(t, f, h, customers, period), 24)
	assert.Equal(t, int64(commands.BillingRunWorkers), elastic.admitted.Load(), "every group was admitted")
	assert.Equal(t, int64(1), elastic.most.Load(), "at the floor one group runs at a time")
}

// TestBillingRunStopsWhileWaitingForItsAllowance: a run waiting for the controller stops with
// its context's error, and a later run bills everyone once.
func TestBillingRunStopsWhileWaitingForItsAllowance(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	customers := billableCustomers(t, f, newHandlers(f.store), 8)
	ctrl, err := admission.New(admission.Config{Max: 1})
	require.NoError(t, err)
	waiting := &announcingElastic{Controller: ctrl, entered: make(chan struct{})}
	h, err := commands.New(commands.Config{Store: f.store, Numbers: pgstore.NewNumbers(f.pool, pgstore.Options{}),
		Index: pgstore.NewIndex(f.pool, f.store), Now: func() time.Time { return now }, Elastic: waiting})
	require.NoError(t, err)
	period := domain.DateOf(now).Period()

	held, err := ctrl.Admit(context.Background()) // the only unit, taken
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.RunBilling(ctx, f.meta, commands.RunBilling{Period: period, DueDays: 14})
		done <- err
	}()
	<-waiting.entered // the run asks for its first group's allowance
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	held()

	res, err := h.RunBilling(context.Background(), f.meta, commands.RunBilling{Period: period, DueDays: 14})
	require.NoError(t, err)
	assert.True(t, res.Completed)
	requireNumbers(t, requireBilledOnce(t, f, h, customers, period), 8)
}

// TestBillingRunProgressSaysItYields: while the controller holds the run below full speed,
// the running job's progress says it is yielding; a controller at full speed does not.
func TestBillingRunProgressSaysItYields(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	customers := billableCustomers(t, f, newHandlers(f.store), 4)
	var clock atomic.Int64
	ctrl, err := admission.New(admission.Config{Max: 2, Interval: time.Hour,
		Now: func() time.Time { return now.Add(time.Duration(clock.Load())) }})
	require.NoError(t, err)
	waiting := &announcingElastic{Controller: ctrl, entered: make(chan struct{})}
	h, err := commands.New(commands.Config{Store: f.store, Numbers: pgstore.NewNumbers(f.pool, pgstore.Options{}),
		Index: pgstore.NewIndex(f.pool, f.store), Now: func() time.Time { return now }, Elastic: waiting})
	require.NoError(t, err)
	period := domain.DateOf(now).Period()

	held, err := ctrl.Admit(context.Background())
	require.NoError(t, err)
	ctrl.Observe(time.Second) // a slow request, then the interval ends: one unit at a time
	clock.Add(int64(time.Hour))
	require.InDelta(t, 1.0, ctrl.Allowance(), 1e-9)
	job, _, err := h.StartBillingJob(context.Background(), context.Background(), f.meta, commands.RunBilling{Period: period, DueDays: 14})
	require.NoError(t, err)
	<-waiting.entered // the job waits for its first group's allowance
	prog, err := h.BillingRunProgress(context.Background(), f.meta.Tenant, period)
	require.NoError(t, err)
	assert.Equal(t, commands.BillingRunRunning, prog.Status)
	assert.True(t, prog.Yielding)

	held()
	<-job.Done()
	_, err = job.Result()
	require.NoError(t, err)
	prog, err = h.BillingRunProgress(context.Background(), f.meta.Tenant, period)
	require.NoError(t, err)
	assert.Equal(t, commands.BillingRunCompleted, prog.Status)
	assert.False(t, prog.Yielding)
	requireBilledOnce(t, f, h, customers, period)
}
