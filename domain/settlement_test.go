package domain_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/dotmac/ledger/domain"
)

// datedSplit is the customer's AR and customer credit as of each day: the dated entries
// (domain.Poster) of events, summed up to the day.
type datedSplit struct {
	entries  []domain.JournalEntry
	postings []domain.JournalEntry // domain.Postings' entry of each event: the balance by date
}

func splitOf(t fataler, events []domain.Event) datedSplit {
	t.Helper()
	var p domain.Poster
	var s datedSplit
	for _, e := range events {
		entries, err := p.Post(e)
		if err != nil {
			t.Fatalf("Post(%s): %v", e.EventType(), err)
		}
		s.entries = append(s.entries, entries...)
		entry, ok, err := domain.Postings(e)
		if err != nil {
			t.Fatalf("Postings(%s): %v", e.EventType(), err)
		}
		if ok {
			s.postings = append(s.postings, entry)
		}
	}
	return s
}

// asOf returns AR, customer credit (positive: owed to the customer) and the balance (from
// Postings' entries, as statements give it) of entries dated on or before day.
func (s datedSplit) asOf(day domain.Date, c domain.Currency) (ar, credit, balance domain.Money) {
	var split, whole domain.LedgerTotals
	for _, e := range s.entries {
		if !e.Date().After(day) {
			split.Post(e)
		}
	}
	for _, e := range s.postings {
		if !e.Date().After(day) {
			whole.Post(e)
		}
	}
	return split.Balance(domain.AccountReceivable, c), split.Balance(domain.AccountCustomerCredit, c).Neg(), whole.CustomerBalance(c)
}

// days are the dates the entries carry, each with the day before it.
func (s datedSplit) days() []domain.Date {
	var out []domain.Date
	for _, e := range append(slices.Clone(s.entries), s.postings...) {
		out = append(out, e.Date(), e.Date().AddDays(-1))
	}
	slices.SortFunc(out, domain.Date.Compare)
	return slices.Compact(out)
}

func openingBalance(n int, amount, asOf string) domain.RecordOpeningBalance {
	return domain.RecordOpeningBalance{InvoiceID: invoiceID(n), Amount: usd(amount), AsOf: date(asOf)}
}

// issuedOn is invoice n for price, issued (back-dated) on day, recorded at recorded.
func issuedOn(n int, recorded, day, price string) []step {
	return []step{on(recorded, createInvoice(n, lineIn(n, "Broadband", price))),
		on(recorded, domain.IssueInvoice{InvoiceID: invoiceID(n), Number: fmt.Sprintf("INV-%04d", n), DueDate: date(day).AddDays(14), IssueDate: date(day)})}
}

func paymentOn(n int, recorded, received, amount string) step {
	cmd := recordPayment(n, amount)
	cmd.ReceivedAt = at(received)
	return on(recorded, cmd)
}

func creditNoteOn(n, invoice int, recorded, issuedOn, net string) step {
	cmd := domain.IssueCreditNote{CreditNoteID: creditNoteID(n), Net: usd(net), Reason: "goodwill", IssuedOn: date(issuedOn)}
	if invoice != 0 {
		cmd.InvoiceID = invoiceID(invoice)
	}
	return on(recorded, cmd)
}

