// Package readmodel holds the PostgreSQL read models of DotMac Ledger: each projection folds
// the global event feed into the tables the query API (readapi) reads.
//
//	customers  customers
//	catalog    plans, services
//	invoices   invoices, invoice_lines, payments, payment_allocations, credit_notes,
//	           credit_note_lines, credit_note_allocations, credit_applications
//	balances   customer_balances, statement_lines
//	journal    journal_lines, trial_balance
//	mrr        mrr_segments (and its private fold state, mrr_services)
//	receipts   receipts (money booked to unallocated receipts, and its allocation)
//
// Every row carries the tenant of the event that wrote it (event metadata) and every index
// leads with tenant_id, so a query scoped to one tenant never reads another's rows. Amounts
// are NUMERIC with the currency's minor units ("79.99", "1000", "1.250") beside a currency
// column; never floats.
//
// # How Apply works
//
// Apply receives batches of up to tens of thousands of events (rebuilds use large ones). Each
// projection folds a batch in memory, keyed by id, and writes it set-based: it first reads, in
// one query per table, the existing rows the batch changes (rows created in the same batch
// are not read), folds every event in order, then writes each table once, in PostgreSQL's
// binary COPY format: rows the batch creates and rows that are only ever inserted (invoice
// lines, allocations, statement and journal lines) straight into their table; rows it changes
// into a temporary staging table, then with one UPDATE ... FROM onto the table (the trial
// balance adds its sums with INSERT ... ON CONFLICT). Folding a history in one batch or one
// event per batch gives the same rows (a test checks it).
//
// Events a projection does not use are skipped. An event that cannot apply (an invoice
// issued before it was created, a refund of an unknown payment) means the feed and this code
// disagree: Apply returns an error starting with "invariant:" and the runtime stalls the
// projection at that batch.
package readmodel

import "github.com/dotmac/ledger/projections"

// Projection names: the query API waits on these.
const (
	NameCustomers = "customers"
	NameCatalog   = "catalog"
	NameInvoices  = "invoices"
	NameBalances  = "balances"
	NameJournal   = "journal"
	NameMRR       = "mrr"
)

// All returns every read model, in the order the runtime registers them.
func All() []projections.Projection {
	return []projections.Projection{
		Customers{}, Catalog{}, Invoices{}, Balances{}, Journal{}, MRR{}, Receipts{},
	}
}
