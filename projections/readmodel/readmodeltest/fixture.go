package readmodeltest

import (
	"fmt"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
)

// must returns v, panicking on err: fixture literals are always valid.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// FixtureID is the readable UUIDv7 numbered n the fixture uses ("01940000-0000-7000-8000-000000000101"):
// customers 101 (alice, acme), 102 (bob, acme) and 103 (carol, globex, in BHD); invoices 201-206;
// payments 301-303; credit notes 401-402 (403 in CalendarFixture); services 601-602; lines 5xx
// and 9xx. CreditFixture has customer 104 (dave), invoices 211-212 and credit note 411.
func FixtureID(n int) string { return fmt.Sprintf("01940000-0000-7000-8000-%012d", n) }

func uuidN(n int) string { return FixtureID(n) }

func customerID(n int) domain.CustomerID     { return must(domain.ParseCustomerID(uuidN(100 + n))) }
func serviceID(n int) domain.ServiceID       { return must(domain.ParseServiceID(uuidN(600 + n))) }
func invoiceID(n int) domain.InvoiceID       { return must(domain.ParseInvoiceID(uuidN(200 + n))) }
func paymentID(n int) domain.PaymentID       { return must(domain.ParsePaymentID(uuidN(300 + n))) }
func creditNoteID(n int) domain.CreditNoteID { return must(domain.ParseCreditNoteID(uuidN(400 + n))) }
func lineID(n int) domain.LineID             { return must(domain.ParseLineID(uuidN(500 + n))) }
func runID(n int) domain.BillingRunID        { return must(domain.ParseBillingRunID(uuidN(700 + n))) }
func date(s string) domain.Date              { return must(domain.ParseDate(s)) }
func usd(s string) domain.Money              { return must(domain.ParseMoney(s, "USD")) }
func rate(s string) domain.TaxRate           { return must(domain.ParseTaxRate(s)) }
func qty(s string) domain.Quantity           { return must(domain.ParseQuantity(s)) }
func code(s string) domain.PlanCode          { return must(domain.ParsePlanCode(s)) }

var (
	acme   = must(domain.ParseTenantID("acme"))
	globex = must(domain.ParseTenantID("globex"))
	alice  = customerID(1)
	bob    = customerID(2)
	carol  = customerID(3) // globex, in BHD
)

// Fixture is a small history of two tenants that uses every event type: plans, services
// with a plan change, a suspension and a termination, hand-made and recurring invoices, a
// void, payments with allocations, an overpayment, a refund, credit notes against an invoice
// and the account, an overdue invoice, a billing run, a customer in a 3-decimal currency, and
// an unallocated receipt (502: 25.00 USD an M-Pesa reference named nobody with).
func Fixture() ([]projections.Event, error) {
	h, err := FixtureHistory()
	if err != nil {
		return nil, err
	}
	return h.Events(), nil
}

