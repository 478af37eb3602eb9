package domain_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/dotmac/ledger/domain"
)

// accountModel drives random, mostly valid command sequences against one account and keeps
// what the properties compare: the events, the state applied event by event, and the
// journal posted from those events.
type accountModel struct {
	cur     domain.Currency
	now     time.Time
	events  []domain.Event
	state   domain.AccountState
	journal domain.LedgerTotals
	next    int // id counter
}

// maxPropertySteps bounds the commands of one generated history.
const maxPropertySteps = 60

// Properties over random command sequences on an account:
//   - every journal entry balances, and all entries sum to zero per currency;
//   - the customer's balance (AR − customer credit) from the journal equals the account's;
//   - customer credit and every invoice's outstanding amount stay between zero and the total;
//   - folding the same events twice gives equal state, equal to the state applied step by step,
//     and to the state an AccountApplier or an AccountOwner (committing and rolling back) ends in;
//   - a payment's (method, external reference) is refused exactly when a payment has it already;
//   - every event marshals to JSON and back to an equal event.
func TestAccountProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &accountModel{cur: currency(rapid.SampledFrom([]string{"USD", "JPY", "BHD"}).Draw(t, "currency")), now: t0}
		m.decide(t, domain.RegisterCustomer{CustomerID: alice, Contact: aliceContact, Currency: m.cur})
		for range rapid.IntRange(1, maxPropertySteps).Draw(t, "steps") {
			m.step(t)
			m.checkBalances(t)
		}
		m.checkFold(t)
		for _, e := range m.events {
			assertRoundTrip(t, e)
		}
	})
}

// step draws one action and decides the command it builds.
func (m *accountModel) step(t *rapid.T) {
	actions := []func(*rapid.T) domain.AccountCommand{
		m.createInvoice, m.createInvoice, m.addLine, m.issue, m.issue, m.pay, m.pay, m.refund,
		m.creditNote, m.void, m.markOverdue, m.recurring, m.updateContact, m.deactivate,
	}
	m.now = m.now.Add(time.Duration(rapid.IntRange(0, 72).Draw(t, "hours")) * time.Hour)
	if cmd := rapid.SampledFrom(actions).Draw(t, "action")(t); cmd != nil {
		m.decide(t, cmd)
	}
}

// decide runs cmd; a refusal must be a typed domain error, never an invariant.
func (m *accountModel) decide(t *rapid.T, cmd domain.AccountCommand) {
	events, err := domain.DecideAccount(m.state, cmd, m.now)
	if pay, ok := cmd.(domain.RecordPayment); ok {
		m.checkReference(t, pay, err)
	}
	if err != nil {
		if errors.Is(err, domain.ErrInvariant) || !isDomainError(err) {
			t.Fatalf("%T refused with an untyped or invariant error: %v", cmd, err)
		}
		return
	}
	for _, e := range events {
		if m.state, err = domain.ApplyAccount(m.state, e); err != nil {
			t.Fatalf("decided event does not apply: %v", err)
		}
		m.post(t, e)
	}
	m.events = append(m.events, events...)
}

// post adds e's journal entry, checking it balances on its own.
func (m *accountModel) post(t *rapid.T, e domain.Event) {
	entry, ok, err := domain.Postings(e)
	if err != nil {
		t.Fatalf("%s does not post: %v", e.EventType(), err)
	}
	if !ok {
		return
	}
	var one domain.LedgerTotals
	one.Post(entry)
	if !one.Net(m.cur).IsZero() {
		t.Fatalf("%s posts an unbalanced entry %+v", e.EventType(), entry.Lines())
	}
	m.journal.Post(entry)
}

