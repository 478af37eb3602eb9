package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/dotmac/ledger/domain"
)

// An event that cannot apply is a programmer error: the fold stops with an error that wraps
// ErrInvariant, names the event, and reads "invariant: ...".
func TestFoldRefusesBrokenHistories(t *testing.T) {
	base := history(steps(registered(), invoiceIssuedOn(1, "2026-01-02", lineIn(1, "Broadband", "79.99")))...)
	registeredEvent, created, issued := base[0], eventAs[domain.InvoiceCreated](base[1]), eventAs[domain.InvoiceIssued](base[2])
	overAllocated := paymentRecorded(1, "100", "0", allocation(1, "100"))
	foreign := created
	foreign.CustomerID = customerID(2)
	wrongCurrency := paymentRecorded(1, "10", "10")
	wrongCurrency.Unapplied = money("10", "EUR")
	badTotal := issued
	badTotal.Total = usd("1")
	linesTampered := issued
	linesTampered.Lines = []domain.InvoiceLine{wantLine(1, "Broadband", "1", "1.00", "1.00", "0", "0")}
	lineWrong := issued
	lineWrong.Lines = []domain.InvoiceLine{wantLine(1, "Broadband", "2", "79.99", "79.99", "0", "0")}
	tooMuchCredit := issued
	tooMuchCredit.CreditApplied = usd("5")
	cases := []struct {
		name   string
		events []domain.Event
	}{
		{"an event before CustomerRegistered", []domain.Event{created}},
		{"registered twice", []domain.Event{registeredEvent, registeredEvent}},
		{"an invoice created twice", append(base, created)},
		{"issued twice", append(base, issued)},
		{"an invoice of another customer", []domain.Event{registeredEvent, foreign}},
		{"a payment settling more than is outstanding", append(base, overAllocated)},
		{"a payment whose parts do not add up", append(base, paymentRecorded(1, "100", "1", allocation(1, "79.99")))},
		{"money in a foreign currency", append(base, wrongCurrency)},
		{"totals that do not add up", []domain.Event{registeredEvent, created, badTotal}},
		{"totals that do not match the lines", []domain.Event{registeredEvent, created, linesTampered}},
		{"a line that does not add up", []domain.Event{registeredEvent, created, lineWrong}},
		{"credit applied that the customer does not have", []domain.Event{registeredEvent, created, tooMuchCredit}},
		{"a refund of an unknown payment", append(base, domain.PaymentRefunded{CustomerID: alice, PaymentID: paymentID(1), Amount: usd("1")})},
		{"a service event in an account", append(base, domain.ServiceActivated{ServiceID: serviceID(1)})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domain.FoldAccount(tc.events)
			assertInvariant(t, err)
		})
	}
}

func assertInvariant(t *testing.T, err error) {
	t.Helper()
	var fe *domain.FoldError
	if !errors.Is(err, domain.ErrInvariant) || !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "invariant: event ") {
		t.Fatalf("got %v, want a *FoldError wrapping ErrInvariant", err)
	}
}

func TestFoldRefusesBrokenServicePlanAndRunHistories(t *testing.T) {
	service := serviceHistory(fiberFrom("2026-01-01")...)
	otherService := domain.ServiceSuspended{ServiceID: serviceID(2), Reason: domain.SuspensionRequested}
	planDefined := must(domain.DecidePlan(domain.PlanState{}, fiber100(), t0))[0]
	retired := domain.PlanRetired{PlanCode: planCode("fiber_100")}
	started := domain.BillingRunStarted{BillingRunID: billingRunID(1), Period: period("2026-01")}
	assertInvariant(t, second(domain.FoldService(append(service, otherService))))
	assertInvariant(t, second(domain.FoldService(append(service, service[1]))))                                     // activated twice
	assertInvariant(t, second(domain.FoldService(append(service, domain.ServiceResumed{ServiceID: serviceID(1)})))) // not suspended
	assertInvariant(t, second(domain.FoldService(append(service, service[0]))))
	assertInvariant(t, second(domain.FoldService([]domain.Event{planDefined})))
	assertInvariant(t, second(domain.FoldPlan([]domain.Event{planDefined, retired, retired})))
	assertInvariant(t, second(domain.FoldPlan([]domain.Event{planDefined, planDefined})))
	assertInvariant(t, second(domain.FoldPlan([]domain.Event{started})))
	assertInvariant(t, second(domain.FoldBillingRun([]domain.Event{started, started})))
	assertInvariant(t, second(domain.FoldBillingRun([]domain.Event{started, domain.BillingRunCompleted{BillingRunID: billingRunID(1), CustomersInvoiced: 3}})))
	assertInvariant(t, second(domain.FoldBillingRun([]domain.Event{planDefined})))
}

func second[S any](_ S, err error) error { return err }

// Apply never modifies the state it is given: an older state stays valid after later events.
func TestApplyDoesNotModifyItsInput(t *testing.T) {
	events := history(steps(registered(), invoiceIssuedOn(1, "2026-01-02", lineIn(1, "Broadband", "79.99")),
		[]step{on("2026-01-03", recordPayment(1, "100"))})...)
	before := must(domain.FoldAccount(events[:len(events)-1]))
	snapshot := must(domain.FoldAccount(events[:len(events)-1]))
	after := must(domain.ApplyAccount(before, events[len(events)-1]))
	if !equal(before, snapshot) {
		t.Fatal("ApplyAccount modified its input")
	}
	if after.Invoices[invoiceID(1)].Status != domain.InvoiceStatusPaid || before.Invoices[invoiceID(1)].Status != domain.InvoiceStatusIssued {
		t.Fatal("states mixed up")
	}
	// A failing apply returns the state it was given.
	got, err := domain.ApplyAccount(after, events[0])
	if err == nil || !equal(got, after) {
		t.Fatalf("got %v", err)
	}
}

