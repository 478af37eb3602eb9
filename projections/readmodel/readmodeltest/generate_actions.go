package readmodeltest

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
)

// graceDays is how long dunning waits after a due date before suspending services.
const graceDays = 10

// pay pays share of the customer's balance (1: all of it) plus extra minor units.
func (s *sim) pay(c *customerSim, share float64, extra int64) error {
	account := s.h.AccountState(c.t.id, c.id)
	balance, err := account.Balance()
	if err != nil {
		return err
	}
	amount := balance.Mul(decimal.NewFromFloat(share))
	if amount, err = amount.Add(c.t.money(extra)); err != nil {
		return err
	}
	if !amount.IsPositive() {
		return nil
	}
	id, _ := domain.NewPaymentID(s.h.ID())
	method := []domain.PaymentMethod{domain.PaymentMethodCard, domain.PaymentMethodDirectDebit, domain.PaymentMethodBankTransfer}[s.h.rng.IntN(3)]
	_, err = s.h.Account(c.t.id, c.id, domain.RecordPayment{PaymentID: id, Amount: amount, Method: method,
		ExternalReference: "ref-" + id.String()[24:], ReceivedAt: s.h.Now.Add(-time.Hour)})
	if err != nil {
		return err
	}
	if extra > 0 && s.chance(0.5) {
		s.at(s.today.AddDays(7), func() error { return s.refund(c, id) })
	}
	return s.resumeIfCleared(c)
}

// refund pays back up to the customer's credit from payment.
func (s *sim) refund(c *customerSim, payment domain.PaymentID) error {
	account := s.h.AccountState(c.t.id, c.id)
	p := account.Payments[payment]
	amount := account.Credit
	if cmp, _ := amount.Cmp(p.Refundable); cmp > 0 {
		amount = p.Refundable
	}
	if !amount.IsPositive() {
		return nil
	}
	_, err := s.h.Account(c.t.id, c.id, domain.RefundPayment{PaymentID: payment, Amount: amount, Reason: "overpayment returned"})
	return err
}

func (s *sim) markOverdue(c *customerSim, invoice domain.InvoiceID) error {
	inv := s.h.AccountState(c.t.id, c.id).Invoices[invoice]
	if !inv.IsOpen() || inv.Overdue {
		return nil
	}
	if _, err := s.h.Account(c.t.id, c.id, domain.MarkInvoiceOverdue{InvoiceID: invoice}); err != nil {
		return err
	}
	s.at(s.today.AddDays(graceDays), func() error { return s.dunning(c) })
	return nil
}

// dunning applies the dunning policy to the customer's services.
func (s *sim) dunning(c *customerSim) error {
	d, err := s.dunningDecision(c)
	if err != nil {
		return err
	}
	for _, id := range d.Suspend {
		if _, err := s.h.Service(c.t.id, id, domain.SuspendService{Reason: domain.SuspensionNonPayment}); err != nil {
			return err
		}
	}
	return s.resume(c, d.Resume)
}

func (s *sim) resumeIfCleared(c *customerSim) error {
	d, err := s.dunningDecision(c)
	if err != nil {
		return err
	}
	return s.resume(c, d.Resume)
}

func (s *sim) resume(c *customerSim, ids []domain.ServiceID) error {
	for _, id := range ids {
		if _, err := s.h.Service(c.t.id, id, domain.ResumeService{}); err != nil {
			return err
		}
	}
	return nil
}

func (s *sim) dunningDecision(c *customerSim) (domain.DunningDecision, error) {
	account := s.h.AccountState(c.t.id, c.id)
	balance, err := account.Balance()
	if err != nil {
		return domain.DunningDecision{}, err
	}
	in := domain.DunningInput{Now: s.h.Now, GraceDays: graceDays, Balance: balance, Invoices: account.DunningInvoices()}
	for _, id := range c.services {
		in.Services = append(in.Services, s.h.ServiceState(c.t.id, id).DunningService())
	}
	return domain.DunningDecide(in)
}

// randomDay gives each customer of t a small chance of one of the occasional actions.
func (s *sim) randomDay(t *tenantSim) error {
	for _, c := range t.customers {
		if !c.active || c.id.IsZero() || !s.chance(0.012) {
			continue
		}
		s.h.Tick(10 * time.Millisecond)
		if err := s.occasional(c); err != nil && !isRefusal(err) {
			return fmt.Errorf("customer %s: %w", c.id, err)
		}
	}
	return nil
}

// isRefusal reports a command the domain refused for a business reason (a plan change
// before a previous one, a credit larger than what is owed): the simulation just skips it.
func isRefusal(err error) bool {
	return errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrRejected) || errors.Is(err, domain.ErrNotFound)
}

func (s *sim) occasional(c *customerSim) error {
	switch r := s.h.rng.Float64(); {
	case r < 0.25:
		return s.changePlan(c)
	case r < 0.40:
		return s.oneOffInvoice(c)
	case r < 0.55:
		return s.creditNote(c)
	case r < 0.65:
		return s.updateContact(c)
	case r < 0.75:
		return s.requestedSuspension(c)
	case r < 0.85:
		return s.subscribe(c, c.t.plans[3])
	}
	return s.terminate(c)
}

