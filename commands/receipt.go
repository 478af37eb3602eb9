package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

var (
	receiptAggregate         = aggregate[domain.ReceiptState]{kind: domain.StreamReceipt, chain: eachOf(domain.ApplyReceipt)}
	providerPaymentAggregate = aggregate[domain.ProviderPaymentState]{kind: domain.StreamProviderPayment, chain: eachOf(domain.ApplyProviderPayment)}
)

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
	OutcomeAllocated   ProviderOutcome = "allocated"   // its unallocated receipt, allocated to the customer named
)

// ProviderResult is what RecordProviderPayment did. Result.ID is the payment id (recorded,
// allocated) or the receipt id (unallocated); for a duplicate, whichever the payment's claim
// booked (the payment of an allocated receipt, when the duplicate names its customer).
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

// RecordProviderPayment records a verified provider payment, exactly once per (tenant,
// provider, provider payment id), whichever of the payment's events arrive, in any order,
// redelivered, or at once in several processes.
//
// The first event of a payment decides where it is booked and claims the payment for that
// booking (ProviderPaymentClaimed, appended only to an empty claim stream): a payment naming a
// registered customer in the customer's currency is the customer's payment, recorded as
// RecordPayment is (allocated oldest invoice first, the rest customer credit); anything else
// is an unallocated receipt with its reason. Every event of the payment then books the claimed
// booking, which appends nothing when it is booked already (OutcomeDuplicate, Result.ID the
// payment or receipt); an event that lost the claim never books the money elsewhere. An event
// naming a registered customer of the receipt's currency, for a payment claimed as an
// unallocated receipt for an unknown customer (an earlier event of it named nobody),
// allocates that receipt to the customer (OutcomeAllocated), as AllocateReceipt does.
//
// Errors: *domain.ProviderPaymentMismatchError when the payment was booked with another amount
// or currency (nothing is booked); *domain.InvalidValueError for an amount, reference or date
// the domain refuses.
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
	// Every event of one payment runs under the same command id, but two events may decide
	// differently (one names the customer, one does not). When another process stored its
	// decision at the same version, the append is answered with that stored decision; a store
	// that still reports ErrDuplicateEventID (none of this decision's first ids stored) is
	// tried again, from the claim, to find that booking made.
	for attempt := 1; ; attempt++ {
		res, err := h.bookProviderPayment(ctx, m, receipt, p)
		if !errors.Is(err, eventstore.ErrDuplicateEventID) || attempt == maxProviderAttempts {
			return res, err
		}
	}
}

// maxProviderAttempts bounds the attempts of RecordProviderPayment.
const maxProviderAttempts = 3

// bookProviderPayment claims p's payment and books it where the claim says.
func (h *Handlers) bookProviderPayment(ctx context.Context, m Meta, receipt domain.ReceiptID, p ProviderPayment) (ProviderResult, error) {
	claim, err := h.claimProviderPayment(ctx, m, receipt, p)
	if err != nil {
		return ProviderResult{}, err
	}
	p.Amount = claim.Amount
	if claim.BookedTo == domain.BookedToAccount {
		return h.recordProviderPayment(ctx, m, claim, p)
	}
	res, err := h.recordReceipt(ctx, m, claim.ReceiptID, p, claim.Reason, claim.CustomerID)
	if err != nil || claim.Reason != domain.ReceiptUnknownCustomer {
		return res, err
	}
	return h.allocateNamed(ctx, m, res, claim, p)
}

// claimProviderPayment returns the payment's claim: the one recorded, else the one p makes.
// Two claims racing append to the same empty stream: one is recorded, the other decides again
// on it and reads it.
func (h *Handlers) claimProviderPayment(ctx context.Context, m Meta, receipt domain.ReceiptID, p ProviderPayment) (domain.ProviderPaymentClaimed, error) {
	stream := domain.ProviderPaymentStream(m.Tenant, receipt)
	cs, _, err := load(ctx, h, providerPaymentAggregate, stream)
	if err != nil {
		return domain.ProviderPaymentClaimed{}, err
	}
	if !cs.Claimed() {
		c, err := h.chooseBooking(ctx, m, receipt, p)
		if err != nil {
			return domain.ProviderPaymentClaimed{}, err
		}
		// Claims of different bookings have different command ids, hence event ids: the
		// store can never take one's append as a replay of the other's.
		cm := m
		cm.CommandID = DeriveUUID(m.CommandID, "provider claim", c.Booking.String(), c.Customer.String(), c.Reason.String())
		_, err = h.ClaimProviderPayment(ctx, cm, c)
		var exists *domain.AlreadyExistsError
		if err != nil && !errors.As(err, &exists) {
			return domain.ProviderPaymentClaimed{}, err
		}
		if cs, _, err = load(ctx, h, providerPaymentAggregate, stream); err != nil {
			return domain.ProviderPaymentClaimed{}, err
		}
		if !cs.Claimed() {
			return domain.ProviderPaymentClaimed{}, fmt.Errorf("%w: provider payment %s claimed but its claim stream is empty", domain.ErrInvariant, p.ExternalReference())
		}
	}
	return cs.Claim, cs.CheckSame(p.Amount)
}

