package domain

// BusinessDate returns the business date event e takes effect on, and whether it has one:
// a money event the date of its journal entry (an invoice's issue date, a payment's received
// date, a refund's or a void's day, an unallocated receipt's received date, a credit note's issued-on, an opening balance's as-of),
// a service event its effective date (the start date of a provisioning, the day billing
// starts, the suspension, resumption and plan-change dates, the last day of a termination).
// Registrations, contact changes, plans, drafts, overdue marks and billing-run bookkeeping
// have none: a copy "as of a business date" always takes them.
func BusinessDate(e Event) (Date, bool) {
	if d, ok := moneyDate(e); ok {
		return d, true
	}
	return serviceDate(e)
}

// moneyDate is the date of the journal entry a money event posts (see Postings).
func moneyDate(e Event) (Date, bool) {
	switch e := e.(type) {
	case InvoiceIssued:
		return e.IssueDate, true
	case InvoiceIssuedHead:
		return e.IssueDate, true
	case InvoiceVoided:
		return DateOf(e.VoidedAt), true
	case PaymentRecorded:
		return DateOf(e.ReceivedAt), true
	case PaymentRefunded:
		return DateOf(e.RefundedAt), true
	case CreditNoteIssued:
		return e.Date(), true
	case OpeningBalanceRecorded:
		return e.AsOf, true
	case CustomerCreditApplied:
		return e.AppliedOn, true
	case UnallocatedReceiptRecorded:
		return DateOf(e.ReceivedAt), true
	}
	return Date{}, false
}

// serviceDate is the effective date of a service event.
func serviceDate(e Event) (Date, bool) {
	switch e := e.(type) {
	case ServiceProvisioned:
		return e.StartDate, true
	case ServiceActivated:
		return e.BillingStartsOn, true
	case ServiceSuspended:
		return e.SuspendedOn, true
	case ServiceResumed:
		return e.ResumedOn, true
	case ServicePlanChanged:
		return e.EffectiveDate, true
	case ServiceTerminated:
		return e.TerminatedOn, true
	}
	return Date{}, false
}
