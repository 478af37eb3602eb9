package domain

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// Poster derives the dated journal entries of money events fed to it in order, per customer.
// It splits what Postings derives from one event alone by date: a settlement (Cr 1100 of an
// invoice out of a payment, a credit note, an opening balance or customer credit) is dated no
// earlier than the later of the invoice's issue date and the date the money settling it
// arose. An event's own entry carries what it posts on its own date; the part that settles an
// invoice issued later, or uses customer credit that arose later, is posted as Cr 2200 on the
// event's date (when the event brings the money) and Dr 2200 / Cr 1100 on the later date.
// Every date's entries balance, AR and customer credit never go negative at any date on an
// account that never over-allocates, and the entries of an event sum to Postings' entry, so
// the balance (AR − credit) at every date, and every total, is what Postings gives.
//
// It reads only the events' existing fields: an account's open invoices (issue date and what
// is outstanding) and its customer credit by the date it arose (earliest used first) are
// remembered from the events before. Feed it every money event of a customer, in stream order,
// from the first; other events are ignored. An invoice it never saw is taken as issued on the
// settling event's date (what Postings does). The zero value is ready to use; it is not safe
// for concurrent use.
type Poster struct {
	accounts map[CustomerID]*PostingState
}

// PostingState is what a Poster remembers of one customer: its open invoices and its customer
// credit by date. Its methods are those of a Poster for that customer alone; the zero value
// is an account with nothing posted. MarshalJSON and UnmarshalJSON keep it between runs (a
// read model's batches).
type PostingState struct {
	invoices map[InvoiceID]openItem
	credit   []creditLot // by date, then arrival
}

// openItem is an open invoice: its issue date and what is outstanding of it. A read model
// loads a customer's state, every open invoice, for each batch that posts to the customer:
// held by value, with the amount in a decimalSum, an item is no heap object of its own.
type openItem struct {
	issued      Date
	outstanding decimalSum
}

// creditLot is customer credit that arose on date and is not yet used.
type creditLot struct {
	date   Date
	amount decimal.Decimal
}

// Post returns the dated journal entries of e (none for an event that posts nothing), in
// date order, the first dated as Postings' entry. err is as Postings'.
func (p *Poster) Post(e Event) ([]JournalEntry, error) {
	customer, ok := PostingCustomer(e)
	if !ok {
		return postOne(e)
	}
	if p.accounts == nil {
		p.accounts = map[CustomerID]*PostingState{}
	}
	s := p.accounts[customer]
	if s == nil {
		s = &PostingState{}
		p.accounts[customer] = s
	}
	return s.Post(e)
}

// Account returns the state kept for customer (nil if none was posted).
func (p *Poster) Account(customer CustomerID) *PostingState { return p.accounts[customer] }

// postOne is Postings' entry alone, for an event without a customer.
func postOne(e Event) ([]JournalEntry, error) {
	entry, ok, err := Postings(e)
	if err != nil || !ok {
		return nil, err
	}
	return []JournalEntry{entry}, nil
}

// PostingCustomer returns the customer whose sub-ledger (AR, customer credit) e posts to, and
// whether e is a money event of a customer: those a PostingState posts.
func PostingCustomer(e Event) (CustomerID, bool) {
	switch e := e.(type) {
	case InvoiceIssued:
		return e.CustomerID, true
	case InvoiceIssuedHead:
		return e.CustomerID, true
	case InvoiceVoided:
		return e.CustomerID, true
	case PaymentRecorded:
		return e.CustomerID, true
	case PaymentRefunded:
		return e.CustomerID, true
	case CreditNoteIssued:
		return e.CustomerID, true
	case OpeningBalanceRecorded:
		return e.CustomerID, true
	case CustomerCreditApplied:
		return e.CustomerID, true
	}
	return CustomerID{}, false
}

