package readmodel_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// TestCatalogRows checks the rows the fixture produces; "#601" stands for the fixture id uuidN(601).
func TestCatalogRows(t *testing.T) {
	t.Parallel()
	pool := build(t, calendarFixture(t), 1000)
	for _, tc := range []struct {
		table, query string
		want         []string
	}{
		{"plans", `SELECT tenant_id, plan_code, name, monthly_price, currency, tax_class, tax_rate, bill_while_suspended, status, defined_at, retired_at, position FROM plans ORDER BY 1,2`, []string{
			"acme|fiber_100|Fiber 100|79.99|USD|zero|0|f|retired|2026-01-01 09:00:00+00|2026-03-01 09:00:00+00|40",
			"acme|fiber_500|Fiber 500|119.99|USD|zero|0|f|active|2026-01-01 09:01:00+00|∅|2",
			"acme|voice|Home phone|29.99|USD|telecom|0.075|t|active|2026-01-01 09:02:00+00|∅|3",
		}},
		{"services", `SELECT tenant_id, service_id, customer_id, plan_code, plan_name, monthly_price, currency, tax_rate, bill_while_suspended, status, suspension_reason, suspended_on, start_date, billing_starts_on, terminated_on, termination_reason, static_ip, plan_changes, updated_at FROM services ORDER BY 1,2`, []string{
			"acme|#601|#101|fiber_500|Fiber 500|119.99|USD|0|f|terminated|∅|∅|2026-01-01|2026-01-01|2026-01-25|cancelled late|∅|1|2026-03-12 09:01:00+00",
			"acme|#602|#102|fiber_100|Fiber 100|79.99|USD|0|f|terminated|∅|∅|2026-01-02|2026-01-03|2026-03-31|moving|∅|0|2026-03-10 09:00:00+00",
		}},
	} {
		assert.Equal(t, expandIDs(tc.want), rows(t, pool, tc.query), tc.table)
	}
}

