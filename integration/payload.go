package integration

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dotmac/ledger/domain"
)

// mapping turns one domain event type into its public type, payload version, subject and
// payload.
type mapping struct {
	publicType string
	version    int
	build      func(domain.Event) (subject string, payload any, err error)
}

// mappings holds every domain event type's mapping, by domain event type name.
var mappings = map[string]mapping{}

// on registers the mapping of the domain event type E.
func on[E domain.Event](publicType string, build func(E) (string, any)) {
	var zero E
	mappings[zero.EventType()] = mapping{publicType: publicType, version: 1,
		build: func(e domain.Event) (string, any, error) {
			typed, ok := e.(E)
			if !ok { // a view of an event, such as domain.InvoiceIssuedHead, has the event's type name
				return "", nil, fmt.Errorf("%w: %T stands for %s but is not %T", ErrNotMapped, e, zero.EventType(), zero)
			}
			subject, payload := build(typed)
			return subject, payload, nil
		}}
}

func init() {
	// Customers: subject is the customer id.
	on("customers.customer_registered", func(e domain.CustomerRegistered) (string, any) {
		return e.CustomerID.String(), CustomerRegisteredV1{CustomerID: e.CustomerID.String(), Name: e.Name, Email: e.Email,
			Phone: e.Phone, BillingAddress: e.BillingAddress, Currency: e.Currency.Code(), RegisteredAt: ts(e.RegisteredAt)}
	})
	on("customers.customer_contact_updated", func(e domain.CustomerContactUpdated) (string, any) {
		return e.CustomerID.String(), CustomerContactUpdatedV1{CustomerID: e.CustomerID.String(), Name: e.Name, Email: e.Email,
			Phone: e.Phone, BillingAddress: e.BillingAddress, UpdatedAt: ts(e.UpdatedAt)}
	})
	on("customers.customer_deactivated", func(e domain.CustomerDeactivated) (string, any) {
		return e.CustomerID.String(), CustomerDeactivatedV1{CustomerID: e.CustomerID.String(), Reason: e.Reason,
			DeactivatedAt: ts(e.DeactivatedAt)}
	})
	// Invoices: subject is the invoice id.
	on("billing.invoice_created", func(e domain.InvoiceCreated) (string, any) {
		return e.InvoiceID.String(), InvoiceCreatedV1{CustomerID: e.CustomerID.String(), InvoiceID: e.InvoiceID.String(),
			Currency: e.Currency.Code(), Period: period(e.Period), Lines: lines(e.Lines), CreatedAt: ts(e.CreatedAt)}
	})
	on("billing.invoice_line_added", func(e domain.InvoiceLineAdded) (string, any) {
		return e.InvoiceID.String(), InvoiceLineAddedV1{CustomerID: e.CustomerID.String(), InvoiceID: e.InvoiceID.String(),
			Line: line(e.Line), AddedAt: ts(e.AddedAt)}
	})
	on("billing.invoice_issued", func(e domain.InvoiceIssued) (string, any) {
		return e.InvoiceID.String(), InvoiceIssuedV1{CustomerID: e.CustomerID.String(), InvoiceID: e.InvoiceID.String(),
			Number: e.Number, IssueDate: date(e.IssueDate), DueDate: date(e.DueDate), Currency: e.Currency.Code(),
			Period: period(e.Period), NetTotal: money(e.NetTotal), TaxTotal: money(e.TaxTotal), Total: money(e.Total),
			CreditApplied: money(e.CreditApplied), AmountDue: amountDue(e.Total, e.CreditApplied),
			IssuedAt: ts(e.IssuedAt), Lines: lines(e.Lines)}
	})
	on("billing.invoice_voided", func(e domain.InvoiceVoided) (string, any) {
		return e.InvoiceID.String(), InvoiceVoidedV1{CustomerID: e.CustomerID.String(), InvoiceID: e.InvoiceID.String(),
			Number: e.Number, NetTotal: money(e.NetTotal), TaxTotal: money(e.TaxTotal), Total: money(e.Total),
			Reason: e.Reason, VoidedAt: ts(e.VoidedAt)}
	})
	on("billing.invoice_overdue", func(e domain.InvoiceMarkedOverdue) (string, any) {
		return e.InvoiceID.String(), InvoiceOverdueV1{CustomerID: e.CustomerID.String(), InvoiceID: e.InvoiceID.String(),
			Number: e.Number, DueDate: date(e.DueDate), Outstanding: money(e.Outstanding), MarkedAt: ts(e.MarkedAt)}
	})
	// Payments, credit notes and opening balances: subject is the customer id (the account).
	on("billing.payment_recorded", func(e domain.PaymentRecorded) (string, any) {
		return e.CustomerID.String(), PaymentRecordedV1{CustomerID: e.CustomerID.String(), PaymentID: e.PaymentID.String(),
			Amount: money(e.Amount), Method: e.Method.String(), ExternalReference: e.ExternalReference,
			ReceivedAt: ts(e.ReceivedAt), Allocations: allocations(e.Allocations), Unapplied: money(e.Unapplied), RecordedAt: ts(e.RecordedAt),
			ReceiptID: optID(e.ReceiptID)}
	})
	on("billing.payment_refunded", func(e domain.PaymentRefunded) (string, any) {
		return e.CustomerID.String(), PaymentRefundedV1{CustomerID: e.CustomerID.String(), PaymentID: e.PaymentID.String(),
			Amount: money(e.Amount), Reason: e.Reason, RefundedAt: ts(e.RefundedAt)}
	})
	on("billing.credit_note_issued", func(e domain.CreditNoteIssued) (string, any) {
		return e.CustomerID.String(), CreditNoteIssuedV1{CustomerID: e.CustomerID.String(), CreditNoteID: e.CreditNoteID.String(),
			InvoiceID: optID(e.InvoiceID), Net: money(e.Net), TaxRate: e.TaxRate.String(), Tax: money(e.Tax),
			Total: money(e.Total), Reason: e.Reason, IssuedOn: date(e.Date()), IssuedAt: ts(e.IssuedAt), Lines: lines(e.Lines),
			Allocations: allocations(e.Allocations), Unapplied: money(e.Unapplied())}
	})
	on("billing.opening_balance_recorded", func(e domain.OpeningBalanceRecorded) (string, any) {
		return e.CustomerID.String(), OpeningBalanceRecordedV1{CustomerID: e.CustomerID.String(), InvoiceID: e.InvoiceID.String(),
			Amount: money(e.Amount), AsOf: date(e.AsOf), RecordedAt: ts(e.RecordedAt)}
	})
	on("billing.customer_credit_applied", func(e domain.CustomerCreditApplied) (string, any) {
		return e.CustomerID.String(), CustomerCreditAppliedV1{CustomerID: e.CustomerID.String(), Allocations: allocations(e.Allocations),
			Amount: money(e.Amount), AppliedOn: date(e.AppliedOn), AppliedAt: ts(e.AppliedAt)}
	})
	// Unallocated receipts: subject is the receipt id.
	on("billing.unallocated_receipt_recorded", func(e domain.UnallocatedReceiptRecorded) (string, any) {
		return e.ReceiptID.String(), UnallocatedReceiptRecordedV1{ReceiptID: e.ReceiptID.String(), Amount: money(e.Amount),
			Method: e.Method.String(), ExternalReference: e.ExternalReference, AccountReference: e.AccountReference,
			Payer: e.Payer, Reason: e.Reason.String(), CustomerID: optID(e.CustomerID), ReceivedAt: ts(e.ReceivedAt),
			RecordedAt: ts(e.RecordedAt)}
	})
	on("billing.unallocated_receipt_allocated", func(e domain.UnallocatedReceiptAllocated) (string, any) {
		return e.ReceiptID.String(), UnallocatedReceiptAllocatedV1{ReceiptID: e.ReceiptID.String(), CustomerID: e.CustomerID.String(),
			PaymentID: e.PaymentID.String(), Amount: money(e.Amount), AllocatedAt: ts(e.AllocatedAt)}
	})
	// Provider payments: subject is the claim's receipt id.
	on("billing.provider_payment_claimed", func(e domain.ProviderPaymentClaimed) (string, any) {
		return e.ReceiptID.String(), ProviderPaymentClaimedV1{ReceiptID: e.ReceiptID.String(), ExternalReference: e.ExternalReference,
			Amount: money(e.Amount), BookedTo: e.BookedTo.String(), CustomerID: optID(e.CustomerID), PaymentID: optID(e.PaymentID),
			Reason: opt(e.Reason.String()), ClaimedAt: ts(e.ClaimedAt)}
	})
	// Plans: subject is the plan code.
	on("catalog.plan_defined", func(e domain.PlanDefined) (string, any) {
		return e.PlanCode.String(), PlanDefinedV1{PlanCode: e.PlanCode.String(), Name: e.Name, MonthlyPrice: money(e.MonthlyPrice),
			TaxClass: e.TaxClass, TaxRate: e.TaxRate.String(), BillWhileSuspended: e.BillWhileSuspended, DefinedAt: ts(e.DefinedAt)}
	})
	on("catalog.plan_retired", func(e domain.PlanRetired) (string, any) {
		return e.PlanCode.String(), PlanRetiredV1{PlanCode: e.PlanCode.String(), RetiredAt: ts(e.RetiredAt)}
	})
	// Services: subject is the service id.
	on("services.service_provisioned", func(e domain.ServiceProvisioned) (string, any) {
		return e.ServiceID.String(), ServiceProvisionedV1{ServiceID: e.ServiceID.String(), CustomerID: e.CustomerID.String(),
			Plan: plan(e.Plan), StartDate: date(e.StartDate), InstallAddress: e.InstallAddress, ONTSerial: opt(e.ONTSerial),
			StaticIP: ip(e.StaticIP), ProvisionedAt: ts(e.ProvisionedAt)}
	})
	on("services.service_activated", func(e domain.ServiceActivated) (string, any) {
		return e.ServiceID.String(), ServiceActivatedV1{ServiceID: e.ServiceID.String(), CustomerID: e.CustomerID.String(),
			BillingStartsOn: date(e.BillingStartsOn), ActivatedAt: ts(e.ActivatedAt)}
	})
	on("services.service_suspended", func(e domain.ServiceSuspended) (string, any) {
		return e.ServiceID.String(), ServiceSuspendedV1{ServiceID: e.ServiceID.String(), CustomerID: e.CustomerID.String(),
			Reason: e.Reason.String(), SuspendedOn: date(e.SuspendedOn), SuspendedAt: ts(e.SuspendedAt)}
	})
	on("services.service_resumed", func(e domain.ServiceResumed) (string, any) {
		return e.ServiceID.String(), ServiceResumedV1{ServiceID: e.ServiceID.String(), CustomerID: e.CustomerID.String(),
			ResumedOn: date(e.ResumedOn), ResumedAt: ts(e.ResumedAt)}
	})
	on("services.service_plan_changed", func(e domain.ServicePlanChanged) (string, any) {
		return e.ServiceID.String(), ServicePlanChangedV1{ServiceID: e.ServiceID.String(), CustomerID: e.CustomerID.String(),
			OldPlan: plan(e.OldPlan), NewPlan: plan(e.NewPlan), EffectiveDate: date(e.EffectiveDate),
			DaysRemaining: e.DaysRemaining, DaysInPeriod: e.DaysInPeriod, ProrationCredit: money(e.ProrationCredit),
			ProrationCharge: money(e.ProrationCharge), ChangedAt: ts(e.ChangedAt)}
	})
	on("services.service_terminated", func(e domain.ServiceTerminated) (string, any) {
		return e.ServiceID.String(), ServiceTerminatedV1{ServiceID: e.ServiceID.String(), CustomerID: e.CustomerID.String(),
			TerminatedOn: date(e.TerminatedOn), Reason: e.Reason, TerminatedAt: ts(e.TerminatedAt)}
	})
	// Billing runs: subject is the billing run id.
	on("billing.billing_run_started", func(e domain.BillingRunStarted) (string, any) {
		return e.BillingRunID.String(), BillingRunStartedV1{BillingRunID: e.BillingRunID.String(), Period: e.Period.String(),
			StartedAt: ts(e.StartedAt)}
	})
	on("billing.billing_run_customer_invoiced", func(e domain.BillingRunCustomerInvoiced) (string, any) {
		return e.BillingRunID.String(), BillingRunCustomerInvoicedV1{BillingRunID: e.BillingRunID.String(),
			Period: e.Period.String(), CustomerID: e.CustomerID.String(), InvoiceID: e.InvoiceID.String(), InvoicedAt: ts(e.InvoicedAt)}
	})
	on("billing.billing_run_completed", func(e domain.BillingRunCompleted) (string, any) {
		return e.BillingRunID.String(), BillingRunCompletedV1{BillingRunID: e.BillingRunID.String(), Period: e.Period.String(),
			CustomersInvoiced: e.CustomersInvoiced, CompletedAt: ts(e.CompletedAt)}
	})
}

