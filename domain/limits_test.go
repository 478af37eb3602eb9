package domain_test

import (
	"testing"

	"github.com/dotmac/ledger/domain"
)

// limit is 10^MaxTotalAmountDigits USD, the bound of every computed amount.
var limit = usd("1000000000000000.00")

// bigLine nets 998999999999990.01 USD (999 × 999999999999.99), just under the limit.
func bigLine(n int, price, taxRate string) domain.LineInput {
	return taxedLineIn(n, "Backbone lease", "999", price, taxRate)
}

// TestAmountLimits: each field of a command is bounded, and so is every amount the domain
// computes from them: a line, an invoice's totals, and the receivable and credit that grow
// over a customer's life. A command that would reach 10^15 is refused naming the amount.
func TestAmountLimits(t *testing.T) {
	t.Parallel()
	creditJustUnder := steps(registered(),
		[]step{on("2026-01-05", domain.AdjustBilling{CreditNoteID: creditNoteID(1), Lines: []domain.LineInput{bigLine(1, "-999999999999.99", "0")}})},
		[]step{on("2026-01-06", recordPayment(1, "999999999999.99"))})
	runAccount(t, []scenario[domain.AccountCommand]{
		{
			name:    "a line of maximal quantity, price and tax rate",
			given:   history(registered()...),
			when:    createInvoice(1, taxedLineIn(1, "Transit", "999999.999999", "999999999999.99", "1")),
			wantErr: &domain.AmountLimitError{Field: "line net", Amount: usd("999999999998990000.00"), Limit: limit},
		},
		{
			name:    "lines below the limit, total above it",
			given:   history(registered()...),
			when:    createInvoice(1, bigLine(1, "999999999999.99", "0.5")),
			wantErr: &domain.AmountLimitError{Field: "invoice total", Amount: usd("1498499999999985.02"), Limit: limit},
		},
		{
			name:    "a line added to a draft",
			given:   history(steps(registered(), []step{on("2026-01-02", createInvoice(1, bigLine(1, "999999999999.99", "0")))})...),
			when:    domain.AddInvoiceLine{InvoiceID: invoiceID(1), Line: taxedLineIn(2, "Port", "2", "999999999999.99", "0")},
			wantErr: &domain.AmountLimitError{Field: "invoice net total", Amount: usd("1000999999999989.99"), Limit: limit},
		},
		{
			name: "an invoice issued onto a receivable near the limit",
			given: history(steps(registered(), invoiceIssuedOn(1, "2026-01-02", bigLine(1, "999999999999.99", "0")),
				[]step{on("2026-01-03", createInvoice(2, taxedLineIn(2, "Port", "2", "999999999999.99", "0")))})...),
			when:    issueInvoice(2, "2026-01-30"),
			wantErr: &domain.AmountLimitError{Field: "receivable", Amount: usd("1000999999999989.99"), Limit: limit},
		},
		{
			name:    "a payment onto credit near the limit",
			given:   history(creditJustUnder...),
			when:    recordPayment(2, "10.00"),
			wantErr: &domain.AmountLimitError{Field: "customer credit", Amount: usd("1000000000000000.00"), Limit: limit},
		},
		{
			name:    "an opening credit onto credit near the limit",
			given:   history(creditJustUnder...),
			when:    domain.RecordOpeningBalance{Amount: usd("-10.00")},
			wantErr: &domain.AmountLimitError{Field: "customer credit", Amount: usd("1000000000000000.00"), Limit: limit},
		},
	})
}