// FixtureHistory is the History that records Fixture, for tests that go on deciding commands
// after it (its clock is at 2026-03-11).
func FixtureHistory() (*History, error) {
	h := NewHistory(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC), 1)
	f := &fixtureSteps{h: h}
	f.day("2026-01-01")
	f.plan(code("fiber_100"), domain.DefinePlan{Code: code("fiber_100"), Name: "Fiber 100", MonthlyPrice: usd("79.99"), TaxClass: "zero", TaxRate: rate("0")})
	f.plan(code("fiber_500"), domain.DefinePlan{Code: code("fiber_500"), Name: "Fiber 500", MonthlyPrice: usd("119.99"), TaxClass: "zero", TaxRate: rate("0")})
	f.plan(code("voice"), domain.DefinePlan{Code: code("voice"), Name: "Home phone", MonthlyPrice: usd("29.99"), TaxClass: "telecom", TaxRate: rate("0.075"), BillWhileSuspended: true})
	f.register(acme, alice, "Alice Ng", "USD")
	f.provision(acme, alice, serviceID(1), "fiber_100", "2026-01-01")
	f.service(acme, serviceID(1), domain.ActivateService{})
	f.day("2026-01-02")
	f.register(acme, bob, "Bob Ode", "USD")
	f.provision(acme, bob, serviceID(2), "fiber_100", "2026-01-02")
	f.account(acme, alice, domain.UpdateCustomerContact{Contact: domain.Contact{Name: "Alice Ng", Email: "alice@new.example", Phone: "+1 555 0101", BillingAddress: "2 Side St"}})
	f.day("2026-01-03")
	f.service(acme, serviceID(2), domain.ActivateService{})
	carolContact := domain.Contact{Name: "Carol Haddad", Email: "carol@globex.example", BillingAddress: "Manama"}
	f.account(globex, carol, domain.RegisterCustomer{CustomerID: carol, Contact: carolContact, Currency: must(domain.ParseCurrency("BHD"))})
	f.account(globex, carol, domain.CreateInvoice{InvoiceID: invoiceID(6), Lines: []domain.LineInput{
		{LineID: lineID(61), Description: "Installation", Quantity: qty("1"), UnitPrice: must(domain.ParseMoney("12.345", "BHD"))}}})
	f.account(globex, carol, domain.IssueInvoice{InvoiceID: invoiceID(6), Number: "G-1", DueDate: date("2026-02-03")})
	f.day("2026-01-05")
	f.account(acme, alice, domain.CreateInvoice{InvoiceID: invoiceID(1), Lines: []domain.LineInput{
		{LineID: lineID(11), Description: "Installation", Quantity: qty("1"), UnitPrice: usd("50.00"), TaxRate: rate("0.2")}}})
	f.account(acme, alice, domain.AddInvoiceLine{InvoiceID: invoiceID(1), Line: domain.LineInput{
		LineID: lineID(12), Description: "Router", Quantity: qty("2"), UnitPrice: usd("12.50"), TaxRate: rate("0.2")}})
	f.account(acme, alice, domain.IssueInvoice{InvoiceID: invoiceID(1), Number: "A-0001", DueDate: date("2026-01-19")})
	f.day("2026-01-10")
	f.pay(acme, alice, paymentID(1), "100.00", domain.PaymentMethodCard, "ch_1")
	f.day("2026-01-12")
	f.account(acme, bob, domain.CreateInvoice{InvoiceID: invoiceID(2), Lines: []domain.LineInput{
		{LineID: lineID(21), Description: "Installation", Quantity: qty("1"), UnitPrice: usd("50.00")}}})
	f.account(acme, bob, domain.IssueInvoice{InvoiceID: invoiceID(2), Number: "B-0001", DueDate: date("2026-01-26")})
	f.day("2026-01-13")
	f.account(acme, bob, domain.CreateInvoice{InvoiceID: invoiceID(3), Lines: []domain.LineInput{
		{LineID: lineID(31), Description: "Setup", Quantity: qty("1"), UnitPrice: usd("20.00")}}})
	f.account(acme, bob, domain.IssueInvoice{InvoiceID: invoiceID(3), Number: "B-0002", DueDate: date("2026-01-27")})
	f.day("2026-01-14")
	f.account(acme, bob, domain.VoidInvoice{InvoiceID: invoiceID(3), Reason: "duplicate"})
	f.day("2026-01-16")
	f.service(acme, serviceID(1), domain.ChangePlan{NewPlan: h.PlanState(acme, code("fiber_500")), EffectiveDate: date("2026-01-16")})
	f.day("2026-01-20")
	f.pay(acme, bob, paymentID(2), "20.00", domain.PaymentMethodBankTransfer, "bt-9")
	f.day("2026-01-27")
	f.account(acme, bob, domain.MarkInvoiceOverdue{InvoiceID: invoiceID(2)})
	f.day("2026-01-28")
	f.account(acme, bob, domain.IssueCreditNote{CreditNoteID: creditNoteID(1), InvoiceID: invoiceID(2), Net: usd("10.00"), TaxRate: rate("0"), Reason: "late install"})
	f.day("2026-01-29")
	f.account(acme, alice, domain.RefundPayment{PaymentID: paymentID(1), Amount: usd("5.00"), Reason: "overpaid"})
	f.day("2026-02-01")
	f.billingRun(acme, "2026-01", []domain.CustomerID{alice, bob}, []domain.InvoiceID{invoiceID(4), invoiceID(5)})
	f.day("2026-02-05")
	f.account(acme, alice, domain.IssueCreditNote{CreditNoteID: creditNoteID(2), Net: usd("5.00"), TaxRate: rate("0.2"), Reason: "goodwill"})
	f.day("2026-02-10")
	f.pay(acme, bob, paymentID(3), "94.83", domain.PaymentMethodDirectDebit, "")
	f.day("2026-02-20")
	f.service(acme, serviceID(2), domain.SuspendService{Reason: domain.SuspensionNonPayment})
	f.day("2026-02-25")
	f.service(acme, serviceID(2), domain.ResumeService{})
	f.day("2026-03-01")
	f.plan(code("fiber_100"), domain.RetirePlan{})
	f.day("2026-03-10")
	f.service(acme, serviceID(2), domain.TerminateService{LastDay: date("2026-03-31"), Reason: "moving"})
	f.day("2026-03-11")
	f.account(acme, bob, domain.DeactivateCustomer{Reason: "moved"})
	f.check(h.Receipt(acme, receiptID(502), domain.RecordUnallocatedReceipt{ReceiptID: receiptID(502), Amount: usd("25.00"),
		Method: domain.PaymentMethodMobileMoney, ExternalReference: "mpesa:QK502", AccountReference: "ACME 0009", Payer: "2547****126",
		Reason: domain.ReceiptUnknownCustomer, ReceivedAt: h.Now.Add(-time.Hour)}))
	return h, f.err
}

