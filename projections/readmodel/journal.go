package readmodel

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
)

// Journal projects the double-entry journal: one row per journal line of every money event
// (as domain.Poster dates them: a settlement no earlier than the invoice it settles and the
// credit it uses, so one event's lines may carry several dates; the entry id is the event id),
// and the trial balance: debits, credits and balance (debits − credits) per tenant, account
// and currency. journal_posting_states keeps what dating the next events needs per customer.
type Journal struct{}

var _ projections.BusinessDated = Journal{}

// BusinessDated implements projections.BusinessDated: every row is dated by its entry's
// business date, so a copy as of a business date is the ledger as of that date.
func (Journal) BusinessDated() {}

// Name returns "journal".
func (Journal) Name() string { return NameJournal }

// Version returns 3 (2: opening balances; 3: settlements dated by the invoice and the credit).
func (Journal) Version() int { return 3 }

// Tables returns the tables the query API reads.
func (Journal) Tables() []string { return []string{"journal_lines", "trial_balance"} }

var journalSchema = `
CREATE TABLE journal_lines (
    tenant_id   text     NOT NULL,
    position    bigint   NOT NULL,
    line_no     smallint NOT NULL,
    entry_id    uuid     NOT NULL,
    event_type  text     NOT NULL,
    entry_date  date     NOT NULL,
    account     smallint NOT NULL,
    debit       numeric  NOT NULL,
    credit      numeric  NOT NULL,
    currency    text     NOT NULL,
    customer_id uuid     NOT NULL,
    memo        text     NOT NULL,
    PRIMARY KEY (tenant_id, position, line_no)
);

CREATE TABLE trial_balance (
    tenant_id    text     NOT NULL,
    account      smallint NOT NULL,
    account_name text     NOT NULL,
    currency     text     NOT NULL,
    debit        numeric  NOT NULL,
    credit       numeric  NOT NULL,
    balance      numeric  NOT NULL,
    position     bigint   NOT NULL,
    PRIMARY KEY (tenant_id, account, currency)
);
` + journalPostingStates

// Setup creates journal_lines and trial_balance.
func (Journal) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, journalSchema)
	return err
}

// journalPostingStates is the table of the customers' domain.PostingState.
const journalPostingStatesTable = "journal_posting_states"

var journalPostingStates = postingStateSchema(journalPostingStatesTable)

// journalIndexes are the secondary indexes the query API reads by (Apply uses primary keys only).
var journalIndexes = []string{
	`CREATE INDEX IF NOT EXISTS journal_lines_account_idx ON journal_lines (tenant_id, account, position)`,
	`CREATE INDEX IF NOT EXISTS journal_lines_customer_idx ON journal_lines (tenant_id, customer_id, position)`,
}

var journalTable = newTable("journal_lines", []string{"tenant_id", "position", "line_no"},
	column{"tenant_id", "text"}, column{"position", "bigint"}, column{"line_no", "smallint"}, column{"entry_id", "uuid"},
	column{"event_type", "text"}, column{"entry_date", "date"}, column{"account", "smallint"}, column{"debit", "numeric"},
	column{"credit", "numeric"}, column{"currency", "text"}, column{"customer_id", "uuid"}, column{"memo", "text"})

var trialBalanceTable = newTable("trial_balance", []string{"tenant_id", "account", "currency"},
	column{"tenant_id", "text"}, column{"account", "smallint"}, column{"account_name", "text"}, column{"currency", "text"},
	column{"debit", "numeric"}, column{"credit", "numeric"}, column{"balance", "numeric"}, column{"position", "bigint"})

// addTrialBalance adds each batch's totals to the trial balance without reading it.
var addTrialBalance = trialBalanceTable.upsertWith(`DO UPDATE SET debit = t.debit + EXCLUDED.debit,
credit = t.credit + EXCLUDED.credit, balance = t.balance + EXCLUDED.balance, position = EXCLUDED.position`)

// trialKey is one trial balance row.
type trialKey struct {
	tenant   string
	account  domain.AccountCode
	currency string
}

type trialSums struct {
	debit, credit decimal.Decimal
	position      int64
}

