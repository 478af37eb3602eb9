package readmodel

import (
	"context"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
)

// Balances projects each customer's balance per currency (AR 1100 − customer credit 2200,
// from the journal entries the money events post) and the customer's statement: one line per
// money event with the amount it adds to (debit) or takes off (credit) the balance and the
// balance after it.
type Balances struct{}

var _ projections.BusinessDated = Balances{}

// BusinessDated implements projections.BusinessDated: every row is dated by its entry's
// business date, so a copy as of a business date is the ledger as of that date.
func (Balances) BusinessDated() {}

// Name returns "balances".
func (Balances) Name() string { return NameBalances }

// Version returns 2 (2: opening balances, adjustment credit notes with their lines). The
// posting states of copies as of a business date did not change it: a live build's rows are
// totals, the same whatever the dates, and it never writes balance_posting_states (a copy is a
// new build, with the table).
func (Balances) Version() int { return 2 }

// Tables returns the tables the query API reads.
func (Balances) Tables() []string { return []string{"customer_balances", "statement_lines"} }

var balancesSchema = `
CREATE TABLE customer_balances (
    tenant_id     text    NOT NULL,
    customer_id   uuid    NOT NULL,
    currency      text    NOT NULL,
    receivable    numeric NOT NULL,
    credit        numeric NOT NULL,
    balance       numeric NOT NULL,
    last_activity date,
    position      bigint  NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, currency)
);
CREATE TABLE statement_lines (
    tenant_id     text    NOT NULL,
    customer_id   uuid    NOT NULL,
    position      bigint  NOT NULL,
    event_id      uuid    NOT NULL,
    event_type    text    NOT NULL,
    entry_date    date    NOT NULL,
    document_id   uuid    NOT NULL,
    description   text    NOT NULL,
    currency      text    NOT NULL,
    debit         numeric NOT NULL,
    credit        numeric NOT NULL,
    balance_after numeric NOT NULL,
    PRIMARY KEY (tenant_id, customer_id, position)
);
` + balancePostingStates

// balancePostingStatesTable keeps the customers' domain.PostingState in a copy as of a business
// date, which splits AR and customer credit by the dates domain.Poster gives (a live build's
// balances are totals, whatever the dates, and leave it empty).
const balancePostingStatesTable = "balance_posting_states"

var balancePostingStates = postingStateSchema(balancePostingStatesTable)

// Setup creates customer_balances and statement_lines.
func (Balances) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, balancesSchema)
	return err
}

var (
	balancesTable = newTable("customer_balances", []string{"tenant_id", "customer_id", "currency"},
		column{"tenant_id", "text"}, column{"customer_id", "uuid"}, column{"currency", "text"},
		column{"receivable", "numeric"}, column{"credit", "numeric"}, column{"balance", "numeric"},
		column{"last_activity", "date"}, column{"position", "bigint"})
	statementTable = newTable("statement_lines", []string{"tenant_id", "customer_id", "position"},
		column{"tenant_id", "text"}, column{"customer_id", "uuid"}, column{"position", "bigint"}, column{"event_id", "uuid"},
		column{"event_type", "text"}, column{"entry_date", "date"}, column{"document_id", "uuid"},
		column{"description", "text"}, column{"currency", "text"}, column{"debit", "numeric"}, column{"credit", "numeric"},
		column{"balance_after", "numeric"})
)

// balanceKey identifies a customer's balance in one currency.
type balanceKey struct {
	key
	currency string
}

// balanceRow is a customer_balances row being folded. receivable is AR's debit balance and
// credit customer credit's credit balance; balance = receivable − credit.
type balanceRow struct {
	balanceKey
	isNew              bool
	receivable, credit decimal.Decimal
	lastActivity       domain.Date
	position           int64
}

func (r *balanceRow) write(c *copyRows) {
	c.row(8)
	c.text(r.tenant)
	c.uuid(r.id)
	c.text(r.currency)
	c.numeric(r.receivable)
	c.numeric(r.credit)
	c.numeric(r.receivable.Sub(r.credit))
	c.dateOrNull(r.lastActivity)
	c.int8(r.position)
}

var loadBalances = `SELECT b.tenant_id, b.customer_id, b.currency, b.receivable, b.credit, b.last_activity, b.position
FROM ` + byKeys("customer_balances", "b", "tenant_id text", "customer_id uuid", "currency text")

// moneyEvent is a money event of the feed with its journal entries: Postings' entry, or in a
// copy as of a business date those of domain.Poster dated by then.
type moneyEvent struct {
	at      balanceKey
	entries []domain.JournalEntry // none for an event whose amounts are all zero
	later   bool                  // in a copy as of a business date: the event is dated after it
}

