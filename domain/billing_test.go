package domain_test

import (
	"testing"
	"time"

	"github.com/dotmac/ledger/domain"
)

// withLineIDs numbers the lines from first, as the command side does before invoicing.
func withLineIDs(lines []domain.LineInput, first int) []domain.LineInput {
	for i := range lines {
		lines[i].LineID = lineID(first + i)
	}
	return lines
}

// serviceOn is service n on the plan, provisioned and activated on day, then the extra steps.
func serviceOn(n int, p domain.DefinePlan, day string, more ...serviceStep) domain.ServiceState {
	events := serviceHistory(append([]serviceStep{svc(day, provision(n, plan(p), day)), svc(day, domain.ActivateService{})}, more...)...)
	return must(domain.FoldService(events))
}

func charges(t *testing.T, p string, services ...domain.ServiceState) []domain.LineInput {
	t.Helper()
	lines, err := domain.PeriodCharges(period(p), aliceAccount(), services)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// aliceAccount is Alice's account with nothing billed.
func aliceAccount() domain.AccountState { return must(domain.FoldAccount(history(registered()...))) }

// line is a service line of service 1 as RecurringCharges builds it: the plan's price over
// from..through, prorated unless that is the whole month.
func serviceLine(description, amount, code, full, from, through string, days, inMonth int) domain.LineInput {
	l := domain.LineInput{Description: description, Quantity: qty("1"), UnitPrice: usd(amount), TaxRate: rate("0"),
		ServiceID: serviceID(1), PlanCode: planCode(code), Period: date(from).Period(), From: date(from), Through: date(through)}
	if days < inMonth {
		l.Proration = &domain.Proration{DaysBilled: days, DaysInPeriod: inMonth, FullPrice: usd(full)}
	}
	return l
}

// Worked example: fiber_100 at 79.99 provisioned on 2026-01-10 bills 22 of January's 31
// days = 56.77; February is a full month.
func TestRecurringChargesFirstMonthProrated(t *testing.T) {
	fiber := serviceOn(1, fiber100(), "2026-01-10")
	want := []domain.LineInput{serviceLine("Fiber 100 (fiber_100) 2026-01-10..2026-01-31, 22 of 31 days", "56.77", "fiber_100", "79.99",
		"2026-01-10", "2026-01-31", 22, 31)}
	if got := charges(t, "2026-01", fiber); !equal(got, want) {
		t.Fatalf("January:\n got %+v\nwant %+v", got, want)
	}
	february := []domain.LineInput{serviceLine("Fiber 100 (fiber_100) 2026-02", "79.99", "fiber_100", "79.99", "2026-02-01", "2026-02-28", 28, 28)}
	if got := charges(t, "2026-02", fiber); !equal(got, february) {
		t.Fatalf("February:\n got %+v\nwant %+v", got, february)
	}
	if got := charges(t, "2025-12", fiber); len(got) != 0 {
		t.Fatalf("before the start: %+v", got)
	}
}

// Worked example: broadband 79.99 plus phone 29.99 is a monthly charge of 109.98.
func TestRecurringInvoiceBroadbandPlusPhone(t *testing.T) {
	services := []domain.ServiceState{serviceOn(1, fiber100(), "2025-12-01"), serviceOn(2, phone(), "2025-12-01")}
	lines := withLineIDs(charges(t, "2026-01", services...), 1)
	a := must(domain.FoldAccount(history(registered()...)))
	events := must(domain.DecideAccount(a, domain.GenerateRecurringInvoice{
		InvoiceID: invoiceID(1), Period: period("2026-01"), Number: "INV-2026-0001", DueDate: date("2026-02-15"), Lines: lines,
	}, at("2026-02-01")))
	issued, ok := events[1].(domain.InvoiceIssued)
	if !ok || !issued.Total.Equal(usd("109.98")) || len(issued.Lines) != 2 || issued.Period != period("2026-01") {
		t.Fatalf("got %+v", events)
	}
}

// Last month prorated: terminated with last day 2026-03-15 bills 15 of 31 days = 38.70.
func TestRecurringChargesLastMonthProrated(t *testing.T) {
	fiber := serviceOn(1, fiber100(), "2026-01-01", svc("2026-03-01", domain.TerminateService{LastDay: date("2026-03-15")}))
	got := charges(t, "2026-03", fiber)
	if len(got) != 1 || !got[0].UnitPrice.Equal(usd("38.70")) || got[0].Proration.DaysBilled != 15 || got[0].Through != date("2026-03-15") {
		t.Fatalf("got %+v", got)
	}
	if got := charges(t, "2026-04", fiber); len(got) != 0 {
		t.Fatalf("after termination: %+v", got)
	}
}

// Suspended days are billed only if the plan says so: 10 suspended days of February's 28 on
// fiber_100 (not billed while suspended) leave two runs of 9 days, 79.99 × 9/28 = 25.71 each;
// the phone plan bills while suspended.
func TestRecurringChargesSkipSuspendedDays(t *testing.T) {
	suspend := svc("2026-02-10", domain.SuspendService{Reason: domain.SuspensionNonPayment})
	resume := svc("2026-02-20", domain.ResumeService{})
	fiber := serviceOn(1, fiber100(), "2026-01-01", suspend, resume)
	tel := serviceOn(2, phone(), "2026-01-01", suspend, resume)
	got := charges(t, "2026-02", fiber, tel)
	if len(got) != 3 || !got[0].UnitPrice.Equal(usd("25.71")) || got[0].Through != date("2026-02-09") ||
		!got[1].UnitPrice.Equal(usd("25.71")) || got[1].From != date("2026-02-20") || !got[2].UnitPrice.Equal(usd("29.99")) {
		t.Fatalf("got %+v", got)
	}
}

// A plan change mid-month bills one line per plan segment, each rounded: fiber_100 for the
// 15 days before the change (38.70) and fiber_500 for the 16 from it (61.93).
func TestRecurringChargesWithPlanChange(t *testing.T) {
	fiber := serviceOn(1, fiber100(), "2025-12-01", svc("2026-01-16", domain.ChangePlan{NewPlan: plan(fiber500()), EffectiveDate: date("2026-01-16")}))
	want := []domain.LineInput{
		serviceLine("Fiber 100 (fiber_100) 2026-01-01..2026-01-15, 15 of 31 days", "38.70", "fiber_100", "79.99", "2026-01-01", "2026-01-15", 15, 31),
		serviceLine("Fiber 500 (fiber_500) 2026-01-16..2026-01-31, 16 of 31 days", "61.93", "fiber_500", "119.99", "2026-01-16", "2026-01-31", 16, 31),
	}
	if got := charges(t, "2026-01", fiber); !equal(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
	if total := recurringTotal(t, "2026-01", fiber); !total.Equal(usd("100.63")) {
		t.Fatalf("total %s", total)
	}
	// February bills the new plan in full.
	if feb := charges(t, "2026-02", fiber); len(feb) != 1 || !feb[0].UnitPrice.Equal(usd("119.99")) {
		t.Fatalf("February %+v", feb)
	}
}

// A change effective on the 1st bills the new plan only.
func TestRecurringChargesWithPlanChangeOnTheFirst(t *testing.T) {
	fiber := serviceOn(1, fiber100(), "2025-12-01", svc("2026-01-01", domain.ChangePlan{NewPlan: plan(fiber500()), EffectiveDate: date("2026-01-01")}))
	if got := charges(t, "2026-01", fiber); len(got) != 1 || got[0].PlanCode != planCode("fiber_500") || !got[0].UnitPrice.Equal(usd("119.99")) {
		t.Fatalf("got %+v", got)
	}
}

// A plan change then a termination in the same month: change on the 16th, last day the 20th:
// 15 days of fiber_100 (38.70) and 5 of fiber_500 (19.35).
func TestRecurringChargesWithPlanChangeThenTermination(t *testing.T) {
	fiber := serviceOn(1, fiber100(), "2025-12-01",
		svc("2026-01-16", domain.ChangePlan{NewPlan: plan(fiber500()), EffectiveDate: date("2026-01-16")}),
		svc("2026-01-16", domain.TerminateService{LastDay: date("2026-01-20")}))
	lines := charges(t, "2026-01", fiber)
	if len(lines) != 2 || !lines[0].UnitPrice.Equal(usd("38.70")) || !lines[1].UnitPrice.Equal(usd("19.35")) || lines[1].Proration.DaysBilled != 5 {
		t.Fatalf("got %+v", lines)
	}
	if total := recurringTotal(t, "2026-01", fiber); !total.Equal(usd("58.05")) {
		t.Fatalf("total %s", total)
	}
}

// recurringTotal invoices the service's charges for period p on a fresh account.
func recurringTotal(t *testing.T, p string, services ...domain.ServiceState) domain.Money {
	t.Helper()
	a := must(domain.FoldAccount(history(registered()...)))
	events, err := domain.DecideAccount(a, domain.GenerateRecurringInvoice{
		InvoiceID: invoiceID(1), Period: period(p), Number: "INV-1", DueDate: period(p).End().AddDays(14),
		Lines: withLineIDs(charges(t, p, services...), 1),
	}, period(p).End().Time().Add(9*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return eventAs[domain.InvoiceIssued](events[1]).Total
}

// JPY has no minor unit and BHD three: 5000 JPY × 22/31 = 3548.39 → 3548; 25.000 BHD ×
// 22/31 = 17.7419 → 17.742.
func TestRecurringChargesRoundPerCurrency(t *testing.T) {
	for _, tc := range []struct{ price, want string }{{"5000 JPY", "3548 JPY"}, {"25.000 BHD", "17.742 BHD"}} {
		amount, code := split(tc.price)
		account := must(domain.FoldAccount(history(on("2026-01-01", domain.RegisterCustomer{CustomerID: alice, Contact: aliceContact, Currency: currency(code)}))))
		p := fiber100()
		p.MonthlyPrice = money(amount, code)
		events := serviceHistory(
			svc("2026-01-10", domain.ProvisionService{ServiceID: serviceID(1), Customer: account.Customer, Plan: plan(p), StartDate: date("2026-01-10"), InstallAddress: homeAddress}),
			svc("2026-01-10", domain.ActivateService{}))
		lines := must(domain.PeriodCharges(period("2026-01"), account, []domain.ServiceState{must(domain.FoldService(events))}))
		wantAmount, wantCode := split(tc.want)
		if len(lines) != 1 || !lines[0].UnitPrice.Equal(money(wantAmount, wantCode)) {
			t.Errorf("%s: got %+v", tc.price, lines)
		}
	}
}

func split(s string) (string, string) {
	for i := range s {
		if s[i] == ' ' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func TestRecurringChargesRules(t *testing.T) {
	notActivated := must(domain.FoldService(serviceHistory(svc("2026-01-01", provision(1, plan(fiber100()), "2026-01-01")))))
	if got := charges(t, "2026-01", notActivated); len(got) != 0 {
		t.Errorf("a service never activated is not billed: %+v", got)
	}
	fiber := serviceOn(1, fiber100(), "2026-01-01")
	bob := aliceAccount()
	bob.Customer.ID = customerID(2)
	if _, err := domain.PeriodCharges(period("2026-01"), bob, []domain.ServiceState{fiber}); err == nil {
		t.Error("another customer's service was billed")
	}
	eur := aliceAccount()
	eur.Customer.Currency = currency("EUR")
	if _, err := domain.PeriodCharges(period("2026-01"), eur, []domain.ServiceState{fiber}); err == nil {
		t.Error("a service in another currency was billed")
	}
	if _, err := domain.PeriodCharges(domain.Period{}, aliceAccount(), nil); err == nil {
		t.Error("no period")
	}
}

// The account refuses a second recurring invoice for the same period, so billing is
// idempotent per (customer, period) even without the billing run stream.
func TestGenerateRecurringInvoice(t *testing.T) {
	lines := func() []domain.LineInput {
		return withLineIDs(charges(t, "2026-01", serviceOn(1, fiber100(), "2026-01-10")), 1)
	}
	generate := func(n int) domain.GenerateRecurringInvoice {
		return domain.GenerateRecurringInvoice{InvoiceID: invoiceID(n), Period: period("2026-01"), Number: "INV-2026-01-0001", DueDate: date("2026-02-15"), Lines: lines()}
	}
	line := wantLine(1, "Fiber 100 (fiber_100) 2026-01-10..2026-01-31, 22 of 31 days", "1", "56.77", "56.77", "0", "0.00")
	line.ServiceID, line.PlanCode, line.Period = serviceID(1), planCode("fiber_100"), period("2026-01")
	line.From, line.Through = date("2026-01-10"), date("2026-01-31")
	line.Proration = &domain.Proration{DaysBilled: 22, DaysInPeriod: 31, FullPrice: usd("79.99")}
	feb1 := at("2026-02-01")
	runAccount(t, []scenario[domain.AccountCommand]{
		{
			name: "one command creates and issues the invoice", given: history(registered()...), when: generate(1), now: feb1,
			then: []domain.Event{
				domain.InvoiceCreated{CustomerID: alice, InvoiceID: invoiceID(1), Currency: usdCurrency, Period: period("2026-01"), Lines: []domain.InvoiceLine{line}, CreatedAt: feb1},
				domain.InvoiceIssued{InvoiceIssuedHead: domain.InvoiceIssuedHead{
					CustomerID: alice, InvoiceID: invoiceID(1), Number: "INV-2026-01-0001", IssueDate: date("2026-02-01"), DueDate: date("2026-02-15"),
					Currency: usdCurrency, Period: period("2026-01"),
					NetTotal: usd("56.77"), TaxTotal: usd("0"), Total: usd("56.77"), CreditApplied: usd("0"), IssuedAt: feb1,
				}, Lines: []domain.InvoiceLine{line}},
			},
		},
		{
			name: "running the same period twice creates nothing new", given: history(steps(registered(), []step{{now: feb1, cmd: generate(1)}})...),
			when: generate(2), now: feb1,
			wantErr: &domain.AlreadyBilledError{Customer: alice, Period: period("2026-01"), Invoice: invoiceID(1)},
		},
		{
			name: "a period is required", given: history(registered()...), when: domain.GenerateRecurringInvoice{InvoiceID: invoiceID(1)},
			wantErr: &domain.InvalidValueError{Field: "period", Value: "", Reason: "missing"},
		},
		{
			name: "an empty recurring invoice is not issued", given: history(registered()...), now: feb1,
			when:    domain.GenerateRecurringInvoice{InvoiceID: invoiceID(1), Period: period("2026-01"), Number: "INV-1", DueDate: date("2026-02-15")},
			wantErr: &domain.EmptyInvoiceError{Invoice: invoiceID(1)},
		},
	})
}
