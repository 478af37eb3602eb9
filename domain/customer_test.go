package domain_test

import (
	"testing"

	"github.com/dotmac/ledger/domain"
)

func TestCustomerRules(t *testing.T) {
	registeredEvent := domain.CustomerRegistered{
		CustomerID: alice, Name: "Alice Ng", Email: "alice@example.com", Phone: "+1 555 0100",
		BillingAddress: "1 Main St, Springfield", Currency: currency("USD"), RegisteredAt: t0,
	}
	newContact := domain.Contact{Name: "Alice Ng", Email: "alice@isp.example", BillingAddress: "2 Side St, Springfield"}
	badEmail := aliceContact
	badEmail.Email = "alice"
	noName := aliceContact
	noName.Name = ""
	paddedAddress := aliceContact
	paddedAddress.BillingAddress = " 1 Main St"
	runAccount(t, []scenario[domain.AccountCommand]{
		{
			name: "register opens the account with its billing currency",
			when: registerAlice(),
			then: []domain.Event{registeredEvent},
		},
		{
			name:    "register twice is refused",
			given:   []domain.Event{registeredEvent},
			when:    registerAlice(),
			wantErr: &domain.AlreadyExistsError{Entity: "customer", ID: alice.String()},
		},
		{
			name:    "an e-mail address must look like one",
			when:    domain.RegisterCustomer{CustomerID: alice, Contact: badEmail, Currency: currency("USD")},
			wantErr: &domain.InvalidValueError{Field: "email", Value: "alice", Reason: "want an address like name@example.com"},
		},
		{
			name:    "a name is required",
			when:    domain.RegisterCustomer{CustomerID: alice, Contact: noName, Currency: currency("USD")},
			wantErr: &domain.InvalidValueError{Field: "name", Value: "", Reason: "required"},
		},
		{
			name:    "text is stored trimmed",
			when:    domain.RegisterCustomer{CustomerID: alice, Contact: paddedAddress, Currency: currency("USD")},
			wantErr: &domain.InvalidValueError{Field: "billing address", Value: " 1 Main St", Reason: "has leading or trailing spaces"},
		},
		{
			name:    "a billing currency is required",
			when:    domain.RegisterCustomer{CustomerID: alice, Contact: aliceContact},
			wantErr: &domain.InvalidValueError{Field: "currency", Value: "", Reason: "missing"},
		},
		{
			name:    "a customer id is required",
			when:    domain.RegisterCustomer{Contact: aliceContact, Currency: currency("USD")},
			wantErr: &domain.InvalidValueError{Field: "customer id", Value: "", Reason: "missing"},
		},
		{
			name:    "every other command needs a registered customer",
			when:    domain.UpdateCustomerContact{Contact: newContact},
			wantErr: domain.ErrNotFound,
		},
		{
			name:  "update contact replaces every detail",
			given: []domain.Event{registeredEvent},
			when:  domain.UpdateCustomerContact{Contact: newContact},
			then: []domain.Event{domain.CustomerContactUpdated{
				CustomerID: alice, Name: "Alice Ng", Email: "alice@isp.example", BillingAddress: "2 Side St, Springfield", UpdatedAt: t0,
			}},
		},
		{
			name:  "an update that changes nothing records nothing",
			given: []domain.Event{registeredEvent},
			when:  domain.UpdateCustomerContact{Contact: aliceContact},
			then:  nil,
		},
		{
			name:    "an update is validated like a registration",
			given:   []domain.Event{registeredEvent},
			when:    domain.UpdateCustomerContact{Contact: badEmail},
			wantErr: domain.ErrInvalid,
		},
		{
			name:  "deactivate",
			given: []domain.Event{registeredEvent},
			when:  domain.DeactivateCustomer{Reason: "moved away"},
			then:  []domain.Event{domain.CustomerDeactivated{CustomerID: alice, Reason: "moved away", DeactivatedAt: t0}},
		},
		{
			name:    "deactivate twice is refused",
			given:   history(on("2026-01-01", registerAlice()), on("2026-01-02", domain.DeactivateCustomer{})),
			when:    domain.DeactivateCustomer{},
			wantErr: &domain.InvalidTransitionError{Entity: "customer", ID: alice.String(), From: "deactivated", To: "deactivated"},
		},
	})
}

// A deactivated customer cannot be invoiced, but can still pay and be credited.
func TestDeactivatedCustomerCannotBeInvoiced(t *testing.T) {
	deactivated := steps(registered(), []step{on("2026-01-05", domain.DeactivateCustomer{Reason: "closed"})})
	withDraft := steps(registered(), []step{on("2026-01-02", createInvoice(1, lineIn(1, "Broadband", "79.99"))),
		on("2026-01-05", domain.DeactivateCustomer{Reason: "closed"})})
	inactive := &domain.CustomerInactiveError{Customer: alice}
	runAccount(t, []scenario[domain.AccountCommand]{
		{name: "no new invoice", given: history(deactivated...), when: createInvoice(1, lineIn(1, "Broadband", "79.99")), wantErr: inactive},
		{name: "no issuing a draft made before", given: history(withDraft...), when: issueInvoice(1, "2026-01-31"), wantErr: inactive},
		{
			name: "no recurring invoice", given: history(deactivated...),
			when:    domain.GenerateRecurringInvoice{InvoiceID: invoiceID(1), Period: period("2026-01"), Number: "INV-1", DueDate: date("2026-01-31"), Lines: broadbandAndPhone()},
			wantErr: inactive,
		},
		{name: "payments are still accepted", given: history(deactivated...), when: recordPayment(1, "10"), then: []domain.Event{paymentRecorded(1, "10", "10")}},
	})
}

func TestFoldCustomer(t *testing.T) {
	a := must(domain.FoldAccount(history(registered()...)))
	if !a.Customer.Registered() || !a.Customer.Active() || a.Customer.Contact != aliceContact ||
		a.Customer.Currency != currency("USD") || a.Customer.Status.String() != "active" || !a.Credit.Equal(usd("0")) {
		t.Fatalf("got %+v", a)
	}
}