func (s *sim) changePlan(c *customerSim) error {
	svc := s.h.ServiceState(c.t.id, c.services[0])
	if svc.Status != domain.ServiceStatusActive {
		return nil
	}
	to := c.t.plans[s.h.rng.IntN(3)]
	if to == svc.Plan.Code {
		to = c.t.plans[(s.h.rng.IntN(2)+1+indexOf(c.t.plans, to))%3]
	}
	_, err := s.h.Service(c.t.id, svc.ID, domain.ChangePlan{NewPlan: s.h.PlanState(c.t.id, to), EffectiveDate: s.today})
	return err
}

func indexOf(codes []domain.PlanCode, c domain.PlanCode) int {
	for i, v := range codes {
		if v == c {
			return i
		}
	}
	return 0
}

// oneOffInvoice bills an installation visit, built up as a draft and issued; one in ten is
// voided the next day.
func (s *sim) oneOffInvoice(c *customerSim) error {
	id, _ := domain.NewInvoiceID(s.h.ID())
	one, _ := domain.ParseQuantity("1")
	two, _ := domain.ParseQuantity("2")
	rate, _ := domain.ParseTaxRate("0.2")
	l1, _ := domain.NewLineID(s.h.ID())
	l2, _ := domain.NewLineID(s.h.ID())
	if _, err := s.h.Account(c.t.id, c.id, domain.CreateInvoice{InvoiceID: id, Lines: []domain.LineInput{
		{LineID: l1, Description: "Technician visit", Quantity: one, UnitPrice: c.t.money(4900), TaxRate: rate}}}); err != nil {
		return err
	}
	if _, err := s.h.Account(c.t.id, c.id, domain.AddInvoiceLine{InvoiceID: id, Line: domain.LineInput{
		LineID: l2, Description: "Patch cable", Quantity: two, UnitPrice: c.t.money(350), TaxRate: rate}}); err != nil {
		return err
	}
	c.invoices++
	due := s.today.AddDays(30)
	if _, err := s.h.Account(c.t.id, c.id, domain.IssueInvoice{InvoiceID: id, Number: fmt.Sprintf("X-%04d", c.invoices), DueDate: due}); err != nil {
		return err
	}
	if s.chance(0.1) {
		s.at(s.today.AddDays(1), func() error { return s.void(c, id) })
		return nil
	}
	s.schedulePayment(c, id, due)
	return nil
}

func (s *sim) void(c *customerSim, id domain.InvoiceID) error {
	if s.h.AccountState(c.t.id, c.id).Invoices[id].Status != domain.InvoiceStatusIssued {
		return nil
	}
	_, err := s.h.Account(c.t.id, c.id, domain.VoidInvoice{InvoiceID: id, Reason: "raised in error"})
	return err
}

// creditNote credits an outage: against the oldest open invoice when there is one, else to
// the account.
func (s *sim) creditNote(c *customerSim) error {
	id, _ := domain.NewCreditNoteID(s.h.ID())
	rate, _ := domain.ParseTaxRate("0.2")
	cmd := domain.IssueCreditNote{CreditNoteID: id, Net: c.t.money(500), TaxRate: rate, Reason: "service outage"}
	if open := s.h.AccountState(c.t.id, c.id).OpenInvoices(); len(open) > 0 && s.chance(0.7) {
		cmd.InvoiceID = open[0].ID
	}
	_, err := s.h.Account(c.t.id, c.id, cmd)
	return err
}

func (s *sim) updateContact(c *customerSim) error {
	contact := s.h.AccountState(c.t.id, c.id).Customer.Contact
	contact.Phone = fmt.Sprintf("+1 555 %04d", s.h.rng.IntN(10000))
	_, err := s.h.Account(c.t.id, c.id, domain.UpdateCustomerContact{Contact: contact})
	return err
}

// requestedSuspension suspends a service on the customer's request and resumes it two to
// six weeks later.
func (s *sim) requestedSuspension(c *customerSim) error {
	svc := s.h.ServiceState(c.t.id, c.services[s.h.rng.IntN(len(c.services))])
	if svc.Status != domain.ServiceStatusActive {
		return nil
	}
	if _, err := s.h.Service(c.t.id, svc.ID, domain.SuspendService{Reason: domain.SuspensionRequested}); err != nil {
		return err
	}
	s.at(s.today.AddDays(14+s.h.rng.IntN(28)), func() error {
		if s.h.ServiceState(c.t.id, svc.ID).Status != domain.ServiceStatusSuspended {
			return nil
		}
		_, err := s.h.Service(c.t.id, svc.ID, domain.ResumeService{})
		return err
	})
	return nil
}

// terminate ends every service of the customer at the end of the month; the customer
// leaves once the last bill is settled.
func (s *sim) terminate(c *customerSim) error {
	last := s.today.Period().LastDay()
	for _, id := range c.services {
		svc := s.h.ServiceState(c.t.id, id)
		if svc.Status == domain.ServiceStatusTerminated {
			continue
		}
		if _, err := s.h.Service(c.t.id, id, domain.TerminateService{LastDay: last, Reason: "moving away"}); err != nil {
			return err
		}
	}
	s.at(last.AddDays(25), func() error {
		if !c.active {
			return nil
		}
		c.active = false
		_, err := s.h.Account(c.t.id, c.id, domain.DeactivateCustomer{Reason: "left"})
		return err
	})
	return nil
}
