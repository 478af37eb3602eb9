package readmodel

import (
	"slices"

	"github.com/dotmac/ledger/projections"
)

// Each read model's speed-ups (projections.Tuning), in one place: the event types it folds
// (the runtime decodes and passes only these, which makes rebuilds of the projections that
// read few types cheaper), whether it reads invoice lines, the secondary indexes a rebuild
// creates once its tables are filled, and the Load a rebuild fills a new build with.
var (
	customerTypes = []string{"CustomerRegistered", "CustomerContactUpdated", "CustomerDeactivated"}
	serviceTypes  = []string{"ServiceProvisioned", "ServiceActivated", "ServiceSuspended", "ServiceResumed",
		"ServicePlanChanged", "ServiceTerminated"}
	catalogTypes = append([]string{"PlanDefined", "PlanRetired"}, serviceTypes...)
	invoiceTypes = []string{"InvoiceCreated", "InvoiceLineAdded", "InvoiceIssued", "InvoiceVoided",
		"InvoiceMarkedOverdue", "PaymentRecorded", "PaymentRefunded", "CreditNoteIssued", "OpeningBalanceRecorded",
		"CustomerCreditApplied"}
	// moneyTypes are the events that post to the journal (domain.Postings).
	moneyTypes = []string{"InvoiceIssued", "InvoiceVoided", "PaymentRecorded", "PaymentRefunded", "CreditNoteIssued",
		"OpeningBalanceRecorded", "CustomerCreditApplied"}
	balanceTypes = append([]string{"CustomerRegistered"}, moneyTypes...)
	// journalTypes are moneyTypes and the receipts booked to unallocated receipts, which post
	// to no customer.
	journalTypes = append(slices.Clone(moneyTypes), "UnallocatedReceiptRecorded")
)

// Tuning: only the customer events; secondary indexes deferred.
func (Customers) Tuning() projections.Tuning {
	return projections.Tuning{Handles: customerTypes, DeferredIndexes: customersIndexes}
}

// Tuning: only the plan and service events; secondary indexes deferred.
func (Catalog) Tuning() projections.Tuning {
	return projections.Tuning{Handles: catalogTypes, DeferredIndexes: catalogIndexes}
}

// Tuning: only the invoice and money events, trimmed (Apply reads an InvoiceIssued's totals,
// never its lines: the lines come from the draft's events); secondary indexes deferred; a
// Load that keeps the invoices in memory across batches.
func (Invoices) Tuning() projections.Tuning {
	return projections.Tuning{Handles: invoiceTypes, Trimmed: true, DeferredIndexes: invoicesIndexes,
		NewLoad: func() projections.Load { return newHeldLoad(newInvoiceBatch()) }}
}

// Tuning: only registrations and money events, trimmed; a Load that keeps the balances in
// memory across batches (written when it holds loadMaxRows, and at Flush) and COPYs each
// batch's statement lines.
func (Balances) Tuning() projections.Tuning {
	return projections.Tuning{Handles: balanceTypes, Trimmed: true,
		NewLoad: func() projections.Load { return newHeldLoad(newBalanceBatch()) }}
}

// Tuning: only money events and unallocated receipts, trimmed; secondary indexes deferred; a Load.
func (Journal) Tuning() projections.Tuning {
	return projections.Tuning{Handles: journalTypes, Trimmed: true, DeferredIndexes: journalIndexes,
		NewLoad: func() projections.Load { return newHeldLoad(newJournalBatch()) }}
}

// Tuning: only service events; secondary indexes deferred.
func (MRR) Tuning() projections.Tuning {
	return projections.Tuning{Handles: serviceTypes, DeferredIndexes: mrrIndexes}
}
