package readmodel

import (
	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
)

// statementText returns the document a statement line is about (invoice, payment or credit
// note) and its description.
func statementText(e domain.Event) (uuid.UUID, string) {
	switch e := e.(type) {
	case domain.InvoiceIssued:
		return statementText(e.InvoiceIssuedHead)
	case domain.InvoiceIssuedHead:
		text := "Invoice " + e.Number
		if e.CreditApplied.IsPositive() {
			text += " (" + e.CreditApplied.AmountString() + " settled from credit)"
		}
		return e.InvoiceID.UUID(), text
	case domain.InvoiceVoided:
		return e.InvoiceID.UUID(), "Invoice " + e.Number + " voided: " + e.Reason
	case domain.PaymentRecorded:
		text := "Payment by " + e.Method.String()
		if e.ExternalReference != "" {
			text += " (" + e.ExternalReference + ")"
		}
		return e.PaymentID.UUID(), text
	case domain.PaymentRefunded:
		return e.PaymentID.UUID(), "Refund: " + e.Reason
	case domain.CreditNoteIssued:
		return e.CreditNoteID.UUID(), "Credit note: " + e.Reason + linesText(e.Lines)
	case domain.OpeningBalanceRecorded:
		return e.InvoiceID.UUID(), "Opening balance as of " + e.AsOf.String()
	case domain.CustomerCreditApplied:
		var first uuid.UUID // the oldest invoice it settles
		if len(e.Allocations) > 0 {
			first = e.Allocations[0].InvoiceID.UUID()
		}
		return first, "Credit applied: " + e.Amount.AmountString() + " of customer credit settled open invoices"
	}
	return uuid.Nil, ""
}

// linesText lists a billing adjustment's lines for its statement line: each with the days it
// covers and its amount.
func linesText(lines []domain.InvoiceLine) string {
	text := ""
	for _, l := range lines {
		text += "; " + l.Description + " " + l.Net.AmountString()
	}
	return text
}

// statementDate is the accounting date of a money event: the date its journal entry carries
// (domain.Postings), also for an event whose amounts are all zero and post nothing.
func statementDate(e domain.Event) domain.Date {
	switch e := e.(type) {
	case domain.InvoiceIssued:
		return e.IssueDate
	case domain.InvoiceIssuedHead:
		return e.IssueDate
	case domain.InvoiceVoided:
		return domain.DateOf(e.VoidedAt)
	case domain.PaymentRecorded:
		return domain.DateOf(e.ReceivedAt)
	case domain.PaymentRefunded:
		return domain.DateOf(e.RefundedAt)
	case domain.CreditNoteIssued:
		return e.Date()
	case domain.OpeningBalanceRecorded:
		return e.AsOf
	case domain.CustomerCreditApplied:
		return e.AppliedOn
	}
	return domain.Date{}
}