// Post returns the dated entries of e, an event of this customer, and remembers what later
// events need. See Poster.
func (s *PostingState) Post(e Event) ([]JournalEntry, error) {
	entry, ok, err := Postings(e)
	if err != nil {
		return nil, err
	}
	if !ok {
		s.remember(e)
		return nil, nil
	}
	d := dated{state: s, customer: entry.customer, date: entry.date, memo: entry.memo}
	switch e := e.(type) {
	case InvoiceIssued:
		return d.invoice(e.InvoiceIssuedHead)
	case InvoiceIssuedHead:
		return d.invoice(e)
	case PaymentRecorded:
		return d.received(entry, e.Allocations, e.Amount.Currency())
	case CreditNoteIssued:
		if !e.InvoiceID.IsZero() {
			return d.received(entry, []Allocation{{InvoiceID: e.InvoiceID, Amount: e.Total}}, e.Total.Currency())
		}
		return d.received(entry, e.Allocations, e.Total.Currency())
	case CustomerCreditApplied:
		return d.creditApplied(e)
	}
	s.remember(e)
	return []JournalEntry{entry}, nil
}

// remember notes what an event that posts as Postings says (no split) changes: an opening
// balance's open item or credit, a refund's use of credit, a void's end of an invoice.
func (s *PostingState) remember(e Event) {
	switch e := e.(type) {
	case OpeningBalanceRecorded:
		if e.Amount.IsPositive() {
			s.open(e.InvoiceID, e.AsOf, e.Amount.Amount())
		} else if e.Amount.IsNegative() {
			s.addCredit(e.AsOf, e.Amount.Amount().Neg())
		}
	case PaymentRefunded:
		s.useCredit(e.Amount.Amount())
	case InvoiceVoided:
		delete(s.invoices, e.InvoiceID)
	}
}

// dated builds an event's entries by date.
type dated struct {
	state    *PostingState
	customer CustomerID
	date     Date // the event's own date
	memo     memo
	later    []datedSettlement
}

// datedSettlement is Dr 2200 / Cr 1100 amount on date.
type datedSettlement struct {
	date   Date
	amount Money
}

// invoice posts an issue: the entry as Postings, less the credit applied that arose after
// the issue date, which settles the invoice on the day it arose.
func (d dated) invoice(e InvoiceIssuedHead) ([]JournalEntry, error) {
	c := e.Total.Currency()
	applied := positive(e.CreditApplied.Amount())
	onIssue := d.settleFromCredit(applied, d.date, c)
	b := newLines()
	b.debit(AccountReceivable, e.Total)
	b.credit(AccountServiceRevenue, e.NetTotal)
	b.credit(AccountTaxPayable, e.TaxTotal)
	b.debit(AccountCustomerCredit, moneyOf(onIssue, c))
	b.credit(AccountReceivable, moneyOf(onIssue, c))
	d.state.open(e.InvoiceID, e.IssueDate, e.Total.Amount().Sub(applied))
	return d.entries(b)
}

// received posts money brought by a payment or a credit note (entry is Postings'): an
// allocation to an invoice issued after the event's date is Cr 2200 on the event's date and
// settles the invoice on its issue date; what is unapplied becomes credit dated the event's
// date.
func (d dated) received(entry JournalEntry, allocations []Allocation, c Currency) ([]JournalEntry, error) {
	var deferred decimalSum
	for _, al := range allocations {
		amount := positive(al.Amount.Amount())
		issued, known := d.state.settle(al.InvoiceID, amount)
		if known && issued.After(d.date) && amount.IsPositive() {
			deferred.add(amount)
			d.later = append(d.later, datedSettlement{date: issued, amount: moneyOf(amount, c)})
		}
	}
	b := make(lines, 0, len(entry.lines)+1)
	moved := deferred.value()
	for _, l := range entry.lines {
		if l.Account == AccountReceivable && l.Side == SideCredit && moved.IsPositive() {
			if rest := l.Amount.Amount().Sub(moved); rest.IsPositive() {
				b = append(b, JournalLine{Account: l.Account, Side: l.Side, Amount: moneyOf(rest, c)})
			}
			b.credit(AccountCustomerCredit, moneyOf(moved, c))
			moved = decimal.Zero
			continue
		}
		b = append(b, l)
	}
	b = mergeCredit(b)
	for _, l := range entry.lines {
		if l.Account == AccountCustomerCredit && l.Side == SideCredit {
			d.state.addCredit(d.date, l.Amount.Amount())
		}
	}
	return d.entries(b)
}

