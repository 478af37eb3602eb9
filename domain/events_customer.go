package domain

import "time"

// CustomerRegistered opens a customer's account stream. Currency is the billing currency:
// every invoice, payment and credit note of the account is in it.
type CustomerRegistered struct {
	CustomerID     CustomerID `json:"customer_id"`
	Name           string     `json:"name"`
	Email          string     `json:"email"`
	Phone          string     `json:"phone"`
	BillingAddress string     `json:"billing_address"`
	Currency       Currency   `json:"currency"`
	RegisteredAt   time.Time  `json:"registered_at"`
}

// CustomerContactUpdated replaces the customer's contact details (all of them).
type CustomerContactUpdated struct {
	CustomerID     CustomerID `json:"customer_id"`
	Name           string     `json:"name"`
	Email          string     `json:"email"`
	Phone          string     `json:"phone"`
	BillingAddress string     `json:"billing_address"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// CustomerDeactivated closes the customer for new invoices and services. Payments, refunds
// and credit notes are still accepted, so open balances can be settled.
type CustomerDeactivated struct {
	CustomerID    CustomerID `json:"customer_id"`
	Reason        string     `json:"reason"`
	DeactivatedAt time.Time  `json:"deactivated_at"`
}

// EventType returns "CustomerRegistered".
func (CustomerRegistered) EventType() string { return "CustomerRegistered" }

// SchemaVersion returns 1.
func (CustomerRegistered) SchemaVersion() int { return 1 }

// EventType returns "CustomerContactUpdated".
func (CustomerContactUpdated) EventType() string { return "CustomerContactUpdated" }

// SchemaVersion returns 1.
func (CustomerContactUpdated) SchemaVersion() int { return 1 }

// EventType returns "CustomerDeactivated".
func (CustomerDeactivated) EventType() string { return "CustomerDeactivated" }

// SchemaVersion returns 1.
func (CustomerDeactivated) SchemaVersion() int { return 1 }
