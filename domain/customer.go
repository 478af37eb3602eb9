package domain

import "time"

// CustomerStatus is where a customer is in its lifecycle: active → deactivated.
type CustomerStatus struct {
	s string
}

// The customer statuses.
var (
	CustomerStatusActive      = CustomerStatus{"active"}
	CustomerStatusDeactivated = CustomerStatus{"deactivated"}
)

// String returns the status name ("" for an unregistered customer).
func (s CustomerStatus) String() string { return s.s }

// Contact is how to reach and bill a customer. Phone is optional.
type Contact struct {
	Name           string
	Email          string
	Phone          string
	BillingAddress string
}

// validate checks every field against its limits.
func (c Contact) validate() error {
	return firstError(
		checkText("name", c.Name, MaxNameRunes, true),
		checkPattern("email", c.Email, emailPattern, false, "want an address like name@example.com"),
		checkText("email", c.Email, MaxEmailBytes, true),
		checkPattern("phone", c.Phone, phonePattern, true, "want digits, spaces, dashes and an optional leading +"),
		checkText("billing address", c.BillingAddress, MaxAddressRunes, true),
	)
}

// CustomerState is the customer's profile inside the Account. Build it only by folding.
type CustomerState struct {
	ID           CustomerID
	Contact      Contact
	Currency     Currency
	Status       CustomerStatus
	RegisteredAt time.Time
}

// Registered reports whether the customer exists.
func (c CustomerState) Registered() bool { return !c.ID.IsZero() }

// Active reports whether the customer may be invoiced and given new services.
func (c CustomerState) Active() bool { return c.Status == CustomerStatusActive }

// RegisterCustomer opens a customer account with its billing currency.
//
// Errors: *AlreadyExistsError if the account exists; *InvalidValueError for a missing id or
// currency or a malformed contact field.
type RegisterCustomer struct {
	CustomerID CustomerID
	Contact    Contact
	Currency   Currency
}

// UpdateCustomerContact replaces the contact details. Identical details produce no event.
//
// Errors: *InvalidValueError for a malformed field.
type UpdateCustomerContact struct {
	Contact Contact
}

// DeactivateCustomer stops new invoices and services for the customer.
//
// Errors: *InvalidTransitionError if already deactivated; *InvalidValueError for a reason
// that is too long.
type DeactivateCustomer struct {
	Reason string
}

func decideRegisterCustomer(c CustomerState, cmd RegisterCustomer, now time.Time) ([]Event, error) {
	if c.Registered() {
		return nil, &AlreadyExistsError{Entity: "customer", ID: c.ID.String()}
	}
	if err := firstError(checkID(cmd.CustomerID), cmd.Contact.validate()); err != nil {
		return nil, err
	}
	if cmd.Currency.IsZero() {
		return nil, invalid("currency", "", "missing")
	}
	return []Event{CustomerRegistered{
		CustomerID: cmd.CustomerID, Name: cmd.Contact.Name, Email: cmd.Contact.Email,
		Phone: cmd.Contact.Phone, BillingAddress: cmd.Contact.BillingAddress,
		Currency: cmd.Currency, RegisteredAt: now.UTC(),
	}}, nil
}

func decideUpdateCustomerContact(c CustomerState, cmd UpdateCustomerContact, now time.Time) ([]Event, error) {
	if err := cmd.Contact.validate(); err != nil {
		return nil, err
	}
	if cmd.Contact == c.Contact {
		return nil, nil
	}
	return []Event{CustomerContactUpdated{
		CustomerID: c.ID, Name: cmd.Contact.Name, Email: cmd.Contact.Email,
		Phone: cmd.Contact.Phone, BillingAddress: cmd.Contact.BillingAddress, UpdatedAt: now.UTC(),
	}}, nil
}

func decideDeactivateCustomer(c CustomerState, cmd DeactivateCustomer, now time.Time) ([]Event, error) {
	if !c.Active() {
		return nil, &InvalidTransitionError{Entity: "customer", ID: c.ID.String(), From: c.Status.String(), To: CustomerStatusDeactivated.String()}
	}
	if err := checkText("reason", cmd.Reason, MaxReasonRunes, false); err != nil {
		return nil, err
	}
	return []Event{CustomerDeactivated{CustomerID: c.ID, Reason: cmd.Reason, DeactivatedAt: now.UTC()}}, nil
}

// applyCustomer folds a customer event onto the customer's profile.
func applyCustomer(c CustomerState, e Event) (CustomerState, error) {
	switch e := e.(type) {
	case CustomerRegistered:
		if c.Registered() {
			return c, invariantf("customer %s registered twice", c.ID)
		}
		return CustomerState{
			ID:       e.CustomerID,
			Contact:  Contact{Name: e.Name, Email: e.Email, Phone: e.Phone, BillingAddress: e.BillingAddress},
			Currency: e.Currency, Status: CustomerStatusActive, RegisteredAt: e.RegisteredAt,
		}, nil
	case CustomerContactUpdated:
		c.Contact = Contact{Name: e.Name, Email: e.Email, Phone: e.Phone, BillingAddress: e.BillingAddress}
		return c, nil
	case CustomerDeactivated:
		if !c.Active() {
			return c, invariantf("customer %s deactivated while %s", c.ID, c.Status)
		}
		c.Status = CustomerStatusDeactivated
		return c, nil
	}
	return c, invariantf("%s is not a customer event", e.EventType())
}