// A settlement is dated no earlier than the later of the invoice's issue date and the date
// the money settling it arose: AR and customer credit never go negative at any date, and AR −
// credit is the balance at every date.
func TestPosterDatesSettlements(t *testing.T) {
	type asOf struct{ day, ar, credit string }
	cases := []struct {
		name  string
		steps []step
		want  []asOf
	}{{
		name: "a back-dated credit note against the account settles an invoice issued after its date",
		steps: steps(registered(), issuedOn(1, "2026-02-10", "2026-02-10", "30.00"),
			[]step{creditNoteOn(1, 0, "2026-02-15", "2026-02-01", "30.00")}),
		want: []asOf{{"2026-01-31", "0.00", "0.00"}, {"2026-02-01", "0.00", "30.00"}, {"2026-02-09", "0.00", "30.00"},
			{"2026-02-10", "0.00", "0.00"}, {"2026-02-15", "0.00", "0.00"}},
	}, {
		name: "a back-dated payment settles an invoice issued after it was received; the rest is credit",
		steps: steps(registered(), issuedOn(1, "2026-03-10", "2026-03-10", "30.00"),
			[]step{paymentOn(1, "2026-03-12", "2026-03-01", "50.00")}),
		want: []asOf{{"2026-02-28", "0.00", "0.00"}, {"2026-03-01", "0.00", "50.00"}, {"2026-03-09", "0.00", "50.00"},
			{"2026-03-10", "0.00", "20.00"}, {"2026-03-12", "0.00", "20.00"}},
	}, {
		name: "a back-dated payment settles one invoice issued before it and one issued after",
		steps: steps(registered(), issuedOn(1, "2026-03-01", "2026-03-01", "20.00"), issuedOn(2, "2026-03-20", "2026-03-20", "30.00"),
			[]step{paymentOn(1, "2026-03-25", "2026-03-10", "40.00")}),
		want: []asOf{{"2026-03-01", "20.00", "0.00"}, {"2026-03-10", "0.00", "20.00"}, {"2026-03-19", "0.00", "20.00"},
			{"2026-03-20", "10.00", "0.00"}, {"2026-03-25", "10.00", "0.00"}},
	}, {
		name: "a back-dated credit note against an invoice issued after its date",
		steps: steps(registered(), issuedOn(1, "2026-06-10", "2026-06-10", "30.00"),
			[]step{creditNoteOn(1, 1, "2026-06-12", "2026-06-01", "10.00")}),
		want: []asOf{{"2026-06-01", "0.00", "10.00"}, {"2026-06-10", "20.00", "0.00"}, {"2026-06-12", "20.00", "0.00"}},
	}, {
		name: "a back-dated opening balance is settled by credit that arose later, on the day it arose",
		steps: steps(registered(), []step{paymentOn(1, "2026-05-15", "2026-05-15", "50.00"),
			on("2026-05-20", openingBalance(9, "30.00", "2026-01-01"))}),
		want: []asOf{{"2026-01-01", "30.00", "0.00"}, {"2026-05-14", "30.00", "0.00"}, {"2026-05-15", "0.00", "20.00"},
			{"2026-05-20", "0.00", "20.00"}},
	}, {
		name: "a back-dated opening credit settles an invoice issued after it, on the invoice's date",
		steps: steps(registered(), issuedOn(1, "2026-03-10", "2026-03-10", "30.00"),
			[]step{on("2026-03-15", openingBalance(9, "-50.00", "2026-01-01"))}),
		want: []asOf{{"2026-01-01", "0.00", "50.00"}, {"2026-03-09", "0.00", "50.00"}, {"2026-03-10", "0.00", "20.00"}},
	}, {
		name: "an invoice back-dated before the credit it is issued against arose is settled when the credit arose",
		steps: steps(registered(), []step{paymentOn(1, "2026-05-15", "2026-05-15", "50.00")},
			issuedOn(1, "2026-05-20", "2026-04-01", "30.00")),
		want: []asOf{{"2026-04-01", "30.00", "0.00"}, {"2026-05-14", "30.00", "0.00"}, {"2026-05-15", "0.00", "20.00"}},
	}, {
		name: "credit from two dates settles an invoice, each part when it arose",
		steps: steps(registered(), []step{paymentOn(1, "2026-05-01", "2026-05-01", "10.00"), paymentOn(2, "2026-05-15", "2026-05-15", "50.00")},
			issuedOn(1, "2026-05-20", "2026-04-01", "30.00")),
		want: []asOf{{"2026-04-01", "30.00", "0.00"}, {"2026-05-01", "20.00", "0.00"}, {"2026-05-15", "0.00", "30.00"}},
	}, {
		name: "a payment after the invoice posts on its own date, as before",
		steps: steps(registered(), issuedOn(1, "2026-03-01", "2026-03-01", "30.00"),
			[]step{paymentOn(1, "2026-03-05", "2026-03-05", "50.00")}),
		want: []asOf{{"2026-03-01", "30.00", "0.00"}, {"2026-03-05", "0.00", "20.00"}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			split := splitOf(t, history(tc.steps...))
			for _, w := range tc.want {
				ar, credit, balance := split.asOf(date(w.day), currency("USD"))
				if ar.AmountString() != w.ar || credit.AmountString() != w.credit {
					t.Errorf("as of %s: AR %s, credit %s; want AR %s, credit %s", w.day, ar.AmountString(), credit.AmountString(), w.ar, w.credit)
				}
				if diff := must(ar.Sub(credit)); !diff.Equal(balance) {
					t.Errorf("as of %s: AR %s − credit %s is not the balance %s", w.day, ar, credit, balance)
				}
			}
			checkSplit(t, split, currency("USD"))
		})
	}
}