func (m *accountModel) checkBalances(t *rapid.T) {
	balance, err := m.state.Balance()
	if err != nil {
		t.Fatal(err)
	}
	if !m.journal.Net(m.cur).IsZero() {
		t.Fatalf("journal nets to %s", m.journal.Net(m.cur))
	}
	if got := m.journal.CustomerBalance(m.cur); !got.Equal(balance) {
		t.Fatalf("journal AR − credit = %s, account balance = %s", got, balance)
	}
	if credit := m.journal.Balance(domain.AccountCustomerCredit, m.cur).Neg(); !credit.Equal(m.state.Credit) || m.state.Credit.IsNegative() {
		t.Fatalf("journal credit %s, account credit %s", credit, m.state.Credit)
	}
	for _, inv := range m.state.Invoices {
		if c, _ := inv.Outstanding.Cmp(inv.Total); inv.Outstanding.IsNegative() || (inv.Status != domain.InvoiceStatusDraft && c > 0) {
			t.Fatalf("%s of total %s", inv, inv.Total)
		}
	}
}

func (m *accountModel) checkFold(t *rapid.T) {
	first, err := domain.FoldAccount(m.events)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := domain.FoldAccount(m.events)
	if !equal(first, again) || !equal(first, m.state) {
		t.Fatal("folding the same events gave different states")
	}
	m.checkApplier(t)
	m.checkOwner(t)
}

// checkReference compares RecordPayment's refusal of a repeated reference with a scan of every
// payment of the account (what it did before it kept an index), and the index with the scan.
func (m *accountModel) checkReference(t *rapid.T, pay domain.RecordPayment, err error) {
	taken := false
	for p := range m.state.Payments() {
		if pay.ExternalReference != "" && p.Method == pay.Method && p.ExternalReference == pay.ExternalReference {
			taken = true
		}
	}
	var exists *domain.AlreadyExistsError
	if refused := errors.As(err, &exists) && exists.ID == pay.ExternalReference; refused != taken {
		t.Fatalf("reference %s/%q taken by a payment: %v, refused: %v (%v)", pay.Method, pay.ExternalReference, taken, refused, err)
	}
	id, found := m.state.PaymentWithReference(pay.Method, pay.ExternalReference)
	if p, _ := m.state.Payment(id); found != taken || found && (p.Method != pay.Method || p.ExternalReference != pay.ExternalReference) {
		t.Fatalf("reference %s/%q: index gives %s (%v), the scan %v", pay.Method, pay.ExternalReference, id, found, taken)
	}
}

// checkOwner applies the events after a drawn split, in drawn chunks, with one AccountOwner
// onto the state folded up to the split, committing each chunk or (drawn) rolling it back and
// applying it again; a rolled back chunk may end in an event that fails. A rollback must
// return to a state equal to the fold of the events committed, the owner must end where
// ApplyAccount one by one did, and the state it started from (which it did not make) must be
// unchanged.
func (m *accountModel) checkOwner(t *rapid.T) {
	split := rapid.IntRange(0, len(m.events)).Draw(t, "owner split")
	chunk := rapid.IntRange(1, 8).Draw(t, "owner chunk")
	base, err := domain.FoldAccount(m.events[:split])
	if err != nil {
		t.Fatal(err)
	}
	snapshot, _ := domain.FoldAccount(m.events[:split])
	var o domain.AccountOwner
	s := base
	for i := split; i < len(m.events); {
		events := m.events[i:min(i+chunk, len(m.events))]
		if rapid.Bool().Draw(t, "roll back") {
			if rapid.Bool().Draw(t, "then fail") {
				// The account's registration again: it does not apply, after the others did.
				failing := append(slices.Clone(events), m.events[0])
				if _, err := o.Apply(s, failing...); err == nil {
					t.Fatal("registering the customer twice applied")
				}
			} else if _, err := o.Apply(s, events...); err != nil {
				t.Fatal(err)
			}
			o.Rollback()
			if committed, _ := domain.FoldAccount(m.events[:i]); !equal(s, committed) {
				t.Fatalf("after a rollback at event %d, the state is not the fold of the events before", i)
			}
		}
		if s, err = o.Apply(s, events...); err != nil {
			t.Fatal(err)
		}
		o.Commit()
		i += len(events)
	}
	if !equal(s, m.state) {
		t.Fatal("an owner ended in another state than ApplyAccount one by one")
	}
	if !equal(base, snapshot) {
		t.Fatal("an owner modified a state it did not make")
	}
}

