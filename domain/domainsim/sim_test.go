package domainsim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
)

// decideSink is the smallest sink: it records what each command decides, and keeps a log of
// every command and its events by stream.
type decideSink struct {
	mu       sync.Mutex
	byStream map[string][]string
	events   map[domain.TenantID][]domain.Event
	accounts map[string][]domain.Event
}

func newDecideSink() *decideSink {
	return &decideSink{byStream: map[string][]string{}, events: map[domain.TenantID][]domain.Event{}, accounts: map[string][]domain.Event{}}
}

func (s *decideSink) Record(c domainsim.Command) ([]domain.Event, error) {
	evs, err := c.Decide()
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(evs)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byStream[c.Stream] = append(s.byStream[c.Stream], fmt.Sprintf("%d %s %s %s %s", c.Version, c.Actor, c.Kind(), c.At.Format("2006-01-02T15:04:05"), data))
	s.events[c.Tenant] = append(s.events[c.Tenant], evs...)
	if _, kind, _, err := domain.ParseStream(c.Stream); err == nil && kind == domain.StreamCustomer {
		s.accounts[c.Stream] = append(s.accounts[c.Stream], evs...)
	}
	return evs, nil
}

// countingSink records what each command decides and nothing else (Run counts).
type countingSink struct{}

func (countingSink) Record(c domainsim.Command) ([]domain.Event, error) { return c.Decide() }

var threeTenants = []domainsim.Tenant{{Name: "acme", Currency: "USD"}, {Name: "gulf", Currency: "BHD"}, {Name: "edo", Currency: "JPY"}}

func TestSmallRunShowsEveryKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  domainsim.Config
	}{
		{"12 customers, 3 months", domainsim.Config{Customers: 12, Months: 3, Seed: 7, GraceDays: 14}},
		{"three currencies, no grace", domainsim.Config{Tenants: threeTenants, Customers: 12, Months: 3, Seed: 1}},
		{"four workers", domainsim.Config{Customers: 30, Months: 4, Seed: 3, GraceDays: 10, Workers: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stats, err := domainsim.Run(tc.cfg, newDecideSink())
			require.NoError(t, err)
			assert.Empty(t, stats.Missing())
		})
	}
}

// TestSameSeedSameCommands: the same Config sends the same commands to every stream, with the
// same ids and instants, whatever the number of workers; another seed sends others.
func TestSameSeedSameCommands(t *testing.T) {
	t.Parallel()
	cfg := domainsim.Config{Tenants: threeTenants, Customers: 12, Months: 4, Seed: 11, GraceDays: 5}
	run := func(workers int, seed uint64) map[string][]string {
		c := cfg
		c.Workers, c.Seed = workers, seed
		s := newDecideSink()
		_, err := domainsim.Run(c, s)
		require.NoError(t, err)
		return s.byStream
	}
	serial := run(1, 11)
	assert.Equal(t, serial, run(1, 11))
	assert.Equal(t, serial, run(8, 11))
	assert.NotEqual(t, serial, run(1, 12))
}

// TestEveryTenantsJournalNetsToZero: every money event posts a balanced entry, each tenant's
// journal nets to zero in its currency, every account folds, and each customer's balance is
// its receivable minus its credit in the journal.
func TestEveryTenantsJournalNetsToZero(t *testing.T) {
	t.Parallel()
	s := newDecideSink()
	_, err := domainsim.Run(domainsim.Config{Tenants: threeTenants, Customers: 40, Months: 6, Seed: 5, GraceDays: 7, Workers: 3}, s)
	require.NoError(t, err)
	for _, tc := range threeTenants {
		id, err := domain.ParseTenantID(tc.Name)
		require.NoError(t, err)
		cur, err := domain.ParseCurrency(tc.Currency)
		require.NoError(t, err)
		var totals domain.LedgerTotals
		for _, e := range s.events[id] {
			entry, ok, err := domain.Postings(e)
			require.NoError(t, err)
			if ok {
				totals.Post(entry)
			}
		}
		assert.True(t, totals.Net(cur).IsZero(), "%s nets to %s", tc.Name, totals.Net(cur))
		assert.Equal(t, []domain.Currency{cur}, totals.Currencies(), tc.Name)
	}
	for stream, evs := range s.accounts {
		a, err := domain.FoldAccount(evs)
		require.NoError(t, err, stream)
		var totals domain.LedgerTotals
		for _, e := range evs {
			if entry, ok, err := domain.Postings(e); err == nil && ok {
				totals.Post(entry)
			}
		}
		balance, err := a.Balance()
		require.NoError(t, err)
		assert.True(t, balance.Equal(totals.CustomerBalance(a.Customer.Currency)), "%s: %s against the journal's %s", stream, balance, totals.CustomerBalance(a.Customer.Currency))
	}
}

func TestConfigIsValidated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  domainsim.Config
		want string
	}{
		{domainsim.Config{Tenants: []domainsim.Tenant{{Name: "Acme", Currency: "USD"}}}, "tenant id"},
		{domainsim.Config{Tenants: []domainsim.Tenant{{Name: "acme", Currency: "XXX"}}}, "currency"},
		{domainsim.Config{Tenants: []domainsim.Tenant{{Name: "acme", Currency: "USD"}, {Name: "acme", Currency: "EUR"}}}, "twice"},
		{domainsim.Config{Months: -1}, "months"},
		{domainsim.Config{Customers: domainsim.MaxCustomers + 1}, "customers"},
		{domainsim.Config{GraceDays: domain.MaxGraceDays + 1}, "grace days"},
		{domainsim.Config{Workers: domainsim.MaxWorkers + 1}, "workers"},
	} {
		_, err := domainsim.Run(tc.cfg, newDecideSink())
		assert.ErrorContains(t, err, tc.want)
	}
}

// failingSink fails the n-th command it is given.
type failingSink struct {
	n, seen int
	err     error
}

func (s *failingSink) Record(c domainsim.Command) ([]domain.Event, error) {
	if s.seen++; s.seen == s.n {
		return nil, s.err
	}
	return c.Decide()
}

func TestASinkErrorStopsTheRun(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	stats, err := domainsim.Run(domainsim.Config{Customers: 5, Months: 2}, &failingSink{n: 40, err: boom})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, 39, stats.CommandCount(), "the commands before it are counted")
	_, err = domainsim.Command{Cmd: domain.ActivateService{}}.Decide()
	assert.ErrorIs(t, err, domain.ErrInvalid, "a command not built by a simulation has no state to decide on")
}

// TestCustomersFor: EventsPerCustomerMonthX10 stays calibrated, within 10% over a 12-month
// history of 10,000 events (189 customers: 9,922 events with this seed in December 2026).
func TestCustomersFor(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 1, domainsim.CustomersFor(0, 12))
	n := domainsim.CustomersFor(10_000, 12)
	stats, err := domainsim.Run(domainsim.Config{Customers: n, Months: 12, Seed: 42, GraceDays: 14, Workers: 2}, countingSink{})
	require.NoError(t, err)
	assert.InDelta(t, 10_000, stats.EventCount(), 1_000, "%d customers", n)
}