// checkSplit checks, at every date the entries carry and the day before each, that AR and
// customer credit are not negative and that AR − credit is the balance.
func checkSplit(t fataler, split datedSplit, c domain.Currency) {
	t.Helper()
	for _, day := range split.days() {
		ar, credit, balance := split.asOf(day, c)
		if ar.IsNegative() || credit.IsNegative() {
			t.Fatalf("as of %s: AR %s, credit %s: negative", day, ar, credit)
		}
		if diff := must(ar.Sub(credit)); !diff.Equal(balance) {
			t.Fatalf("as of %s: AR %s − credit %s is not the balance %s", day, ar, credit, balance)
		}
	}
	var all, whole domain.LedgerTotals
	for _, e := range split.entries {
		all.Post(e)
	}
	for _, e := range split.postings {
		whole.Post(e)
	}
	for _, a := range domain.ChartOfAccounts() {
		if got, want := all.Balance(a, c), whole.Balance(a, c); !got.Equal(want) {
			t.Fatalf("account %s: dated entries sum to %s, Postings to %s", a, got, want)
		}
	}
}

// An event whose settlements are all on its own date posts exactly Postings' entry.
func TestPosterKeepsPostingsWhenNothingIsLater(t *testing.T) {
	events := history(steps(registered(), issuedOn(1, "2026-03-01", "2026-03-01", "30.00"),
		[]step{paymentOn(1, "2026-03-05", "2026-03-05", "50.00"), creditNoteOn(2, 0, "2026-03-06", "2026-03-06", "5.00")},
		issuedOn(2, "2026-04-01", "2026-04-01", "40.00"))...)
	var p domain.Poster
	for _, e := range events {
		entries, err := p.Post(e)
		if err != nil {
			t.Fatal(err)
		}
		entry, ok, _ := domain.Postings(e)
		if !ok {
			if len(entries) != 0 {
				t.Fatalf("%s: %d entries for an event that posts nothing", e.EventType(), len(entries))
			}
			continue
		}
		if len(entries) != 1 || !equal(entries[0].Lines(), entry.Lines()) || entries[0].Date() != entry.Date() || entries[0].Memo() != entry.Memo() {
			t.Fatalf("%s: %+v, want Postings' %+v", e.EventType(), entries, entry)
		}
	}
}

// For random histories with back-dated invoices, payments, credit notes and opening balances
// (decided by the domain, so nothing over-allocates): AR >= 0 and customer credit >= 0 at
// every date, AR − credit is the balance at every date, and the dated entries sum to
// Postings' per account.
func TestPosterProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		start := at("2026-01-01")
		now := start
		events := history(on("2026-01-01", registerAlice()))
		n := 0
		backDated := func(label string) domain.Date {
			days := int(now.Sub(start).Hours() / 24)
			return domain.DateOf(now).AddDays(-rapid.IntRange(0, days).Draw(t, label))
		}
		amount := func(label string) domain.Money {
			return usd(fmt.Sprintf("%d.%02d", rapid.IntRange(1, 80).Draw(t, label), rapid.IntRange(0, 99).Draw(t, label+" cents")))
		}
		for range rapid.IntRange(1, 30).Draw(t, "steps") {
			now = now.Add(time.Duration(rapid.IntRange(0, 24*20).Draw(t, "hours")) * time.Hour)
			n++
			var cmds []domain.AccountCommand
			switch rapid.IntRange(0, 6).Draw(t, "action") {
			case 0, 1:
				cmds = []domain.AccountCommand{createInvoice(n, domain.LineInput{LineID: lineID(n), Description: "x", Quantity: qty("1"), UnitPrice: amount("price")}),
					domain.IssueInvoice{InvoiceID: invoiceID(n), Number: fmt.Sprintf("INV-%d", n), IssueDate: backDated("issue"), DueDate: domain.DateOf(now).AddDays(14)}}
			case 2, 3:
				cmds = []domain.AccountCommand{domain.RecordPayment{PaymentID: paymentID(n), Amount: amount("payment"), Method: domain.PaymentMethodCard, ReceivedAt: backDated("received").Time()}}
			case 4:
				cmds = []domain.AccountCommand{domain.IssueCreditNote{CreditNoteID: creditNoteID(n), Net: amount("credit"), Reason: "r", IssuedOn: backDated("credited")}}
			case 5:
				sign := rapid.SampledFrom([]string{"", "-"}).Draw(t, "opening sign")
				cmds = []domain.AccountCommand{domain.RecordOpeningBalance{InvoiceID: invoiceID(n), Amount: usd(sign + amount("opening").AmountString()), AsOf: backDated("as of")}}
			case 6:
				a := must(domain.FoldAccount(events))
				for p := range a.Payments() {
					if p.Refundable.IsPositive() && a.Credit.IsPositive() {
						refund := p.Refundable
						if c, _ := refund.Cmp(a.Credit); c > 0 {
							refund = a.Credit
						}
						cmds = []domain.AccountCommand{domain.RefundPayment{PaymentID: p.ID, Amount: refund, Reason: "r"}}
						break
					}
				}
			}
			for _, cmd := range cmds {
				a := must(domain.FoldAccount(events))
				got, err := domain.DecideAccount(a, cmd, now)
				if err != nil {
					if _, opening := cmd.(domain.RecordOpeningBalance); opening {
						continue // once per account
					}
					t.Fatalf("%T: %v", cmd, err)
				}
				events = append(events, got...)
			}
		}
		split := splitOf(t, events)
		checkSplit(t, split, currency("USD"))
		checkStateRoundTrip(t, events, split)
	})
}

