package audit

import (
	"context"
	"fmt"
	"sort"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/events"
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
	Events     []EventRef    `json:"events"`
}

// CustomerAsOf replays the customer's account stream up to the cutoff (a position, or the
// end of a business day by each event's OccurredAt) and reports its state and balance,
// with the events it used. It reads only the event store.
func (a *Auditor) CustomerAsOf(ctx context.Context, tenant domain.TenantID, id domain.CustomerID, at Cutoff) (*CustomerAsOf, error) {
	stream := domain.CustomerStream(tenant, id)
	envs, err := a.readStream(ctx, stream)
	if err != nil {
		return nil, err
	}
	var state domain.AccountState
	out := &CustomerAsOf{Stream: stream, CustomerID: id.String(), Invoices: []InvoiceAsOf{}, Events: []EventRef{}}
	for i := range envs {
		ev, err := events.Decode(&envs[i])
		if err != nil {
			return nil, err
		}
		if !at.includes(&envs[i], ev) {
			break // streams are in business-time order: nothing later is included either
		}
		if state, err = domain.ApplyAccount(state, ev); err != nil {
			return nil, fmt.Errorf("replay %s: %w", stream, err)
		}
		out.Events = append(out.Events, EventRef{Position: envs[i].Position, Version: envs[i].Version, Type: envs[i].Type})
	}
	if !state.Customer.Registered() {
		return nil, fmt.Errorf("customer %s as of the cutoff: %w", id, ErrNoHistory)
	}
	return out.fill(state)
}

func (c Cutoff) includes(env *eventstore.Envelope, ev domain.Event) bool {
	if c.Position != 0 && env.Position > c.Position {
		return false
	}
	return c.Date.IsZero() || domain.OccurredAt(ev).Before(c.endOfDay())
}

func (out *CustomerAsOf) fill(state domain.AccountState) (*CustomerAsOf, error) {
	balance, err := state.Balance()
	if err != nil {
		return nil, err
	}
	receivable, err := state.Receivable()
	if err != nil {
		return nil, err
	}
	out.Name, out.Currency = state.Customer.Contact.Name, state.Customer.Currency.Code()
	out.Balance, out.Receivable, out.Credit = balance.AmountString(), receivable.AmountString(), state.Credit.AmountString()
	out.Payments = len(state.Payments)
	for _, inv := range state.Invoices {
		out.Invoices = append(out.Invoices, InvoiceAsOf{InvoiceID: inv.ID.String(), Number: inv.Number, Status: inv.Status.String(),
			Overdue: inv.Overdue, IssueDate: dateString(inv.IssueDate), DueDate: dateString(inv.DueDate),
			Total: inv.Total.AmountString(), Outstanding: inv.Outstanding.AmountString()})
	}
	sort.Slice(out.Invoices, func(i, j int) bool { return out.Invoices[i].InvoiceID < out.Invoices[j].InvoiceID })
	return out, nil
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
	Entries  int                 `json:"entries"`
	Lines    []LedgerLine        `json:"lines"`
	Balanced bool                `json:"balanced"`
}

// TrialBalanceAsOf sums the journal entries of every money event of tenant up to the cutoff
// (by position, or by the entries' accounting dates).
func (a *Auditor) TrialBalanceAsOf(ctx context.Context, tenant domain.TenantID, at Cutoff) (*TrialBalanceAsOf, error) {
	var ledger domain.LedgerTotals
	out := &TrialBalanceAsOf{Tenant: tenant.String(), Position: at.Position, Lines: []LedgerLine{}}
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
			entry, ok, err := domain.Postings(p.evs[i])
			if err != nil {
				return fmt.Errorf("position %d: %w", p.envs[i].Position, err)
			}
			if !ok || !at.Date.IsZero() && entry.Date().Time().After(at.Date) {
				continue
			}
			ledger.Post(entry)
			out.Entries++
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
