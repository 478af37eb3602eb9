package domain_test

import (
	"errors"
	"testing"

	"github.com/dotmac/ledger/domain"
)

func TestNewJournalEntryBalances(t *testing.T) {
	day := date("2026-01-10")
	e, err := domain.NewJournalEntry(alice, day, "test",
		domain.Debit(domain.AccountReceivable, usd("120")),
		domain.Credit(domain.AccountServiceRevenue, usd("100")),
		domain.Credit(domain.AccountTaxPayable, usd("20")))
	if err != nil {
		t.Fatal(err)
	}
	if e.Customer() != alice || e.Date() != day || e.Memo() != "test" || len(e.Lines()) != 3 {
		t.Fatalf("got %+v", e)
	}
	lines := e.Lines()
	lines[0].Amount = usd("1") // Lines is a copy: the entry cannot be unbalanced through it
	if !e.Lines()[0].Amount.Equal(usd("120")) {
		t.Fatal("Lines must return a copy")
	}
	r := e.Reversal(date("2026-01-20"), "reversal")
	want := []domain.JournalLine{
		domain.Credit(domain.AccountReceivable, usd("120")),
		domain.Debit(domain.AccountServiceRevenue, usd("100")),
		domain.Debit(domain.AccountTaxPayable, usd("20")),
	}
	if !equal(r.Lines(), want) || r.Memo() != "reversal" || r.Date() != date("2026-01-20") || r.Customer() != alice {
		t.Fatalf("reversal %+v", r.Lines())
	}
	// Two currencies, each balanced on its own.
	if _, err := domain.NewJournalEntry(alice, day, "fx",
		domain.Debit(domain.AccountCash, usd("1")), domain.Credit(domain.AccountCustomerCredit, usd("1")),
		domain.Debit(domain.AccountCash, money("100", "JPY")), domain.Credit(domain.AccountCustomerCredit, money("100", "JPY"))); err != nil {
		t.Fatal(err)
	}
}

// An entry whose debits differ from its credits in any currency cannot be constructed.
func TestNewJournalEntryRefuses(t *testing.T) {
	day := date("2026-01-10")
	tooMany := make([]domain.JournalLine, domain.MaxJournalLines+1)
	for i := range tooMany {
		tooMany[i] = domain.Debit(domain.AccountCash, usd("1"))
	}
	cases := []struct {
		name  string
		lines []domain.JournalLine
		want  error
	}{
		{"debits above credits", []domain.JournalLine{domain.Debit(domain.AccountCash, usd("10")), domain.Credit(domain.AccountReceivable, usd("9.99"))},
			&domain.UnbalancedEntryError{Currency: usdCurrency, Debits: usd("10"), Credits: usd("9.99")}},
		{"balanced in total but not per currency", []domain.JournalLine{domain.Debit(domain.AccountCash, usd("10")), domain.Credit(domain.AccountReceivable, money("10", "EUR"))},
			&domain.UnbalancedEntryError{Currency: usdCurrency, Debits: usd("10"), Credits: usd("0")}},
		{"no lines", nil, domain.ErrEmptyEntry},
		{"a negative amount", []domain.JournalLine{domain.Debit(domain.AccountCash, usd("-1")), domain.Credit(domain.AccountCash, usd("-1"))}, domain.ErrInvalid},
		{"a zero amount", []domain.JournalLine{domain.Debit(domain.AccountCash, usd("0")), domain.Credit(domain.AccountCash, usd("0"))}, domain.ErrInvalid},
		{"no currency", []domain.JournalLine{domain.Debit(domain.AccountCash, domain.Money{})}, domain.ErrInvalid},
		{"an account outside the chart", []domain.JournalLine{domain.Debit(3999, usd("1")), domain.Credit(domain.AccountCash, usd("1"))}, domain.ErrInvalid},
		{"no side", []domain.JournalLine{{Account: domain.AccountCash, Amount: usd("1")}}, domain.ErrInvalid},
		{"too many lines", tooMany, domain.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domain.NewJournalEntry(alice, day, tc.name, tc.lines...)
			assertError(t, err, tc.want)
			if !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestUnbalancedEntryMessage(t *testing.T) {
	err := &domain.UnbalancedEntryError{Currency: usdCurrency, Debits: usd("1"), Credits: usd("2")}
	if err.Error() != "unbalanced journal entry in USD: debits 1.00 USD, credits 2.00 USD" {
		t.Fatal(err)
	}
}

func TestChartOfAccounts(t *testing.T) {
	want := map[domain.AccountCode]string{
		1000: "1000 Cash / clearing", 1100: "1100 Accounts receivable", 2100: "2100 Tax payable",
		2200: "2200 Customer credit", 4000: "4000 Service revenue", 4900: "4900 Revenue contra (credits)",
	}
	for code, s := range want {
		if code.String() != s {
			t.Errorf("%d: %q", int(code), code.String())
		}
	}
	if domain.SideDebit.String() != "debit" || domain.SideCredit.String() != "credit" {
		t.Error("sides")
	}
	if !domain.Debit(domain.AccountCash, usd("5")).Signed().Equal(usd("5").Amount()) || !domain.Credit(domain.AccountCash, usd("5")).Signed().Equal(usd("-5").Amount()) {
		t.Error("Signed")
	}
}