// Apply opens a zero balance for each registered customer and, for each money event, moves
// the customer's balance by the event's AR and customer-credit postings and adds a statement
// line.
func (Balances) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	return applyFold(ctx, tx, newBalanceBatch(), evs)
}

// balanceBatch folds the balances projection: the balances it holds (new ones, and those read
// because events move them) and the statement lines not yet written. Apply uses one per
// batch; a Load keeps one across batches.
type balanceBatch struct {
	rows      map[balanceKey]*balanceRow
	toLoad    []balanceKey
	statement copyRows
	states    *postingStates // in a copy as of a business date
}

func newBalanceBatch() *balanceBatch {
	return &balanceBatch{rows: map[balanceKey]*balanceRow{}, states: newPostingStates(balancePostingStatesTable)}
}

func (b *balanceBatch) held() int { return len(b.rows) + b.states.count() }

// fold derives each money event's journal entry, reads the balances it needs and does not
// hold, and folds evs in memory.
func (b *balanceBatch) fold(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	money, err := b.keys(evs)
	if err != nil {
		return err
	}
	if err := b.load(ctx, tx); err != nil {
		return err
	}
	if cutoff, asOf := projections.BusinessCutoff(ctx); asOf {
		if err := b.dateEntries(ctx, tx, evs, money, cutoff); err != nil {
			return err
		}
	}
	for i := range evs {
		if err := b.apply(&evs[i], &money[i]); err != nil {
			return err
		}
	}
	return nil
}

// keys derives each money event's journal entry and finds the balances to read.
func (b *balanceBatch) keys(evs []projections.Event) ([]moneyEvent, error) {
	money := make([]moneyEvent, len(evs))
	opened := map[balanceKey]bool{}
	seen := map[balanceKey]bool{}
	b.toLoad = b.toLoad[:0]
	for i := range evs {
		ev := &evs[i]
		customer, cur, ok := balanceOf(ev.Payload)
		if !ok {
			continue
		}
		t, err := tenantOf(ev)
		if err != nil {
			return nil, err
		}
		k := balanceKey{key{t, customer}, cur}
		money[i].at = k
		if _, registers := ev.Payload.(domain.CustomerRegistered); registers {
			opened[k] = true
			continue
		}
		entry, post, err := domain.Postings(ev.Payload)
		if err != nil {
			return nil, invariantf(ev, "%v", err)
		}
		if post {
			money[i].entries = []domain.JournalEntry{entry}
		}
		if !opened[k] && !seen[k] && b.rows[k] == nil {
			seen[k] = true
			b.toLoad = append(b.toLoad, k)
		}
	}
	return money, nil
}

// dateEntries, in a copy as of cutoff, replaces each money event's entry by its entries as
// domain.Poster dates them, less those dated after cutoff, and marks the events dated after
// it, which the copy leaves out (their entries are all dated after it too).
func (b *balanceBatch) dateEntries(ctx context.Context, tx pgx.Tx, evs []projections.Event, money []moneyEvent, cutoff domain.Date) error {
	for i := range evs {
		if err := b.states.need(&evs[i]); err != nil {
			return err
		}
	}
	if err := b.states.read(ctx, tx); err != nil {
		return err
	}
	for i := range evs {
		ev := &evs[i]
		if _, ok := domain.PostingCustomer(ev.Payload); !ok {
			continue
		}
		entries, err := b.states.post(ev, money[i].at.tenant)
		if err != nil {
			return invariantf(ev, "%v", err)
		}
		money[i].entries = slices.DeleteFunc(entries, func(e domain.JournalEntry) bool { return e.Date().After(cutoff) })
		money[i].later = statementDate(ev.Payload).After(cutoff)
	}
	return nil
}

// balanceOf returns the customer and currency of a registration or money event.
func balanceOf(e domain.Event) (uuid.UUID, string, bool) {
	switch e := e.(type) {
	case domain.CustomerRegistered:
		return e.CustomerID.UUID(), e.Currency.Code(), true
	case domain.InvoiceIssued:
		return e.CustomerID.UUID(), e.Currency.Code(), true
	case domain.InvoiceIssuedHead:
		return e.CustomerID.UUID(), e.Currency.Code(), true
	case domain.InvoiceVoided:
		return e.CustomerID.UUID(), e.Total.Currency().Code(), true
	case domain.PaymentRecorded:
		return e.CustomerID.UUID(), e.Amount.Currency().Code(), true
	case domain.PaymentRefunded:
		return e.CustomerID.UUID(), e.Amount.Currency().Code(), true
	case domain.CreditNoteIssued:
		return e.CustomerID.UUID(), e.Total.Currency().Code(), true
	case domain.OpeningBalanceRecorded:
		return e.CustomerID.UUID(), e.Amount.Currency().Code(), true
	case domain.CustomerCreditApplied:
		return e.CustomerID.UUID(), e.Amount.Currency().Code(), true
	}
	return uuid.Nil, "", false
}

