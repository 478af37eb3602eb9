package domain_test

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
)

// Broadband 79.99 plus phone 29.99 is a monthly charge of 109.98.
func ExampleMoney_Add() {
	broadband, _ := domain.ParseMoney("79.99", "USD")
	phone, _ := domain.ParseMoney("29.99", "USD")
	total, _ := broadband.Add(phone)
	fmt.Println(total)
	// Output: 109.98 USD
}

// fiber_100 at 79.99 provisioned on 2026-01-10 bills 22 of January's 31 days.
func ExampleMoney_Prorate() {
	price, _ := domain.ParseMoney("79.99", "USD")
	start, _ := domain.ParseDate("2026-01-10")
	january := start.Period()
	days := start.DaysUntil(january.End())
	amount, _ := price.Prorate(days, january.Days())
	fmt.Printf("%d of %d days: %s\n", days, january.Days(), amount)
	// Output: 22 of 31 days: 56.77 USD
}

// Rounding is half away from zero to each currency's minor unit.
func ExampleMoney_Mul() {
	rate := decimal.RequireFromString("0.0825")
	for _, price := range [][2]string{{"1000", "JPY"}, {"10.000", "BHD"}, {"10.00", "USD"}} {
		m, _ := domain.ParseMoney(price[0], price[1])
		fmt.Println(m, "× 0.0825 =", m.Mul(rate))
	}
	// Output:
	// 1000 JPY × 0.0825 = 83 JPY
	// 10.000 BHD × 0.0825 = 0.825 BHD
	// 10.00 USD × 0.0825 = 0.83 USD
}

// A plan change on 2026-01-16 credits the old plan's 16 unused days and charges the new
// plan's 16 remaining days of January.
func ExampleDecideService_changePlan() {
	events := serviceHistory(fiberFrom("2026-01-01")...)
	service, _ := domain.FoldService(events)
	now := time.Date(2026, 1, 16, 10, 0, 0, 0, time.UTC)
	effective, _ := domain.ParseDate("2026-01-16")
	decided, _ := domain.DecideService(service, domain.ChangePlan{NewPlan: plan(fiber500()), EffectiveDate: effective}, now)
	changed := eventAs[domain.ServicePlanChanged](decided[0])
	fmt.Printf("%s → %s from %s, %d of %d days\n", changed.OldPlan.Code, changed.NewPlan.Code, changed.EffectiveDate, changed.DaysRemaining, changed.DaysInPeriod)
	fmt.Println("credit", changed.ProrationCredit, "charge", changed.ProrationCharge)
	// Output:
	// fiber_100 → fiber_500 from 2026-01-16, 16 of 31 days
	// credit 41.29 USD charge 61.93 USD
}

// The journal entry of an issued invoice, derived from the event alone.
func ExamplePostings() {
	events := history(steps(registered(), invoiceIssuedOn(1, "2026-01-02",
		taxedLineIn(1, "Broadband", "1", "79.99", "0.2"), taxedLineIn(2, "Phone", "1", "29.99", "0.2")))...)
	entry, _, _ := domain.Postings(events[len(events)-1])
	fmt.Println(entry.Date(), entry.Memo())
	for _, l := range entry.Lines() {
		fmt.Printf("  %-6s %-26s %s\n", l.Side, l.Account, l.Amount)
	}
	// Output:
	// 2026-01-02 InvoiceIssued INV-0001
	//   debit  1100 Accounts receivable   131.98 USD
	//   credit 4000 Service revenue       109.98 USD
	//   credit 2100 Tax payable           22.00 USD
}
