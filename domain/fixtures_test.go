package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/dotmac/ledger/domain"
)

// The customer most scenarios bill: Alice, in USD.
var (
	alice        = customerID(1)
	aliceContact = domain.Contact{Name: "Alice Ng", Email: "alice@example.com", Phone: "+1 555 0100", BillingAddress: "1 Main St, Springfield"}
)

func registerAlice() domain.RegisterCustomer {
	return domain.RegisterCustomer{CustomerID: alice, Contact: aliceContact, Currency: currency("USD")}
}

// step is a command decided at an instant; history turns steps into the events they produce.
type step struct {
	now time.Time
	cmd domain.AccountCommand
}

func on(day string, cmd domain.AccountCommand) step { return step{now: at(day), cmd: cmd} }

// history decides each step on the account folded so far and returns every event. A step
// that fails is a broken fixture: history panics.
func history(steps ...step) []domain.Event {
	var events []domain.Event
	for i, s := range steps {
		a := must(domain.FoldAccount(events))
		got, err := domain.DecideAccount(a, s.cmd, s.now)
		if err != nil {
			panic(fmt.Sprintf("history step %d (%T): %v", i, s.cmd, err))
		}
		events = append(events, got...)
	}
	return events
}

// registered is the history of a freshly registered Alice (on 2026-01-01).
func registered() []step { return []step{on("2026-01-01", registerAlice())} }

// lineIn is an untaxed line of quantity 1 (line ids are numbered n).
func lineIn(n int, description, price string) domain.LineInput {
	return domain.LineInput{LineID: lineID(n), Description: description, Quantity: qty("1"), UnitPrice: usd(price)}
}

// taxedLineIn is a line with a quantity and a tax rate.
func taxedLineIn(n int, description, quantity, price, taxRate string) domain.LineInput {
	return domain.LineInput{LineID: lineID(n), Description: description, Quantity: qty(quantity), UnitPrice: usd(price), TaxRate: rate(taxRate)}
}

// wantLine is the InvoiceLine the domain must compute.
func wantLine(n int, description, quantity, price, net, taxRate, tax string) domain.InvoiceLine {
	return domain.InvoiceLine{
		LineID: lineID(n), Description: description, Quantity: qty(quantity), UnitPrice: usd(price),
		Net: usd(net), TaxRate: rate(taxRate), Tax: usd(tax),
	}
}

// broadbandAndPhone are the lines of DESIGN.md's example: 79.99 + 29.99 = 109.98.
func broadbandAndPhone() []domain.LineInput {
	return []domain.LineInput{lineIn(1, "Broadband", "79.99"), lineIn(2, "Phone", "29.99")}
}

func createInvoice(n int, lines ...domain.LineInput) domain.CreateInvoice {
	return domain.CreateInvoice{InvoiceID: invoiceID(n), Lines: lines}
}

func issueInvoice(n int, due string) domain.IssueInvoice {
	return domain.IssueInvoice{InvoiceID: invoiceID(n), Number: fmt.Sprintf("INV-%04d", n), DueDate: date(due)}
}

// invoiceIssuedOn is the history of invoice n with the given lines, issued on day (due 14
// days later).
func invoiceIssuedOn(n int, day string, lines ...domain.LineInput) []step {
	due := date(day).AddDays(14).String()
	return []step{on(day, createInvoice(n, lines...)), on(day, issueInvoice(n, due))}
}

// paymentReceivedAt is when the fixture payments reached the bank.
var paymentReceivedAt = time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)

func recordPayment(n int, amount string) domain.RecordPayment {
	return domain.RecordPayment{
		PaymentID: paymentID(n), Amount: usd(amount), Method: domain.PaymentMethodCard,
		ExternalReference: fmt.Sprintf("ch_%d", n), ReceivedAt: paymentReceivedAt,
	}
}

// paymentRecorded is the event recordPayment(n, amount) produces at t0.
func paymentRecorded(n int, amount, unapplied string, allocations ...domain.Allocation) domain.PaymentRecorded {
	if allocations == nil {
		allocations = []domain.Allocation{}
	}
	return domain.PaymentRecorded{
		CustomerID: alice, PaymentID: paymentID(n), Amount: usd(amount), Method: domain.PaymentMethodCard,
		ExternalReference: fmt.Sprintf("ch_%d", n), ReceivedAt: paymentReceivedAt,
		Allocations: allocations, Unapplied: usd(unapplied), RecordedAt: t0,
	}
}

func allocation(invoice int, amount string) domain.Allocation {
	return domain.Allocation{InvoiceID: invoiceID(invoice), Amount: usd(amount)}
}

// steps concatenates step lists.
func steps(lists ...[]step) []step {
	var out []step
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// runAccount runs account scenarios.
func runAccount(t *testing.T, cases []scenario[domain.AccountCommand]) {
	t.Helper()
	runScenarios(t, domain.FoldAccount, domain.DecideAccount, cases)
}