// TestInvoicesRows checks the rows the calendar fixture produces; "#601" stands for the fixture id uuidN(601).
func TestInvoicesRows(t *testing.T) {
	t.Parallel()
	pool := build(t, calendarFixture(t), 1000)
	for _, tc := range []struct {
		table, query string
		want         []string
	}{
		{"invoices", `SELECT tenant_id, invoice_id, customer_id, number, status, overdue, currency, period, issue_date, due_date, net_total, tax_total, total, credit_applied, amount_paid, amount_credited, outstanding, line_count, issued_at, marked_overdue_at, voided_at, void_reason FROM invoices ORDER BY 1,2`, []string{
			"acme|#201|#101|A-0001|paid|f|USD|∅|2026-01-05|2026-01-19|75.00|15.00|90.00|0.00|90.00|0.00|0.00|2|2026-01-05 09:02:00+00|∅|∅|∅",
			"acme|#202|#102|B-0001|paid|f|USD|∅|2026-01-12|2026-01-26|50.00|0.00|50.00|0.00|40.00|10.00|0.00|1|2026-01-12 09:01:00+00|2026-01-27 09:00:00+00|∅|∅",
			"acme|#203|#102|B-0002|void|f|USD|∅|2026-01-13|2026-01-27|20.00|0.00|20.00|0.00|0.00|0.00|0.00|1|2026-01-13 09:01:00+00|∅|2026-01-14 09:00:00+00|duplicate",
			"acme|#204|#101|R-1|partially_paid|f|USD|2026-01|2026-02-01|2026-02-15|100.63|0.00|100.63|5.00|5.00|29.22|66.41|2|2026-02-01 09:01:00+00|∅|∅|∅",
			"acme|#205|#102|R-2|paid|f|USD|2026-01|2026-02-01|2026-02-15|74.83|0.00|74.83|0.00|74.83|0.00|0.00|1|2026-02-01 09:03:00+00|∅|∅|∅",
			"globex|#206|#103|G-1|issued|f|BHD|∅|2026-01-03|2026-02-03|12.345|0.000|12.345|0.000|0.000|0.000|12.345|1|2026-01-03 09:03:00+00|∅|∅|∅",
			"globex|#207|#103|OPENING-BALANCE|issued|f|BHD|∅|2025-12-31|2025-12-31|5.000|0.000|5.000|0.000|0.000|0.000|5.000|0|2026-03-12 09:00:00+00|∅|∅|∅",
		}},
		{"invoice_lines", `SELECT tenant_id, invoice_id, line_no, line_id, description, quantity, unit_price, net, tax_rate, tax, currency, service_id, plan_code, period, proration_days_billed, proration_days_in_period, proration_full_price, service_from, service_through FROM invoice_lines ORDER BY 1,2,3`, []string{
			"acme|#201|1|#511|Installation|1|50.00|50.00|0.2|10.00|USD|∅|∅|∅|∅|∅|∅|∅|∅",
			"acme|#201|2|#512|Router|2|12.50|25.00|0.2|5.00|USD|∅|∅|∅|∅|∅|∅|∅|∅",
			"acme|#202|1|#521|Installation|1|50.00|50.00|0|0.00|USD|∅|∅|∅|∅|∅|∅|∅|∅",
			"acme|#203|1|#531|Setup|1|20.00|20.00|0|0.00|USD|∅|∅|∅|∅|∅|∅|∅|∅",
			"acme|#204|1|#901|Fiber 100 (fiber_100) 2026-01-01..2026-01-15, 15 of 31 days|1|38.70|38.70|0|0.00|USD|#601|fiber_100|2026-01|15|31|79.99|2026-01-01|2026-01-15",
			"acme|#204|2|#902|Fiber 500 (fiber_500) 2026-01-16..2026-01-31, 16 of 31 days|1|61.93|61.93|0|0.00|USD|#601|fiber_500|2026-01|16|31|119.99|2026-01-16|2026-01-31",
			"acme|#205|1|01940000-0000-7000-8000-000000001001|Fiber 100 (fiber_100) 2026-01-03..2026-01-31, 29 of 31 days|1|74.83|74.83|0|0.00|USD|#602|fiber_100|2026-01|29|31|79.99|2026-01-03|2026-01-31",
			"globex|#206|1|#561|Installation|1|12.345|12.345|0|0.000|BHD|∅|∅|∅|∅|∅|∅|∅|∅",
		}},
		{"payments", `SELECT tenant_id, payment_id, customer_id, amount, currency, method, external_reference, received_at, allocated, unapplied, refunded, status FROM payments ORDER BY 1,2`, []string{
			"acme|#301|#101|100.00|USD|card|ch_1|2026-01-10 08:00:00+00|90.00|10.00|5.00|partially_refunded",
			"acme|#302|#102|20.00|USD|bank_transfer|bt-9|2026-01-20 08:00:00+00|20.00|0.00|0.00|recorded",
			"acme|#303|#102|94.83|USD|direct_debit||2026-02-10 08:00:00+00|94.83|0.00|0.00|recorded",
		}},
		{"payment_allocations", `SELECT tenant_id, payment_id, seq, invoice_id, customer_id, amount, currency, received_at FROM payment_allocations ORDER BY 1,2,3`, []string{
			"acme|#301|1|#201|#101|90.00|USD|2026-01-10 08:00:00+00",
			"acme|#302|1|#202|#102|20.00|USD|2026-01-20 08:00:00+00",
			"acme|#303|1|#202|#102|20.00|USD|2026-02-10 08:00:00+00",
			"acme|#303|2|#205|#102|74.83|USD|2026-02-10 08:00:00+00",
		}},
		{"credit_notes", `SELECT tenant_id, credit_note_id, customer_id, invoice_id, net, tax_rate, tax, total, currency, reason, issued_at, issued_on, line_count, unapplied FROM credit_notes ORDER BY 1,2`, []string{
			"acme|#401|#102|#202|10.00|0|0.00|10.00|USD|late install|2026-01-28 09:00:00+00|2026-01-28|0|0.00",
			"acme|#402|#101|∅|5.00|0.2|1.00|6.00|USD|goodwill|2026-02-05 09:00:00+00|2026-02-05|0|0.00",
			"acme|#403|#101|∅|23.22|0|0.00|23.22|USD|Billing adjustment|2026-03-12 09:02:00+00|2026-03-12|1|0.00",
		}},
		{"credit_note_allocations", `SELECT tenant_id, credit_note_id, seq, invoice_id, customer_id, amount, currency, issued_at, position FROM credit_note_allocations ORDER BY 1,2,3`, []string{
			"acme|#402|1|#204|#101|6.00|USD|2026-02-05 09:00:00+00|36",
			"acme|#403|1|#204|#101|23.22|USD|2026-03-12 09:02:00+00|46",
		}},
		{"credit_applications", `SELECT count(*) FROM credit_applications`, []string{"0"}},
		{"credit_note_lines", `SELECT tenant_id, credit_note_id, line_no, line_id, description, quantity, unit_price, net, tax_rate, tax, currency, service_id, plan_code, period, proration_days_billed, proration_days_in_period, proration_full_price, service_from, service_through FROM credit_note_lines ORDER BY 1,2,3`, []string{
			"acme|#403|1|01940000-0000-7000-8000-000000001450|Adjustment, credit: Fiber 500 (fiber_500) 2026-01-26..2026-01-31, 6 of 31 days|1|-23.22|-23.22|0|0.00|USD|#601|fiber_500|2026-01|6|31|119.99|2026-01-26|2026-01-31",
		}},
	} {
		assert.Equal(t, expandIDs(tc.want), rows(t, pool, tc.query), tc.table)
	}
}

