package codec_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// extremeSteps bounds the commands of one generated account history.
const extremeSteps = 40

// TestEveryDecidedEventIsReadable: whatever a customer sends, within each field's bounds but
// at their extremes (the largest prices, quantities and tax rate, 500-line invoices, credit
// piling up payment after payment), every event the domain decides encodes, decodes back (in
// full and trimmed) and re-encodes to the same bytes, and the customer's credit and
// receivable stay below 10^MaxTotalAmountDigits. A stored event the codec cannot read
// stops every projection for every tenant, so the domain must never decide one.
func TestEveryDecidedEventIsReadable(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		m := &extremeAccount{now: time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)}
		m.cur = mustOK(domain.ParseCurrency(rapid.SampledFrom([]string{"USD", "JPY", "BHD"}).Draw(t, "currency")))
		customer := mustOK(domain.NewCustomerID(uuid.Must(uuid.NewV7())))
		m.decide(t, domain.RegisterCustomer{CustomerID: customer, Currency: m.cur,
			Contact: domain.Contact{Name: "Extreme", Email: "x@example.com", BillingAddress: "1 Main St"}})
		for range rapid.IntRange(1, extremeSteps).Draw(t, "steps") {
			m.now = m.now.Add(time.Hour)
			actions := []func(*rapid.T) domain.AccountCommand{m.create, m.create, m.addLine, m.issue, m.issue,
				m.pay, m.pay, m.creditNote, m.refund, m.opening, m.adjust}
			if cmd := rapid.SampledFrom(actions).Draw(t, "action")(t); cmd != nil {
				m.decide(t, cmd)
			}
		}
	})
}

// extremeAccount drives one account with inputs at the edges of what commands accept.
type extremeAccount struct {
	cur   domain.Currency
	now   time.Time
	state domain.AccountState
}

// decide decides cmd; a refusal must be a domain error, and every event must survive the codec.
func (m *extremeAccount) decide(t *rapid.T, cmd domain.AccountCommand) {
	events, err := domain.DecideAccount(m.state, cmd, m.now)
	if err != nil {
		if !errors.Is(err, domain.ErrInvalid) && !errors.Is(err, domain.ErrRejected) && !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("%T: %v", cmd, err)
		}
		return
	}
	for _, e := range events {
		assertReadable(t, e)
		if m.state, err = domain.ApplyAccount(m.state, e); err != nil {
			t.Fatalf("apply %s: %v", e.EventType(), err)
		}
	}
	receivable := mustOK(m.state.Receivable())
	for name, sum := range map[string]domain.Money{"credit": m.state.Credit, "receivable": receivable} {
		if sum.Amount().Abs().GreaterThanOrEqual(maxTotal) {
			t.Fatalf("after %T the customer's %s is %s, not below 10^%d", cmd, name, sum, domain.MaxTotalAmountDigits)
		}
	}
}

// maxTotal is 10^domain.MaxTotalAmountDigits.
var maxTotal = decimal.New(1, domain.MaxTotalAmountDigits)

// assertReadable encodes e, decodes it in full and trimmed, and requires the same bytes back.
func assertReadable(t *rapid.T, e domain.Event) {
	name, version, data, err := codec.EncodeEvent(e)
	if err != nil {
		t.Fatalf("encode %s: %v", e.EventType(), err)
	}
	env := &eventstore.Envelope{Type: name, SchemaVersion: version, Data: data}
	back, err := codec.Decode(env)
	if err != nil {
		t.Fatalf("decode %s: %v\n%s", name, err, data)
	}
	again, err := json.Marshal(back)
	if err != nil || string(again) != string(data) {
		t.Fatalf("%s decodes to another event (%v):\n%s\n%s", name, err, data, again)
	}
	if _, err := codec.DecodeTrimmed(env); err != nil {
		t.Fatalf("decode trimmed %s: %v", name, err)
	}
}

