package domain

import "time"

// UnallocatedReceiptRecorded is money received through a payment provider that could not be
// recorded as a customer's payment (Reason): it is booked Dr 1000 cash, Cr 2300 unallocated
// receipts until a person allocates it. ExternalReference is the provider's event or
// transaction id ("stripe:evt_…", "mpesa:QK…"); AccountReference what the payer named the
// account; CustomerID the customer it named when that customer bills in another currency.
type UnallocatedReceiptRecorded struct {
	ReceiptID         ReceiptID     `json:"receipt_id"`
	Amount            Money         `json:"amount"`
	Method            PaymentMethod `json:"method"`
	ExternalReference string        `json:"external_reference"`
	AccountReference  string        `json:"account_reference"`
	Payer             string        `json:"payer"`
	Reason            ReceiptReason `json:"reason"`
	CustomerID        CustomerID    `json:"customer_id"`
	ReceivedAt        time.Time     `json:"received_at"`
	RecordedAt        time.Time     `json:"recorded_at"`
}

// UnallocatedReceiptAllocated gives the receipt to a customer. It posts nothing itself: the
// customer's PaymentRecorded with PaymentID (and ReceiptID set) moves the money from
// unallocated receipts to the customer (Dr 2300, Cr 1100 applied, Cr 2200 unapplied).
type UnallocatedReceiptAllocated struct {
	ReceiptID   ReceiptID  `json:"receipt_id"`
	CustomerID  CustomerID `json:"customer_id"`
	PaymentID   PaymentID  `json:"payment_id"`
	Amount      Money      `json:"amount"`
	AllocatedAt time.Time  `json:"allocated_at"`
}

// EventType returns "UnallocatedReceiptRecorded".
func (UnallocatedReceiptRecorded) EventType() string { return "UnallocatedReceiptRecorded" }

// SchemaVersion returns 1.
func (UnallocatedReceiptRecorded) SchemaVersion() int { return 1 }

// EventType returns "UnallocatedReceiptAllocated".
func (UnallocatedReceiptAllocated) EventType() string { return "UnallocatedReceiptAllocated" }

// SchemaVersion returns 1.
func (UnallocatedReceiptAllocated) SchemaVersion() int { return 1 }

// OccurredAt implements Timed.
func (e UnallocatedReceiptRecorded) OccurredAt() time.Time { return e.RecordedAt }

// OccurredAt implements Timed.
func (e UnallocatedReceiptAllocated) OccurredAt() time.Time { return e.AllocatedAt }

// ProviderPaymentClaimed records where a provider payment (tenant, provider, the provider's
// payment id) is booked, before it is: BookedTo "account" (CustomerID's payment PaymentID) or
// "receipt" (the unallocated receipt ReceiptID, for Reason). It is the first and only event of
// the payment's claim stream, appended only if that stream has none, so every event of the
// payment, redelivered, in any order or at once in several processes, books the money once,
// where the first claim says. It posts nothing.
type ProviderPaymentClaimed struct {
	ReceiptID         ReceiptID       `json:"receipt_id"`
	ExternalReference string          `json:"external_reference"`
	Amount            Money           `json:"amount"`
	BookedTo          ProviderBooking `json:"booked_to"`
	CustomerID        CustomerID      `json:"customer_id"`
	PaymentID         PaymentID       `json:"payment_id"`
	Reason            ReceiptReason   `json:"reason"`
	ClaimedAt         time.Time       `json:"claimed_at"`
}

// EventType returns "ProviderPaymentClaimed".
func (ProviderPaymentClaimed) EventType() string { return "ProviderPaymentClaimed" }

// SchemaVersion returns 1.
func (ProviderPaymentClaimed) SchemaVersion() int { return 1 }

// OccurredAt implements Timed.
func (e ProviderPaymentClaimed) OccurredAt() time.Time { return e.ClaimedAt }