// checkApplier applies the events after a drawn split, in drawn chunks, with one
// AccountApplier onto the state folded up to the split: it must end where ApplyAccount one by
// one did and leave the state it started from (which it did not make) unchanged.
func (m *accountModel) checkApplier(t *rapid.T) {
	split := rapid.IntRange(0, len(m.events)).Draw(t, "split")
	chunk := rapid.IntRange(1, 8).Draw(t, "chunk")
	base, err := domain.FoldAccount(m.events[:split])
	if err != nil {
		t.Fatal(err)
	}
	snapshot, _ := domain.FoldAccount(m.events[:split])
	var p domain.AccountApplier
	s := base
	for i := split; i < len(m.events); i += chunk {
		if s, err = p.Apply(s, m.events[i:min(i+chunk, len(m.events))]...); err != nil {
			t.Fatal(err)
		}
	}
	if !equal(s, m.state) {
		t.Fatal("an applier chain ended in another state than ApplyAccount one by one")
	}
	if !equal(base, snapshot) {
		t.Fatal("an applier modified a state it did not make")
	}
}

func (m *accountModel) id() int { m.next++; return m.next }

func (m *accountModel) amount(t *rapid.T, label string, maxMinor int64) domain.Money {
	return domain.MoneyFromMinorUnits(rapid.Int64Range(1, maxMinor).Draw(t, label), m.cur)
}

func (m *accountModel) lines(t *rapid.T) []domain.LineInput {
	var lines []domain.LineInput
	for range rapid.IntRange(1, 4).Draw(t, "lines") {
		price := m.amount(t, "price", 2_000_000)
		if rapid.IntRange(0, 9).Draw(t, "credit line") == 0 {
			price = price.Neg()
		}
		lines = append(lines, domain.LineInput{
			LineID: lineID(m.id()), Description: "item", UnitPrice: price,
			Quantity: qty(rapid.SampledFrom([]string{"1", "2", "1.5", "0.333333", "12"}).Draw(t, "qty")),
			TaxRate:  rate(rapid.SampledFrom([]string{"0", "0.2", "0.075", "0.16", "0.05"}).Draw(t, "rate")),
		})
	}
	return lines
}

