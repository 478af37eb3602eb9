package readapi

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dotmac/ledger/eventstore"
)

// Balance is a customer's balance in one currency: receivable (AR) minus credit.
type Balance struct {
	Currency     string  `json:"currency"`
	Receivable   Money   `json:"receivable"`
	Credit       Money   `json:"credit"`
	Balance      Money   `json:"balance"`
	LastActivity *string `json:"last_activity"`
}

// CustomerBalance is a customer's balances, one per currency.
type CustomerBalance struct {
	CustomerID string    `json:"customer_id"`
	Balances   []Balance `json:"balances"`
}

// balanceSQL reads the balances of customer $2 of tenant $1, one row per currency.
const balanceSQL = `SELECT currency, receivable::text, credit::text, balance::text, last_activity::text
FROM customer_balances WHERE tenant_id = $1 AND customer_id = $2 ORDER BY currency`

// getBalance: GET /v1/customers/{customer_id}/balance
func getBalance(ctx context.Context, r *request) (any, error) {
	id := r.pathID("customer_id")
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	rows, err := r.api.cfg.DB.Query(ctx, balanceSQL, r.tenant, id)
	if err != nil {
		return nil, err
	}
	balances, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Balance, error) {
		var b Balance
		var ar, credit, balance string
		var last pgtype.Text
		err := row.Scan(&b.Currency, &ar, &credit, &balance, &last)
		b.Receivable, b.Credit, b.Balance, b.LastActivity = money(ar, b.Currency), money(credit, b.Currency), money(balance, b.Currency), textOrNil(last)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	if len(balances) == 0 {
		return nil, notFound("customer", id)
	}
	return CustomerBalance{CustomerID: id, Balances: balances}, nil
}

// StatementLine is one money event on a customer's statement.
type StatementLine struct {
	Position     uint64 `json:"position"`
	EventID      string `json:"event_id"`
	EventType    string `json:"event_type"`
	Date         string `json:"date"`
	DocumentID   string `json:"document_id"`
	Description  string `json:"description"`
	Debit        Money  `json:"debit"`
	Credit       Money  `json:"credit"`
	BalanceAfter Money  `json:"balance_after"`
}

// getStatement: GET /v1/customers/{customer_id}/statement?from=&to= (dates, inclusive),
// oldest first. An unknown customer is a 404.
func getStatement(ctx context.Context, r *request) (any, error) {
	id := r.pathID("customer_id")
	from, hasFrom := r.date("from")
	to, hasTo := r.date("to")
	key := r.positionKey(1)
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	var exists bool
	err := r.api.cfg.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM customer_balances WHERE tenant_id = $1 AND customer_id = $2)`,
		r.tenant, id).Scan(&exists)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, notFound("customer", id)
	}
	q := newQuery(`SELECT position, event_id::text, event_type, entry_date::text, document_id::text, description, currency,
