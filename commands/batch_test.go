package commands_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// gatedStore holds the first append to a stream until open is closed, so that the commands
// arriving meanwhile queue up, and counts the appends and their sizes.
type gatedStore struct {
	eventstore.Store
	stream  string
	blocked chan struct{} // closed when the first append to stream waits
	open    chan struct{}

	mu      sync.Mutex
	appends []int // events per append to stream
}

func newGatedStore(s eventstore.Store) *gatedStore {
	return &gatedStore{Store: s, blocked: make(chan struct{}), open: make(chan struct{})}
}

func (g *gatedStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if stream == g.stream {
		g.mu.Lock()
		first := len(g.appends) == 0
		g.appends = append(g.appends, len(events))
		g.mu.Unlock()
		if first {
			close(g.blocked)
			<-g.open
		}
	}
	return g.Store.Append(ctx, stream, expected, events...)
}

func (g *gatedStore) counts() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.appends)
}

// batchFixture: a customer owing on three issued invoices (100.00, 50.00, 30.00, oldest
// first) and handlers over a gated store of its stream.
type batchFixture struct {
	*fixture
	h        *commands.Handlers
	gate     *gatedStore
	customer domain.CustomerID
	invoices []domain.InvoiceID
	stream   string
}

func newBatchFixture(t *testing.T) *batchFixture {
	t.Helper()
	f, newHandlers := newFixture(t)
	setup := newHandlers(f.store)
	customer := f.register(setup)
	ctx := context.Background()
	var invoices []domain.InvoiceID
	for _, amount := range []string{"100.00", "50.00", "30.00"} {
		res, err := setup.CreateInvoice(ctx, f.meta, commands.CreateInvoice{CustomerID: customer, Lines: []domain.LineInput{{
			Description: "Fiber", Quantity: domain.QuantityOne(), UnitPrice: usd(t, amount)}}})
		require.NoError(t, err)
		id, err := domain.ParseInvoiceID(res.ID)
		require.NoError(t, err)
		_, err = setup.IssueInvoice(ctx, f.meta, commands.IssueInvoice{CustomerID: customer, InvoiceID: id, DueDate: domain.DateOf(now).AddDays(14)})
		require.NoError(t, err)
		invoices = append(invoices, id)
	}
	gate := newGatedStore(f.store)
	gate.stream = domain.CustomerStream(f.meta.Tenant, customer)
	return &batchFixture{fixture: f, h: newHandlers(gate), gate: gate, customer: customer, invoices: invoices, stream: gate.stream}
}

// pay records a payment of amount with m (the fixture's Meta when m is nil).
func (f *batchFixture) pay(amount string, m *commands.Meta) (commands.Result, error) {
	meta := f.meta
	if m != nil {
		meta = *m
	}
	return f.h.RecordPayment(context.Background(), meta, commands.RecordPayment{CustomerID: f.customer,
		Amount: usd(f.t, amount), Method: domain.PaymentMethodCard})
}

// hold starts one payment that holds the stream's first append, and returns its answer.
func (f *batchFixture) hold() <-chan error {
	first := make(chan error, 1)
	go func() {
		_, err := f.pay("1.00", nil)
		first <- err
	}()
	<-f.gate.blocked
	return first
}

// queued waits until n commands wait in the stream's queue.
func (f *batchFixture) queued(n int) {
	f.t.Helper()
	require.Eventually(f.t, func() bool { return commands.Waiting(f.h, f.stream) == n }, 10*time.Second, 5*time.Millisecond,
		"%d commands queued", n)
}