// TestBalancesRows checks the rows the fixture produces; "#601" stands for the fixture id uuidN(601).
func TestBalancesRows(t *testing.T) {
	t.Parallel()
	pool := build(t, calendarFixture(t), 1000)
	for _, tc := range []struct {
		table, query string
		want         []string
	}{
		{"customer_balances", `SELECT tenant_id, customer_id, currency, receivable, credit, balance, last_activity FROM customer_balances ORDER BY 1,2`, []string{
			"acme|#101|USD|66.41|0.00|66.41|2026-03-12",
			"acme|#102|USD|0.00|0.00|0.00|2026-02-10",
			"globex|#103|BHD|17.345|0.000|17.345|2025-12-31",
		}},
		{"statement_lines", `SELECT tenant_id, customer_id, position, event_type, entry_date, document_id, description, currency, debit, credit, balance_after FROM statement_lines ORDER BY 1,2,3`, []string{
			"acme|#101|16|InvoiceIssued|2026-01-05|#201|Invoice A-0001|USD|90.00|0.00|90.00",
			"acme|#101|17|PaymentRecorded|2026-01-10|#301|Payment by card (ch_1)|USD|0.00|100.00|-10.00",
			"acme|#101|27|PaymentRefunded|2026-01-29|#301|Refund: overpaid|USD|5.00|0.00|-5.00",
			"acme|#101|30|InvoiceIssued|2026-02-01|#204|Invoice R-1 (5.00 settled from credit)|USD|100.63|0.00|95.63",
			"acme|#101|36|CreditNoteIssued|2026-02-05|#402|Credit note: goodwill|USD|0.00|6.00|89.63",
			"acme|#101|46|CreditNoteIssued|2026-03-12|#403|Credit note: Billing adjustment; Adjustment, credit: Fiber 500 (fiber_500) 2026-01-26..2026-01-31, 6 of 31 days -23.22|USD|0.00|23.22|66.41",
			"acme|#102|19|InvoiceIssued|2026-01-12|#202|Invoice B-0001|USD|50.00|0.00|50.00",
			"acme|#102|21|InvoiceIssued|2026-01-13|#203|Invoice B-0002|USD|20.00|0.00|70.00",
			"acme|#102|22|InvoiceVoided|2026-01-14|#203|Invoice B-0002 voided: duplicate|USD|0.00|20.00|50.00",
			"acme|#102|24|PaymentRecorded|2026-01-20|#302|Payment by bank_transfer (bt-9)|USD|0.00|20.00|30.00",
			"acme|#102|26|CreditNoteIssued|2026-01-28|#401|Credit note: late install|USD|0.00|10.00|20.00",
			"acme|#102|33|InvoiceIssued|2026-02-01|#205|Invoice R-2|USD|74.83|0.00|94.83",
			"acme|#102|37|PaymentRecorded|2026-02-10|#303|Payment by direct_debit|USD|0.00|94.83|0.00",
			"globex|#103|13|InvoiceIssued|2026-01-03|#206|Invoice G-1|BHD|12.345|0.000|12.345",
			"globex|#103|44|OpeningBalanceRecorded|2025-12-31|#207|Opening balance as of 2025-12-31|BHD|5.000|0.000|17.345",
		}},
	} {
		assert.Equal(t, expandIDs(tc.want), rows(t, pool, tc.query), tc.table)
	}
}