// mustOK returns v, panicking on err: the test builds only valid values.
func mustOK[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// amount draws a positive amount up to the largest a command accepts (10^12 less one minor
// unit), mostly at or near that edge.
func (m *extremeAccount) amount(t *rapid.T, label string) domain.Money {
	top := int64(1_000_000_000_000)
	for range m.cur.MinorUnits() {
		top *= 10
	}
	top--
	minor := rapid.OneOf(rapid.Just(top), rapid.Int64Range(top-1000, top), rapid.Int64Range(1, top)).Draw(t, label)
	return domain.MoneyFromMinorUnits(minor, m.cur)
}

func (m *extremeAccount) line(t *rapid.T) domain.LineInput {
	price := m.amount(t, "price")
	if rapid.IntRange(0, 4).Draw(t, "credit line") == 0 {
		price = price.Neg()
	}
	q := rapid.OneOf(rapid.Just("999999.999999"), rapid.Just("1"), rapid.Just("999"),
		rapid.Custom(func(t *rapid.T) string {
			return fmt.Sprintf("%d.%06d", rapid.IntRange(0, 999999).Draw(t, "units"), rapid.IntRange(1, 999999).Draw(t, "micros"))
		})).Draw(t, "quantity")
	r := rapid.OneOf(rapid.Just("1"), rapid.Just("0"), rapid.Just("0.999999"),
		rapid.Custom(func(t *rapid.T) string { return fmt.Sprintf("0.%06d", rapid.IntRange(0, 999999).Draw(t, "rate")) })).Draw(t, "tax rate")
	return domain.LineInput{LineID: newID(t, domain.NewLineID), Description: "edge", UnitPrice: price,
		Quantity: mustOK(domain.ParseQuantity(q)), TaxRate: mustOK(domain.ParseTaxRate(r))}
}

func (m *extremeAccount) lines(t *rapid.T) []domain.LineInput {
	if rapid.IntRange(0, 7).Draw(t, "full invoice") == 0 {
		one := m.line(t) // MaxInvoiceLines copies of one extreme line, each with its own id
		out := make([]domain.LineInput, domain.MaxInvoiceLines)
		for i := range out {
			out[i] = one
			out[i].LineID = newID(t, domain.NewLineID)
		}
		return out
	}
	out := make([]domain.LineInput, rapid.IntRange(1, 3).Draw(t, "lines"))
	for i := range out {
		out[i] = m.line(t)
	}
	return out
}

func (m *extremeAccount) create(t *rapid.T) domain.AccountCommand {
	return domain.CreateInvoice{InvoiceID: newID(t, domain.NewInvoiceID), Lines: m.lines(t)}
}

func (m *extremeAccount) addLine(t *rapid.T) domain.AccountCommand {
	inv, ok := m.invoice(t, domain.InvoiceStatusDraft)
	if !ok {
		return nil
	}
	return domain.AddInvoiceLine{InvoiceID: inv.ID, Line: m.line(t)}
}

func (m *extremeAccount) issue(t *rapid.T) domain.AccountCommand {
	inv, ok := m.invoice(t, domain.InvoiceStatusDraft)
	if !ok {
		return nil
	}
	return domain.IssueInvoice{InvoiceID: inv.ID, Number: "INV-" + inv.ID.String()[:8], DueDate: domain.DateOf(m.now).AddDays(14)}
}

func (m *extremeAccount) pay(t *rapid.T) domain.AccountCommand {
	return domain.RecordPayment{PaymentID: newID(t, domain.NewPaymentID), Amount: m.amount(t, "payment"),
		Method: domain.PaymentMethodBankTransfer, ReceivedAt: m.now}
}

func (m *extremeAccount) creditNote(t *rapid.T) domain.AccountCommand {
	cmd := domain.IssueCreditNote{CreditNoteID: newID(t, domain.NewCreditNoteID), Net: m.amount(t, "credit"),
		TaxRate: mustOK(domain.ParseTaxRate("1")), Reason: "goodwill"}
	if inv, ok := m.invoice(t, domain.InvoiceStatusIssued, domain.InvoiceStatusPartiallyPaid); ok && rapid.Bool().Draw(t, "on invoice") {
		cmd.InvoiceID = inv.ID
	}
	return cmd
}

func (m *extremeAccount) refund(t *rapid.T) domain.AccountCommand {
	for p := range m.state.Payments() {
		if p.Refundable.IsPositive() {
			return domain.RefundPayment{PaymentID: p.ID, Amount: m.amount(t, "refund"), Reason: "refund"}
		}
	}
	return nil
}

func (m *extremeAccount) opening(t *rapid.T) domain.AccountCommand {
	amount := m.amount(t, "opening")
	if rapid.Bool().Draw(t, "owed to the customer") {
		amount = amount.Neg()
	}
	return domain.RecordOpeningBalance{InvoiceID: newID(t, domain.NewInvoiceID), Amount: amount}
}

func (m *extremeAccount) adjust(t *rapid.T) domain.AccountCommand {
	return domain.AdjustBilling{InvoiceID: newID(t, domain.NewInvoiceID), CreditNoteID: newID(t, domain.NewCreditNoteID),
		Number: "ADJ-" + m.now.Format("20060102T15"), DueDate: domain.DateOf(m.now).AddDays(14), Lines: m.lines(t)}
}

// invoice picks an invoice in one of the statuses, or returns false.
func (m *extremeAccount) invoice(t *rapid.T, statuses ...domain.InvoiceStatus) (domain.InvoiceState, bool) {
	var ids []domain.InvoiceID
	for id, inv := range m.state.Invoices {
		if slices.Contains(statuses, inv.Status) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return domain.InvoiceState{}, false
	}
	slices.SortFunc(ids, domain.InvoiceID.Compare)
	return m.state.Invoices[rapid.SampledFrom(ids).Draw(t, "invoice")], true
}

func newID[T any](t *rapid.T, newT func(uuid.UUID) (T, error)) T {
	return mustOK(newT(uuid.Must(uuid.NewV7())))
}
