package gen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// markOverdue marks every open invoice past its due date, the day after the due date.
func (c *customerSim) markOverdue(p domain.Period, _ domain.Date) error {
	for _, inv := range c.state.OpenInvoices() {
		day := inv.DueDate.AddDays(1)
		if inv.Overdue || day.After(p.LastDay()) || !inv.Outstanding.IsPositive() {
			continue
		}
		if err := c.decideAccount(domain.MarkInvoiceOverdue{InvoiceID: inv.ID}, c.at(day)); err != nil {
			return err
		}
	}
	return nil
}

// dun applies the dunning policy on the last day of the month.
func (c *customerSim) dun(p domain.Period, _ domain.Date) error {
	now := c.at(p.LastDay())
	balance, err := c.state.Balance()
	if err != nil {
		return err
	}
	in := domain.DunningInput{Now: now, GraceDays: c.g.cfg.GraceDays, Balance: balance, Invoices: c.state.DunningInvoices()}
	for _, s := range c.services {
		in.Services = append(in.Services, s.state.DunningService())
	}
	d, err := domain.DunningDecide(in)
	if err != nil {
		return err
	}
	for _, id := range d.Suspend {
		if err := c.decideService(c.service(id), domain.SuspendService{Reason: domain.SuspensionNonPayment}, now); err != nil {
			return err
		}
		c.g.count.suspensions.Add(1)
	}
	return c.resume(d.Resume, now)
}

// resumeIfCleared resumes services suspended for non-payment once the balance is cleared.
func (c *customerSim) resumeIfCleared(now time.Time) error {
	balance, err := c.state.Balance()
	if err != nil {
		return err
	}
	in := domain.DunningInput{Now: now, GraceDays: c.g.cfg.GraceDays, Balance: balance, Invoices: c.state.DunningInvoices()}
	for _, s := range c.services {
		in.Services = append(in.Services, s.state.DunningService())
	}
	d, err := domain.DunningDecide(in)
	if err != nil {
		return err
	}
	return c.resume(d.Resume, now)
}

func (c *customerSim) resume(ids []domain.ServiceID, now time.Time) error {
	for _, id := range ids {
		if err := c.decideService(c.service(id), domain.ResumeService{}, now); err != nil {
			return err
		}
	}
	return nil
}

func (c *customerSim) service(id domain.ServiceID) *service {
	for _, s := range c.services {
		if s.state.ID == id {
			return s
		}
	}
	panic(fmt.Sprintf("invariant: dunning named service %s the customer does not have", id))
}

// extras: now and then a credit note, a refund of credit, a plan change or a termination.
func (c *customerSim) extras(p domain.Period, _ domain.Date) error {
	day := p.Start().AddDays(14 + c.r.IntN(5))
	switch n := c.r.IntN(100); {
	case n < 3:
		return c.creditNote(day)
	case n < 5:
		return c.refund(day)
	case n < 8:
		return c.changePlan(day)
	case n < 9:
		return c.terminate(day)
	}
	return nil
}

// creditNote credits 10.00 of goodwill (for an outage) against the newest open invoice, or
// against the account when nothing is open.
func (c *customerSim) creditNote(day domain.Date) error {
	net := domain.MoneyFromMinorUnits(1000, c.g.currency)
	cmd := domain.IssueCreditNote{CreditNoteID: newID(domain.NewCreditNoteID), Net: net, Reason: "outage goodwill"}
	if open := c.state.OpenInvoices(); len(open) > 0 {
		inv := open[len(open)-1]
		if cmp, err := net.Cmp(inv.Outstanding); err == nil && cmp <= 0 {
			cmd.InvoiceID = inv.ID
		}
	}
	if err := c.decideAccount(cmd, c.at(day)); err != nil {
		return err
	}
	c.g.count.creditNotes.Add(1)
	return nil
}

func (c *customerSim) refund(day domain.Date) error {
	if !c.state.Credit.IsPositive() {
		return nil
	}
	for _, pay := range c.state.Payments {
		if cmp, err := pay.Refundable.Cmp(c.state.Credit); err == nil && cmp >= 0 {
			cmd := domain.RefundPayment{PaymentID: pay.ID, Amount: c.state.Credit, Reason: "overpayment returned"}
			if err := c.decideAccount(cmd, c.at(day)); err != nil {
				return err
			}
			c.g.count.refunds.Add(1)
			return nil
		}
	}
	return nil
}

func (c *customerSim) changePlan(day domain.Date) error {
	for _, s := range c.services {
		if s.state.Status != domain.ServiceStatusActive || day.Before(s.state.BillingStartsOn) {
			continue
		}
		next := c.g.plans[c.r.IntN(len(c.g.plans))]
		if next.Code == s.state.Plan.Code {
			return nil
		}
		err := c.decideService(s, domain.ChangePlan{NewPlan: next, EffectiveDate: day}, c.at(day))
		var notAllowed *domain.DateNotAllowedError
		if errors.As(err, &notAllowed) {
			return nil // a change already took effect later this month
		}
		return err
	}
	return nil
}

func (c *customerSim) terminate(day domain.Date) error {
	for _, s := range c.services {
		if s.state.Status == domain.ServiceStatusTerminated || day.Before(s.state.StartDate) {
			continue
		}
		err := c.decideService(s, domain.TerminateService{LastDay: day, Reason: "moved away"}, c.at(day))
		var notAllowed *domain.DateNotAllowedError
		if errors.As(err, &notAllowed) {
			return nil
		}
		return err
	}
	return nil
}

// flush appends every stream's pending events, each stream in one append at its version.
func (c *customerSim) flush(ctx context.Context) error {
	if err := c.g.appendStream(ctx, &c.account); err != nil {
		return err
	}
	for _, s := range c.services {
		if err := c.g.appendStream(ctx, &s.stream); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) appendStream(ctx context.Context, s *stream) error {
	if len(s.pending) == 0 {
		return nil
	}
	if err := g.append(ctx, s.id, eventstore.Exact(s.version), s.pending); err != nil {
		return err
	}
	s.version += uint64(len(s.pending))
	s.pending = s.pending[:0]
	return nil
}

func (g *generator) append(ctx context.Context, streamID string, expected eventstore.ExpectedVersion, evs []domain.Event) error {
	md := eventstore.Metadata{TenantID: g.tenant.String(), Actor: "gen", CorrelationID: "gen"}
	data, err := codec.Encode(md, evs...)
	if err != nil {
		return err
	}
	if _, err := g.store.Append(ctx, streamID, expected, data...); err != nil {
		return fmt.Errorf("append to %s: %w", streamID, err)
	}
	g.count.events.Add(int64(len(evs)))
	g.count.appends.Add(1)
	return nil
}

func decodeAll(envs []eventstore.Envelope) ([]domain.Event, error) {
	out := make([]domain.Event, len(envs))
	for i := range envs {
		e, err := codec.Decode(&envs[i])
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}