func (b *balanceBatch) load(ctx context.Context, tx pgx.Tx) error {
	if len(b.toLoad) == 0 {
		return nil
	}
	n := len(b.toLoad)
	tenants, ids, curs := make([]string, n), make([]pgtype.UUID, n), make([]string, n)
	for i, k := range b.toLoad {
		tenants[i], ids[i], curs[i] = k.tenant, pgUUID(k.id), k.currency
	}
	rows, err := tx.Query(ctx, loadBalances, tenants, ids, curs)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r := &balanceRow{}
		var ar, credit pgtype.Numeric
		var last pgtype.Date
		if err := rows.Scan(&r.tenant, &r.id, &r.currency, &ar, &credit, &last, &r.position); err != nil {
			return err
		}
		places := minorUnits(r.currency)
		r.receivable, r.credit, r.lastActivity = decimalOf(ar, places), decimalOf(credit, places), dateFrom(last)
		b.rows[r.balanceKey] = r
	}
	return rows.Err()
}

func (b *balanceBatch) apply(ev *projections.Event, m *moneyEvent) error {
	if m.at.tenant == "" {
		return nil
	}
	r := b.rows[m.at]
	if reg, ok := ev.Payload.(domain.CustomerRegistered); ok {
		if r != nil {
			return invariantf(ev, "customer %s registered twice", reg.CustomerID)
		}
		zero := zeroIn(reg.Currency)
		b.rows[m.at] = &balanceRow{balanceKey: m.at, isNew: true, receivable: zero, credit: zero, position: pos(ev)}
		return nil
	}
	if r == nil {
		return invariantf(ev, "money event for customer %s with no %s account", m.at.id, m.at.currency)
	}
	if m.later {
		return nil
	}
	delta := r.post(m)
	r.position = pos(ev)
	date := statementDate(ev.Payload)
	r.lastActivity = date
	debit, credit := delta, zeroLike(delta)
	if delta.IsNegative() {
		debit, credit = zeroLike(delta), delta.Neg()
	}
	doc, text := statementText(ev.Payload)
	c := &b.statement
	c.row(12)
	c.text(m.at.tenant)
	c.uuid(m.at.id)
	c.int8(pos(ev))
	c.uuid(ev.ID)
	c.text(ev.Payload.EventType())
	c.date(date)
	c.uuid(doc)
	c.text(text)
	c.text(m.at.currency)
	c.numeric(debit)
	c.numeric(credit)
	c.numeric(r.receivable.Sub(r.credit))
	return nil
}

// post applies the entry's AR and customer-credit lines and returns how much the balance
// moved (positive: the customer owes more).
func (r *balanceRow) post(m *moneyEvent) decimal.Decimal {
	before := r.receivable.Sub(r.credit)
	for _, entry := range m.entries {
		for _, l := range entry.Lines() {
			switch l.Account {
			case domain.AccountReceivable:
				r.receivable = r.receivable.Add(l.Signed())
			case domain.AccountCustomerCredit:
				r.credit = r.credit.Sub(l.Signed())
			}
		}
	}
	return r.receivable.Sub(r.credit).Sub(before)
}

// zeroLike is zero with d's scale.
func zeroLike(d decimal.Decimal) decimal.Decimal { return decimal.New(0, d.Exponent()) }

// writeRows inserts the new balances it holds, updates the others, writes the posting states
// (a copy's), and lets them all go.
func (b *balanceBatch) writeRows(ctx context.Context, tx pgx.Tx) error {
	if err := b.states.write(ctx, tx); err != nil {
		return err
	}
	var opened, changed copyRows
	for _, r := range b.rows {
		if r.isNew {
			r.write(&opened)
		} else {
			r.write(&changed)
		}
	}
	clear(b.rows)
	if err := balancesTable.insert(ctx, tx, &opened); err != nil {
		return err
	}
	return balancesTable.update(ctx, tx, &changed)
}

// writeAdded COPYs the statement lines folded since it last ran.
func (b *balanceBatch) writeAdded(ctx context.Context, tx pgx.Tx) error {
	defer b.statement.reset()
	return statementTable.insert(ctx, tx, &b.statement)
}