// TestCommandsOfOneStreamShareAnAppend: payments arriving while one is being appended are
// decided in order and appended together, in one append; each caller gets its own version
// and the position of its own last event; together they settle exactly their sum, oldest
// invoice first, nothing allocated twice.
func TestCommandsOfOneStreamShareAnAppend(t *testing.T) {
	t.Parallel()
	f := newBatchFixture(t)
	first := f.hold()

	const n = 20
	type answer struct {
		res    commands.Result
		err    error
		amount string
	}
	answers := make(chan answer, n)
	for i := range n {
		amount := fmt.Sprintf("%d.25", i+1) // 1.25 .. 20.25: 215.00 in all, more than the 180.00 owed
		go func() {
			res, err := f.pay(amount, nil)
			answers <- answer{res, err, amount}
		}()
	}
	f.queued(n)
	close(f.gate.open)
	require.NoError(t, <-first)

	versions := map[uint64]bool{}
	byVersion := map[uint64]commands.Result{}
	for range n {
		a := <-answers
		require.NoError(t, a.err, "payment of %s", a.amount)
		require.Len(t, a.res.Events, 1)
		assert.False(t, versions[a.res.Version], "version %d answered twice", a.res.Version)
		versions[a.res.Version] = true
		byVersion[a.res.Version] = a.res
	}
	assert.Equal(t, []int{1, n}, f.gate.counts(), "the held append, then one append for every payment that waited")

	// Each answer names its own event: the stored event at its version has its position.
	envs, err := f.store.ReadStream(context.Background(), f.stream, 1, eventstore.Forwards, 1000)
	require.NoError(t, err)
	for _, env := range envs {
		if res, ok := byVersion[env.Version]; ok {
			assert.Equal(t, env.Position, res.Position, "position of version %d", env.Version)
			paid, ok := res.Events[0].(domain.PaymentRecorded)
			require.True(t, ok, "a payment")
			assert.Equal(t, paid.PaymentID.String(), res.ID)
		}
	}

	a, _, err := f.h.Account(context.Background(), f.meta.Tenant, f.customer)
	require.NoError(t, err)
	paid := decimal.Zero
	allocated := map[domain.InvoiceID]decimal.Decimal{}
	for p := range a.Payments() {
		paid = paid.Add(p.Amount.Amount())
		for _, al := range p.Allocations {
			allocated[al.InvoiceID] = allocated[al.InvoiceID].Add(al.Amount.Amount())
		}
	}
	assert.Equal(t, "216.00", paid.StringFixed(2), "every payment recorded once (1.00 held + 215.00)")
	for i, id := range f.invoices {
		inv := a.Invoices[id]
		assert.True(t, inv.Outstanding.IsZero(), "invoice %d settled", i)
		assert.Equal(t, inv.Total.Amount().StringFixed(2), allocated[id].StringFixed(2), "invoice %d allocated exactly its total", i)
	}
	assert.Equal(t, "36.00", a.Credit.Amount().StringFixed(2), "216.00 paid - 180.00 owed is credit")
	assert.Zero(t, commands.Streams(f.h), "a stream's lock entry is dropped once nothing waits for it")
}

// TestARefusalInABatchIsItsOwn: a command refused inside a batch gets its own error; the
// commands around it are appended.
func TestARefusalInABatchIsItsOwn(t *testing.T) {
	t.Parallel()
	f := newBatchFixture(t)
	first := f.hold()
	ok1, bad, ok2 := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	go func() { _, err := f.pay("5.00", nil); ok1 <- err }()
	f.queued(1)
	go func() {
		_, err := f.h.RecordPayment(context.Background(), f.meta, commands.RecordPayment{CustomerID: f.customer,
			Amount: eur(t, "5.00"), Method: domain.PaymentMethodCard})
		bad <- err
	}()
	f.queued(2)
	go func() { _, err := f.pay("7.00", nil); ok2 <- err }()
	f.queued(3)
	close(f.gate.open)
	require.NoError(t, <-first)
	require.NoError(t, <-ok1)
	require.NoError(t, <-ok2)
	var mismatch *domain.CurrencyMismatchError
	require.ErrorAs(t, <-bad, &mismatch)
	assert.Equal(t, []int{1, 2}, f.gate.counts())
}

