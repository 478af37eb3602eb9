package commands

import (
	"context"
	"errors"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// BillableCustomer is a customer and the services the billing index knows of it.
type BillableCustomer struct {
	CustomerID domain.CustomerID
	Services   []domain.ServiceID
}

// BillingIndex tells the command side which customers of a tenant have services, without the
// read models (a billing run must not depend on a projection's lag or health). It is fed from
// the event store's global feed: CatchUp reads the feed from the index's checkpoint to the
// head, so what it lists after CatchUp is exactly what the store holds. Implementations must
// be safe for concurrent use (package pgstore has the PostgreSQL one).
type BillingIndex interface {
	// CatchUp indexes every event of the feed up to the store's head.
	CatchUp(ctx context.Context) error
	// CatchUpTo indexes every event of the feed up to pos at least (0: up to the store's
	// head, as CatchUp).
	CatchUpTo(ctx context.Context, pos eventstore.Position) error
	// Billable lists the tenant's customers with services not terminated before period's
	// first day, by customer id.
	Billable(ctx context.Context, tenant domain.TenantID, period domain.Period) ([]BillableCustomer, error)
	// Services lists the services of one customer (terminated ones included).
	Services(ctx context.Context, tenant domain.TenantID, customer domain.CustomerID) ([]domain.ServiceID, error)
}

var errNoIndex = errors.New("commands: no BillingIndex configured")

// BillableCustomers catches the billing index up with the store and lists the tenant's
// customers to bill for period.
func (h *Handlers) BillableCustomers(ctx context.Context, tenant domain.TenantID, period domain.Period) ([]BillableCustomer, error) {
	if h.index == nil {
		return nil, errNoIndex
	}
	if err := h.index.CatchUp(ctx); err != nil {
		return nil, err
	}
	return h.index.Billable(ctx, tenant, period)
}

// CustomerServices catches the billing index up and lists a customer's services.
func (h *Handlers) CustomerServices(ctx context.Context, tenant domain.TenantID, customer domain.CustomerID) ([]domain.ServiceID, error) {
	return h.CustomerServicesAt(ctx, tenant, customer, 0)
}

// CustomerServicesAt lists a customer's services with the billing index caught up to pos at
// least (0: to the store's head, as CustomerServices): a service provisioned after pos may be
// missing. Dunning decides on the state as of the event that triggered it, and catching the
// index up to the head before every evaluation read the whole feed since the last one.
func (h *Handlers) CustomerServicesAt(ctx context.Context, tenant domain.TenantID, customer domain.CustomerID, pos eventstore.Position) ([]domain.ServiceID, error) {
	if h.index == nil {
		return nil, errNoIndex
	}
	if err := h.index.CatchUpTo(ctx, pos); err != nil {
		return nil, err
	}
	return h.index.Services(ctx, tenant, customer)
}