// invoiceIn picks an invoice in one of the statuses, or returns false.
func (m *accountModel) invoiceIn(t *rapid.T, statuses ...domain.InvoiceStatus) (domain.InvoiceState, bool) {
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

func (m *accountModel) createInvoice(t *rapid.T) domain.AccountCommand {
	return domain.CreateInvoice{InvoiceID: invoiceID(m.id()), Lines: m.lines(t)}
}

func (m *accountModel) addLine(t *rapid.T) domain.AccountCommand {
	inv, ok := m.invoiceIn(t, domain.InvoiceStatusDraft)
	if !ok {
		return nil
	}
	return domain.AddInvoiceLine{InvoiceID: inv.ID, Line: m.lines(t)[0]}
}

func (m *accountModel) issue(t *rapid.T) domain.AccountCommand {
	inv, ok := m.invoiceIn(t, domain.InvoiceStatusDraft)
	if !ok {
		return nil
	}
	due := domain.DateOf(m.now).AddDays(rapid.IntRange(0, 30).Draw(t, "due in"))
	return domain.IssueInvoice{InvoiceID: inv.ID, Number: fmt.Sprintf("INV-%d", m.id()), DueDate: due}
}

func (m *accountModel) pay(t *rapid.T) domain.AccountCommand {
	return domain.RecordPayment{
		PaymentID: paymentID(m.id()), Amount: m.amount(t, "payment", 5_000_000),
		Method:            rapid.SampledFrom([]domain.PaymentMethod{domain.PaymentMethodBankTransfer, domain.PaymentMethodCard}).Draw(t, "method"),
		ExternalReference: rapid.SampledFrom([]string{"", "", "ref-1", "ref-2", "ref-3"}).Draw(t, "reference"),
		ReceivedAt:        m.now,
	}
}

func (m *accountModel) refund(t *rapid.T) domain.AccountCommand {
	var ids []domain.PaymentID
	for p := range m.state.Payments() {
		if p.Refundable.IsPositive() {
			ids = append(ids, p.ID)
		}
	}
	if len(ids) == 0 || !m.state.Credit.IsPositive() {
		return nil
	}
	slices.SortFunc(ids, domain.PaymentID.Compare)
	p, _ := m.state.Payment(rapid.SampledFrom(ids).Draw(t, "payment"))
	return domain.RefundPayment{PaymentID: p.ID, Amount: m.amount(t, "refund", minorUnits(p.Refundable)), Reason: "refund"}
}

func (m *accountModel) creditNote(t *rapid.T) domain.AccountCommand {
	cmd := domain.IssueCreditNote{CreditNoteID: creditNoteID(m.id()), Net: m.amount(t, "credit", 1_000_000), Reason: "goodwill"}
	if inv, ok := m.invoiceIn(t, domain.InvoiceStatusIssued, domain.InvoiceStatusPartiallyPaid); ok && rapid.Bool().Draw(t, "against invoice") {
		cmd.InvoiceID = inv.ID
		cmd.Net = m.amount(t, "credit", max(1, minorUnits(inv.Outstanding)/2))
		cmd.TaxRate = rate("0.2")
	}
	return cmd
}

func (m *accountModel) void(t *rapid.T) domain.AccountCommand {
	inv, ok := m.invoiceIn(t, domain.InvoiceStatusIssued, domain.InvoiceStatusPartiallyPaid, domain.InvoiceStatusPaid)
	if !ok {
		return nil
	}
	return domain.VoidInvoice{InvoiceID: inv.ID, Reason: "error"}
}

func (m *accountModel) markOverdue(t *rapid.T) domain.AccountCommand {
	inv, ok := m.invoiceIn(t, domain.InvoiceStatusIssued, domain.InvoiceStatusPartiallyPaid)
	if !ok {
		return nil
	}
	m.now = inv.DueDate.Time().Add(time.Duration(rapid.IntRange(0, 240).Draw(t, "late hours")) * time.Hour)
	return domain.MarkInvoiceOverdue{InvoiceID: inv.ID}
}

func (m *accountModel) recurring(t *rapid.T) domain.AccountCommand {
	p := domain.DateOf(m.now).Period()
	return domain.GenerateRecurringInvoice{
		InvoiceID: invoiceID(m.id()), Period: p, Number: "REC-" + p.String(), DueDate: domain.DateOf(m.now).AddDays(14), Lines: m.lines(t),
	}
}

func (m *accountModel) updateContact(t *rapid.T) domain.AccountCommand {
	c := aliceContact
	c.Phone = rapid.SampledFrom([]string{"", "+1 555 0100", "+44 20 7946 0000"}).Draw(t, "phone")
	return domain.UpdateCustomerContact{Contact: c}
}

func (m *accountModel) deactivate(t *rapid.T) domain.AccountCommand {
	if rapid.IntRange(0, 5).Draw(t, "deactivate") != 0 {
		return nil
	}
	return domain.DeactivateCustomer{Reason: "closed"}
}

// isDomainError reports whether err wraps one of the categories Decide functions return.
func isDomainError(err error) bool {
	return errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrRejected) || errors.Is(err, domain.ErrNotFound)
}

func minorUnits(m domain.Money) int64 {
	return m.Amount().Shift(m.Currency().MinorUnits()).IntPart()
}