// mergeCredit joins two Cr 2200 lines into one (the unapplied part and the part settling
// later invoices), keeping the first's place.
func mergeCredit(b lines) lines {
	first := -1
	for i := 0; i < len(b); i++ {
		if b[i].Account != AccountCustomerCredit || b[i].Side != SideCredit {
			continue
		}
		if first < 0 {
			first = i
			continue
		}
		b[first].Amount = moneyOf(b[first].Amount.Amount().Add(b[i].Amount.Amount()), b[first].Amount.Currency())
		b = slices.Delete(b, i, i+1)
		i--
	}
	return b
}

// creditApplied settles the allocations out of credit: each part on the latest of the
// event's date, the invoice's issue date and the day the credit it uses arose.
func (d dated) creditApplied(e CustomerCreditApplied) ([]JournalEntry, error) {
	c := e.Amount.Currency()
	var own decimalSum
	for _, al := range e.Allocations {
		amount := positive(al.Amount.Amount())
		floor := d.date
		if issued, known := d.state.settle(al.InvoiceID, amount); known && issued.After(floor) {
			floor = issued
		}
		onFloor := d.settleFromCredit(amount, floor, c)
		if floor == d.date {
			own.add(onFloor)
		} else if onFloor.IsPositive() {
			d.later = append(d.later, datedSettlement{date: floor, amount: moneyOf(onFloor, c)})
		}
	}
	b := newLines()
	b.debit(AccountCustomerCredit, moneyOf(own.value(), c))
	b.credit(AccountReceivable, moneyOf(own.value(), c))
	return d.entries(b)
}

// settleFromCredit uses amount of customer credit, earliest first, to settle on floor or
// later: the parts of credit that arose after floor are added to d.later on the day they
// arose; it returns the rest, which settles on floor (with credit the state does not know of:
// as Postings).
func (d *dated) settleFromCredit(amount decimal.Decimal, floor Date, c Currency) decimal.Decimal {
	onFloor := amount
	for _, part := range d.state.takeCredit(amount) {
		if part.date.After(floor) {
			onFloor = onFloor.Sub(part.amount)
			d.later = append(d.later, datedSettlement{date: part.date, amount: moneyOf(part.amount, c)})
		}
	}
	return onFloor
}

// entries returns the event's own entry (b, left out when empty) and one entry per later
// date, in date order.
func (d dated) entries(b lines) ([]JournalEntry, error) {
	out := make([]JournalEntry, 0, 1+len(d.later))
	if len(b) > 0 {
		own, err := newJournalEntry(d.customer, d.date, d.memo, b)
		if err != nil {
			return nil, err
		}
		out = append(out, own)
	}
	slices.SortStableFunc(d.later, func(x, y datedSettlement) int { return x.date.Compare(y.date) })
	for i := 0; i < len(d.later); {
		day := d.later[i].date
		var sum decimalSum
		c := d.later[i].amount.Currency()
		for ; i < len(d.later) && d.later[i].date == day; i++ {
			sum.addMoney(d.later[i].amount)
		}
		l := newLines()
		l.debit(AccountCustomerCredit, moneyOf(sum.value(), c))
		l.credit(AccountReceivable, moneyOf(sum.value(), c))
		if len(l) == 0 {
			continue
		}
		entry, err := newJournalEntry(d.customer, day, d.memo, l)
		if err != nil {
			return nil, err
		}
		out = append(out, entry)
	}
	return out, nil
}

// open remembers an open invoice.
func (s *PostingState) open(id InvoiceID, issued Date, outstanding decimal.Decimal) {
	if !outstanding.IsPositive() || id.IsZero() {
		return
	}
	if s.invoices == nil {
		s.invoices = map[InvoiceID]openItem{}
	}
	item := openItem{issued: issued}
	item.outstanding.add(outstanding)
	s.invoices[id] = item
}