// ClaimProviderPayment records where a provider payment is booked, on its claim stream, if
// nothing claimed it before (see RecordProviderPayment, which claims and books); Result.ID is
// the claim's receipt id.
//
// Errors: *domain.AlreadyExistsError when the payment is claimed;
// *domain.ProviderPaymentMismatchError when it is claimed with another amount;
// *domain.InvalidValueError.
func (h *Handlers) ClaimProviderPayment(ctx context.Context, m Meta, c domain.ClaimProviderPayment) (Result, error) {
	return h.run("ClaimProviderPayment", func() (Result, error) {
		m, err := m.withDefaults()
		if err != nil {
			return Result{}, err
		}
		t := target[domain.ProviderPaymentState]{agg: providerPaymentAggregate, stream: domain.ProviderPaymentStream(m.Tenant, c.ReceiptID)}
		res, err := execute(ctx, h, m, t, func(s domain.ProviderPaymentState, now time.Time) ([]domain.Event, error) {
			return domain.DecideProviderPayment(s, c, now)
		})
		res.ID = c.ReceiptID.String()
		return res, err
	})
}

// chooseBooking decides where p is booked, when nothing claimed it: the customer's account
// when it names a registered customer billed in its currency, else unallocated receipts. A
// booking of the payment made before claims existed is its booking: its receipt, or a payment
// of its reference on an account. That payment is looked for on the account p names, which is
// loaded anyway; for a p bound for unallocated receipts (it names nobody the account would
// take it for), in the PaymentReferences index, whatever account holds it. Only those pay for
// the index's catch-up.
func (h *Handlers) chooseBooking(ctx context.Context, m Meta, receipt domain.ReceiptID, p ProviderPayment) (domain.ClaimProviderPayment, error) {
	c := domain.ClaimProviderPayment{ReceiptID: receipt, ExternalReference: p.ExternalReference(), Amount: p.Amount,
		Booking: domain.BookedToReceipt, Reason: domain.ReceiptUnknownCustomer}
	rs, _, err := load(ctx, h, receiptAggregate, domain.ReceiptStream(m.Tenant, receipt))
	if err != nil {
		return c, err
	}
	if rs.Recorded() {
		c.Amount, c.Reason = rs.Amount, rs.Reason
		return c, nil
	}
	if customer, named := ParseAccountReference(p.AccountReference); named {
		a, _, err := load(ctx, h, accountAggregate, domain.CustomerStream(m.Tenant, customer))
		switch {
		case err != nil:
			return c, err
		case !a.Customer.Registered():
		case a.Customer.Currency != p.Amount.Currency():
			c.Reason, c.Customer = domain.ReceiptCurrencyMismatch, customer
		default:
			payment, err := idFor(m, "payment", domain.NewPaymentID) // the id RecordPayment gives it
			c.Booking, c.Customer, c.Payment, c.Reason = domain.BookedToAccount, customer, payment, domain.ReceiptReason{}
			if old, ok := paymentOfReference(a, p); ok {
				c.Payment, c.Amount = old.ID, old.Amount
			}
			return c, err
		}
	}
	if customer, old, ok, err := h.bookedPayment(ctx, m, p); err != nil || ok {
		c.Booking, c.Customer, c.Payment, c.Amount, c.Reason = domain.BookedToAccount, customer, old.ID, old.Amount, domain.ReceiptReason{}
		return c, err
	}
	return c, nil
}

// allocateNamed allocates the unallocated receipt of claim to the customer p names, when p
// names a registered customer billed in the receipt's currency and the receipt is not
// allocated to another customer; otherwise it answers res as it is.
func (h *Handlers) allocateNamed(ctx context.Context, m Meta, res ProviderResult, claim domain.ProviderPaymentClaimed, p ProviderPayment) (ProviderResult, error) {
	customer, named := ParseAccountReference(p.AccountReference)
	if !named {
		return res, nil
	}
	a, _, err := load(ctx, h, accountAggregate, domain.CustomerStream(m.Tenant, customer))
	if err != nil {
		return ProviderResult{}, err
	}
	if !a.Customer.Registered() || a.Customer.Currency != claim.Amount.Currency() {
		return res, nil
	}
	am := m
	am.CommandID = DeriveUUID(m.CommandID, "provider allocation", customer.String())
	paid, err := h.AllocateReceipt(ctx, am, claim.ReceiptID, customer)
	var allocated *domain.ReceiptAllocatedError
	switch {
	case errors.As(err, &allocated):
		return res, nil
	case err != nil:
		return ProviderResult{}, err
	case !paid.Changed():
		return ProviderResult{Result: Result{ID: paid.ID}, Outcome: OutcomeDuplicate, Customer: customer}, nil
	}
	return ProviderResult{Result: paid, Outcome: OutcomeAllocated, Customer: customer}, nil
}

