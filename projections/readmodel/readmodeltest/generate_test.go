package readmodeltest_test

import (
	"testing"
	"time"

	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

func TestGenerateCoversEveryEventType(t *testing.T) {
	start := time.Now()
	evs, err := readmodeltest.Generate(readmodeltest.Config{Customers: 300, Months: 8, Seed: 1,
		Tenants: []readmodeltest.Tenant{{Name: "acme", Currency: "USD"}, {Name: "gulf", Currency: "BHD"}}})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range evs {
		counts[e.Payload.EventType()]++
	}
	t.Logf("%d events in %s: %v", len(evs), time.Since(start), counts)
	for _, typ := range []string{"CustomerRegistered", "CustomerContactUpdated", "CustomerDeactivated", "InvoiceCreated",
		"InvoiceLineAdded", "InvoiceIssued", "InvoiceVoided", "InvoiceMarkedOverdue", "PaymentRecorded", "PaymentRefunded",
		"CreditNoteIssued", "PlanDefined", "PlanRetired", "ServiceProvisioned", "ServiceActivated", "ServiceSuspended",
		"ServiceResumed", "ServicePlanChanged", "ServiceTerminated", "BillingRunStarted", "BillingRunCustomerInvoiced",
		"BillingRunCompleted"} {
		if counts[typ] == 0 {
			t.Errorf("no %s", typ)
		}
	}
}