// settle takes amount off invoice id and returns its issue date, if the invoice is known; a
// settled invoice is forgotten.
func (s *PostingState) settle(id InvoiceID, amount decimal.Decimal) (Date, bool) {
	inv, ok := s.invoices[id]
	if !ok {
		return Date{}, false
	}
	inv.outstanding.sub(amount)
	if inv.outstanding.sign() <= 0 {
		delete(s.invoices, id)
	} else {
		s.invoices[id] = inv
	}
	return inv.issued, true
}

// addCredit remembers credit that arose on date, after every lot dated on or before it. Credit
// of a date that has a lot already joins it: lots are used earliest first and a use's parts
// are dated by their lots (entries sums them by date), so two lots of one date settle as one
// would, and the state stays one lot per date however many payments a busy customer makes.
func (s *PostingState) addCredit(date Date, amount decimal.Decimal) {
	if !amount.IsPositive() {
		return
	}
	i := len(s.credit)
	for i > 0 && s.credit[i-1].date.After(date) {
		i--
	}
	if i > 0 && s.credit[i-1].date == date {
		s.credit[i-1].amount = s.credit[i-1].amount.Add(amount)
		return
	}
	s.credit = slices.Insert(s.credit, i, creditLot{date: date, amount: amount})
}

// takeCredit uses amount of credit, earliest first, and returns the parts it used (less than
// amount when the state knows of less credit).
func (s *PostingState) takeCredit(amount decimal.Decimal) []creditLot {
	var used []creditLot
	for amount.IsPositive() && len(s.credit) > 0 {
		lot := &s.credit[0]
		take := decimal.Min(amount, lot.amount)
		used = append(used, creditLot{date: lot.date, amount: take})
		amount = amount.Sub(take)
		if lot.amount = lot.amount.Sub(take); !lot.amount.IsPositive() {
			s.credit = s.credit[1:]
		}
	}
	return used
}

// useCredit uses amount of credit for a refund, earliest first as settlements do: a refund
// is dated the day it is sent, on or after every credit known then.
func (s *PostingState) useCredit(amount decimal.Decimal) {
	s.takeCredit(positive(amount))
}

// positive returns d, or zero when d is negative.
func positive(d decimal.Decimal) decimal.Decimal {
	if d.IsNegative() {
		return decimal.Zero
	}
	return d
}

// postingStateJSON is a PostingState as JSON: open invoices [id, issue date, outstanding] and
// credit [date, amount], amounts as decimal strings.
type postingStateJSON struct {
	Invoices [][3]string `json:"i,omitempty"`
	Credit   [][2]string `json:"c,omitempty"`
}

// MarshalJSON encodes the state (invoices in id order, so equal states encode alike).
func (s *PostingState) MarshalJSON() ([]byte, error) {
	var out postingStateJSON
	for id, inv := range s.invoices {
		out.Invoices = append(out.Invoices, [3]string{id.String(), inv.issued.String(), inv.outstanding.value().String()})
	}
	slices.SortFunc(out.Invoices, func(a, b [3]string) int { return strings.Compare(a[0], b[0]) })
	for _, lot := range s.credit {
		out.Credit = append(out.Credit, [2]string{lot.date.String(), lot.amount.String()})
	}
	return json.Marshal(out)
}

// UnmarshalJSON decodes what MarshalJSON encoded.
func (s *PostingState) UnmarshalJSON(data []byte) error {
	var in postingStateJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("%w: posting state: %w", ErrInvalid, err)
	}
	*s = PostingState{}
	for _, inv := range in.Invoices {
		id, err1 := ParseInvoiceID(inv[0])
		issued, err2 := ParseDate(inv[1])
		outstanding, err3 := decimal.NewFromString(inv[2])
		if err := firstError(err1, err2, err3); err != nil {
			return fmt.Errorf("%w: posting state: %w", ErrInvalid, err)
		}
		s.open(id, issued, outstanding)
	}
	for _, lot := range in.Credit {
		date, err1 := ParseDate(lot[0])
		amount, err2 := decimal.NewFromString(lot[1])
		if err := firstError(err1, err2); err != nil {
			return fmt.Errorf("%w: posting state: %w", ErrInvalid, err)
		}
		s.addCredit(date, amount) // a state stored before lots of one date were joined joins them
	}
	return nil
}
