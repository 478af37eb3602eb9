package audit

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// EventRef names an event a replay used.
type EventRef struct {
	Position eventstore.Position `json:"position"`
	Version  uint64              `json:"version"`
	Type     string              `json:"type"`
}

// InvoiceAsOf is an invoice's state in an as-of replay.
type InvoiceAsOf struct {
	InvoiceID   string `json:"invoice_id"`
	Number      string `json:"number"`
	Status      string `json:"status"`
	Overdue     bool   `json:"overdue"`
	IssueDate   string `json:"issue_date,omitempty"`
	DueDate     string `json:"due_date,omitempty"`
	Total       string `json:"total"`
	Outstanding string `json:"outstanding"`
}

// CustomerAsOf is a customer's account replayed up to a cutoff.
type CustomerAsOf struct {
	Stream     string        `json:"stream"`
	CustomerID string        `json:"customer_id"`
	Name       string        `json:"name"`
	Currency   string        `json:"currency"`
	Balance    string        `json:"balance"`
	Receivable string        `json:"receivable"`
	Credit     string        `json:"credit"`
	Invoices   []InvoiceAsOf `json:"invoices"`
	Payments   int           `json:"payments"`
	// BalanceBy says what the balance goes by: BalanceByBusinessDate (a date cutoff: the
	// journal entries dated up to it) or BalanceByPosition (the events up to a position).
	BalanceBy string     `json:"balance_by"`
	Events    []EventRef `json:"events"`
	// Note says what the answer rests on when that is not plain (a back-dated history).
	Note string `json:"note,omitempty"`
}

// What an as-of balance goes by (CustomerAsOf.BalanceBy, TrialBalanceAsOf.BalanceBy).
const (
	BalanceByBusinessDate = "business_date"
	BalanceByPosition     = "position"
)

// balanceBy is what a balance up to at goes by.
func balanceBy(at Cutoff) string {
	if at.Date.IsZero() {
		return BalanceByPosition
	}
	return BalanceByBusinessDate
}

// CustomerAsOf replays the customer's account stream up to the cutoff and reports its state
// and balance, with the events it used. It reads only the event store. With a position the
// state and balance are those after that event. With a date the balance goes by business
// date: it sums the journal entries dated on or before that day, as the statement and the
// trial balance do, including entries recorded later (a back-dated payment, a history moved
// over from another system); the state (invoices, payments) is what had been recorded by the
// end of that day (events whose OccurredAt is on or before it). A customer recorded only
// later is answered with a note when it has entries dated by then (a history moved over), and
// with ErrNoHistory when it has none.
func (a *Auditor) CustomerAsOf(ctx context.Context, tenant domain.TenantID, id domain.CustomerID, at Cutoff) (*CustomerAsOf, error) {
	stream := domain.CustomerStream(tenant, id)
	envs, err := a.readStream(ctx, stream)
	if err != nil {
		return nil, err
	}
	var state, known domain.AccountState // as of the cutoff; everything recorded
	var dated domain.LedgerTotals        // entries dated on or before the cutoff date
	var poster domain.Poster             // dates the entries (settlements split by date)
	anyDated := false
	out := &CustomerAsOf{Stream: stream, CustomerID: id.String(), Invoices: []InvoiceAsOf{}, Events: []EventRef{}, BalanceBy: balanceBy(at)}
	folding := true
	for i := range envs {
		ev, err := codec.Decode(&envs[i])
		if err != nil {
			return nil, err
		}
		if known, err = domain.ApplyAccount(known, ev); err != nil {
			return nil, fmt.Errorf("replay %s: %w", stream, err)
		}
		if !at.Date.IsZero() {
			anyDated = postDated(&poster, &dated, ev, at.Date) || anyDated
		}
		folding = folding && at.includes(&envs[i], ev) // a stream is in recorded order
		if !folding {
			continue
		}
		state = known
		out.Events = append(out.Events, EventRef{Position: envs[i].Position, Version: envs[i].Version, Type: envs[i].Type})
	}
	switch {
	case state.Customer.Registered():
		if err := out.fill(state); err != nil {
			return nil, err
		}
	case anyDated && known.Customer.Registered():
		// Nothing was recorded by then, but the history recorded since (back-dated: moved over
		// from another system, entered late) has money dated on or before the day.
		out.Name, out.Currency = known.Customer.Contact.Name, known.Customer.Currency.Code()
		out.Note = "nothing of this customer was recorded by the end of " + domain.DateOf(at.Date).String() +
			"; the balance sums the journal entries dated up to that day, recorded since"
	default:
		return nil, fmt.Errorf("customer %s as of the cutoff: %w", id, ErrNoHistory)
	}
	if !at.Date.IsZero() {
		out.useDatedBalance(&dated, known.Customer.Currency)
	}
	return out, nil
}

