package commands_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// newClockedFixture is newFixture with handlers whose clock reads *clock.
func newClockedFixture(t *testing.T, clock *atomic.Pointer[time.Time]) (*fixture, func(store eventstore.Store) *commands.Handlers) {
	t.Helper()
	pool := pgtest.Pool(t, postgres.MigrationSet(), pgstore.MigrationSet())
	store, err := postgres.Open(context.Background(), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	f := &fixture{t: t, store: store, meta: commands.Meta{Tenant: tenant, Actor: "test"}}
	return f, func(s eventstore.Store) *commands.Handlers {
		h, err := commands.New(commands.Config{Store: s, Numbers: pgstore.NewNumbers(pool, pgstore.Options{}),
			Index: pgstore.NewIndex(pool, s), Now: func() time.Time { return *clock.Load() }, MaxAttempts: 3})
		require.NoError(t, err)
		return h
	}
}

// TestBillingRunNumbersInTheIssueYear: December is billed just after midnight on January 1st
// (a run started late on Dec 31, or run the next morning). Its invoices are issued on Dec 31
// (a past period is billed as if run on its last day), so their numbers are of that year:
// INV-2026-..., from 2026's counter, not 2027's, whether billed by a group or alone.
func TestBillingRunNumbersInTheIssueYear(t *testing.T) {
	t.Parallel()
	var clock atomic.Pointer[time.Time]
	december := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	clock.Store(&december)
	f, newHandlers := newClockedFixture(t, &clock)
	h := newHandlers(f.store)
	customers := billableCustomers(t, f, h, 9)

	// One customer is billed alone first (BillCustomer's path, which takes its own number),
	// then the run bills the others in groups.
	newYear := time.Date(2027, 1, 1, 0, 0, 5, 0, time.UTC)
	clock.Store(&newYear)
	period := domain.DateOf(december).Period()
	ctx := context.Background()
	_, err := h.StartBillingRun(ctx, f.meta, period)
	require.NoError(t, err)
	run, _, err := h.BillingRun(ctx, f.meta.Tenant, period)
	require.NoError(t, err)
	services, err := h.CustomerServices(ctx, f.meta.Tenant, customers[0])
	require.NoError(t, err)
	alone, err := h.BillCustomer(ctx, f.meta, run, commands.BillableCustomer{CustomerID: customers[0], Services: services}, 14)
	require.NoError(t, err)
	require.NotEmpty(t, alone.Number)
	res, err := h.RunBilling(ctx, f.meta, commands.RunBilling{Period: period, DueDays: 14})
	require.NoError(t, err)
	require.Equal(t, len(customers), res.CustomersInvoiced)

	for _, c := range customers {
		a, _, err := h.Account(ctx, f.meta.Tenant, c)
		require.NoError(t, err)
		require.Len(t, a.Invoices, 1)
		for _, inv := range a.Invoices {
			assert.Equal(t, "2026-12-31", inv.IssueDate.String(), "customer %s", c)
			assert.True(t, strings.HasPrefix(inv.Number, "INV-2026-"), "customer %s: %s issued on %s", c, inv.Number, inv.IssueDate)
		}
	}
}
