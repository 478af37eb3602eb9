package commands

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
)

var receiptAggregate = aggregate[domain.ReceiptState]{domain.StreamReceipt, eachOf(domain.ApplyReceipt)}

// ProviderPayment is money a payment provider reports received (a verified callback): it
// becomes the customer's payment when AccountReference names a customer billed in Amount's
// currency, else an unallocated receipt. Provider and EventID identify it: the same pair is
// recorded once, however often the provider sends it.
type ProviderPayment struct {
	Provider string // "stripe", "mpesa"
	EventID  string // the provider's event or transaction id
	// AccountReference names the customer: its id (any case, with or without dashes).
	AccountReference string
	Amount           domain.Money
	Method           domain.PaymentMethod
	Payer            string
	ReceivedAt       time.Time
}

// ExternalReference is the reference the payment or receipt carries: "provider:event id".
func (p ProviderPayment) ExternalReference() string { return p.Provider + ":" + p.EventID }

// ProviderOutcome says what a provider payment became.
type ProviderOutcome string

// The provider outcomes.
const (
	OutcomeRecorded    ProviderOutcome = "recorded"    // the customer's payment
	OutcomeUnallocated ProviderOutcome = "unallocated" // an unallocated receipt
	OutcomeDuplicate   ProviderOutcome = "duplicate"   // recorded before: nothing appended
)

// ProviderResult is what RecordProviderPayment did. Result.ID is the payment id (recorded) or
// the receipt id (unallocated); for a duplicate, whichever the first delivery created.
type ProviderResult struct {
	Result
	Outcome  ProviderOutcome
	Customer domain.CustomerID    // the customer paid (recorded)
	Reason   domain.ReceiptReason // why it is unallocated
}

// ParseAccountReference returns the customer an account reference names: a customer id in
// any case, with or without its dashes, surrounded by spaces or not. ok is false otherwise.
func ParseAccountReference(ref string) (domain.CustomerID, bool) {
	s := strings.ToLower(strings.TrimSpace(ref))
	if len(s) == 32 {
		s = s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
	}
	id, err := domain.ParseCustomerID(s)
	return id, err == nil
}

// providerIDs derives the receipt id and the command id of a provider payment from the tenant,
// the provider and its payment id alone: a replayed callback, and every event a provider
// sends of one payment (Stripe's payment_intent.succeeded and charge.succeeded, each with its
// own created time), derive the same ids, so the money is recorded once also when it is booked
// to unallocated receipts. No instant goes in: the ids carry no time order.
func providerIDs(t domain.TenantID, p ProviderPayment) (domain.ReceiptID, uuid.UUID, error) {
	var source uuid.UUID
	source[6], source[8] = 0x70, 0x80
	id, err := domain.NewReceiptID(DeriveUUID(source, "provider receipt", t.String(), p.Provider, p.EventID))
	return id, DeriveUUID(source, "provider command", t.String(), p.Provider, p.EventID), err
}

// RecordProviderPayment records a verified provider payment, exactly once per provider event.
// A payment naming a registered customer in the customer's currency is recorded as
// RecordPayment is (allocated oldest invoice first, the rest customer credit); anything else
// is booked to unallocated receipts with its reason. A provider event recorded before answers
// OutcomeDuplicate and appends nothing, under concurrent deliveries too.
//
// Errors: *domain.InvalidValueError for an amount, reference or date the domain refuses.
func (h *Handlers) RecordProviderPayment(ctx context.Context, m Meta, p ProviderPayment) (ProviderResult, error) {
	m, err := m.withDefaults()
	if err != nil {
		return ProviderResult{}, err
	}
	receipt, commandID, err := providerIDs(m.Tenant, p)
	if err != nil {
		return ProviderResult{}, err
	}
	m.CommandID, m.Recovering = commandID, false
	rs, _, err := load(ctx, h, receiptAggregate, domain.ReceiptStream(m.Tenant, receipt))
	if err != nil {
		return ProviderResult{}, err
	}
	if rs.Recorded() {
		return ProviderResult{Result: Result{ID: receipt.String()}, Outcome: OutcomeDuplicate, Reason: rs.Reason}, nil
	}
	customer, named := ParseAccountReference(p.AccountReference)
	reason := domain.ReceiptUnknownCustomer
	if named {
		a, _, err := load(ctx, h, accountAggregate, domain.CustomerStream(m.Tenant, customer))
		switch {
		case err != nil:
			return ProviderResult{}, err
		case !a.Customer.Registered():
			customer = domain.CustomerID{}
		case a.Customer.Currency != p.Amount.Currency():
			reason = domain.ReceiptCurrencyMismatch
		default:
			return h.recordProviderPayment(ctx, m, customer, p)
		}
	}
	return h.recordReceipt(ctx, m, receipt, p, reason, customer)
}

