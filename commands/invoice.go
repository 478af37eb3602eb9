package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/dotmac/ledger/domain"
)

// CreateInvoice opens a draft invoice for a customer. The invoice id and the lines' ids are
// generated (any LineID given is replaced).
type CreateInvoice struct {
	CustomerID domain.CustomerID
	Lines      []domain.LineInput
}

// AddInvoiceLine adds a line to a draft invoice; the line id is generated.
type AddInvoiceLine struct {
	CustomerID domain.CustomerID
	InvoiceID  domain.InvoiceID
	Line       domain.LineInput
}

// IssueInvoice makes a draft final, with the next invoice number of the tenant and year.
type IssueInvoice struct {
	CustomerID domain.CustomerID
	InvoiceID  domain.InvoiceID
	DueDate    domain.Date
}

// VoidInvoice cancels an issued invoice nothing has settled yet.
type VoidInvoice struct {
	CustomerID domain.CustomerID
	InvoiceID  domain.InvoiceID
	Reason     string
}

// MarkInvoiceOverdue flags an open invoice whose due date has passed (the overdue scheduler).
type MarkInvoiceOverdue struct {
	CustomerID domain.CustomerID
	InvoiceID  domain.InvoiceID
}

// placeholderNumber is what a command is first decided with, before a number is taken: it is
// well formed and never allocated (allocation starts at 1).
const placeholderNumber = "INV-0000-000000"

// FormatInvoiceNumber is the invoice number format: INV-<year>-<n>, n at least six digits.
func FormatInvoiceNumber(year int, n int64) string { return fmt.Sprintf("INV-%04d-%06d", year, n) }

// CreateInvoice creates a draft invoice; Result.ID is the new invoice id.
//
// Errors: *domain.NotFoundError; *domain.CustomerInactiveError; *domain.TooManyLinesError;
// *domain.CurrencyMismatchError or *domain.InvalidValueError for a bad line.
func (h *Handlers) CreateInvoice(ctx context.Context, m Meta, c CreateInvoice) (Result, error) {
	m, err := m.withDefaults()
	if err != nil {
		return Result{}, err
	}
	id, err := idFor(m, "invoice", domain.NewInvoiceID)
	if err != nil {
		return Result{}, err
	}
	lines, err := withLineIDs(m, c.Lines)
	if err != nil {
		return Result{}, err
	}
	return h.onAccount(ctx, "CreateInvoice", m, c.CustomerID, id.String(), domain.CreateInvoice{InvoiceID: id, Lines: lines})
}

// AddInvoiceLine adds a line to a draft; Result.ID is the new line id.
//
// Errors: *domain.NotFoundError; *domain.InvalidTransitionError unless draft;
// *domain.TooManyLinesError; *domain.CurrencyMismatchError; *domain.InvalidValueError.
func (h *Handlers) AddInvoiceLine(ctx context.Context, m Meta, c AddInvoiceLine) (Result, error) {
	m, err := m.withDefaults()
	if err != nil {
		return Result{}, err
	}
	lines, err := withLineIDs(m, []domain.LineInput{c.Line})
	if err != nil {
		return Result{}, err
	}
	return h.onAccount(ctx, "AddInvoiceLine", m, c.CustomerID, lines[0].LineID.String(), domain.AddInvoiceLine{InvoiceID: c.InvoiceID, Line: lines[0]})
}

// IssueInvoice issues a draft with the next invoice number; Result.ID is the invoice id and
// the InvoiceIssued event in Result.Events carries the number, dates and totals.
//
// Errors: *domain.NotFoundError; *domain.CustomerInactiveError; *domain.InvalidTransitionError;
// *domain.EmptyInvoiceError; *domain.NegativeTotalError; *domain.DueBeforeIssueError.
func (h *Handlers) IssueInvoice(ctx context.Context, m Meta, c IssueInvoice) (Result, error) {
	m, err := m.withDefaults()
	if err != nil {
		return Result{}, err
	}
	decide := h.numbered(ctx, m, func(_ domain.AccountState, _ time.Time, number string) (domain.AccountCommand, error) {
		return domain.IssueInvoice{InvoiceID: c.InvoiceID, Number: number, DueDate: c.DueDate}, nil
	})
	return h.decideAccount(ctx, "IssueInvoice", m, c.CustomerID, c.InvoiceID.String(), decide)
}

// VoidInvoice voids an issued invoice.
//
// Errors: *domain.NotFoundError; *domain.InvalidTransitionError unless issued and unsettled.
func (h *Handlers) VoidInvoice(ctx context.Context, m Meta, c VoidInvoice) (Result, error) {
	return h.onAccount(ctx, "VoidInvoice", m, c.CustomerID, c.InvoiceID.String(), domain.VoidInvoice{InvoiceID: c.InvoiceID, Reason: c.Reason})
}

// MarkInvoiceOverdue flags an open invoice as overdue.
//
// Errors: *domain.NotFoundError; *domain.InvalidTransitionError; *domain.NotYetDueError.
func (h *Handlers) MarkInvoiceOverdue(ctx context.Context, m Meta, c MarkInvoiceOverdue) (Result, error) {
	return h.onAccount(ctx, "MarkInvoiceOverdue", m, c.CustomerID, c.InvoiceID.String(), domain.MarkInvoiceOverdue{InvoiceID: c.InvoiceID})
}

// numberedCommand builds the command to decide on account a at now with an invoice number.
type numberedCommand func(a domain.AccountState, now time.Time, number string) (domain.AccountCommand, error)

// numbered decides the command build makes with a placeholder number first and takes a real
// number only once that succeeds; the number is kept for conflict retries.
func (h *Handlers) numbered(ctx context.Context, m Meta, build numberedCommand) decideFunc[domain.AccountState] {
	var number string
	return func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
		if number == "" {
			probe, err := build(a, now, placeholderNumber)
			if err != nil {
				return nil, err
			}
			events, err := domain.DecideAccount(a, probe, now)
			if err != nil {
				return nil, err
			}
			if !issuesInvoice(events) {
				return events, nil // nothing to number (a credit note, or nothing at all)
			}
			year, _ := issueYear(events) // the issue date's year, which may be before now's
			n, err := h.numbers.Next(ctx, m.Tenant, year)
			if err != nil {
				return nil, fmt.Errorf("allocate an invoice number: %w", err)
			}
			number = FormatInvoiceNumber(year, n)
		}
		cmd, err := build(a, now, number)
		if err != nil {
			return nil, err
		}
		return domain.DecideAccount(a, cmd, now)
	}
}

// issuesInvoice reports whether events issue an invoice.
func issuesInvoice(events []domain.Event) bool {
	for _, e := range events {
		if _, ok := e.(domain.InvoiceIssued); ok {
			return true
		}
	}
	return false
}

// issueYear is the year of the issue date of the invoice events issue, if they issue one: an
// invoice's number is of that year (INV-<year>-<n>), not of the day it is decided on.
func issueYear(events []domain.Event) (int, bool) {
	for _, e := range events {
		if issued, ok := e.(domain.InvoiceIssued); ok {
			return issued.IssueDate.Year(), true
		}
	}
	return 0, false
}

// withLineIDs returns lines with ids derived from the command.
func withLineIDs(m Meta, lines []domain.LineInput) ([]domain.LineInput, error) {
	ids, err := lineIDs(DeriveUUID(m.CommandID, "lines"), len(lines))
	if err != nil {
		return nil, err
	}
	out := make([]domain.LineInput, len(lines))
	for i, l := range lines {
		l.LineID = ids[i]
		out[i] = l
	}
	return out, nil
}
