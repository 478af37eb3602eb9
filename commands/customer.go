package commands

import (
	"context"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// RegisterCustomer opens a customer account. The customer id is generated.
type RegisterCustomer struct {
	Contact  domain.Contact
	Currency domain.Currency
}

// UpdateCustomerContact replaces a customer's contact details.
type UpdateCustomerContact struct {
	CustomerID domain.CustomerID
	Contact    domain.Contact
}

// DeactivateCustomer stops new invoices and services for a customer.
type DeactivateCustomer struct {
	CustomerID domain.CustomerID
	Reason     string
}

// accountTarget is the account stream of customer, which must exist.
func accountTarget(m Meta, customer domain.CustomerID) target[domain.AccountState] {
	return target[domain.AccountState]{
		agg: accountAggregate, stream: domain.CustomerStream(m.Tenant, customer),
		require: func(a domain.AccountState) error {
			if !a.Customer.Registered() {
				return &domain.NotFoundError{Entity: "customer", ID: customer.String()}
			}
			return nil
		},
	}
}

// onAccount runs an account command on an existing customer's account; Result.ID is id.
func (h *Handlers) onAccount(ctx context.Context, name string, m Meta, customer domain.CustomerID, id string, cmd domain.AccountCommand) (Result, error) {
	return h.decideAccount(ctx, name, m, customer, id, func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
		return domain.DecideAccount(a, cmd, now)
	})
}

// decideAccount runs decide on an existing customer's account; Result.ID is id.
func (h *Handlers) decideAccount(ctx context.Context, name string, m Meta, customer domain.CustomerID, id string, decide decideFunc[domain.AccountState]) (Result, error) {
	return h.run(name, func() (Result, error) {
		return h.decideAccountNoMetrics(ctx, m, customer, id, decide)
	})
}

// RegisterCustomer registers a new customer; Result.ID is the new customer id.
//
// Errors: *domain.InvalidValueError for a malformed contact or a missing currency.
func (h *Handlers) RegisterCustomer(ctx context.Context, m Meta, c RegisterCustomer) (Result, error) {
	return h.run("RegisterCustomer", func() (Result, error) {
		m, err := m.withDefaults()
		if err != nil {
			return Result{}, err
		}
		id, err := idFor(m, "customer", domain.NewCustomerID)
		if err != nil {
			return Result{}, err
		}
		t := target[domain.AccountState]{agg: accountAggregate, stream: domain.CustomerStream(m.Tenant, id)}
		res, err := execute(ctx, h, m, t, func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
			return domain.DecideAccount(a, domain.RegisterCustomer{CustomerID: id, Contact: c.Contact, Currency: c.Currency}, now)
		})
		res.ID = id.String()
		return res, err
	})
}

// UpdateCustomerContact replaces the contact details (a no-op when they are unchanged).
//
// Errors: *domain.NotFoundError; *domain.InvalidValueError.
func (h *Handlers) UpdateCustomerContact(ctx context.Context, m Meta, c UpdateCustomerContact) (Result, error) {
	return h.onAccount(ctx, "UpdateCustomerContact", m, c.CustomerID, c.CustomerID.String(), domain.UpdateCustomerContact{Contact: c.Contact})
}

// DeactivateCustomer deactivates the customer.
//
// Errors: *domain.NotFoundError; *domain.InvalidTransitionError if already deactivated.
func (h *Handlers) DeactivateCustomer(ctx context.Context, m Meta, c DeactivateCustomer) (Result, error) {
	return h.onAccount(ctx, "DeactivateCustomer", m, c.CustomerID, c.CustomerID.String(), domain.DeactivateCustomer{Reason: c.Reason})
}

// Account returns a customer's current account state and stream version, for process
// managers (dunning reads balances and open invoices from it).
//
// Errors: *domain.NotFoundError if the customer is not registered.
func (h *Handlers) Account(ctx context.Context, tenant domain.TenantID, customer domain.CustomerID) (domain.AccountState, uint64, error) {
	return h.AccountAt(ctx, tenant, customer, 0)
}

// AccountAt is Account for a reader that needs the account as of position pos at least (a
// process manager deciding on its trigger event at pos), not as it stands: when the cache
// holds the stream up to an event at pos or later, every event of the stream up to pos is in
// it, and it answers without reading the stream (under a steady stream of commands the
// command that appended the trigger has just cached it). pos 0 is Account.
func (h *Handlers) AccountAt(ctx context.Context, tenant domain.TenantID, customer domain.CustomerID, pos eventstore.Position) (domain.AccountState, uint64, error) {
	a, snap, err := loadAt(ctx, h, accountAggregate, domain.CustomerStream(tenant, customer), pos)
	if err == nil && !a.Customer.Registered() {
		err = &domain.NotFoundError{Entity: "customer", ID: customer.String()}
	}
	return a, snap.version, err
}
