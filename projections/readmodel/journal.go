package readmodel

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
)

// Journal projects the double-entry journal: one row per journal line of every money event
// (domain.Postings; the entry id is the event id), and the trial balance: debits, credits and
// balance (debits − credits) per tenant, account and currency.
type Journal struct{}

var _ projections.BusinessDated = Journal{}

// BusinessDated implements projections.BusinessDated: every row is dated by its entry's
// business date, so a copy as of a business date is the ledger as of that date.
func (Journal) BusinessDated() {}

// Name returns "journal".
func (Journal) Name() string { return NameJournal }

// Version returns 2 (2: opening balances).
func (Journal) Version() int { return 2 }

// Tables returns the tables the query API reads.
func (Journal) Tables() []string { return []string{"journal_lines", "trial_balance"} }

const journalSchema = `
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
`

// Setup creates journal_lines and trial_balance.
func (Journal) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, journalSchema)
	return err
}

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

// journalBatch folds the journal: lines not yet written and the trial balance's sums.
type journalBatch struct {
	sums  map[trialKey]*trialSums
	lines copyRows
}

func newJournalBatch() *journalBatch { return &journalBatch{sums: map[trialKey]*trialSums{}} }

// held counts the trial balance rows summed: one per tenant, account and currency, so a
// rebuild holds them to the end.
func (b *journalBatch) held() int { return len(b.sums) }

// fold encodes the journal lines of evs and adds them to the sums.
func (b *journalBatch) fold(_ context.Context, _ pgx.Tx, evs []projections.Event) error {
	for i := range evs {
		ev := &evs[i]
		entry, ok, err := domain.Postings(ev.Payload)
		if err != nil {
			return invariantf(ev, "%v", err)
		}
		if !ok {
			continue
		}
		t, err := tenantOf(ev)
		if err != nil {
			return err
		}
		writeJournal(&b.lines, ev, t, entry, b.sums)
	}
	return nil
}

// writeRows adds the sums to the trial balance and lets them go.
func (b *journalBatch) writeRows(ctx context.Context, tx pgx.Tx) error {
	defer clear(b.sums)
	return writeTrialBalance(ctx, tx, b.sums)
}

// writeAdded COPYs the journal lines folded since it last ran.
func (b *journalBatch) writeAdded(ctx context.Context, tx pgx.Tx) error {
	defer b.lines.reset()
	return journalTable.insert(ctx, tx, &b.lines)
}

func writeJournal(c *copyRows, ev *projections.Event, t string, entry domain.JournalEntry, sums map[trialKey]*trialSums) {
	date, customer, memo, typ := entry.Date(), entry.Customer().UUID(), entry.Memo(), ev.Payload.EventType()
	for n, l := range entry.Lines() {
		cur := l.Amount.Currency()
		debit, credit := l.Amount.Amount(), zeroIn(cur)
		if l.Side == domain.SideCredit {
			debit, credit = credit, debit
		}
		c.row(12)
		c.text(t)
		c.int8(pos(ev))
		c.int2(n + 1)
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