// CalendarFixture is Fixture followed by what the billing calendar adds: an opening balance
// (carol, 5.000 BHD as of 2025-12-31: open item invoice 207) and a billing adjustment (alice's
// service 601 terminated late, back to 2026-01-25, after January was invoiced: credit note 403
// with one line crediting 2026-01-26..31 of fiber_500, 23.22).
func CalendarFixture() ([]projections.Event, error) {
	h, err := FixtureHistory()
	if err != nil {
		return nil, err
	}
	f := &fixtureSteps{h: h}
	f.day("2026-03-12")
	f.account(globex, carol, domain.RecordOpeningBalance{InvoiceID: invoiceID(7), Amount: must(domain.ParseMoney("5.000", "BHD")), AsOf: date("2025-12-31")})
	f.service(acme, serviceID(1), domain.TerminateService{LastDay: date("2026-01-25"), Reason: "cancelled late"})
	f.adjust(acme, alice, serviceID(1), invoiceID(8), creditNoteID(3))
	return h.Events(), f.err
}

// adjust issues the billing adjustment of customer c over its service s (invoice or credit
// note id as the adjustment turns out), lines numbered 95x.
func (f *fixtureSteps) adjust(t domain.TenantID, c domain.CustomerID, s domain.ServiceID, invoice domain.InvoiceID, note domain.CreditNoteID) {
	lines := must(domain.Adjustments(f.h.AccountState(t, c), []domain.ServiceState{f.h.ServiceState(t, s)}))
	for j := range lines {
		lines[j].LineID = lineID(950 + j)
	}
	f.account(t, c, domain.AdjustBilling{InvoiceID: invoice, CreditNoteID: note, Number: "ADJ-1", DueDate: date("2026-03-26"), Lines: lines})
}

// fixtureSteps records the fixture's commands; the first refusal is kept in err (a broken
// fixture) and the later steps are skipped.
type fixtureSteps struct {
	h   *History
	err error
}

func (f *fixtureSteps) day(d string) { f.h.Now = date(d).Time().Add(9 * time.Hour) }

func (f *fixtureSteps) check(_ []domain.Event, err error) {
	f.h.Tick(time.Minute)
	if f.err == nil && err != nil {
		f.err = fmt.Errorf("fixture step at %s: %w", f.h.Now.Format(time.DateTime), err)
	}
}

func (f *fixtureSteps) plan(c domain.PlanCode, cmd domain.PlanCommand) {
	f.check(f.h.Plan(acme, c, cmd))
}

func (f *fixtureSteps) register(t domain.TenantID, c domain.CustomerID, name, cur string) {
	contact := domain.Contact{Name: name, Email: "x@" + t.String() + ".example", Phone: "+1 555 0100", BillingAddress: "1 Main St"}
	f.account(t, c, domain.RegisterCustomer{CustomerID: c, Contact: contact, Currency: must(domain.ParseCurrency(cur))})
}

func (f *fixtureSteps) account(t domain.TenantID, c domain.CustomerID, cmd domain.AccountCommand) {
	f.check(f.h.Account(t, c, cmd))
}

func (f *fixtureSteps) service(t domain.TenantID, s domain.ServiceID, cmd domain.ServiceCommand) {
	f.check(f.h.Service(t, s, cmd))
}

func (f *fixtureSteps) provision(t domain.TenantID, c domain.CustomerID, s domain.ServiceID, plan, start string) {
	f.service(t, s, domain.ProvisionService{ServiceID: s, Customer: f.h.AccountState(t, c).Customer,
		Plan: f.h.PlanState(t, code(plan)), StartDate: date(start), InstallAddress: "1 Main St", ONTSerial: "ONT-0001"})
}

func (f *fixtureSteps) pay(t domain.TenantID, c domain.CustomerID, id domain.PaymentID, amount string, m domain.PaymentMethod, ref string) {
	f.account(t, c, domain.RecordPayment{PaymentID: id, Amount: usd(amount), Method: m, ExternalReference: ref,
		ReceivedAt: f.h.Now.Add(-time.Hour)})
}

