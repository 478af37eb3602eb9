package domain

import "time"

// BillingRunState is the billing run of one tenant and period. Build it only with
// FoldBillingRun/ApplyBillingRun.
type BillingRunState struct {
	ID        BillingRunID
	Period    Period
	Completed bool
	// Invoiced maps each customer billed by the run to its recurring invoice.
	Invoiced map[CustomerID]InvoiceID
}

// Started reports whether the run exists.
func (r BillingRunState) Started() bool { return !r.ID.IsZero() }

// BillingRunCommand is StartBillingRun, RecordCustomerInvoiced or CompleteBillingRun.
type BillingRunCommand interface{ billingRunCommand() }

// StartBillingRun opens the run of Period. A period has one run: starting it again is refused,
// so running the same period twice creates nothing new.
//
// Errors: *AlreadyExistsError; *InvalidValueError for a missing id or period.
type StartBillingRun struct {
	BillingRunID BillingRunID
	Period       Period
}

// RecordCustomerInvoiced records the recurring invoice the run created for a customer (with
// GenerateRecurringInvoice on the customer's account).
//
// Errors: *NotFoundError if the run has not started; *InvalidTransitionError once completed;
// *AlreadyBilledError if the customer was already invoiced by this run.
type RecordCustomerInvoiced struct {
	CustomerID CustomerID
	InvoiceID  InvoiceID
}

// CompleteBillingRun closes the run.
//
// Errors: *NotFoundError if the run has not started; *InvalidTransitionError once completed.
type CompleteBillingRun struct{}

func (StartBillingRun) billingRunCommand()        {}
func (RecordCustomerInvoiced) billingRunCommand() {}
func (CompleteBillingRun) billingRunCommand()     {}

// DecideBillingRun decides cmd against run r at instant now.
func DecideBillingRun(r BillingRunState, cmd BillingRunCommand, now time.Time) ([]Event, error) {
	if c, ok := cmd.(StartBillingRun); ok {
		return decideStartBillingRun(r, c, now)
	}
	switch {
	case !r.Started():
		return nil, &NotFoundError{Entity: "billing run", ID: "(not started)"}
	case r.Completed:
		return nil, &InvalidTransitionError{Entity: "billing run", ID: r.ID.String(), From: "completed", To: "running"}
	}
	switch c := cmd.(type) {
	case RecordCustomerInvoiced:
		if err := firstError(checkID(c.CustomerID), checkID(c.InvoiceID)); err != nil {
			return nil, err
		}
		if inv, ok := r.Invoiced[c.CustomerID]; ok {
			return nil, &AlreadyBilledError{Customer: c.CustomerID, Period: r.Period, Invoice: inv}
		}
		return []Event{BillingRunCustomerInvoiced{BillingRunID: r.ID, Period: r.Period, CustomerID: c.CustomerID, InvoiceID: c.InvoiceID, InvoicedAt: now.UTC()}}, nil
	case CompleteBillingRun:
		return []Event{BillingRunCompleted{BillingRunID: r.ID, Period: r.Period, CustomersInvoiced: len(r.Invoiced), CompletedAt: now.UTC()}}, nil
	}
	return nil, invalid("billing run command", typeName(cmd), "unknown")
}

func decideStartBillingRun(r BillingRunState, c StartBillingRun, now time.Time) ([]Event, error) {
	if r.Started() {
		return nil, &AlreadyExistsError{Entity: "billing run", ID: r.Period.String()}
	}
	if err := checkID(c.BillingRunID); err != nil {
		return nil, err
	}
	if c.Period.IsZero() {
		return nil, invalid("period", "", "missing")
	}
	return []Event{BillingRunStarted{BillingRunID: c.BillingRunID, Period: c.Period, StartedAt: now.UTC()}}, nil
}

// ApplyBillingRun folds one billing run event onto r; r is not modified.
func ApplyBillingRun(r BillingRunState, e Event) (BillingRunState, error) {
	return applyBillingRun(r, e, &owned[CustomerID, InvoiceID]{})
}

// BillingRunApplier applies events to a chain of billing run states, as AccountApplier does
// to accounts: r.Invoiced is copied once per chain, not once per customer.
type BillingRunApplier struct{ invoiced owned[CustomerID, InvoiceID] }

// Apply applies events to r in order, as ApplyBillingRun does one by one; errors and the
// validity of earlier states are as for AccountApplier.Apply.
func (p *BillingRunApplier) Apply(r BillingRunState, events ...Event) (BillingRunState, error) {
	next, err := fold(r, events, func(r BillingRunState, e Event) (BillingRunState, error) {
		return applyBillingRun(r, e, &p.invoiced)
	})
	if err != nil {
		return r, err
	}
	return next, nil
}

// applyBillingRun is ApplyBillingRun writing r.Invoiced in place when o owns it.
func applyBillingRun(r BillingRunState, e Event, o *owned[CustomerID, InvoiceID]) (BillingRunState, error) {
	switch e := e.(type) {
	case BillingRunStarted:
		if r.Started() {
			return r, invariantf("billing run %s started twice", r.ID)
		}
		return BillingRunState{ID: e.BillingRunID, Period: e.Period}, nil
	case BillingRunCustomerInvoiced:
		if _, dup := r.Invoiced[e.CustomerID]; dup || !r.Started() || r.Completed || e.BillingRunID != r.ID {
			return r, invariantf("billing run %s cannot record customer %s", r.ID, e.CustomerID)
		}
		r.Invoiced = put(r.Invoiced, e.CustomerID, e.InvoiceID, o, false)
		return r, nil
	case BillingRunCompleted:
		if !r.Started() || r.Completed || e.BillingRunID != r.ID || e.CustomersInvoiced != len(r.Invoiced) {
			return r, invariantf("billing run %s cannot complete with %d customers", r.ID, e.CustomersInvoiced)
		}
		r.Completed = true
		return r, nil
	}
	return r, invariantf("%s is not a billing run event", e.EventType())
}

// FoldBillingRun rebuilds a billing run from its stream.
func FoldBillingRun(events []Event) (BillingRunState, error) {
	var p BillingRunApplier
	return p.Apply(BillingRunState{}, events...)
}