// Properties of the service lifecycle: nothing leaves terminated, billing never bills more
// days than a period has, and folds are deterministic.
func TestServiceProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		now := at("2026-01-01")
		events := serviceHistory(svc("2026-01-01", provision(1, plan(fiber100()), "2026-01-01")))
		plans := []domain.PlanState{plan(fiber100()), plan(fiber500()), plan(phone())}
		for range rapid.IntRange(1, 30).Draw(t, "steps") {
			now = now.Add(time.Duration(rapid.IntRange(0, 96).Draw(t, "hours")) * time.Hour)
			cmd := rapid.SampledFrom([]domain.ServiceCommand{
				domain.ActivateService{}, domain.SuspendService{Reason: domain.SuspensionNonPayment},
				domain.SuspendService{Reason: domain.SuspensionRequested}, domain.ResumeService{},
				domain.ChangePlan{NewPlan: rapid.SampledFrom(plans).Draw(t, "plan"), EffectiveDate: domain.DateOf(now)},
				domain.TerminateService{LastDay: domain.DateOf(now)},
			}).Draw(t, "command")
			before := must(domain.FoldService(events))
			got, err := domain.DecideService(before, cmd, now)
			if before.Status == domain.ServiceStatusTerminated && err == nil {
				t.Fatalf("%T left terminated", cmd)
			}
			if errors.Is(err, domain.ErrInvariant) {
				t.Fatal(err)
			}
			events = append(events, got...)
		}
		s, err := domain.FoldService(events)
		again, _ := domain.FoldService(events)
		if err != nil || !equal(s, again) {
			t.Fatalf("fold: %v", err)
		}
		for _, p := range []string{"2026-01", "2026-02", "2026-03"} {
			lines, err := domain.PeriodCharges(period(p), aliceAccount(), []domain.ServiceState{s})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range lines {
				if l.Proration != nil && (l.Proration.DaysBilled > l.Proration.DaysInPeriod || l.Proration.DaysBilled < 1) {
					t.Fatalf("line %+v", l)
				}
			}
			assertBillsEachDayAtItsPlan(t, s, period(p), lines)
		}
		for _, e := range events {
			assertRoundTrip(t, e)
		}
	})
}

// assertBillsEachDayAtItsPlan checks that a period's lines add up to every billable day
// billed at the price of the plan in force that day (price / days in period), within the
// half minor unit each line may round.
func assertBillsEachDayAtItsPlan(t *rapid.T, s domain.ServiceState, p domain.Period, lines []domain.LineInput) {
	exact := decimal.Zero
	for d := p.Start(); d.Before(p.End()); d = d.AddDays(1) {
		if s.BillableOn(d) {
			exact = exact.Add(s.PlanOn(d).MonthlyPrice.Amount())
		}
	}
	exact = exact.DivRound(decimal.NewFromInt(int64(p.Days())), 10)
	billed := decimal.Zero
	for _, l := range lines {
		billed = billed.Add(l.UnitPrice.Amount())
	}
	tolerance := decimal.New(5, -3).Mul(decimal.NewFromInt(int64(len(lines))))
	if billed.Sub(exact).Abs().GreaterThan(tolerance) {
		t.Fatalf("%s: billed %s, the days are worth %s: %+v", p, billed, exact, lines)
	}
}

// Prorating a price over the two parts of a split month loses at most one minor unit to
// rounding, and never more than the whole price is billed.
func TestProrationProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cur := currency(rapid.SampledFrom([]string{"USD", "JPY", "BHD", "KWD"}).Draw(t, "currency"))
		price := domain.MoneyFromMinorUnits(rapid.Int64Range(0, 1_000_000_000).Draw(t, "price"), cur)
		days := rapid.IntRange(28, 31).Draw(t, "days")
		used := rapid.IntRange(0, days).Draw(t, "used")
		a, b := must(price.Prorate(used, days)), must(price.Prorate(days-used, days))
		diff := must(must(a.Add(b)).Sub(price)).Abs()
		if c := must(diff.Cmp(domain.MoneyFromMinorUnits(1, cur))); c > 0 {
			t.Fatalf("%s split %d/%d: %s + %s", price, used, days, a, b)
		}
	})
}
