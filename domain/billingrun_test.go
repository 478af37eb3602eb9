package domain_test

import (
	"testing"

	"github.com/dotmac/ledger/domain"
)

func runBillingRun(t *testing.T, cases []scenario[domain.BillingRunCommand]) {
	t.Helper()
	runScenarios(t, domain.FoldBillingRun, domain.DecideBillingRun, cases)
}

func TestBillingRunRules(t *testing.T) {
	run, jan := billingRunID(1), period("2026-01")
	started := domain.BillingRunStarted{BillingRunID: run, Period: jan, StartedAt: t0}
	aliceBilled := domain.BillingRunCustomerInvoiced{BillingRunID: run, Period: jan, CustomerID: alice, InvoiceID: invoiceID(1), InvoicedAt: t0}
	completed := domain.BillingRunCompleted{BillingRunID: run, Period: jan, CustomersInvoiced: 1, CompletedAt: t0}
	runBillingRun(t, []scenario[domain.BillingRunCommand]{
		{name: "start", when: domain.StartBillingRun{BillingRunID: run, Period: jan}, then: []domain.Event{started}},
		{
			name: "running the same period twice creates nothing new", given: []domain.Event{started, aliceBilled, completed},
			when: domain.StartBillingRun{BillingRunID: billingRunID(2), Period: jan}, wantErr: &domain.AlreadyExistsError{Entity: "billing run", ID: "2026-01"},
		},
		{name: "a period is required", when: domain.StartBillingRun{BillingRunID: run}, wantErr: domain.ErrInvalid},
		{name: "a run id is required", when: domain.StartBillingRun{Period: jan}, wantErr: domain.ErrInvalid},
		{name: "record a customer invoiced", given: []domain.Event{started}, when: domain.RecordCustomerInvoiced{CustomerID: alice, InvoiceID: invoiceID(1)}, then: []domain.Event{aliceBilled}},
		{
			name: "a customer is billed once per period", given: []domain.Event{started, aliceBilled},
			when:    domain.RecordCustomerInvoiced{CustomerID: alice, InvoiceID: invoiceID(2)},
			wantErr: &domain.AlreadyBilledError{Customer: alice, Period: jan, Invoice: invoiceID(1)},
		},
		{name: "not before the run started", when: domain.RecordCustomerInvoiced{CustomerID: alice, InvoiceID: invoiceID(1)}, wantErr: domain.ErrNotFound},
		{name: "the ids are required", given: []domain.Event{started}, when: domain.RecordCustomerInvoiced{CustomerID: alice}, wantErr: domain.ErrInvalid},
		{name: "complete", given: []domain.Event{started, aliceBilled}, when: domain.CompleteBillingRun{}, then: []domain.Event{completed}},
		{
			name: "nothing after completion", given: []domain.Event{started, aliceBilled, completed},
			when:    domain.RecordCustomerInvoiced{CustomerID: customerID(2), InvoiceID: invoiceID(2)},
			wantErr: &domain.InvalidTransitionError{Entity: "billing run", ID: run.String(), From: "completed", To: "running"},
		},
	})
	r := must(domain.FoldBillingRun([]domain.Event{started, aliceBilled, completed}))
	if !r.Started() || !r.Completed || r.Invoiced[alice] != invoiceID(1) || r.Period != jan {
		t.Fatalf("got %+v", r)
	}
}