// billingRun bills period p for customers, with the given invoice ids, numbered R-<n>.
func (f *fixtureSteps) billingRun(t domain.TenantID, p string, customers []domain.CustomerID, invoices []domain.InvoiceID) {
	period := must(domain.ParsePeriod(p))
	f.check(f.h.BillingRun(t, period, domain.StartBillingRun{BillingRunID: runID(1), Period: period}))
	for i, c := range customers {
		account := f.h.AccountState(t, c)
		var services []domain.ServiceState
		for _, s := range []domain.ServiceID{serviceID(1), serviceID(2)} {
			if st := f.h.ServiceState(t, s); st.Customer == c {
				services = append(services, st)
			}
		}
		lines := must(domain.RecurringCharges(period, account, services))
		for j := range lines {
			lines[j].LineID = lineID(100*(i+4) + j + 1)
		}
		f.account(t, c, domain.GenerateRecurringInvoice{InvoiceID: invoices[i], Period: period,
			Number: fmt.Sprintf("R-%d", i+1), DueDate: date("2026-02-15"), Lines: lines})
		f.check(f.h.BillingRun(t, period, domain.RecordCustomerInvoiced{CustomerID: c, InvoiceID: invoices[i]}))
	}
	f.check(f.h.BillingRun(t, period, domain.CompleteBillingRun{}))
}

// CreditFixture is a small history of one customer (dave, 104, acme, USD) whose customer
// credit and credit notes against the account settle invoices: invoices 211 (30.00, issued
// 2026-01-05) and 212 (25.00, 2026-01-06); an opening balance of -40.00 as of 2025-12-31,
// recorded on 2026-01-07, which customer credit applies to both (30.00 to 211, 10.00 to 212:
// CustomerCreditApplied, applied on 2026-01-06); then credit note 411 against the account
// (20.00, 2026-01-08) settles the 15.00 left on 212 and leaves 5.00 unapplied.
func CreditFixture() ([]projections.Event, error) {
	h := NewHistory(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC), 3)
	f := &fixtureSteps{h: h}
	dave := customerID(4)
	f.day("2026-01-01")
	f.register(acme, dave, "Dave Oyelaran", "USD")
	f.day("2026-01-05")
	f.account(acme, dave, domain.CreateInvoice{InvoiceID: invoiceID(11), Lines: []domain.LineInput{
		{LineID: lineID(111), Description: "Installation", Quantity: qty("1"), UnitPrice: usd("30.00")}}})
	f.account(acme, dave, domain.IssueInvoice{InvoiceID: invoiceID(11), Number: "D-1", DueDate: date("2026-01-19")})
	f.day("2026-01-06")
	f.account(acme, dave, domain.CreateInvoice{InvoiceID: invoiceID(12), Lines: []domain.LineInput{
		{LineID: lineID(121), Description: "Router", Quantity: qty("1"), UnitPrice: usd("25.00")}}})
	f.account(acme, dave, domain.IssueInvoice{InvoiceID: invoiceID(12), Number: "D-2", DueDate: date("2026-01-20")})
	f.day("2026-01-07")
	f.account(acme, dave, domain.RecordOpeningBalance{Amount: usd("-40.00"), AsOf: date("2025-12-31")})
	f.day("2026-01-08")
	f.account(acme, dave, domain.IssueCreditNote{CreditNoteID: creditNoteID(11), Net: usd("20.00"), TaxRate: rate("0"), Reason: "outage"})
	return h.Events(), f.err
}

// BackDatedFixture is a history of back-dated settlements: erin (customer 5, acme) is billed
// invoice 51 (30.00) on 2026-02-10 and, on 2026-02-15, records a payment of 50.00 received on
// 2026-02-01; frank (customer 6) is billed invoice 61 (30.00) on 2026-02-10 and, on 2026-02-15,
// given a credit note of 30.00 dated 2026-02-01 against his account. Both settle an invoice
// issued after their own date: the journal posts that part on the invoice's date.
func BackDatedFixture() ([]projections.Event, error) {
	h := NewHistory(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC), 5)
	f := &fixtureSteps{h: h}
	erin, frank := customerID(5), customerID(6)
	f.day("2026-01-01")
	f.register(acme, erin, "Erin Duarte", "USD")
	f.register(acme, frank, "Frank Obi", "USD")
	f.day("2026-02-10")
	for _, c := range []struct {
		customer domain.CustomerID
		n        int
	}{{erin, 51}, {frank, 61}} {
		f.account(acme, c.customer, domain.CreateInvoice{InvoiceID: invoiceID(c.n), Lines: []domain.LineInput{
			{LineID: lineID(c.n * 10), Description: "Broadband", Quantity: qty("1"), UnitPrice: usd("30.00")}}})
		f.account(acme, c.customer, domain.IssueInvoice{InvoiceID: invoiceID(c.n), Number: fmt.Sprintf("E-%d", c.n), DueDate: date("2026-02-24")})
	}
	f.day("2026-02-15")
	f.account(acme, erin, domain.RecordPayment{PaymentID: paymentID(51), Amount: usd("50.00"), Method: domain.PaymentMethodBankTransfer,
		ExternalReference: "bt-51", ReceivedAt: date("2026-02-01").Time()})
	f.account(acme, frank, domain.IssueCreditNote{CreditNoteID: creditNoteID(61), Net: usd("30.00"), Reason: "outage", IssuedOn: date("2026-02-01")})
	return h.Events(), f.err
}