func TestAppliersDoNotModifyWhatTheyWereGiven(t *testing.T) {
	events := history(steps(registered(), invoiceIssuedOn(1, "2026-01-02", lineIn(1, "Broadband", "79.99")),
		[]step{on("2026-01-03", recordPayment(1, "10")), on("2026-01-04", recordPayment(2, "10"))})...)
	n := len(events)
	before := must(domain.FoldAccount(events[:n-2]))
	snapshot := must(domain.FoldAccount(events[:n-2]))
	var p domain.AccountApplier
	after := must(p.Apply(before, events[n-2:]...))
	if !equal(before, snapshot) || after.PaymentCount() != before.PaymentCount()+2 {
		t.Fatal("AccountApplier modified a state it did not make")
	}
	// A failing event returns the state given, and a fold error naming the event.
	got, err := p.Apply(after, events[0])
	var fe *domain.FoldError
	if !errors.As(err, &fe) || !errors.Is(err, domain.ErrInvariant) || !equal(got, after) {
		t.Fatalf("got %v", err)
	}

	start := domain.BillingRunStarted{BillingRunID: billingRunID(1), Period: period("2026-02"), StartedAt: at("2026-02-01")}
	invoiced := func(n int) domain.Event {
		return domain.BillingRunCustomerInvoiced{BillingRunID: billingRunID(1), Period: period("2026-02"), CustomerID: customerID(n), InvoiceID: invoiceID(n)}
	}
	run := must(domain.FoldBillingRun([]domain.Event{start, invoiced(1)}))
	var rp domain.BillingRunApplier
	next := must(rp.Apply(run, invoiced(2), invoiced(3)))
	if len(run.Invoiced) != 1 || len(next.Invoiced) != 3 {
		t.Fatalf("run %d, next %d customers", len(run.Invoiced), len(next.Invoiced))
	}
}

func TestUnknownCommands(t *testing.T) {
	a := must(domain.FoldAccount(history(registered()...)))
	if _, err := domain.DecideAccount(a, nil, t0); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("account: %v", err)
	}
	if _, err := domain.DecideService(must(domain.FoldService(serviceHistory(fiberFrom("2026-01-01")...))), nil, t0); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("service: %v", err)
	}
	if _, err := domain.DecidePlan(domain.PlanState{}, nil, t0); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("plan: %v", err)
	}
	run := must(domain.FoldBillingRun([]domain.Event{domain.BillingRunStarted{BillingRunID: billingRunID(1), Period: period("2026-01")}}))
	if _, err := domain.DecideBillingRun(run, nil, t0); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("billing run: %v", err)
	}
}

// Error messages are readable sentences with the ids and amounts a person needs.
func TestErrorMessages(t *testing.T) {
	cases := map[error]string{
		&domain.InvalidTransitionError{Entity: "invoice", ID: "0193", From: "paid", To: "void"}:                                  "invoice 0193 cannot go from paid to void",
		&domain.RefundExceedsPaymentError{Payment: paymentID(1), Requested: usd("10"), Refundable: usd("5")}:                     "refund of 10.00 USD exceeds the 5.00 USD refundable on payment " + paymentID(1).String(),
		&domain.AlreadyBilledError{Customer: alice, Period: period("2026-01"), Invoice: invoiceID(1)}:                            "customer " + alice.String() + " is already billed for 2026-01 by invoice " + invoiceID(1).String(),
		&domain.InvalidValueError{Field: "amount", Value: strings.Repeat("9", 100), Reason: "too long"}:                          `invalid amount "` + strings.Repeat("9", 64) + `...": too long`,
		&domain.NotFoundError{Entity: "invoice", ID: "x"}:                                                                        "invoice x not found",
		&domain.CustomerInactiveError{Customer: alice}:                                                                           "customer " + alice.String() + " is deactivated",
		&domain.PlanRetiredError{Plan: planCode("fiber_100")}:                                                                    "plan fiber_100 is retired",
		&domain.NegativeTotalError{Invoice: invoiceID(1), Total: usd("-1")}:                                                      "invoice " + invoiceID(1).String() + " totals -1.00 USD; an invoice cannot be negative",
		&domain.DateNotAllowedError{Entity: "service", ID: "s", Field: "last day", Date: date("2026-01-01"), Reason: "is early"}: "service s: last day 2026-01-01 is early",
	}
	for err, want := range cases {
		if err.Error() != want {
			t.Errorf("got  %q\nwant %q", err.Error(), want)
		}
	}
	for _, err := range []error{
		&domain.EmptyInvoiceError{}, &domain.TooManyLinesError{}, &domain.DueBeforeIssueError{}, &domain.DuplicateInvoiceNumberError{},
		&domain.NotYetDueError{}, &domain.InvoiceNotOpenError{}, &domain.CreditExceedsOutstandingError{}, &domain.RefundExceedsCreditError{},
	} {
		if !errors.Is(err, domain.ErrRejected) || err.Error() == "" {
			t.Errorf("%T", err)
		}
	}
}
