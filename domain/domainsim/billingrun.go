package domainsim

import (
	"fmt"
	"time"

	"github.com/dotmac/ledger/domain"
)

// runStream is a tenant's billing run. The customers it invoiced are kept in one map that
// the folded state shares (domain.ApplyBillingRun copies that map at every customer, which
// is quadratic over a run of tens of thousands of customers): apply checks each event with
// the domain on a state without the map, then adds the customer to it.
type runStream struct {
	stream[domain.BillingRunState]
	invoiced map[domain.CustomerID]domain.InvoiceID
}

// apply folds one event of the run.
func (r *runStream) apply(s domain.BillingRunState, e domain.Event) (domain.BillingRunState, error) {
	inv, ok := e.(domain.BillingRunCustomerInvoiced)
	if !ok {
		next, err := domain.ApplyBillingRun(s, e)
		next.Invoiced = r.invoiced
		return next, err
	}
	probe := s
	probe.Invoiced = nil
	if _, err := domain.ApplyBillingRun(probe, e); err != nil {
		return s, err
	}
	if _, dup := r.invoiced[inv.CustomerID]; dup {
		return s, fmt.Errorf("%w: billing run %s invoiced customer %s twice", domain.ErrInvariant, s.ID, inv.CustomerID)
	}
	r.invoiced[inv.CustomerID] = inv.InvoiceID
	return s, nil
}

// startRun opens the billing run of period p at at.
func (t *tenant) startRun(p domain.Period, at time.Time) error {
	t.run = &runStream{stream: stream[domain.BillingRunState]{id: domain.BillingRunStream(t.id, p)},
		invoiced: map[domain.CustomerID]domain.InvoiceID{}}
	return t.runCommand(p, domain.StartBillingRun{BillingRunID: newID(t.r, at, domain.NewBillingRunID), Period: p}, domain.CustomerID{}, at)
}

// finishRun records every customer the lanes billed, in lane order, and completes the run.
func (t *tenant) finishRun(p domain.Period, at time.Time) error {
	for _, l := range t.lanes {
		if l.billed.IsZero() {
			continue
		}
		cmd := domain.RecordCustomerInvoiced{CustomerID: l.account.state.Customer.ID, InvoiceID: l.billed}
		if err := t.runCommand(p, cmd, cmd.CustomerID, at); err != nil {
			return err
		}
	}
	if err := t.runCommand(p, domain.CompleteBillingRun{}, domain.CustomerID{}, at); err != nil {
		return err
	}
	t.rec.stats.did(ActBillingRuns)
	return nil
}

func (t *tenant) runCommand(p domain.Period, cmd domain.BillingRunCommand, customer domain.CustomerID, at time.Time) error {
	c := Command{Tenant: t.id, At: at, Actor: ActorBilling, Period: p, Customer: customer, Cmd: cmd}
	_, err := send(&t.rec, &t.run.stream, c, func(s domain.BillingRunState, now time.Time) ([]domain.Event, error) {
		return domain.DecideBillingRun(s, cmd, now)
	}, t.run.apply)
	return err
}