// TestTheSameCommandTwiceInABatchRunsOnce: a retry racing its original (same command id,
// Recovering) in one batch waits for the original's append and answers its result.
func TestTheSameCommandTwiceInABatchRunsOnce(t *testing.T) {
	t.Parallel()
	f := newBatchFixture(t)
	first := f.hold()
	m := f.meta
	m.CommandID, m.Recovering = uuid.Must(uuid.NewV7()), true
	answers := make(chan commands.Result, 2)
	for i := range 2 {
		go func() {
			res, err := f.pay("12.00", &m)
			assert.NoError(t, err)
			answers <- res
		}()
		f.queued(i + 1)
	}
	close(f.gate.open)
	require.NoError(t, <-first)
	a, b := <-answers, <-answers
	assert.Equal(t, a.ID, b.ID)
	assert.Equal(t, a.Version, b.Version)
	account, _, err := f.h.Account(context.Background(), f.meta.Tenant, f.customer)
	require.NoError(t, err)
	assert.Equal(t, 2, account.PaymentCount(), "the held payment and one of 12.00")
}

// TestACallerGivingUpDoesNotCancelTheBatch: the batch's append goes on for the others when
// the caller that leads it goes away.
func TestACallerGivingUpDoesNotCancelTheBatch(t *testing.T) {
	t.Parallel()
	f := newBatchFixture(t)
	first := f.hold()
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() {
		_, err := f.h.RecordPayment(ctx, f.meta, commands.RecordPayment{CustomerID: f.customer,
			Amount: usd(t, "3.00"), Method: domain.PaymentMethodCard})
		gone <- err
	}()
	f.queued(1)
	stays := make(chan error, 1)
	go func() { _, err := f.pay("4.00", nil); stays <- err }()
	f.queued(2)
	cancel()
	require.ErrorIs(t, <-gone, context.Canceled)
	close(f.gate.open)
	require.NoError(t, <-first)
	require.NoError(t, <-stays)
	account, _, err := f.h.Account(context.Background(), f.meta.Tenant, f.customer)
	require.NoError(t, err)
	assert.Equal(t, 2, account.PaymentCount(), "the held payment and the one of 4.00; the withdrawn 3.00 never ran")
}

// TestBatchesOfTwoProcessesRaceSafely: two processes, each with many concurrent payments on
// one customer, batch and conflict with each other; every payment answered OK is recorded
// once, every other one answered a ConflictError, and the allocations are exact.
func TestBatchesOfTwoProcessesRaceSafely(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	procs := []*commands.Handlers{newHandlers(f.store), newHandlers(f.store)}
	customer := f.register(procs[0])
	var wg sync.WaitGroup
	var mu sync.Mutex
	okSum, okCount, conflicts := decimal.Zero, 0, 0
	for p := range procs {
		for range 16 {
			wg.Go(func() {
				for range 4 {
					res, err := procs[p].RecordPayment(context.Background(), f.meta, commands.RecordPayment{CustomerID: customer,
						Amount: usd(t, "2.50"), Method: domain.PaymentMethodCard})
					var conflict *commands.ConflictError
					if errors.As(err, &conflict) {
						// Given up after a bounded number of decisions, naming the stream's
						// version that beat it (the 409's stream_version).
						assert.LessOrEqual(t, conflict.Attempts, commands.DefaultMaxAttempts)
						assert.Greater(t, conflict.Actual, conflict.Expected, "the stream's version in %v", conflict)
						mu.Lock()
						conflicts++
						mu.Unlock()
						continue
					}
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					okSum, okCount = okSum.Add(decimal.RequireFromString("2.50")), okCount+1
					mu.Unlock()
					assert.NotZero(t, res.Position)
				}
			})
		}
	}
	wg.Wait()
	a, _, err := procs[0].Account(context.Background(), f.meta.Tenant, customer)
	require.NoError(t, err)
	assert.Equal(t, okCount, a.PaymentCount())
	assert.Equal(t, okSum.StringFixed(2), a.Credit.Amount().StringFixed(2))
	assert.Positive(t, okCount)
	assert.Equal(t, 2*16*4, okCount+conflicts, "every payment answered OK or a conflict")
}

func eur(t *testing.T, amount string) domain.Money {
	t.Helper()
	m, err := domain.ParseMoney(amount, "EUR")
	require.NoError(t, err)
	return m
}
