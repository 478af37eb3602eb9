package domain

import "time"

// BillingRunStarted opens the billing run of a period (one run per tenant and period).
type BillingRunStarted struct {
	BillingRunID BillingRunID `json:"billing_run_id"`
	Period       Period       `json:"period"`
	StartedAt    time.Time    `json:"started_at"`
}

// BillingRunCustomerInvoiced records that the run billed a customer for the period with the
// given recurring invoice. A customer appears at most once per run.
type BillingRunCustomerInvoiced struct {
	BillingRunID BillingRunID `json:"billing_run_id"`
	Period       Period       `json:"period"`
	CustomerID   CustomerID   `json:"customer_id"`
	InvoiceID    InvoiceID    `json:"invoice_id"`
	InvoicedAt   time.Time    `json:"invoiced_at"`
}

// BillingRunCompleted closes the run; CustomersInvoiced counts its BillingRunCustomerInvoiced
// events.
type BillingRunCompleted struct {
	BillingRunID      BillingRunID `json:"billing_run_id"`
	Period            Period       `json:"period"`
	CustomersInvoiced int          `json:"customers_invoiced"`
	CompletedAt       time.Time    `json:"completed_at"`
}

// EventType returns "BillingRunStarted".
func (BillingRunStarted) EventType() string { return "BillingRunStarted" }

// SchemaVersion returns 1.
func (BillingRunStarted) SchemaVersion() int { return 1 }

// EventType returns "BillingRunCustomerInvoiced".
func (BillingRunCustomerInvoiced) EventType() string { return "BillingRunCustomerInvoiced" }

// SchemaVersion returns 1.
func (BillingRunCustomerInvoiced) SchemaVersion() int { return 1 }

// EventType returns "BillingRunCompleted".
func (BillingRunCompleted) EventType() string { return "BillingRunCompleted" }

// SchemaVersion returns 1.
func (BillingRunCompleted) SchemaVersion() int { return 1 }
