package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/dotmac/ledger/domain"
)

// The figures of shared/BILLING-EXAMPLES.md, through the domain alone (the acceptance suite
// runs them again through the public HTTP APIs). Every command is sent in December 2026, after
// every date it names: the whole timeline is back-dated, in the order the table sends it.

// ledger is one customer's account and services, decided command by command.
type ledger struct {
	t        fataler
	account  []domain.Event
	services map[int][]domain.Event
	plans    map[string]domain.PlanState
	now      time.Time
	next     int // ids
}

func newLedger(t fataler) *ledger {
	l := &ledger{t: t, services: map[int][]domain.Event{}, plans: map[string]domain.PlanState{}, now: at("2026-12-01")}
	for _, p := range []struct{ code, name, price string }{
		{"home_50", "Home 50", "39.90"}, {"home_200", "Home 200", "64.50"}, {"biz_500", "Biz 500", "99.00"},
		{"static_ip", "Static IP", "5.00"}, {"tv", "TV", "18.75"},
	} {
		l.plans[p.code] = plan(definePlan(p.code, p.name, p.price, "0", false))
	}
	l.apply(must(domain.DecideAccount(domain.AccountState{}, registerAlice(), l.tick())))
	return l
}

func (l *ledger) tick() time.Time { l.now = l.now.Add(time.Minute); return l.now }

func (l *ledger) state() domain.AccountState { return must(domain.FoldAccount(l.account)) }

func (l *ledger) apply(evs []domain.Event) { l.account = append(l.account, evs...) }

func (l *ledger) serviceStates() []domain.ServiceState {
	var out []domain.ServiceState
	for n := 1; n <= len(l.services); n++ {
		out = append(out, must(domain.FoldService(l.services[n])))
	}
	return out
}

// service decides cmd on service n.
func (l *ledger) service(n int, cmd domain.ServiceCommand) {
	l.t.Helper()
	evs, err := domain.DecideService(must(domain.FoldService(l.services[n])), cmd, l.tick())
	if err != nil {
		l.t.Fatalf("service %d %T: %v", n, cmd, err)
	}
	l.services[n] = append(l.services[n], evs...)
}

// subscribe provisions and activates service n on the plan from day.
func (l *ledger) subscribe(n int, code, day string) {
	l.service(n, domain.ProvisionService{ServiceID: serviceID(n), Customer: l.state().Customer, Plan: l.plans[code],
		StartDate: date(day), InstallAddress: homeAddress})
	l.service(n, domain.ActivateService{On: date(day)})
}

// run bills period p as a billing run would, as if run on its last day, and returns the lines.
func (l *ledger) run(p string) []domain.InvoiceLine {
	l.t.Helper()
	l.next++
	lines, err := domain.RecurringCharges(period(p), l.state(), l.serviceStates())
	if err != nil {
		l.t.Fatalf("%v", err)
	}
	evs, err := domain.DecideAccount(l.state(), domain.GenerateRecurringInvoice{InvoiceID: invoiceID(l.next), Period: period(p),
		Number: fmt.Sprintf("INV-%d", l.next), IssueDate: period(p).LastDay(), DueDate: period(p).LastDay().AddDays(14),
		Lines: withLineIDs(lines, 100*l.next)}, l.tick())
	if err != nil {
		l.t.Fatalf("run %s: %v", p, err)
	}
	l.apply(evs)
	return eventAs[domain.InvoiceIssued](evs[1]).Lines
}

// adjust issues the account's billing adjustment, and returns its lines (none: nothing).
func (l *ledger) adjust() []domain.InvoiceLine {
	l.t.Helper()
	l.next++
	lines, err := domain.Adjustments(l.state(), l.serviceStates())
	if err != nil {
		l.t.Fatalf("%v", err)
	}
	evs, err := domain.DecideAccount(l.state(), domain.AdjustBilling{InvoiceID: invoiceID(l.next), CreditNoteID: creditNoteID(l.next),
		Number: fmt.Sprintf("ADJ-%d", l.next), DueDate: domain.DateOf(l.now).AddDays(14), Lines: withLineIDs(lines, 100*l.next)}, l.tick())
	if err != nil {
		l.t.Fatalf("adjust: %v", err)
	}
	l.apply(evs)
	for _, e := range evs {
		switch e := e.(type) {
		case domain.InvoiceIssued:
			return e.Lines
		case domain.CreditNoteIssued:
			return e.Lines
		}
	}
	return nil
}

func (l *ledger) pay(amount, received string) {
	l.t.Helper()
	l.next++
	evs, err := domain.DecideAccount(l.state(), domain.RecordPayment{PaymentID: paymentID(l.next), Amount: usd(amount),
		Method: domain.PaymentMethodBankTransfer, ReceivedAt: date(received).Time().Add(12 * time.Hour)}, l.tick())
	if err != nil {
		l.t.Fatalf("pay: %v", err)
	}
	l.apply(evs)
}