// TestJournalRows checks the rows the fixture produces; "#601" stands for the fixture id uuidN(601).
func TestJournalRows(t *testing.T) {
	t.Parallel()
	pool := build(t, calendarFixture(t), 1000)
	for _, tc := range []struct {
		table, query string
		want         []string
	}{
		{"journal_lines", `SELECT tenant_id, position, line_no, event_type, entry_date, account, debit, credit, currency, customer_id, memo FROM journal_lines ORDER BY 1,2,3`, []string{
			"acme|16|1|InvoiceIssued|2026-01-05|1100|90.00|0.00|USD|#101|InvoiceIssued A-0001",
			"acme|16|2|InvoiceIssued|2026-01-05|4000|0.00|75.00|USD|#101|InvoiceIssued A-0001",
			"acme|16|3|InvoiceIssued|2026-01-05|2100|0.00|15.00|USD|#101|InvoiceIssued A-0001",
			"acme|17|1|PaymentRecorded|2026-01-10|1000|100.00|0.00|USD|#101|PaymentRecorded #301",
			"acme|17|2|PaymentRecorded|2026-01-10|1100|0.00|90.00|USD|#101|PaymentRecorded #301",
			"acme|17|3|PaymentRecorded|2026-01-10|2200|0.00|10.00|USD|#101|PaymentRecorded #301",
			"acme|19|1|InvoiceIssued|2026-01-12|1100|50.00|0.00|USD|#102|InvoiceIssued B-0001",
			"acme|19|2|InvoiceIssued|2026-01-12|4000|0.00|50.00|USD|#102|InvoiceIssued B-0001",
			"acme|21|1|InvoiceIssued|2026-01-13|1100|20.00|0.00|USD|#102|InvoiceIssued B-0002",
			"acme|21|2|InvoiceIssued|2026-01-13|4000|0.00|20.00|USD|#102|InvoiceIssued B-0002",
			"acme|22|1|InvoiceVoided|2026-01-14|1100|0.00|20.00|USD|#102|InvoiceVoided B-0002",
			"acme|22|2|InvoiceVoided|2026-01-14|4000|20.00|0.00|USD|#102|InvoiceVoided B-0002",
			"acme|24|1|PaymentRecorded|2026-01-20|1000|20.00|0.00|USD|#102|PaymentRecorded #302",
			"acme|24|2|PaymentRecorded|2026-01-20|1100|0.00|20.00|USD|#102|PaymentRecorded #302",
			"acme|26|1|CreditNoteIssued|2026-01-28|4900|10.00|0.00|USD|#102|CreditNoteIssued #401",
			"acme|26|2|CreditNoteIssued|2026-01-28|1100|0.00|10.00|USD|#102|CreditNoteIssued #401",
			"acme|27|1|PaymentRefunded|2026-01-29|2200|5.00|0.00|USD|#101|PaymentRefunded #301",
			"acme|27|2|PaymentRefunded|2026-01-29|1000|0.00|5.00|USD|#101|PaymentRefunded #301",
			"acme|30|1|InvoiceIssued|2026-02-01|1100|100.63|0.00|USD|#101|InvoiceIssued R-1",
			"acme|30|2|InvoiceIssued|2026-02-01|4000|0.00|100.63|USD|#101|InvoiceIssued R-1",
			"acme|30|3|InvoiceIssued|2026-02-01|2200|5.00|0.00|USD|#101|InvoiceIssued R-1",
			"acme|30|4|InvoiceIssued|2026-02-01|1100|0.00|5.00|USD|#101|InvoiceIssued R-1",
			"acme|33|1|InvoiceIssued|2026-02-01|1100|74.83|0.00|USD|#102|InvoiceIssued R-2",
			"acme|33|2|InvoiceIssued|2026-02-01|4000|0.00|74.83|USD|#102|InvoiceIssued R-2",
			"acme|36|1|CreditNoteIssued|2026-02-05|4900|5.00|0.00|USD|#101|CreditNoteIssued #402",
			"acme|36|2|CreditNoteIssued|2026-02-05|2100|1.00|0.00|USD|#101|CreditNoteIssued #402",
			"acme|36|3|CreditNoteIssued|2026-02-05|1100|0.00|6.00|USD|#101|CreditNoteIssued #402",
			"acme|37|1|PaymentRecorded|2026-02-10|1000|94.83|0.00|USD|#102|PaymentRecorded #303",
			"acme|37|2|PaymentRecorded|2026-02-10|1100|0.00|94.83|USD|#102|PaymentRecorded #303",
			"acme|43|1|UnallocatedReceiptRecorded|2026-03-11|1000|25.00|0.00|USD|00000000-0000-0000-0000-000000000000|UnallocatedReceiptRecorded #502",
			"acme|43|2|UnallocatedReceiptRecorded|2026-03-11|2300|0.00|25.00|USD|00000000-0000-0000-0000-000000000000|UnallocatedReceiptRecorded #502",
			"acme|46|1|CreditNoteIssued|2026-03-12|4900|23.22|0.00|USD|#101|CreditNoteIssued #403",
			"acme|46|2|CreditNoteIssued|2026-03-12|1100|0.00|23.22|USD|#101|CreditNoteIssued #403",
			"globex|13|1|InvoiceIssued|2026-01-03|1100|12.345|0.000|BHD|#103|InvoiceIssued G-1",
			"globex|13|2|InvoiceIssued|2026-01-03|4000|0.000|12.345|BHD|#103|InvoiceIssued G-1",
			"globex|44|1|OpeningBalanceRecorded|2025-12-31|1100|5.000|0.000|BHD|#103|OpeningBalanceRecorded #103",
			"globex|44|2|OpeningBalanceRecorded|2025-12-31|3000|0.000|5.000|BHD|#103|OpeningBalanceRecorded #103",
		}},
		{"trial_balance", `SELECT tenant_id, account, account_name, currency, debit, credit, balance FROM trial_balance ORDER BY 1,2,4`, []string{
			"acme|1000|Cash / clearing|USD|239.83|5.00|234.83",
			"acme|1100|Accounts receivable|USD|335.46|269.05|66.41",
			"acme|2100|Tax payable|USD|1.00|15.00|-14.00",
			"acme|2200|Customer credit|USD|10.00|10.00|0.00",
			"acme|2300|Unallocated receipts|USD|0.00|25.00|-25.00",
			"acme|4000|Service revenue|USD|20.00|320.46|-300.46",
			"acme|4900|Revenue contra (credits)|USD|38.22|0.00|38.22",
			"globex|1100|Accounts receivable|BHD|17.345|0.000|17.345",
			"globex|3000|Opening balance equity|BHD|0.000|5.000|-5.000",
			"globex|4000|Service revenue|BHD|0.000|12.345|-12.345",
		}},
	} {
		assert.Equal(t, expandIDs(tc.want), rows(t, pool, tc.query), tc.table)
	}
}