// recordProviderPayment records p as the payment its claim names, under the claim's payment id
// whichever event of the payment books it (the claiming one, or the next one after it was
// interrupted between claim and booking), so that the booking and every answer name the same
// payment. A payment of the same provider payment already in the account (another event of it,
// a concurrent delivery, a booking from before claims) is a duplicate, answered with the id of
// the payment the account holds.
func (h *Handlers) recordProviderPayment(ctx context.Context, m Meta, claim domain.ProviderPaymentClaimed, p ProviderPayment) (ProviderResult, error) {
	customer := claim.CustomerID
	duplicate := func(id domain.PaymentID) ProviderResult {
		return ProviderResult{Result: Result{ID: id.String()}, Outcome: OutcomeDuplicate, Customer: customer}
	}
	// Read first: a payment booked already is a duplicate whatever this event's other fields
	// (its received-at) are.
	a, _, err := load(ctx, h, accountAggregate, domain.CustomerStream(m.Tenant, customer))
	if err != nil {
		return ProviderResult{}, err
	}
	if id, done := bookedIn(a, claim, p); done {
		return duplicate(id), nil
	}
	res, err := h.decideAccount(ctx, "RecordPayment", m, customer, claim.PaymentID.String(), func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
		if _, done := bookedIn(a, claim, p); done {
			return nil, nil
		}
		received := p.ReceivedAt
		if received.IsZero() {
			received = now
		}
		return domain.DecideAccount(a, domain.RecordPayment{PaymentID: claim.PaymentID, Amount: p.Amount, Method: p.Method,
			ExternalReference: p.ExternalReference(), ReceivedAt: received}, now)
	})
	if err != nil {
		return ProviderResult{}, err
	}
	if !res.Changed() {
		a, _, err := load(ctx, h, accountAggregate, domain.CustomerStream(m.Tenant, customer))
		if err != nil {
			return ProviderResult{}, err
		}
		id, _ := bookedIn(a, claim, p)
		return duplicate(id), nil
	}
	return ProviderResult{Result: res, Outcome: OutcomeRecorded, Customer: customer}, nil
}

// bookedIn returns the payment of account a that books claim's provider payment: the claim's
// payment, else a payment of p's method and reference (the account takes a reference once).
func bookedIn(a domain.AccountState, claim domain.ProviderPaymentClaimed, p ProviderPayment) (domain.PaymentID, bool) {
	if a.HasPayment(claim.PaymentID) {
		return claim.PaymentID, true
	}
	old, ok := paymentOfReference(a, p)
	return old.ID, ok
}

// paymentOfReference returns the payment of account a with p's method and reference, if any
// (the account takes a reference once: the first recorded with it).
func paymentOfReference(a domain.AccountState, p ProviderPayment) (domain.PaymentState, bool) {
	id, ok := a.PaymentWithReference(p.Method, p.ExternalReference())
	if !ok {
		return domain.PaymentState{}, false
	}
	return a.Payment(id)
}

// recordReceipt books p to unallocated receipts; a receipt recorded already is a duplicate.
func (h *Handlers) recordReceipt(ctx context.Context, m Meta, id domain.ReceiptID, p ProviderPayment, reason domain.ReceiptReason, customer domain.CustomerID) (ProviderResult, error) {
	// Read first: a delivery deciding on a stale cache would append the events of the first
	// (same command, same version), which the store takes as a replay, and answer as it did.
	rs, _, err := load(ctx, h, receiptAggregate, domain.ReceiptStream(m.Tenant, id))
	if err != nil {
		return ProviderResult{}, err
	}
	if rs.Recorded() {
		return ProviderResult{Result: Result{ID: id.String()}, Outcome: OutcomeDuplicate, Reason: rs.Reason}, nil
	}
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
	if id, taken := a.PaymentWithReference(r.Method, r.ExternalReference); taken && (id != payment || anotherWithReference(a, payment, r)) {
		return r, &domain.AlreadyExistsError{Entity: "payment with " + r.Method.String() + " reference", ID: r.ExternalReference}
	}
	return r, nil
}

// anotherWithReference reports whether a payment other than payment has r's method and
// reference. The account's index names one payment per reference and RecordPayment takes a
// reference once, so only a history recorded without that check can hold another: this scan
// runs only when the index names payment itself (an allocation already recorded).
func anotherWithReference(a domain.AccountState, payment domain.PaymentID, r domain.ReceiptState) bool {
	for p := range a.Payments() {
		if p.ID != payment && p.Method == r.Method && p.ExternalReference == r.ExternalReference {
			return true
		}
	}
	return false
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
		if a.HasPayment(payment) {
			return nil, nil
		}
		return domain.DecideAccount(a, domain.RecordPayment{PaymentID: payment, Amount: r.Amount, Method: r.Method,
			ExternalReference: r.ExternalReference, ReceivedAt: r.ReceivedAt, Receipt: r.ID}, now)
	})
	return res, err
}
