package process_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// testClock is the injectable business clock shared by the handlers and the managers.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func day(s string) domain.Date {
	d, err := domain.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func period(s string) domain.Period {
	p, err := domain.ParsePeriod(s)
	if err != nil {
		panic(err)
	}
	return p
}

// fixture is a database schema with the event store, the command side and the managers'
// tables, and handlers deciding on the test clock.
type fixture struct {
	t      *testing.T
	pool   *pgxpool.Pool
	store  *postgres.Store
	clock  *testClock
	h      *commands.Handlers
	tenant domain.TenantID
	plans  map[string]domain.PlanCode
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := pgtest.Pool(t, postgres.MigrationSet(), pgstore.MigrationSet(), process.MigrationSet())
	store, err := postgres.Open(context.Background(), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	f := &fixture{t: t, pool: pool, store: store, clock: &testClock{t: at("2026-01-01", 8)}, tenant: tenant, plans: map[string]domain.PlanCode{}}
	f.h = f.handlers(store)
	f.definePlans()
	return f
}

// handlers returns a new commands.Handlers (as another process would have) over store.
func (f *fixture) handlers(store eventstore.Store) *commands.Handlers {
	h, err := commands.New(commands.Config{Store: store, Numbers: pgstore.NewNumbers(f.pool, pgstore.Options{}),
		Index: pgstore.NewIndex(f.pool, store), Now: f.clock.Now})
	require.NoError(f.t, err)
	return h
}

// at is hour o'clock UTC on the day s.
func at(s string, hour int) time.Time { return day(s).Time().Add(time.Duration(hour) * time.Hour) }

func (f *fixture) meta() commands.Meta { return commands.Meta{Tenant: f.tenant, Actor: "test"} }

func (f *fixture) usd(amount string) domain.Money {
	m, err := domain.ParseMoney(amount, "USD")
	require.NoError(f.t, err)
	return m
}

func (f *fixture) definePlans() {
	for code, spec := range map[string]struct {
		price   string
		billing bool
	}{"fiber_100": {"79.99", false}, "voip": {"29.99", true}} {
		pc, err := domain.ParsePlanCode(code)
		require.NoError(f.t, err)
		_, err = f.h.DefinePlan(context.Background(), f.meta(), commands.DefinePlan{Code: pc, Name: code, MonthlyPrice: f.usd(spec.price),
			TaxClass: "standard", BillWhileSuspended: spec.billing})
		require.NoError(f.t, err)
		f.plans[code] = pc
	}
}

// customer registers a customer with active services on the given plans (at the clock).
func (f *fixture) customer(name string, plans ...string) (domain.CustomerID, []domain.ServiceID) {
	f.t.Helper()
	ctx := context.Background()
	cur, err := domain.ParseCurrency("USD")
	require.NoError(f.t, err)
	res, err := f.h.RegisterCustomer(ctx, f.meta(), commands.RegisterCustomer{Currency: cur,
		Contact: domain.Contact{Name: name, Email: "c@example.net", BillingAddress: "1 Fiber Way"}})
	require.NoError(f.t, err)
	customer, err := domain.ParseCustomerID(res.ID)
	require.NoError(f.t, err)
	var services []domain.ServiceID
	for _, p := range plans {
		res, err := f.h.ProvisionService(ctx, f.meta(), commands.ProvisionService{CustomerID: customer, PlanCode: f.plans[p],
			StartDate: domain.DateOf(f.clock.Now()), InstallAddress: "1 Fiber Way"})
		require.NoError(f.t, err)
		id, err := domain.ParseServiceID(res.ID)
		require.NoError(f.t, err)
		_, err = f.h.ActivateService(ctx, f.meta(), commands.ActivateService{ServiceID: id})
		require.NoError(f.t, err)
		services = append(services, id)
	}
	return customer, services
}

// invoice creates and issues an invoice of amount due on due (issued at the clock).
func (f *fixture) invoice(customer domain.CustomerID, amount string, due domain.Date) domain.InvoiceID {
	f.t.Helper()
	ctx := context.Background()
	res, err := f.h.CreateInvoice(ctx, f.meta(), commands.CreateInvoice{CustomerID: customer, Lines: []domain.LineInput{{
		Description: "Service", Quantity: domain.QuantityOne(), UnitPrice: f.usd(amount)}}})
	require.NoError(f.t, err)
	id, err := domain.ParseInvoiceID(res.ID)
	require.NoError(f.t, err)
	_, err = f.h.IssueInvoice(ctx, f.meta(), commands.IssueInvoice{CustomerID: customer, InvoiceID: id, DueDate: due})
	require.NoError(f.t, err)
	return id
}

func (f *fixture) pay(customer domain.CustomerID, amount string) {
	f.t.Helper()
	_, err := f.h.RecordPayment(context.Background(), f.meta(), commands.RecordPayment{CustomerID: customer, Amount: f.usd(amount),
		Method: domain.PaymentMethodCard})
	require.NoError(f.t, err)
}

// config is a manager configuration for tests: the test clock, grace 14 days, immediate
// resumption of unfinished runs, short redelivery pauses and a tick only on Start.
func (f *fixture) config() process.Config {
	return process.Config{Handlers: f.h, Store: f.store, Pool: f.pool, Now: f.clock.Now, GraceDays: 14,
		TickInterval: time.Hour, ResumeAfter: -1, NackResendDelay: 20 * time.Millisecond,
		Lease:  consumer.LeaseConfig{Poll: 10 * time.Millisecond},
		Logger: zerolog.New(zerolog.NewTestWriter(f.t)).Level(zerolog.WarnLevel)}
}

// start starts a manager over cfg and stops it when the test ends.
func (f *fixture) start(cfg process.Config) *process.Manager {
	f.t.Helper()
	m, err := process.New(cfg)
	require.NoError(f.t, err)
	require.NoError(f.t, m.Start(context.Background()))
	f.t.Cleanup(m.Stop)
	return m
}

// decoded returns every event of the feed with its envelope.
func (f *fixture) decoded() []stored {
	f.t.Helper()
	var out []stored
	var after eventstore.Position
	for {
		envs, err := f.store.ReadAll(context.Background(), after, 5000)
		require.NoError(f.t, err)
		if len(envs) == 0 {
			return out
		}
		for i := range envs {
			e, err := codec.Decode(&envs[i])
			require.NoError(f.t, err)
			out = append(out, stored{env: envs[i], event: e})
		}
		after = envs[len(envs)-1].Position
	}
}

type stored struct {
	env   eventstore.Envelope
	event domain.Event
}

// count counts the feed's events for which keep returns a key, per key.
func count[K comparable](all []stored, keep func(domain.Event) (K, bool)) map[K]int {
	out := map[K]int{}
	for _, s := range all {
		if k, ok := keep(s.event); ok {
			out[k]++
		}
	}
	return out
}

// eventually polls cond every 20 ms for up to 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// crashingStore fails every append after the first n, as a process that dies mid-run would
// stop appending.
type crashingStore struct {
	eventstore.Store
	left atomic.Int64
}

var errCrashed = errors.New("crashed")

func newCrashingStore(s eventstore.Store, n int64) *crashingStore {
	c := &crashingStore{Store: s}
	c.left.Store(n)
	return c
}

func (c *crashingStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, evs ...eventstore.EventData) (eventstore.AppendResult, error) {
	if c.left.Add(-1) < 0 {
		return eventstore.AppendResult{}, &eventstore.UnavailableError{Op: "append", Err: fmt.Errorf("%w after the allowed appends", errCrashed)}
	}
	return c.Store.Append(ctx, stream, expected, evs...)
}

func newDunning(f *fixture) (*process.Dunning, error) { return process.NewDunning(f.h, 14) }

// triggerAt is a trigger of the fixture's tenant at instant t with a fresh cause.
func triggerAt(f *fixture, t time.Time) process.Trigger {
	return process.Trigger{Tenant: f.tenant, Cause: uuid.Must(uuid.NewV7()), At: t}
}
