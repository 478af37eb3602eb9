package domain

import (
	"strconv"
	"time"
)

// MaxGraceDays is the longest grace period dunning accepts.
const MaxGraceDays = 365

// DunningInvoice is what dunning needs of an invoice.
type DunningInvoice struct {
	InvoiceID   InvoiceID
	DueDate     Date
	Outstanding Money
}

// DunningService is what dunning needs of a service.
type DunningService struct {
	ServiceID        ServiceID
	Status           ServiceStatus
	SuspensionReason SuspensionReason
}

// DunningInput is everything the dunning policy looks at for one customer.
type DunningInput struct {
	Now       time.Time
	GraceDays int
	// Balance is the account balance (AR − customer credit); see AccountState.Balance.
	Balance  Money
	Invoices []DunningInvoice
	Services []DunningService
}

// DunningDecision lists the services to suspend (with reason non_payment) and to resume.
type DunningDecision struct {
	Suspend []ServiceID
	Resume  []ServiceID
}

// DunningDecide applies the dunning policy. An invoice is overdue when today (the UTC date of
// Now) is after its due date and money is outstanding on it.
//
//   - Suspend every active service when the customer owes money (Balance > 0) and an
//     invoice is overdue by more than GraceDays days.
//   - Resume every service suspended for non_payment (never one suspended on request) when
//     the balance is cleared: nothing overdue is outstanding, or the balance is not positive
//     (customer credit covers what is open).
//   - Otherwise (overdue, but within the grace period) change nothing.
//
// GraceDays outside [0, MaxGraceDays] is an *InvalidValueError.
func DunningDecide(in DunningInput) (DunningDecision, error) {
	if in.GraceDays < 0 || in.GraceDays > MaxGraceDays {
		return DunningDecision{}, invalid("grace days", strconv.Itoa(in.GraceDays), "want 0 to 365")
	}
	today := DateOf(in.Now)
	owing := in.Balance.IsPositive()
	var overdue, pastGrace bool
	for _, inv := range in.Invoices {
		if inv.Outstanding.IsPositive() && today.After(inv.DueDate) {
			overdue = true
			pastGrace = pastGrace || inv.DueDate.DaysUntil(today) > in.GraceDays
		}
	}
	var d DunningDecision
	for _, s := range in.Services {
		switch {
		case owing && pastGrace && s.Status == ServiceStatusActive:
			d.Suspend = append(d.Suspend, s.ServiceID)
		case (!owing || !overdue) && s.Status == ServiceStatusSuspended && s.SuspensionReason == SuspensionNonPayment:
			d.Resume = append(d.Resume, s.ServiceID)
		}
	}
	return d, nil
}

// DunningInvoices returns the open invoices of the account as dunning sees them.
func (a AccountState) DunningInvoices() []DunningInvoice {
	open := a.OpenInvoices()
	out := make([]DunningInvoice, 0, len(open))
	for _, inv := range open {
		out = append(out, DunningInvoice{InvoiceID: inv.ID, DueDate: inv.DueDate, Outstanding: inv.Outstanding})
	}
	return out
}

// DunningService returns the service as dunning sees it.
func (s ServiceState) DunningService() DunningService {
	return DunningService{ServiceID: s.ID, Status: s.Status, SuspensionReason: s.SuspensionReason}
}
