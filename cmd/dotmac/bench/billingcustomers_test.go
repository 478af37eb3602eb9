package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// TestSetupCustomerIsBillable: a set-up customer's appends create its account and service
// streams with events the domain folds into a registered customer and a provisioned service
// of that customer, billed for the whole month it starts in.
func TestSetupCustomerIsBillable(t *testing.T) {
	tenant, err := domain.ParseTenantID(setupTenant)
	require.NoError(t, err)
	code, err := domain.ParsePlanCode(setupPlan)
	require.NoError(t, err)
	price, err := domain.ParseMoney("79.99", "USD")
	require.NoError(t, err)
	plan := domain.PlanState{Code: code, Name: "Fiber 100", MonthlyPrice: price, TaxClass: "standard"}
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	start := domain.DateOf(now).Period().Start()
	customer, service, err := setupCustomer(tenant, plan, start, now, 7, eventstore.Metadata{TenantID: tenant.String(), Actor: "bench"})
	require.NoError(t, err)
	assert.Equal(t, eventstore.NoStream(), customer.Expected)
	assert.Equal(t, eventstore.NoStream(), service.Expected)

	account, err := applyAll(domain.ApplyAccount, domain.AccountState{}, decodeAll(t, customer))
	require.NoError(t, err)
	require.True(t, account.Customer.Registered())
	assert.Equal(t, domain.CustomerStream(tenant, account.Customer.ID), customer.Stream)
	svc, err := applyAll(domain.ApplyService, domain.ServiceState{}, decodeAll(t, service))
	require.NoError(t, err)
	require.True(t, svc.Provisioned())
	assert.Equal(t, account.Customer.ID, svc.Customer)
	assert.Equal(t, domain.ServiceStatusActive, svc.Status)
	assert.Equal(t, domain.ServiceStream(tenant, svc.ID), service.Stream)

	lines, err := domain.RecurringCharges(start.Period(), account, []domain.ServiceState{svc})
	require.NoError(t, err)
	require.Len(t, lines, 1)
	assert.Equal(t, "79.99", lines[0].UnitPrice.Amount().StringFixed(2))
}

// decodeAll decodes the events of a.
func decodeAll(t *testing.T, a eventstore.StreamAppend) []domain.Event {
	t.Helper()
	out := make([]domain.Event, 0, len(a.Events))
	for i, d := range a.Events {
		env := eventstore.Envelope{StreamID: a.Stream, Version: uint64(i + 1), Type: d.Type, SchemaVersion: d.SchemaVersion, Data: d.Data}
		e, err := codec.Decode(&env)
		require.NoError(t, err)
		out = append(out, e)
	}
	return out
}
