package domain

// Event is a fact recorded in a stream. Every event type is a struct value with stable
// snake_case JSON field names; EventType is its name in the store ("InvoiceIssued") and
// SchemaVersion the version of its JSON shape (bumped, with an upcaster in the event store,
// whenever the shape changes incompatibly).
type Event interface {
	EventType() string
	SchemaVersion() int
}

// AllEvents returns one zero value of every event type, in documentation order. The event
// codec (eventstore/codec) registers the types from this list, so every event type must be in
// it.
func AllEvents() []Event {
	return []Event{
		// Account stream: customer.
		CustomerRegistered{}, CustomerContactUpdated{}, CustomerDeactivated{},
		// Account stream: invoices.
		InvoiceCreated{}, InvoiceLineAdded{}, InvoiceIssued{}, InvoiceVoided{}, InvoiceMarkedOverdue{},
		// Account stream: payments and credit notes.
		PaymentRecorded{}, PaymentRefunded{}, CreditNoteIssued{}, OpeningBalanceRecorded{}, CustomerCreditApplied{},
		// Plan stream.
		PlanDefined{}, PlanRetired{},
		// Service stream.
		ServiceProvisioned{}, ServiceActivated{}, ServiceSuspended{}, ServiceResumed{},
		ServicePlanChanged{}, ServiceTerminated{},
		// Billing run stream.
		BillingRunStarted{}, BillingRunCustomerInvoiced{}, BillingRunCompleted{},
		// Receipt stream: money received through a payment provider, not yet allocated.
		UnallocatedReceiptRecorded{}, UnallocatedReceiptAllocated{},
		// Provider payment stream: where a provider's payment is booked, claimed before booking.
		ProviderPaymentClaimed{},
	}
}