// balance checks the balance, and that the journal nets to zero and AR − credit is it.
func (l *ledger) balance(want string) {
	l.t.Helper()
	got := must(l.state().Balance())
	if !got.Equal(usd(want)) {
		l.t.Fatalf("balance %s, want %s", got, want)
	}
	var totals domain.LedgerTotals
	for _, e := range l.account {
		entry, ok, err := domain.Postings(e)
		if err != nil {
			l.t.Fatalf("%v", err)
		}
		if ok {
			totals.Post(entry)
		}
	}
	if !totals.Net(currency("USD")).IsZero() {
		l.t.Fatalf("the journal does not net to zero: %s", totals.Net(currency("USD")))
	}
	if cb := totals.CustomerBalance(currency("USD")); !cb.Equal(got) {
		l.t.Fatalf("AR − customer credit is %s, the balance %s", cb, got)
	}
}

// credit checks the customer credit (account 2200), and the status and outstanding amount of
// the invoice numbered number.
func (l *ledger) credit(want, number, status, outstanding string) {
	l.t.Helper()
	a := l.state()
	if !a.Credit.Equal(usd(want)) {
		l.t.Fatalf("customer credit %s, want %s", a.Credit, want)
	}
	for _, inv := range a.Invoices {
		if inv.Number == number {
			if inv.Status.String() != status || !inv.Outstanding.Equal(usd(outstanding)) {
				l.t.Fatalf("%s", inv)
			}
			return
		}
	}
	l.t.Fatalf("no invoice %s", number)
}

// amounts checks the lines' net amounts, in order.
func amounts(t *testing.T, lines []domain.InvoiceLine, want ...string) {
	t.Helper()
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %v: %+v", len(lines), want, lines)
	}
	for i, l := range lines {
		if !l.Net.Equal(usd(want[i])) {
			t.Fatalf("line %d %q: %s, want %s", i, l.Description, l.Net, want[i])
		}
	}
}

func TestBillingExamplesCustomerK(t *testing.T) {
	k := newLedger(t)
	k.subscribe(1, "home_50", "2026-03-12")                                                          // step 1
	k.balance("0.00")                                                                                //
	amounts(t, k.run("2026-03"), "25.74")                                                            // step 2
	k.balance("25.74")                                                                               //
	k.subscribe(2, "static_ip", "2026-04-20")                                                        // step 3
	amounts(t, k.run("2026-04"), "39.90", "1.83")                                                    // step 4
	k.balance("67.47")                                                                               //
	k.service(1, domain.ChangePlan{NewPlan: k.plans["home_200"], EffectiveDate: date("2026-05-10")}) // step 5
	k.balance("67.47")
	may := k.run("2026-05") // step 6
	amounts(t, may, "11.58", "45.77", "5.00")
	if may[0].From != date("2026-05-01") || may[0].Through != date("2026-05-09") || may[1].From != date("2026-05-10") {
		t.Fatalf("segments %+v", may)
	}
	k.balance("129.82")
	k.pay("100.00", "2026-05-15") // step 7
	k.balance("29.82")
	amounts(t, k.run("2026-06"), "64.50", "5.00") // step 8
	k.balance("99.32")
	k.service(1, domain.ChangePlan{NewPlan: k.plans["biz_500"], EffectiveDate: date("2026-06-21")}) // step 9
	adj := k.adjust()
	amounts(t, adj, "-21.50", "33.00")
	if adj[0].From != date("2026-06-21") || adj[0].Through != date("2026-06-30") || adj[0].PlanCode != planCode("home_200") {
		t.Fatalf("adjustment %+v", adj)
	}
	k.balance("110.82")
	k.subscribe(3, "tv", "2026-06-05") // step 10
	amounts(t, k.adjust(), "16.25")
	k.balance("127.07")
	amounts(t, k.run("2026-07"), "99.00", "5.00", "18.75") // step 11
	k.balance("249.82")
	k.pay("300.00", "2026-07-20") // step 12
	k.balance("-50.18")
	amounts(t, k.run("2026-08"), "99.00", "5.00", "18.75") // step 13
	k.balance("72.57")
	k.credit("0.00", "INV-10", "partially_paid", "72.57")
	k.service(1, domain.TerminateService{LastDay: date("2026-08-19")}) // step 14
	amounts(t, k.adjust(), "-38.32")
	k.balance("34.25")
	k.credit("0.00", "INV-10", "partially_paid", "34.25") // the credit note settles August: 72.57 − 38.32
	amounts(t, k.run("2026-09"), "5.00", "18.75")         // step 15
	k.balance("58.00")
	k.credit("0.00", "INV-12", "issued", "23.75") // September's 23.75 beside August's 34.25
	if extra := k.adjust(); len(extra) != 0 {
		t.Fatalf("everything is billed, yet: %+v", extra)
	}
}

// The order of the steps does not change what is billed: the plan change of step 9 sent
// before June's run bills June as it happened (two segments) instead of adjusting it.
func TestBillingExamplesChangeBeforeTheRun(t *testing.T) {
	k := newLedger(t)
	k.subscribe(1, "home_200", "2026-05-01")
	k.run("2026-05")
	k.service(1, domain.ChangePlan{NewPlan: k.plans["biz_500"], EffectiveDate: date("2026-06-21")})
	amounts(t, k.run("2026-06"), "43.00", "33.00")
	if extra := k.adjust(); len(extra) != 0 {
		t.Fatalf("nothing to adjust, yet: %+v", extra)
	}
}

