package domain_test

import (
	"slices"
	"testing"

	"github.com/dotmac/ledger/domain"
)

func TestDunningDecide(t *testing.T) {
	due := date("2026-01-15")
	overdueInvoice := []domain.DunningInvoice{{InvoiceID: invoiceID(1), DueDate: due, Outstanding: usd("109.98")}}
	paidInvoices := []domain.DunningInvoice{}
	services := []domain.DunningService{
		{ServiceID: serviceID(1), Status: domain.ServiceStatusActive},
		{ServiceID: serviceID(2), Status: domain.ServiceStatusSuspended, SuspensionReason: domain.SuspensionNonPayment},
		{ServiceID: serviceID(3), Status: domain.ServiceStatusSuspended, SuspensionReason: domain.SuspensionRequested},
		{ServiceID: serviceID(4), Status: domain.ServiceStatusTerminated},
	}
	cases := []struct {
		name     string
		day      string
		balance  string
		invoices []domain.DunningInvoice
		want     domain.DunningDecision
	}{
		{name: "within the grace period nothing changes", day: "2026-01-20", balance: "109.98", invoices: overdueInvoice},
		{name: "overdue by exactly the grace days: nothing yet", day: "2026-01-29", balance: "109.98", invoices: overdueInvoice},
		{
			name: "overdue by more than the grace days: suspend active services for non_payment", day: "2026-01-30",
			balance: "109.98", invoices: overdueInvoice, want: domain.DunningDecision{Suspend: []domain.ServiceID{serviceID(1)}},
		},
		{
			name: "balance cleared: resume only services suspended for non_payment", day: "2026-02-10",
			balance: "0", invoices: paidInvoices, want: domain.DunningDecision{Resume: []domain.ServiceID{serviceID(2)}},
		},
		{
			name: "credit covers what is open: resume", day: "2026-02-10",
			balance: "-5", invoices: overdueInvoice, want: domain.DunningDecision{Resume: []domain.ServiceID{serviceID(2)}},
		},
		{
			name: "nothing overdue, a new invoice not yet due: resume", day: "2026-02-10", balance: "50",
			invoices: []domain.DunningInvoice{{InvoiceID: invoiceID(2), DueDate: date("2026-02-20"), Outstanding: usd("50")}},
			want:     domain.DunningDecision{Resume: []domain.ServiceID{serviceID(2)}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.DunningDecide(domain.DunningInput{
				Now: at(tc.day), GraceDays: 14, Balance: usd(tc.balance), Invoices: tc.invoices, Services: services,
			})
			if err != nil || !equal(got, tc.want) {
				t.Fatalf("got %+v (%v), want %+v", got, err, tc.want)
			}
		})
	}
	if _, err := domain.DunningDecide(domain.DunningInput{GraceDays: -1}); err == nil {
		t.Error("negative grace accepted")
	}
}

// End to end: an account's invoice goes overdue past the grace period, the policy suspends
// the service; the customer pays, the policy resumes it.
func TestDunningFromStates(t *testing.T) {
	events := history(steps(registered(), invoiceIssuedOn(1, "2026-01-01", broadbandAndPhone()...))...) // due 2026-01-15
	fiber := serviceOn(1, fiber100(), "2026-01-01")
	decide := func(events []domain.Event, s domain.ServiceState, day string) domain.DunningDecision {
		a := must(domain.FoldAccount(events))
		return must(domain.DunningDecide(domain.DunningInput{
			Now: at(day), GraceDays: 7, Balance: must(a.Balance()), Invoices: a.DunningInvoices(),
			Services: []domain.DunningService{s.DunningService()},
		}))
	}
	if d := decide(events, fiber, "2026-01-23"); !equal(d.Suspend, []domain.ServiceID{serviceID(1)}) {
		t.Fatalf("suspend: %+v", d)
	}
	suspended := serviceOn(1, fiber100(), "2026-01-01", svc("2026-01-23", domain.SuspendService{Reason: domain.SuspensionNonPayment}))
	paid := append(slices.Clone(events), must(domain.DecideAccount(must(domain.FoldAccount(events)), domain.RecordPayment{
		PaymentID: paymentID(1), Amount: usd("109.98"), Method: domain.PaymentMethodCard, ReceivedAt: at("2026-01-24"),
	}, at("2026-01-24")))...)
	if d := decide(paid, suspended, "2026-01-24"); !equal(d.Resume, []domain.ServiceID{serviceID(1)}) {
		t.Fatalf("resume: %+v", d)
	}
}
