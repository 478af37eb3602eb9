package csvimport_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/csvimport"
	"github.com/dotmac/ledger/domain"
)

// exampleSummary is what the worked import of docs/billing-calendar.md reports.
var exampleSummary = []csvimport.FileSummary{
	{File: "plans.csv", Rows: 4, Created: 4},
	{File: "customers.csv", Rows: 3, Created: 3},
	{File: "services.csv", Rows: 5, Created: 5},
	{File: "opening-balances.csv", Rows: 3, Created: 2, Unchanged: 1},
}

// exampleEvents: 4 plans, 3 customers, 10 service events (S-3 provisioned, activated and
// terminated; S-5 only provisioned) and 2 opening balances (C-1003's is zero).
const exampleEvents = 19

// TestWorkedImport imports docs/examples/import and checks the states and the figures of
// docs/billing-calendar.md: the import itself, then the billing of June.
func TestWorkedImport(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	sum := l.run(exampleFiles(t), false)
	assert.Equal(t, exampleSummary, sum.Files)
	assert.Empty(t, sum.Rejections)
	assert.EqualValues(t, exampleEvents, sum.Events)
	assert.EqualValues(t, exampleEvents, l.head(), "the summary counts what the store holds")

	for ext, want := range map[string]string{"C-1001": "120.50", "C-1002": "-15.00", "C-1003": "0.00"} {
		assert.Equal(t, want, l.balance(ext), ext)
	}
	assert.Equal(t, "Grace Hopper", l.account("C-1002").Customer.Contact.Name)
	for ext, want := range map[string]struct{ status, start, billing, last string }{
		"S-1": {"active", "2026-03-12", "2026-06-01", ""},
		"S-2": {"active", "2026-04-20", "2026-06-01", ""},
		"S-3": {"terminated", "2026-05-01", "2026-06-01", "2026-06-15"},
		"S-4": {"active", "2026-06-10", "2026-06-10", ""},
		"S-5": {"provisioned", "2026-06-20", "", ""},
	} {
		s := l.service(ext)
		assert.Equal(t, want.status, s.Status.String(), ext)
		assert.Equal(t, want.start, s.StartDate.String(), ext)
		assert.Equal(t, want.billing, s.BillingStartsOn.String(), ext)
		assert.Equal(t, want.last, s.TerminatedOn.String(), ext)
	}
	assert.Equal(t, "203.0.113.10", l.service("S-2").StaticIP.String())

	run := l.bill("2026-06")
	assert.Len(t, run.Invoices, 3)
	for ext, want := range map[string]struct {
		lines   []string
		balance string
	}{
		"C-1001": {[]string{"Home 200 (home_200) 2026-06 64.50", "Static IP (static_ip) 2026-06 5.00"}, "190.00"},
		"C-1002": {[]string{"Home 50 (home_50) 2026-06-01..2026-06-15, 15 of 30 days 19.95"}, "4.95"},
		"C-1003": {[]string{"Biz 500 (biz_500) 2026-06-10..2026-06-30, 21 of 30 days 69.30"}, "69.30"},
	} {
		assert.ElementsMatch(t, want.lines, recurringLines(l.account(ext)), ext)
		assert.Equal(t, want.balance, l.balance(ext), ext)
	}
}

// recurringLines returns the lines of the account's invoices other than its opening item, as
// "description net".
func recurringLines(a domain.AccountState) []string {
	var out []string
	for _, inv := range a.Invoices {
		if inv.Number == domain.OpeningInvoiceNumber {
			continue
		}
		for _, ln := range inv.Lines {
			out = append(out, ln.Description+" "+ln.Net.AmountString())
		}
	}
	return out
}

// TestReimportAppendsNothing: importing the same files again (after a billing run, too)
// appends nothing and reports every row unchanged.
func TestReimportAppendsNothing(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	l.run(exampleFiles(t), false)
	l.bill("2026-06")
	head := l.head()
	for range 2 {
		sum := l.run(exampleFiles(t), false)
		assert.Zero(t, sum.Events)
		assert.Empty(t, sum.Rejections)
		for _, f := range sum.Files {
			assert.Equal(t, f.Rows, f.Unchanged, f.File)
		}
	}
	assert.Equal(t, head, l.head())
}

// TestDryRun appends nothing and reports what the import then does, event for event.
func TestDryRun(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	dry := l.run(exampleFiles(t), true)
	assert.True(t, dry.DryRun)
	assert.Zero(t, l.head(), "a dry run records nothing")
	imported := l.run(exampleFiles(t), false)
	assert.Equal(t, imported.Files, dry.Files)
	assert.Equal(t, imported.Events, dry.Events)

	again := l.run(exampleFiles(t), true)
	assert.Zero(t, again.Events, "a dry run over an imported ledger finds everything there")
}

// TestDryRunOverBilledCustomer: a dry run that back-dates a service into a month already
// invoiced issues its adjustment (with an invoice number) in memory only.
func TestDryRunOverBilledCustomer(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	l.run(exampleFiles(t), false)
	l.bill("2026-06")
	head := l.head()
	more := csvimport.Files{Services: text("more.csv",
		"external_id,customer_external_id,plan_code,start_date,activated_on,install_address",
		"S-6,C-1001,static_ip,2026-06-16,2026-06-16,12 Analytical Row")}
	dry := l.run(more, true)
	assert.Equal(t, []csvimport.FileSummary{{File: "more.csv", Rows: 1, Created: 1}}, dry.Files, dry.Rejections)
	assert.Equal(t, head, l.head())
	more.Services = text("more.csv",
		"external_id,customer_external_id,plan_code,start_date,activated_on,install_address",
		"S-6,C-1001,static_ip,2026-06-16,2026-06-16,12 Analytical Row")
	imported := l.run(more, false)
	assert.Equal(t, dry.Events, imported.Events, "provision, activation and the adjustment")
	assert.Equal(t, "192.50", l.balance("C-1001"), "190.00 and 15 of June's 30 days of static_ip")
	var numbers []string
	for _, inv := range l.account("C-1001").Invoices {
		numbers = append(numbers, inv.Number)
	}
	assert.Contains(t, numbers, "INV-2026-000004", "the dry run took no invoice number")
}

func TestPlanAlreadyDefined(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	l.run(exampleFiles(t), false)
	sum := l.run(csvimport.Files{Plans: text("plans.csv",
		"code,name,monthly_price,currency,tax_rate",
		"home_50,Home 50,39.90,USD,0",
		"home_200,Home 200,69.00,USD,0")}, false)
	assert.Equal(t, []csvimport.FileSummary{{File: "plans.csv", Rows: 2, Unchanged: 1, Rejected: 1}}, sum.Files)
	require.Len(t, sum.Rejections, 1)
	assert.Equal(t, "plans.csv line 3, column monthly_price: plan home_200 is already defined with monthly price 64.50 USD",
		sum.Rejections[0].String())
}