// A service back-dated into a month before the account's first recurring invoice is billed
// by the adjustment, and a billing run for that month later bills nothing more.
func TestBackDatedServiceBeforeTheFirstInvoice(t *testing.T) {
	k := newLedger(t)
	k.subscribe(1, "home_50", "2026-03-01")
	k.run("2026-03")
	k.subscribe(2, "tv", "2026-01-11") // 21 of January's 31 days, then all of February and March
	amounts(t, k.adjust(), "12.70", "18.75", "18.75")
	lines, err := domain.RecurringCharges(period("2026-01"), k.state(), k.serviceStates())
	if err != nil || len(lines) != 0 {
		t.Fatalf("January billed again: %+v %v", lines, err)
	}
}

func TestBillingExamplesSingleLines(t *testing.T) {
	for _, tc := range []struct {
		name, price, currency, tax, from, want string
	}{
		{"home_50 from 2026-03-12 at 16 % tax: the net", "39.90", "USD", "0.16", "2026-03-12", "25.74"},
		{"JPY 4980 from 2026-02-11: 18 of 28 days", "4980", "JPY", "0", "2026-02-11", "3201"},
		{"BHD 12.500 from 2026-09-07: 24 of 30 days", "12.500", "BHD", "0", "2026-09-07", "10.000"},
		{"BHD 7.250 from 2026-07-19: 13 of 31 days", "7.250", "BHD", "0", "2026-07-19", "3.040"},
		{"home_50 from 2028-02-15: 15 of 29 days", "39.90", "USD", "0", "2028-02-15", "20.64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			account := must(domain.FoldAccount(history(on("2026-01-01", domain.RegisterCustomer{CustomerID: alice, Contact: aliceContact, Currency: currency(tc.currency)}))))
			p := definePlan("home_50", "Home 50", "1", tc.tax, false)
			p.MonthlyPrice = money(tc.price, tc.currency)
			s := must(domain.FoldService(serviceHistory(
				svc("2026-01-01", domain.ProvisionService{ServiceID: serviceID(1), Customer: account.Customer, Plan: plan(p), StartDate: date(tc.from), InstallAddress: homeAddress}),
				svc("2026-01-01", domain.ActivateService{On: date(tc.from)}))))
			inputs := must(domain.RecurringCharges(date(tc.from).Period(), account, []domain.ServiceState{s}))
			evs := must(domain.DecideAccount(account, domain.GenerateRecurringInvoice{InvoiceID: invoiceID(1), Period: date(tc.from).Period(),
				Number: "INV-1", IssueDate: date(tc.from).Period().LastDay(), DueDate: date(tc.from).Period().LastDay(), Lines: withLineIDs(inputs, 1)},
				date(tc.from).Period().End().Time()))
			lines := eventAs[domain.InvoiceIssued](evs[1]).Lines
			if len(lines) != 1 || !lines[0].Net.Equal(money(tc.want, tc.currency)) {
				t.Fatalf("got %+v", lines)
			}
			if tc.tax == "0.16" && (!lines[0].Tax.Equal(usd("4.12")) || !eventAs[domain.InvoiceIssued](evs[1]).Total.Equal(usd("29.86"))) {
				t.Fatalf("tax %s, total %s", lines[0].Tax, eventAs[domain.InvoiceIssued](evs[1]).Total)
			}
		})
	}
}

// A customer whose service is back-dated into a month the tenant's billing run has already
// passed (so the account was never invoiced for it) is billed for it on the next run's
// invoice, as an adjustment line before the month's own lines.
func TestMonthsNeverBilledCatchUpOnTheNextRun(t *testing.T) {
	k := newLedger(t)
	k.subscribe(1, "home_50", "2026-03-12") // the March run has been and gone
	amounts(t, k.run("2026-04"), "25.74", "39.90")
	if extra := k.adjust(); len(extra) != 0 {
		t.Fatalf("everything is billed, yet: %+v", extra)
	}
}

// TestOpeningBalanceSettlesTheDaysBefore: a customer moved over with an opening balance as of
// 2026-05-31 had every day up to it billed by the other system, whatever its services' dates:
// June's run bills June alone (no catch-up of March to May), and a plan change back-dated
// into May adjusts only the days after the opening balance.
func TestOpeningBalanceSettlesTheDaysBefore(t *testing.T) {
	for _, amount := range []string{"120.50", "-15.00"} {
		t.Run(amount, func(t *testing.T) {
			l := newLedger(t)
			l.apply(must(domain.DecideAccount(l.state(), domain.RecordOpeningBalance{InvoiceID: invoiceID(900),
				Amount: usd(amount), AsOf: date("2026-05-31")}, l.tick())))
			l.subscribe(1, "home_50", "2026-03-10")
			amounts(t, l.run("2026-06"), "39.90")
			l.service(1, domain.ChangePlan{NewPlan: l.plans["home_200"], EffectiveDate: date("2026-05-20")})
			amounts(t, l.adjust(), "-39.90", "64.50")
		})
	}
}