// TestMRRRows checks the rows the fixture produces; "#601" stands for the fixture id uuidN(601).
func TestMRRRows(t *testing.T) {
	t.Parallel()
	pool := build(t, calendarFixture(t), 1000)
	for _, tc := range []struct {
		table, query string
		want         []string
	}{
		{"mrr_segments", `SELECT tenant_id, service_id, seq, customer_id, plan_code, plan_name, currency, monthly_price, valid_from, valid_to, first_month FROM mrr_segments ORDER BY 1,2,3`, []string{
			"acme|#601|1|#101|fiber_100|Fiber 100|USD|79.99|2026-01-01|2026-01-16|∅",
			"acme|#601|2|#101|fiber_500|Fiber 500|USD|119.99|2026-01-16|2026-01-26|∅",
			"acme|#602|1|#102|fiber_100|Fiber 100|USD|79.99|2026-01-03|2026-02-20|2026-01-01",
			"acme|#602|2|#102|fiber_100|Fiber 100|USD|79.99|2026-02-25|2026-04-01|2026-01-01",
		}},
	} {
		assert.Equal(t, expandIDs(tc.want), rows(t, pool, tc.query), tc.table)
	}
}

// Journal entries are identified by the id of the event that posted them, and statement
// lines name their event too.
func TestJournalEntryIsTheEvent(t *testing.T) {
	t.Parallel()
	evs := fixture(t)
	pool := build(t, evs, 1000)
	byPosition := map[string]string{}
	for _, e := range evs {
		byPosition[fmt.Sprint(e.Position)] = e.ID.String() + "|" + e.Type
	}
	for _, q := range []string{
		`SELECT position, entry_id, event_type FROM journal_lines`,
		`SELECT position, event_id, event_type FROM statement_lines`,
	} {
		got := rows(t, pool, q)
		require.NotEmpty(t, got)
		for _, r := range got {
			p, rest, _ := strings.Cut(r, "|")
			assert.Equal(t, byPosition[p], rest, q)
		}
	}
}