// recordProviderPayment records p as customer's payment; a payment of the same provider event
// already in the account (a concurrent delivery) is a duplicate.
func (h *Handlers) recordProviderPayment(ctx context.Context, m Meta, customer domain.CustomerID, p ProviderPayment) (ProviderResult, error) {
	res, err := h.RecordPayment(ctx, m, RecordPayment{CustomerID: customer, Amount: p.Amount, Method: p.Method,
		ExternalReference: p.ExternalReference(), ReceivedAt: p.ReceivedAt})
	var exists *domain.AlreadyExistsError
	if errors.As(err, &exists) {
		return ProviderResult{Result: Result{ID: res.ID}, Outcome: OutcomeDuplicate, Customer: customer}, nil
	}
	if err != nil {
		return ProviderResult{}, err
	}
	return ProviderResult{Result: res, Outcome: OutcomeRecorded, Customer: customer}, nil
}

// recordReceipt books p to unallocated receipts; a receipt recorded already is a duplicate.
func (h *Handlers) recordReceipt(ctx context.Context, m Meta, id domain.ReceiptID, p ProviderPayment, reason domain.ReceiptReason, customer domain.CustomerID) (ProviderResult, error) {
	res, err := h.RecordUnallocatedReceipt(ctx, m, domain.RecordUnallocatedReceipt{ReceiptID: id, Amount: p.Amount,
		Method: p.Method, ExternalReference: p.ExternalReference(), AccountReference: p.AccountReference, Payer: p.Payer,
		Reason: reason, Customer: customer, ReceivedAt: p.ReceivedAt})
	var exists *domain.AlreadyExistsError
	if errors.As(err, &exists) {
		return ProviderResult{Result: Result{ID: id.String()}, Outcome: OutcomeDuplicate, Reason: reason}, nil
	}
	if err != nil {
		return ProviderResult{}, err
	}
	return ProviderResult{Result: res, Outcome: OutcomeUnallocated, Reason: reason}, nil
}

// RecordUnallocatedReceipt books money to unallocated receipts on the receipt's own stream;
// Result.ID is the receipt id.
//
// Errors: *domain.AlreadyExistsError when the receipt is recorded; *domain.InvalidValueError.
func (h *Handlers) RecordUnallocatedReceipt(ctx context.Context, m Meta, c domain.RecordUnallocatedReceipt) (Result, error) {
	return h.run("RecordUnallocatedReceipt", func() (Result, error) {
		m, err := m.withDefaults()
		if err != nil {
			return Result{}, err
		}
		t := target[domain.ReceiptState]{agg: receiptAggregate, stream: domain.ReceiptStream(m.Tenant, c.ReceiptID)}
		res, err := execute(ctx, h, m, t, func(r domain.ReceiptState, now time.Time) ([]domain.Event, error) {
			return domain.DecideReceipt(r, c, now)
		})
		res.ID = c.ReceiptID.String()
		return res, err
	})
}

