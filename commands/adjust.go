package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// Adjustment is the billing adjustment a service command issued at once (see
// domain.AdjustBilling): a supplementary invoice when the customer owes it, a credit note when
// it is owed to the customer.
type Adjustment struct {
	InvoiceID    domain.InvoiceID    // the supplementary invoice (zero for a credit note)
	CreditNoteID domain.CreditNoteID // the credit note (zero for an invoice)
	Number       string              // the invoice's number
	Total        domain.Money        // what the customer owes (invoice) or is owed (credit note)
	Lines        []domain.InvoiceLine
	Position     eventstore.Position
}

// AdjustBilling brings what the customer has been billed for periods already invoiced to what
// its services should have been billed, as of the service timelines now (domain.Adjustments),
// with one document issued at once; nil when nothing needs correcting. The service commands
// call it after every change that can move billed days (activation, suspension, resumption,
// plan change, termination), with their own Meta: the adjustment's ids derive from the
// command's, so a command run again (a retry with the same Idempotency-Key) adjusts once.
//
// Errors: the store's and the billing index's; *domain.NotFoundError for an unknown customer.
func (h *Handlers) AdjustBilling(ctx context.Context, m Meta, customer domain.CustomerID) (*Adjustment, error) {
	m, err := m.withDefaults()
	if err != nil {
		return nil, err
	}
	if h.index == nil {
		return nil, errNoIndex
	}
	ids, err := h.CustomerServices(ctx, m.Tenant, customer)
	if err != nil {
		return nil, err
	}
	services, err := h.customerServices(ctx, m.Tenant, BillableCustomer{CustomerID: customer, Services: ids})
	if err != nil {
		return nil, err
	}
	// The adjustment is its own command on the account stream: an expected version given for
	// the service stream does not apply to it.
	m.CommandID, m.Recovering, m.ExpectedVersion = DeriveUUID(m.CommandID, "adjust billing"), true, nil
	invoice, err := idFor(m, "invoice", domain.NewInvoiceID)
	if err != nil {
		return nil, err
	}
	note, err := idFor(m, "credit note", domain.NewCreditNoteID)
	if err != nil {
		return nil, err
	}
	decide := h.numbered(ctx, m, func(a domain.AccountState, now time.Time, number string) (domain.AccountCommand, error) {
		lines, err := domain.Adjustments(a, services)
		if err != nil || len(lines) == 0 {
			return domain.AdjustBilling{}, err
		}
		if lines, err = withLineIDs(m, lines); err != nil {
			return nil, err
		}
		return domain.AdjustBilling{InvoiceID: invoice, CreditNoteID: note, Number: number,
			DueDate: domain.DateOf(now).AddDays(DefaultDueDays), Lines: lines}, nil
	})
	res, err := execute(ctx, h, m, accountTarget(m, customer), decide)
	if err != nil {
		return nil, fmt.Errorf("adjust the billing of customer %s: %w", customer, err)
	}
	return adjustmentOf(res), nil
}

// adjustmentOf reads the adjustment document out of the events res appended (nil: none).
func adjustmentOf(res Result) *Adjustment {
	for _, e := range res.Events {
		switch e := e.(type) {
		case domain.InvoiceIssued:
			return &Adjustment{InvoiceID: e.InvoiceID, Number: e.Number, Total: e.Total, Lines: e.Lines, Position: res.Position}
		case domain.CreditNoteIssued:
			return &Adjustment{CreditNoteID: e.CreditNoteID, Total: e.Total, Lines: e.Lines, Position: res.Position}
		}
	}
	return nil
}

// withAdjustment runs a service command and then the billing adjustment its customer may now
// need; the result carries the adjustment and the position of its document.
func (h *Handlers) withAdjustment(ctx context.Context, m Meta, res Result, err error) (Result, error) {
	if err != nil {
		return res, err
	}
	customer, ok := customerOf(res.Events)
	if !ok {
		if customer, ok, err = h.serviceCustomer(ctx, m, res); err != nil || !ok {
			return res, err
		}
	}
	adj, err := h.AdjustBilling(ctx, m, customer)
	if err != nil {
		return res, err
	}
	if adj != nil {
		res.Adjustment, res.Position = adj, max(res.Position, adj.Position)
	}
	return res, nil
}

// customerOf returns the customer the service events name.
func customerOf(events []domain.Event) (domain.CustomerID, bool) {
	for _, e := range events {
		switch e := e.(type) {
		case domain.ServiceActivated:
			return e.CustomerID, true
		case domain.ServiceSuspended:
			return e.CustomerID, true
		case domain.ServiceResumed:
			return e.CustomerID, true
		case domain.ServicePlanChanged:
			return e.CustomerID, true
		case domain.ServiceTerminated:
			return e.CustomerID, true
		}
	}
	return domain.CustomerID{}, false
}

// serviceCustomer returns the customer of the service res names (a command that changed
// nothing, or recovered an earlier run, has no events to read it from).
func (h *Handlers) serviceCustomer(ctx context.Context, m Meta, res Result) (domain.CustomerID, bool, error) {
	m, err := m.withDefaults()
	if err != nil {
		return domain.CustomerID{}, false, err
	}
	id, err := domain.ParseServiceID(res.ID)
	if err != nil {
		return domain.CustomerID{}, false, nil //nolint:nilerr // not a service result: nothing to adjust
	}
	s, _, err := h.Service(ctx, m.Tenant, id)
	if err != nil {
		return domain.CustomerID{}, false, err
	}
	return s.Customer, true, nil
}

// effectiveOf returns the business date the events of a service command take effect on:
// that of the first event that has one (domain.BusinessDate).
func effectiveOf(events []domain.Event) domain.Date {
	for _, e := range events {
		if d, ok := domain.BusinessDate(e); ok {
			return d
		}
	}
	return domain.Date{}
}
