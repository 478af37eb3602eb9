package domain

import "time"

// Timed is implemented by every event: OccurredAt is the instant the command that produced
// the event was decided (the `*_at` field of its payload), the business time auditors ask
// "as of". It differs from the store's recorded-at when history is entered after the fact
// (imports, demo data).
type Timed interface {
	OccurredAt() time.Time
}

// OccurredAt returns the event's business instant, or the zero time for a value that is not
// a domain event.
func OccurredAt(e Event) time.Time {
	if t, ok := e.(Timed); ok {
		return t.OccurredAt()
	}
	return time.Time{}
}

// OccurredAt implements Timed.
func (e BillingRunStarted) OccurredAt() time.Time { return e.StartedAt }

// OccurredAt implements Timed.
func (e BillingRunCustomerInvoiced) OccurredAt() time.Time { return e.InvoicedAt }

// OccurredAt implements Timed.
func (e BillingRunCompleted) OccurredAt() time.Time { return e.CompletedAt }

// OccurredAt implements Timed.
func (e PlanDefined) OccurredAt() time.Time { return e.DefinedAt }

// OccurredAt implements Timed.
func (e PlanRetired) OccurredAt() time.Time { return e.RetiredAt }

// OccurredAt implements Timed.
func (e CustomerRegistered) OccurredAt() time.Time { return e.RegisteredAt }

// OccurredAt implements Timed.
func (e CustomerContactUpdated) OccurredAt() time.Time { return e.UpdatedAt }

// OccurredAt implements Timed.
func (e CustomerDeactivated) OccurredAt() time.Time { return e.DeactivatedAt }

// OccurredAt implements Timed.
func (e InvoiceCreated) OccurredAt() time.Time { return e.CreatedAt }

// OccurredAt implements Timed.
func (e InvoiceLineAdded) OccurredAt() time.Time { return e.AddedAt }

// OccurredAt implements Timed.
func (e InvoiceIssued) OccurredAt() time.Time { return e.IssuedAt }

// OccurredAt implements Timed.
func (e InvoiceVoided) OccurredAt() time.Time { return e.VoidedAt }

// OccurredAt implements Timed.
func (e InvoiceMarkedOverdue) OccurredAt() time.Time { return e.MarkedAt }

// OccurredAt implements Timed.
func (e PaymentRecorded) OccurredAt() time.Time { return e.RecordedAt }

// OccurredAt implements Timed.
func (e PaymentRefunded) OccurredAt() time.Time { return e.RefundedAt }

// OccurredAt implements Timed.
func (e CreditNoteIssued) OccurredAt() time.Time { return e.IssuedAt }

// OccurredAt implements Timed.
func (e ServiceProvisioned) OccurredAt() time.Time { return e.ProvisionedAt }

// OccurredAt implements Timed.
func (e ServiceActivated) OccurredAt() time.Time { return e.ActivatedAt }

// OccurredAt implements Timed.
func (e ServiceSuspended) OccurredAt() time.Time { return e.SuspendedAt }

// OccurredAt implements Timed.
func (e ServiceResumed) OccurredAt() time.Time { return e.ResumedAt }

// OccurredAt implements Timed.
func (e ServicePlanChanged) OccurredAt() time.Time { return e.ChangedAt }

// OccurredAt implements Timed.
func (e ServiceTerminated) OccurredAt() time.Time { return e.TerminatedAt }

// OccurredAt implements Timed.
func (e OpeningBalanceRecorded) OccurredAt() time.Time { return e.RecordedAt }