// TestReceiptsRows checks the receipt the fixture books to unallocated receipts.
func TestReceiptsRows(t *testing.T) {
	t.Parallel()
	pool := build(t, calendarFixture(t), 1000)
	assert.Equal(t, expandIDs([]string{
		"acme|#502|25.00|USD|mobile_money|mpesa:QK502|ACME 0009|2547****126|unknown_customer|∅|2026-03-11 08:01:00+00|unallocated|∅|∅|43",
	}), rows(t, pool, `SELECT tenant_id, receipt_id, amount, currency, method, external_reference, account_reference, payer, reason,
named_customer_id, received_at, status, customer_id, payment_id, position FROM receipts ORDER BY 1,2`))
}

// TestCreditSettlementRows checks the rows of the invoices customer credit and a credit note
// against the account settled (readmodeltest.CreditFixture).
func TestCreditSettlementRows(t *testing.T) {
	t.Parallel()
	evs, err := readmodeltest.CreditFixture()
	require.NoError(t, err)
	pool := build(t, evs, 1000)
	for _, tc := range []struct {
		table, query string
		want         []string
	}{
		{"invoices", `SELECT invoice_id, status, total, credit_applied, amount_paid, amount_credited, outstanding FROM invoices ORDER BY 1`, []string{
			"#211|paid|30.00|30.00|30.00|0.00|0.00",
			"#212|paid|25.00|10.00|10.00|15.00|0.00",
		}},
		{"credit_notes", `SELECT credit_note_id, invoice_id, total, unapplied FROM credit_notes ORDER BY 1`, []string{
			"#411|∅|20.00|5.00",
		}},
		{"credit_note_allocations", `SELECT tenant_id, credit_note_id, seq, invoice_id, customer_id, amount, currency, issued_at FROM credit_note_allocations ORDER BY 1,2,3`, []string{
			"acme|#411|1|#212|#104|15.00|USD|2026-01-08 09:00:00+00",
		}},
		{"credit_applications", `SELECT tenant_id, seq, invoice_id, customer_id, amount, currency, applied_on, applied_at FROM credit_applications ORDER BY 1,position,2`, []string{
			"acme|1|#211|#104|30.00|USD|2026-01-06|2026-01-07 09:00:00+00",
			"acme|2|#212|#104|10.00|USD|2026-01-06|2026-01-07 09:00:00+00",
		}},
	} {
		assert.Equal(t, expandIDs(tc.want), rows(t, pool, tc.query), tc.table)
	}
}

// TestBackDatedSettlementRows: a payment and a credit note dated before the invoice they
// settle post that part on the invoice's issue date (Cr 2200 on their own date, Dr 2200 / Cr
// 1100 on the invoice's), whatever the batches (the posting states are kept between them).
func TestBackDatedSettlementRows(t *testing.T) {
	t.Parallel()
	evs, err := readmodeltest.BackDatedFixture()
	require.NoError(t, err)
	for _, batch := range []int{1, 1000} {
		pool := buildWith(t, []projections.Projection{readmodel.Journal{}}, evs, batch)
		assert.Equal(t, expandIDs([]string{
			"PaymentRecorded|1|2026-02-01|1000|50.00|0.00|#105",
			"PaymentRecorded|2|2026-02-01|2200|0.00|50.00|#105",
			"PaymentRecorded|3|2026-02-10|2200|30.00|0.00|#105",
			"PaymentRecorded|4|2026-02-10|1100|0.00|30.00|#105",
			"CreditNoteIssued|1|2026-02-01|4900|30.00|0.00|#106",
			"CreditNoteIssued|2|2026-02-01|2200|0.00|30.00|#106",
			"CreditNoteIssued|3|2026-02-10|2200|30.00|0.00|#106",
			"CreditNoteIssued|4|2026-02-10|1100|0.00|30.00|#106",
		}), rows(t, pool, `SELECT event_type, line_no, entry_date, account, debit, credit, customer_id FROM journal_lines
WHERE event_type <> 'InvoiceIssued' ORDER BY position, line_no`), "batches of %d", batch)
		for _, day := range []string{"2026-02-01", "2026-02-09", "2026-02-10"} {
			assert.Empty(t, rows(t, pool, `SELECT customer_id, account, sum(debit - credit) FROM journal_lines
WHERE entry_date <= $1 AND account IN (1100, 2200) GROUP BY 1, 2
HAVING (account = 1100 AND sum(debit - credit) < 0) OR (account = 2200 AND sum(debit - credit) > 0)`, day),
				"negative AR or customer credit as of %s", day)
		}
	}
}