// Money is an amount in a currency: the amount a decimal string with the currency's minor
// units ("79.99", "1000", "12.500"), the currency its ISO 4217 code.
type Money struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

func money(m domain.Money) *Money {
	if m.Currency().IsZero() {
		return nil
	}
	return &Money{Amount: m.AmountString(), Currency: m.Currency().Code()}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func date(d domain.Date) *string {
	if d.IsZero() {
		return nil
	}
	s := d.String()
	return &s
}

func period(p domain.Period) *string {
	if p.IsZero() {
		return nil
	}
	s := p.String()
	return &s
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optID(id interface {
	IsZero() bool
	String() string
}) *string {
	if id.IsZero() {
		return nil
	}
	return opt(id.String())
}

// amountDue is total - credit (both in the invoice's currency).
func amountDue(total, credit domain.Money) *Money {
	due, err := total.Sub(credit)
	if err != nil {
		return nil
	}
	return money(due)
}

func ip(a netip.Addr) *string {
	if !a.IsValid() {
		return nil
	}
	return opt(a.String())
}

// LineV1 is one invoice or credit-note line. ServiceID, PlanCode, Period, From and Through
// are set on a service's lines and null otherwise; Proration is set on a prorated line.
type LineV1 struct {
	LineID      string       `json:"line_id"`
	Description string       `json:"description"`
	Quantity    string       `json:"quantity"`
	UnitPrice   *Money       `json:"unit_price"`
	Net         *Money       `json:"net"`
	TaxRate     string       `json:"tax_rate"`
	Tax         *Money       `json:"tax"`
	ServiceID   *string      `json:"service_id"`
	PlanCode    *string      `json:"plan_code"`
	Period      *string      `json:"period"`
	From        *string      `json:"from"`
	Through     *string      `json:"through"`
	Proration   *ProrationV1 `json:"proration"`
}

// ProrationV1 explains a prorated line: full_price × days_billed / days_in_period.
type ProrationV1 struct {
	DaysBilled   int    `json:"days_billed"`
	DaysInPeriod int    `json:"days_in_period"`
	FullPrice    *Money `json:"full_price"`
}

func line(l domain.InvoiceLine) LineV1 {
	out := LineV1{LineID: l.LineID.String(), Description: l.Description, Quantity: l.Quantity.String(),
		UnitPrice: money(l.UnitPrice), Net: money(l.Net), TaxRate: l.TaxRate.String(), Tax: money(l.Tax),
		ServiceID: optID(l.ServiceID), Period: period(l.Period), From: date(l.From), Through: date(l.Through)}
	if !l.PlanCode.IsZero() {
		out.PlanCode = opt(l.PlanCode.String())
	}
	if l.Proration != nil {
		out.Proration = &ProrationV1{DaysBilled: l.Proration.DaysBilled, DaysInPeriod: l.Proration.DaysInPeriod,
			FullPrice: money(l.Proration.FullPrice)}
	}
	return out
}

func lines(ls []domain.InvoiceLine) []LineV1 {
	out := make([]LineV1, 0, len(ls))
	for _, l := range ls {
		out = append(out, line(l))
	}
	return out
}

// PlanV1 is the part of a plan a service is billed by.
type PlanV1 struct {
	Code               string `json:"code"`
	Name               string `json:"name"`
	MonthlyPrice       *Money `json:"monthly_price"`
	TaxRate            string `json:"tax_rate"`
	BillWhileSuspended bool   `json:"bill_while_suspended"`
}

func plan(p domain.PlanSnapshot) PlanV1 {
	return PlanV1{Code: p.Code.String(), Name: p.Name, MonthlyPrice: money(p.MonthlyPrice), TaxRate: p.TaxRate.String(),
		BillWhileSuspended: p.BillWhileSuspended}
}

// CustomerRegisteredV1 is the payload of customers.customer_registered.
type CustomerRegisteredV1 struct {
	CustomerID     string `json:"customer_id"`
	Name           string `json:"name"`
	Email          string `json:"email"`
	Phone          string `json:"phone"`
	BillingAddress string `json:"billing_address"`
	Currency       string `json:"currency"`
	RegisteredAt   string `json:"registered_at"`
}

// CustomerContactUpdatedV1 is the payload of customers.customer_contact_updated.
type CustomerContactUpdatedV1 struct {
	CustomerID     string `json:"customer_id"`
	Name           string `json:"name"`
	Email          string `json:"email"`
	Phone          string `json:"phone"`
	BillingAddress string `json:"billing_address"`
	UpdatedAt      string `json:"updated_at"`
}

// CustomerDeactivatedV1 is the payload of customers.customer_deactivated.
type CustomerDeactivatedV1 struct {
	CustomerID    string `json:"customer_id"`
	Reason        string `json:"reason"`
	DeactivatedAt string `json:"deactivated_at"`
}

// InvoiceCreatedV1 is the payload of billing.invoice_created (a draft; not yet owed).
type InvoiceCreatedV1 struct {
	CustomerID string   `json:"customer_id"`
	InvoiceID  string   `json:"invoice_id"`
	Currency   string   `json:"currency"`
	Period     *string  `json:"period"`
	Lines      []LineV1 `json:"lines"`
	CreatedAt  string   `json:"created_at"`
}

// InvoiceLineAddedV1 is the payload of billing.invoice_line_added (to a draft).
type InvoiceLineAddedV1 struct {
	CustomerID string `json:"customer_id"`
	InvoiceID  string `json:"invoice_id"`
	Line       LineV1 `json:"line"`
	AddedAt    string `json:"added_at"`
}

// InvoiceIssuedV1 is the payload of billing.invoice_issued: the final invoice with every
// line and total. AmountDue is Total minus CreditApplied (customer credit that settled part
// of it at issue).
type InvoiceIssuedV1 struct {
	CustomerID    string   `json:"customer_id"`
	InvoiceID     string   `json:"invoice_id"`
	Number        string   `json:"number"`
	IssueDate     *string  `json:"issue_date"`
	DueDate       *string  `json:"due_date"`
	Currency      string   `json:"currency"`
	Period        *string  `json:"period"`
	NetTotal      *Money   `json:"net_total"`
	TaxTotal      *Money   `json:"tax_total"`
	Total         *Money   `json:"total"`
	CreditApplied *Money   `json:"credit_applied"`
	AmountDue     *Money   `json:"amount_due"`
	IssuedAt      string   `json:"issued_at"`
	Lines         []LineV1 `json:"lines"`
}

// InvoiceVoidedV1 is the payload of billing.invoice_voided.
type InvoiceVoidedV1 struct {
	CustomerID string `json:"customer_id"`
	InvoiceID  string `json:"invoice_id"`
	Number     string `json:"number"`
	NetTotal   *Money `json:"net_total"`
	TaxTotal   *Money `json:"tax_total"`
	Total      *Money `json:"total"`
	Reason     string `json:"reason"`
	VoidedAt   string `json:"voided_at"`
}

// InvoiceOverdueV1 is the payload of billing.invoice_overdue.
type InvoiceOverdueV1 struct {
	CustomerID  string  `json:"customer_id"`
	InvoiceID   string  `json:"invoice_id"`
	Number      string  `json:"number"`
	DueDate     *string `json:"due_date"`
	Outstanding *Money  `json:"outstanding"`
	MarkedAt    string  `json:"marked_at"`
}

// allocations lists a payment's or credit note's allocations ([] for none).
func allocations(as []domain.Allocation) []AllocationV1 {
	out := make([]AllocationV1, 0, len(as))
	for _, a := range as {
		out = append(out, AllocationV1{InvoiceID: a.InvoiceID.String(), Amount: money(a.Amount)})
	}
	return out
}

// AllocationV1 is the part of a payment (or of a credit note on the account) that settled one
// invoice.
type AllocationV1 struct {
	InvoiceID string `json:"invoice_id"`
	Amount    *Money `json:"amount"`
}

// PaymentRecordedV1 is the payload of billing.payment_recorded.
type PaymentRecordedV1 struct {
	CustomerID        string         `json:"customer_id"`
	PaymentID         string         `json:"payment_id"`
	Amount            *Money         `json:"amount"`
	Method            string         `json:"method"`
	ExternalReference string         `json:"external_reference"`
	ReceivedAt        string         `json:"received_at"`
	Allocations       []AllocationV1 `json:"allocations"`
	Unapplied         *Money         `json:"unapplied"`
	RecordedAt        string         `json:"recorded_at"`
	// ReceiptID is the unallocated receipt the payment allocates, null for any other payment.
	ReceiptID *string `json:"receipt_id"`
}

// PaymentRefundedV1 is the payload of billing.payment_refunded.
type PaymentRefundedV1 struct {
	CustomerID string `json:"customer_id"`
	PaymentID  string `json:"payment_id"`
	Amount     *Money `json:"amount"`
	Reason     string `json:"reason"`
	RefundedAt string `json:"refunded_at"`
}

// CreditNoteIssuedV1 is the payload of billing.credit_note_issued; InvoiceID is null for a
// credit note on the account. A credit note on the account settles the customer's open
// invoices oldest first (Allocations) and Unapplied, the rest of Total, becomes customer
// credit; a credit note against an invoice has no allocations and zero unapplied. (Credit
// notes on the account recorded before allocations existed settled nothing: all of their
// total is unapplied.)
type CreditNoteIssuedV1 struct {
	CustomerID   string         `json:"customer_id"`
	CreditNoteID string         `json:"credit_note_id"`
	InvoiceID    *string        `json:"invoice_id"`
	Net          *Money         `json:"net"`
	TaxRate      string         `json:"tax_rate"`
	Tax          *Money         `json:"tax"`
	Total        *Money         `json:"total"`
	Reason       string         `json:"reason"`
	IssuedOn     *string        `json:"issued_on"`
	IssuedAt     string         `json:"issued_at"`
	Lines        []LineV1       `json:"lines"`
	Allocations  []AllocationV1 `json:"allocations"`
	Unapplied    *Money         `json:"unapplied"`
}

// OpeningBalanceRecordedV1 is the payload of billing.opening_balance_recorded (a balance
// moved over from another system, owed as the invoice InvoiceID).
type OpeningBalanceRecordedV1 struct {
	CustomerID string  `json:"customer_id"`
	InvoiceID  string  `json:"invoice_id"`
	Amount     *Money  `json:"amount"`
	AsOf       *string `json:"as_of"`
	RecordedAt string  `json:"recorded_at"`
}

// CustomerCreditAppliedV1 is the payload of billing.customer_credit_applied: customer credit
// (Amount) settled the open invoices in Allocations, oldest first. It follows an opening
// balance recorded beside open invoices or credit, or repairs an account an earlier version
// left with credit beside open invoices.
type CustomerCreditAppliedV1 struct {
	CustomerID  string         `json:"customer_id"`
	Allocations []AllocationV1 `json:"allocations"`
	Amount      *Money         `json:"amount"`
	AppliedOn   *string        `json:"applied_on"`
	AppliedAt   string         `json:"applied_at"`
}

// UnallocatedReceiptRecordedV1 is the payload of billing.unallocated_receipt_recorded: money
// a payment provider reported that names no customer (reason unknown_customer) or a customer
// billed in another currency (currency_mismatch, customer_id set), booked to unallocated
// receipts.
type UnallocatedReceiptRecordedV1 struct {
	ReceiptID         string  `json:"receipt_id"`
	Amount            *Money  `json:"amount"`
	Method            string  `json:"method"`
	ExternalReference string  `json:"external_reference"`
	AccountReference  string  `json:"account_reference"`
	Payer             string  `json:"payer"`
	Reason            string  `json:"reason"`
	CustomerID        *string `json:"customer_id"`
	ReceivedAt        string  `json:"received_at"`
	RecordedAt        string  `json:"recorded_at"`
}

// UnallocatedReceiptAllocatedV1 is the payload of billing.unallocated_receipt_allocated: the
// receipt became payment PaymentID of the customer (billing.payment_recorded follows).
type UnallocatedReceiptAllocatedV1 struct {
	ReceiptID   string `json:"receipt_id"`
	CustomerID  string `json:"customer_id"`
	PaymentID   string `json:"payment_id"`
	Amount      *Money `json:"amount"`
	AllocatedAt string `json:"allocated_at"`
}

// ProviderPaymentClaimedV1 is the payload of billing.provider_payment_claimed: where a
// provider payment is booked (booked_to "account": payment_id of customer_id, published as
// billing.payment_recorded; "receipt": the unallocated receipt receipt_id, published as
// billing.unallocated_receipt_recorded). It moves no money.
type ProviderPaymentClaimedV1 struct {
	ReceiptID         string  `json:"receipt_id"`
	ExternalReference string  `json:"external_reference"`
	Amount            *Money  `json:"amount"`
	BookedTo          string  `json:"booked_to"`
	CustomerID        *string `json:"customer_id"`
	PaymentID         *string `json:"payment_id"`
	Reason            *string `json:"reason"`
	ClaimedAt         string  `json:"claimed_at"`
}

// PlanDefinedV1 is the payload of catalog.plan_defined.
type PlanDefinedV1 struct {
	PlanCode           string `json:"plan_code"`
	Name               string `json:"name"`
	MonthlyPrice       *Money `json:"monthly_price"`
	TaxClass           string `json:"tax_class"`
	TaxRate            string `json:"tax_rate"`
	BillWhileSuspended bool   `json:"bill_while_suspended"`
	DefinedAt          string `json:"defined_at"`
}

// PlanRetiredV1 is the payload of catalog.plan_retired.
type PlanRetiredV1 struct {
	PlanCode  string `json:"plan_code"`
	RetiredAt string `json:"retired_at"`
}

// ServiceProvisionedV1 is the payload of services.service_provisioned.
type ServiceProvisionedV1 struct {
	ServiceID      string  `json:"service_id"`
	CustomerID     string  `json:"customer_id"`
	Plan           PlanV1  `json:"plan"`
	StartDate      *string `json:"start_date"`
	InstallAddress string  `json:"install_address"`
	ONTSerial      *string `json:"ont_serial"`
	StaticIP       *string `json:"static_ip"`
	ProvisionedAt  string  `json:"provisioned_at"`
}

// ServiceActivatedV1 is the payload of services.service_activated.
type ServiceActivatedV1 struct {
	ServiceID       string  `json:"service_id"`
	CustomerID      string  `json:"customer_id"`
	BillingStartsOn *string `json:"billing_starts_on"`
	ActivatedAt     string  `json:"activated_at"`
}

// ServiceSuspendedV1 is the payload of services.service_suspended; Reason is non_payment or
// requested.
type ServiceSuspendedV1 struct {
	ServiceID   string  `json:"service_id"`
	CustomerID  string  `json:"customer_id"`
	Reason      string  `json:"reason"`
	SuspendedOn *string `json:"suspended_on"`
	SuspendedAt string  `json:"suspended_at"`
}

// ServiceResumedV1 is the payload of services.service_resumed.
type ServiceResumedV1 struct {
	ServiceID  string  `json:"service_id"`
	CustomerID string  `json:"customer_id"`
	ResumedOn  *string `json:"resumed_on"`
	ResumedAt  string  `json:"resumed_at"`
}

// ServicePlanChangedV1 is the payload of services.service_plan_changed.
type ServicePlanChangedV1 struct {
	ServiceID       string  `json:"service_id"`
	CustomerID      string  `json:"customer_id"`
	OldPlan         PlanV1  `json:"old_plan"`
	NewPlan         PlanV1  `json:"new_plan"`
	EffectiveDate   *string `json:"effective_date"`
	DaysRemaining   int     `json:"days_remaining"`
	DaysInPeriod    int     `json:"days_in_period"`
	ProrationCredit *Money  `json:"proration_credit"`
	ProrationCharge *Money  `json:"proration_charge"`
	ChangedAt       string  `json:"changed_at"`
}

// ServiceTerminatedV1 is the payload of services.service_terminated.
type ServiceTerminatedV1 struct {
	ServiceID    string  `json:"service_id"`
	CustomerID   string  `json:"customer_id"`
	TerminatedOn *string `json:"terminated_on"`
	Reason       string  `json:"reason"`
	TerminatedAt string  `json:"terminated_at"`
}

// BillingRunStartedV1 is the payload of billing.billing_run_started.
type BillingRunStartedV1 struct {
	BillingRunID string `json:"billing_run_id"`
	Period       string `json:"period"`
	StartedAt    string `json:"started_at"`
}

// BillingRunCustomerInvoicedV1 is the payload of billing.billing_run_customer_invoiced.
type BillingRunCustomerInvoicedV1 struct {
	BillingRunID string `json:"billing_run_id"`
	Period       string `json:"period"`
	CustomerID   string `json:"customer_id"`
	InvoiceID    string `json:"invoice_id"`
	InvoicedAt   string `json:"invoiced_at"`
}

// BillingRunCompletedV1 is the payload of billing.billing_run_completed.
type BillingRunCompletedV1 struct {
	BillingRunID      string `json:"billing_run_id"`
	Period            string `json:"period"`
	CustomersInvoiced int    `json:"customers_invoiced"`
	CompletedAt       string `json:"completed_at"`
}