// AllocateReceipt gives an unallocated receipt to a customer billed in its currency: the
// receipt records the allocation, then the customer's account records the payment (settling
// open invoices oldest first, the rest customer credit), whose journal entry moves the money
// from unallocated receipts (2300) to the customer. Result.ID is the payment id, Result the
// account's. Allocating again to the same customer finishes an allocation interrupted between
// the two streams, or changes nothing.
//
// Errors: *domain.NotFoundError (receipt or customer); *domain.ReceiptAllocatedError when it
// is allocated to another customer; *domain.CurrencyMismatchError when the customer bills in
// another currency.
func (h *Handlers) AllocateReceipt(ctx context.Context, m Meta, receipt domain.ReceiptID, customer domain.CustomerID) (Result, error) {
	return h.run("AllocateReceipt", func() (Result, error) {
		m, err := m.withDefaults()
		if err != nil {
			return Result{}, err
		}
		payment, err := domain.NewPaymentID(DeriveUUID(receipt.UUID(), "allocation", customer.String()))
		if err != nil {
			return Result{}, err
		}
		r, err := h.checkAllocation(ctx, m, receipt, customer, payment)
		if err != nil {
			return Result{}, err
		}
		t := target[domain.ReceiptState]{agg: receiptAggregate, stream: domain.ReceiptStream(m.Tenant, receipt),
			require: requireReceipt(receipt)}
		if _, err := execute(ctx, h, m, t, func(r domain.ReceiptState, now time.Time) ([]domain.Event, error) {
			return domain.DecideReceipt(r, domain.AllocateReceipt{CustomerID: customer, PaymentID: payment}, now)
		}); err != nil {
			return Result{}, err
		}
		return h.allocatedPayment(ctx, m, r, customer, payment)
	})
}

// checkAllocation loads the receipt and the customer and refuses an allocation the customer's
// account would refuse, before the receipt records it.
func (h *Handlers) checkAllocation(ctx context.Context, m Meta, receipt domain.ReceiptID, customer domain.CustomerID, payment domain.PaymentID) (domain.ReceiptState, error) {
	r, _, err := load(ctx, h, receiptAggregate, domain.ReceiptStream(m.Tenant, receipt))
	if err != nil {
		return r, err
	}
	if err := requireReceipt(receipt)(r); err != nil {
		return r, err
	}
	a, _, err := load(ctx, h, accountAggregate, domain.CustomerStream(m.Tenant, customer))
	switch {
	case err != nil:
		return r, err
	case !a.Customer.Registered():
		return r, &domain.NotFoundError{Entity: "customer", ID: customer.String()}
	case a.Customer.Currency != r.Amount.Currency():
		return r, &domain.CurrencyMismatchError{Want: a.Customer.Currency, Got: r.Amount.Currency()}
	}
	// The account takes a provider's payment reference once: a payment of the same reference
	// (recorded from a callback that named the customer) would refuse this allocation's, after
	// the receipt had recorded it, and leave the receipt allocated with no payment.
	for _, p := range a.Payments {
		if p.ID != payment && r.ExternalReference != "" && p.Method == r.Method && p.ExternalReference == r.ExternalReference {
			return r, &domain.AlreadyExistsError{Entity: "payment with " + r.Method.String() + " reference", ID: r.ExternalReference}
		}
	}
	return r, nil
}

func requireReceipt(id domain.ReceiptID) func(domain.ReceiptState) error {
	return func(r domain.ReceiptState) error {
		if !r.Recorded() {
			return &domain.NotFoundError{Entity: "receipt", ID: id.String()}
		}
		return nil
	}
}

// allocatedPayment records the payment of an allocated receipt in the customer's account; a
// payment recorded by an earlier allocation is answered as it stands.
func (h *Handlers) allocatedPayment(ctx context.Context, m Meta, r domain.ReceiptState, customer domain.CustomerID, payment domain.PaymentID) (Result, error) {
	res, err := h.decideAccountNoMetrics(ctx, m, customer, payment.String(), func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
		if _, done := a.Payments[payment]; done {
			return nil, nil
		}
		return domain.DecideAccount(a, domain.RecordPayment{PaymentID: payment, Amount: r.Amount, Method: r.Method,
			ExternalReference: r.ExternalReference, ReceivedAt: r.ReceivedAt, Receipt: r.ID}, now)
	})
	return res, err
}