// Apply writes every journal line of the batch with COPY and adds the batch's sums to the
// trial balance.
func (Journal) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	return applyFold(ctx, tx, newJournalBatch(), evs)
}

// journalBatch folds the journal: lines not yet written, the trial balance's sums and the
// customers' posting states.
type journalBatch struct {
	sums   map[trialKey]*trialSums
	lines  copyRows
	states *postingStates
}

func newJournalBatch() *journalBatch {
	return &journalBatch{sums: map[trialKey]*trialSums{}, states: newPostingStates(journalPostingStatesTable)}
}

// held counts the trial balance rows summed (one per tenant, account and currency, so a
// rebuild holds them to the end) and the posting states held.
func (b *journalBatch) held() int { return len(b.sums) + b.states.count() }

// fold reads the posting states of the customers evs post to, encodes the journal lines of
// evs and adds them to the sums. In a copy as of a business date (projections.BusinessCutoff)
// it leaves out the entries dated after it.
func (b *journalBatch) fold(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	for i := range evs {
		if err := b.states.need(&evs[i]); err != nil {
			return err
		}
	}
	if err := b.states.read(ctx, tx); err != nil {
		return err
	}
	cutoff, asOf := projections.BusinessCutoff(ctx)
	for i := range evs {
		ev := &evs[i]
		t, err := tenantOf(ev)
		if err != nil {
			return err
		}
		entries, err := b.states.post(ev, t)
		if err != nil {
			return invariantf(ev, "%v", err)
		}
		line := 0
		for _, entry := range entries {
			if asOf && entry.Date().After(cutoff) {
				continue
			}
			line = writeJournal(&b.lines, ev, t, entry, line, b.sums)
		}
	}
	return nil
}

// writeRows adds the sums to the trial balance, writes the posting states, and lets them go.
func (b *journalBatch) writeRows(ctx context.Context, tx pgx.Tx) error {
	defer clear(b.sums)
	if err := b.states.write(ctx, tx); err != nil {
		return err
	}
	return writeTrialBalance(ctx, tx, b.sums)
}

// writeAdded COPYs the journal lines folded since it last ran.
func (b *journalBatch) writeAdded(ctx context.Context, tx pgx.Tx) error {
	defer b.lines.reset()
	return journalTable.insert(ctx, tx, &b.lines)
}

// writeJournal encodes entry's lines, numbered after line (the lines of the event's entries
// before it), adds them to sums, and returns the last line number.
func writeJournal(c *copyRows, ev *projections.Event, t string, entry domain.JournalEntry, line int, sums map[trialKey]*trialSums) int {
	date, customer, memo, typ := entry.Date(), entry.Customer().UUID(), entry.Memo(), ev.Payload.EventType()
	for _, l := range entry.Lines() {
		line++
		cur := l.Amount.Currency()
		debit, credit := l.Amount.Amount(), zeroIn(cur)
		if l.Side == domain.SideCredit {
			debit, credit = credit, debit
		}
		c.row(12)
		c.text(t)
		c.int8(pos(ev))
		c.int2(line)
		c.uuid(ev.ID)
		c.text(typ)
		c.date(date)
		c.int2(int(l.Account))
		c.numeric(debit)
		c.numeric(credit)
		c.text(cur.Code())
		c.uuid(customer)
		c.text(memo)
		k := trialKey{t, l.Account, cur.Code()}
		s := sums[k]
		if s == nil {
			s = &trialSums{debit: zeroIn(cur), credit: zeroIn(cur)}
			sums[k] = s
		}
		s.debit, s.credit, s.position = s.debit.Add(debit), s.credit.Add(credit), pos(ev)
	}
	return line
}

func writeTrialBalance(ctx context.Context, tx pgx.Tx, sums map[trialKey]*trialSums) error {
	var c copyRows
	for k, s := range sums {
		c.row(8)
		c.text(k.tenant)
		c.int2(int(k.account))
		c.text(k.account.Name())
		c.text(k.currency)
		c.numeric(s.debit)
		c.numeric(s.credit)
		c.numeric(s.debit.Sub(s.credit))
		c.int8(s.position)
	}
	return trialBalanceTable.upsertUsing(ctx, tx, &c, addTrialBalance)
}