// postDated posts ev's journal entries (domain.Poster: a settlement is dated no earlier than
// the invoice it settles and the credit it uses) dated on or before day to l, and says
// whether any was. An event whose amounts do not balance posts nothing (verify reports it).
func postDated(p *domain.Poster, l *domain.LedgerTotals, ev domain.Event, day time.Time) bool {
	entries, err := p.Post(ev)
	if err != nil {
		return false
	}
	posted := false
	for _, entry := range entries {
		if !entry.Date().Time().After(day) {
			l.Post(entry)
			posted = true
		}
	}
	return posted
}

// useDatedBalance takes the balance from the entries dated up to the cutoff date, the way
// statements and the trial balance date them: a payment received on the 31st but recorded
// on the 1st counts on the 31st.
func (out *CustomerAsOf) useDatedBalance(l *domain.LedgerTotals, c domain.Currency) {
	out.Balance = l.CustomerBalance(c).AmountString()
	out.Receivable = l.Balance(domain.AccountReceivable, c).AmountString()
	out.Credit = l.Balance(domain.AccountCustomerCredit, c).Neg().AmountString()
}

func (c Cutoff) includes(env *eventstore.Envelope, ev domain.Event) bool {
	if c.Position != 0 && env.Position > c.Position {
		return false
	}
	return c.Date.IsZero() || domain.OccurredAt(ev).Before(c.endOfDay())
}

func (out *CustomerAsOf) fill(state domain.AccountState) error {
	balance, err := state.Balance()
	if err != nil {
		return err
	}
	receivable, err := state.Receivable()
	if err != nil {
		return err
	}
	out.Name, out.Currency = state.Customer.Contact.Name, state.Customer.Currency.Code()
	out.Balance, out.Receivable, out.Credit = balance.AmountString(), receivable.AmountString(), state.Credit.AmountString()
	out.Payments = state.PaymentCount()
	for _, inv := range state.Invoices {
		out.Invoices = append(out.Invoices, InvoiceAsOf{InvoiceID: inv.ID.String(), Number: inv.Number, Status: inv.Status.String(),
			Overdue: inv.Overdue, IssueDate: dateString(inv.IssueDate), DueDate: dateString(inv.DueDate),
			Total: inv.Total.AmountString(), Outstanding: inv.Outstanding.AmountString()})
	}
	sort.Slice(out.Invoices, func(i, j int) bool { return out.Invoices[i].InvoiceID < out.Invoices[j].InvoiceID })
	return nil
}

func dateString(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

// TrialBalanceAsOf is a tenant's trial balance replayed from the journal of every money
// event up to the cutoff.
type TrialBalanceAsOf struct {
	Tenant   string              `json:"tenant"`
	Position eventstore.Position `json:"position"`
	Date     string              `json:"date,omitempty"`
	// BalanceBy is as in CustomerAsOf: with a date, the entries dated up to it.
	BalanceBy string       `json:"balance_by"`
	Entries   int          `json:"entries"`
	Lines     []LedgerLine `json:"lines"`
	Balanced  bool         `json:"balanced"`
}

// TrialBalanceAsOf sums the journal entries of every money event of tenant up to the cutoff
// (by position, or by the entries' accounting dates).
func (a *Auditor) TrialBalanceAsOf(ctx context.Context, tenant domain.TenantID, at Cutoff) (*TrialBalanceAsOf, error) {
	var ledger domain.LedgerTotals
	var poster domain.Poster // dates the entries (settlements split by date)
	out := &TrialBalanceAsOf{Tenant: tenant.String(), Position: at.Position, Lines: []LedgerLine{}, BalanceBy: balanceBy(at)}
	if !at.Date.IsZero() {
		out.Date = domain.DateOf(at.Date).String()
	}
	err := a.scan(ctx, 0, at.Position, forJournal, func(p *page) error {
		for i := range p.envs {
			if t, _ := streamTenant(&p.envs[i]); t != tenant.String() {
				continue
			}
			if p.errs[i] != nil {
				return p.errs[i]
			}
			entries, err := poster.Post(p.evs[i])
			if err != nil {
				return fmt.Errorf("position %d: %w", p.envs[i].Position, err)
			}
			counted := false
			for _, entry := range entries {
				if !at.Date.IsZero() && entry.Date().Time().After(at.Date) {
					continue
				}
				ledger.Post(entry)
				if !counted {
					out.Entries++ // an event's entries count once
					counted = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Balanced = true
	for _, c := range ledger.Currencies() {
		out.Lines = append(out.Lines, trialLines(tenant.String(), &ledger, c)...)
		out.Balanced = out.Balanced && ledger.Net(c).IsZero()
	}
	return out, nil
}
