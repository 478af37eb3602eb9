package domain_test

import (
	"strings"
	"testing"

	"github.com/dotmac/ledger/domain"
)

// TestBusinessDateOfMoneyEvents: a money event's business date is its journal entry's date.
func TestBusinessDateOfMoneyEvents(t *testing.T) {
	for _, e := range sampleEvents() {
		entry, ok, err := domain.Postings(e)
		if err != nil || !ok {
			continue
		}
		got, dated := domain.BusinessDate(e)
		if !dated || got != entry.Date() {
			t.Errorf("BusinessDate(%s) = %s, %v; its journal entry is dated %s", e.EventType(), got, dated, entry.Date())
		}
	}
}

// TestBusinessDateKinds: money and service events have a business date, the others none.
func TestBusinessDateKinds(t *testing.T) {
	day := mustDate("2026-05-10")
	for _, tc := range []struct {
		e     domain.Event
		want  domain.Date
		dated bool
	}{
		{domain.ServiceProvisioned{StartDate: day}, day, true},
		{domain.ServiceActivated{BillingStartsOn: day}, day, true},
		{domain.ServiceSuspended{SuspendedOn: day}, day, true},
		{domain.ServiceResumed{ResumedOn: day}, day, true},
		{domain.ServicePlanChanged{EffectiveDate: day}, day, true},
		{domain.ServiceTerminated{TerminatedOn: day}, day, true},
		{domain.OpeningBalanceRecorded{AsOf: day}, day, true},
		{domain.PaymentRecorded{ReceivedAt: day.Time().Add(23 * 3600e9)}, day, true},
		{domain.CustomerRegistered{RegisteredAt: day.Time()}, domain.Date{}, false},
		{domain.PlanDefined{DefinedAt: day.Time()}, domain.Date{}, false},
		{domain.InvoiceCreated{CreatedAt: day.Time()}, domain.Date{}, false},
		{domain.InvoiceMarkedOverdue{MarkedAt: day.Time()}, domain.Date{}, false},
		{domain.BillingRunStarted{StartedAt: day.Time()}, domain.Date{}, false},
	} {
		got, dated := domain.BusinessDate(tc.e)
		if got != tc.want || dated != tc.dated {
			t.Errorf("BusinessDate(%s) = %s, %v; want %s, %v", tc.e.EventType(), got, dated, tc.want, tc.dated)
		}
	}
	for _, e := range domain.AllEvents() {
		_, dated := domain.BusinessDate(e)
		want := domain.PostsToJournal(e.EventType()) || strings.HasPrefix(e.EventType(), "Service")
		if dated != want {
			t.Errorf("BusinessDate(%s) dated = %v, want %v", e.EventType(), dated, want)
		}
	}
}

func mustDate(s string) domain.Date {
	d, err := domain.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}