// checkStateRoundTrip posts events with a state encoded to JSON and decoded again before
// every event (as a read model keeps it between batches) and wants the same entries.
func checkStateRoundTrip(t fataler, events []domain.Event, split datedSplit) {
	t.Helper()
	var got []domain.JournalEntry
	state := &domain.PostingState{}
	for _, e := range events {
		if _, ok := domain.PostingCustomer(e); !ok {
			continue
		}
		data, err := json.Marshal(state)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		state = &domain.PostingState{}
		if err := json.Unmarshal(data, state); err != nil {
			t.Fatalf("unmarshal %s: %v", data, err)
		}
		entries, err := state.Post(e)
		if err != nil {
			t.Fatalf("Post(%s): %v", e.EventType(), err)
		}
		got = append(got, entries...)
	}
	if len(got) != len(split.entries) {
		t.Fatalf("%d entries after round trips, %d without", len(got), len(split.entries))
	}
	for i := range got {
		if got[i].Date() != split.entries[i].Date() || !equal(got[i].Lines(), split.entries[i].Lines()) {
			t.Fatalf("entry %d: %v %+v after round trips, %v %+v without", i, got[i].Date(), got[i].Lines(), split.entries[i].Date(), split.entries[i].Lines())
		}
	}
}

// TestPostingStateKeepsOneCreditLotPerDate: credit of a date joins that date's lot, so the
// state a read model stores and loads for a busy customer (many payments a day, more than its
// invoices) grows with the days, not the payments; the entries are still dated as the split
// requires.
func TestPostingStateKeepsOneCreditLotPerDate(t *testing.T) {
	steps := append([]step{on("2026-01-01", registerAlice())}, issuedOn(1, "2026-01-01", "2026-01-01", "50.00")...)
	for n := 2; n < 202; n++ {
		day := "2026-01-02"
		if n > 101 {
			day = "2026-01-03"
		}
		steps = append(steps, paymentOn(n, day, day, "10.00"))
	}
	events := history(steps...)
	state := &domain.PostingState{}
	for _, e := range events {
		if _, ok := domain.PostingCustomer(e); !ok {
			continue
		}
		if _, err := state.Post(e); err != nil {
			t.Fatalf("Post(%s): %v", e.EventType(), err)
		}
	}
	data, err := json.Marshal(state)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Credit [][2]string `json:"c"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	// 100 payments of 10.00 on Jan 2, less the 50.00 invoice they settle; 100 on Jan 3.
	want := [][2]string{{"2026-01-02", "950"}, {"2026-01-03", "1000"}}
	if !slices.Equal(got.Credit, want) {
		t.Fatalf("credit lots %v, want %v", got.Credit, want)
	}
	split := splitOf(t, events)
	checkSplit(t, split, currency("USD"))
	checkStateRoundTrip(t, events, split)
}