debit::text, credit::text, balance_after::text FROM statement_lines`, r.tenant)
	q.and("customer_id = ?", id)
	if hasFrom {
		q.and("entry_date >= ?", from)
	}
	if hasTo {
		q.and("entry_date <= ?", to)
	}
	sql, args := q.page([]string{"position"}, key, r.limit)
	return collectPage(ctx, r, r.api.cfg.DB, sql, args, func(rows pgx.Rows) (StatementLine, []string, error) {
		var l StatementLine
		var pos int64
		var currency, debit, credit, balance string
		err := rows.Scan(&pos, &l.EventID, &l.EventType, &l.Date, &l.DocumentID, &l.Description, &currency, &debit, &credit, &balance)
		l.Position = uint64(pos) //nolint:gosec // positions are positive
		l.Debit, l.Credit, l.BalanceAfter = money(debit, currency), money(credit, currency), money(balance, currency)
		return l, []string{strconv.FormatInt(pos, 10)}, err
	})
}

// positionKey validates a cursor key of n integers (position, line number).
func (r *request) positionKey(n int) []any {
	if r.after == nil {
		return nil
	}
	if len(r.after) != n {
		r.failCursor()
		return nil
	}
	out := make([]any, n)
	for i, s := range r.after {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			r.failCursor()
			return nil
		}
		out[i] = v
	}
	return out
}

// JournalLine is one line of a journal entry; the entry id is the id of the event that
// posted it.
type JournalLine struct {
	EntryID     string `json:"entry_id"`
	Position    uint64 `json:"position"`
	LineNo      int    `json:"line_no"`
	EventType   string `json:"event_type"`
	Date        string `json:"date"`
	Account     int    `json:"account"`
	AccountName string `json:"account_name"`
	Debit       Money  `json:"debit"`
	Credit      Money  `json:"credit"`
	CustomerID  string `json:"customer_id"`
	Memo        string `json:"memo"`
}

// listJournal: GET /v1/journal?account=&customer_id=&from=&to=, in feed order.
func listJournal(ctx context.Context, r *request) (any, error) {
	account := r.account("account")
	customer := r.queryID("customer_id")
	from, hasFrom := r.date("from")
	to, hasTo := r.date("to")
	key := r.positionKey(2)
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	q := newQuery(`SELECT entry_id::text, position, line_no, event_type, entry_date::text, account, debit::text,
credit::text, currency, customer_id::text, memo FROM journal_lines`, r.tenant)
	if account != 0 {
		q.and("account = ?", account)
	}
	if customer != "" {
		q.and("customer_id = ?", customer)
	}
	if hasFrom {
		q.and("entry_date >= ?", from)
	}
	if hasTo {
		q.and("entry_date <= ?", to)
	}
	sql, args := q.page([]string{"position", "line_no"}, key, r.limit)
	return collectPage(ctx, r, r.api.cfg.DB, sql, args, func(rows pgx.Rows) (JournalLine, []string, error) {
		var l JournalLine
		var pos int64
		var lineNo, acct int16
		var debit, credit, currency string
		err := rows.Scan(&l.EntryID, &pos, &lineNo, &l.EventType, &l.Date, &acct, &debit, &credit, &currency, &l.CustomerID, &l.Memo)
		l.Position, l.LineNo, l.Account, l.AccountName = uint64(pos), int(lineNo), int(acct), accounts[int(acct)] //nolint:gosec // positive
		l.Debit, l.Credit = money(debit, currency), money(credit, currency)
		return l, []string{strconv.FormatInt(pos, 10), strconv.Itoa(int(lineNo))}, err
	})
}

// TrialBalanceAccount is one account's totals in one currency; balance = debit − credit.
type TrialBalanceAccount struct {
	Account     int    `json:"account"`
	AccountName string `json:"account_name"`
	Currency    string `json:"currency"`
	Debit       Money  `json:"debit"`
	Credit      Money  `json:"credit"`
	Balance     Money  `json:"balance"`
}

// TrialBalanceTotal sums every account in one currency: debits equal credits, balance 0.
type TrialBalanceTotal struct {
	Currency string `json:"currency"`
	Debit    Money  `json:"debit"`
	Credit   Money  `json:"credit"`
	Balance  Money  `json:"balance"`
}

// TrialBalance is the tenant's trial balance, now or as of a position.
type TrialBalance struct {
	AsOfPosition *uint64 `json:"as_of_position"`
	// AsOf is the business date the balance is taken at (entries dated on or before it).
	AsOf     *string               `json:"as_of,omitempty"`
	Accounts []TrialBalanceAccount `json:"accounts"`
	Totals   []TrialBalanceTotal   `json:"totals"`
}

// getTrialBalance: GET /v1/trial-balance?as_of_position=&as_of= (the journal up to and
// including that position, and entries dated on or before that business date; the request
// waits for the journal to reach the position, like min_position).
func getTrialBalance(ctx context.Context, r *request) (any, error) {
	asOf, hasAsOf := r.positionParam("as_of_position")
	date, hasDate := r.date("as_of")
	if err := r.ready(ctx, eventstore.Position(asOf)); err != nil {
		return nil, err
	}
	sql, args := `SELECT account, currency, debit::text, credit::text, balance::text FROM trial_balance
WHERE tenant_id = $1 ORDER BY currency, account`, []any{r.tenant}
	tb := TrialBalance{Accounts: []TrialBalanceAccount{}, Totals: []TrialBalanceTotal{}}
	if hasAsOf || hasDate {
		q := newQuery(`SELECT account, currency, sum(debit)::text, sum(credit)::text, (sum(debit) - sum(credit))::text
FROM journal_lines`, r.tenant)
		if hasAsOf {
			tb.AsOfPosition = &asOf
			q.and("position <= ?", int64(asOf)) //nolint:gosec // below 2^63
		}
		if hasDate {
			d := date.Format(time.DateOnly)
			tb.AsOf = &d
			q.and("entry_date <= ?", date)
		}
		sql, args = q.grouped("currency, account")
	}
	rows, err := r.api.cfg.DB.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	tb.Accounts, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (TrialBalanceAccount, error) {
		var a TrialBalanceAccount
		var acct int16
		var debit, credit, balance string
		err := row.Scan(&acct, &a.Currency, &debit, &credit, &balance)
		a.Account, a.AccountName = int(acct), accounts[int(acct)]
		a.Debit, a.Credit, a.Balance = money(debit, a.Currency), money(credit, a.Currency), money(balance, a.Currency)
		return a, err
	})
	if err != nil {
		return nil, err
	}
	if tb.Accounts == nil {
		tb.Accounts = []TrialBalanceAccount{}
	}
	tb.Totals = totals(tb.Accounts)
	return tb, nil
}

// totals sums the accounts per currency (in their order: by currency).
func totals(accts []TrialBalanceAccount) []TrialBalanceTotal {
	out := []TrialBalanceTotal{}
	sums := map[string]*[3]decimalSum{}
	for _, a := range accts {
		s := sums[a.Currency]
		if s == nil {
			s = &[3]decimalSum{}
			sums[a.Currency] = s
			out = append(out, TrialBalanceTotal{Currency: a.Currency})
		}
		s[0].add(a.Debit.Amount)
		s[1].add(a.Credit.Amount)
		s[2].add(a.Balance.Amount)
	}
	for i, t := range out {
		s := sums[t.Currency]
		out[i].Debit, out[i].Credit, out[i].Balance = money(s[0].String(), t.Currency), money(s[1].String(), t.Currency), money(s[2].String(), t.Currency)
	}
	return out
}
