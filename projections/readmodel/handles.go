package readmodel

import "github.com/dotmac/ledger/projections"

// The event types each projection folds (projections.EventFilter): the runtime decodes and
// passes only these, which makes rebuilds of the projections that read few types cheaper.
var (
	customerTypes = typeSet("CustomerRegistered", "CustomerContactUpdated", "CustomerDeactivated")
	serviceTypes  = []string{"ServiceProvisioned", "ServiceActivated", "ServiceSuspended", "ServiceResumed",
		"ServicePlanChanged", "ServiceTerminated"}
	catalogTypes = typeSet(append([]string{"PlanDefined", "PlanRetired"}, serviceTypes...)...)
	invoiceTypes = typeSet("InvoiceCreated", "InvoiceLineAdded", "InvoiceIssued", "InvoiceVoided",
		"InvoiceMarkedOverdue", "PaymentRecorded", "PaymentRefunded", "CreditNoteIssued")
	// moneyTypes are the events that post to the journal (domain.Postings).
	moneyTypes   = []string{"InvoiceIssued", "InvoiceVoided", "PaymentRecorded", "PaymentRefunded", "CreditNoteIssued"}
	balanceTypes = typeSet(append([]string{"CustomerRegistered"}, moneyTypes...)...)
	journalTypes = typeSet(moneyTypes...)
	mrrTypes     = typeSet(serviceTypes...)
)

var (
	_ projections.EventFilter = Customers{}
	_ projections.EventFilter = Catalog{}
	_ projections.EventFilter = Invoices{}
	_ projections.EventFilter = Balances{}
	_ projections.EventFilter = Journal{}
	_ projections.EventFilter = MRR{}
)

func typeSet(types ...string) map[string]bool {
	m := make(map[string]bool, len(types))
	for _, t := range types {
		m[t] = true
	}
	return m
}

// Handles reports whether the projection folds events of type t.
func (Customers) Handles(t string) bool { return customerTypes[t] }

// Handles reports whether the projection folds events of type t.
func (Catalog) Handles(t string) bool { return catalogTypes[t] }

// Handles reports whether the projection folds events of type t.
func (Invoices) Handles(t string) bool { return invoiceTypes[t] }

// Handles reports whether the projection folds events of type t.
func (Balances) Handles(t string) bool { return balanceTypes[t] }

// Handles reports whether the projection folds events of type t.
func (Journal) Handles(t string) bool { return journalTypes[t] }

// Handles reports whether the projection folds events of type t.
func (MRR) Handles(t string) bool { return mrrTypes[t] }
