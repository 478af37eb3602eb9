package readapi

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Aging is what is still owed, by how many days past its due date (as of a day).
type Aging struct {
	Current     Money `json:"current"`
	Days1To30   Money `json:"days_1_30"`
	Days31To60  Money `json:"days_31_60"`
	Days61To90  Money `json:"days_61_90"`
	DaysOver90  Money `json:"days_over_90"`
	Outstanding Money `json:"total"`
}

// CustomerAging is one customer's aging in one currency.
type CustomerAging struct {
	CustomerID string `json:"customer_id"`
	Currency   string `json:"currency"`
	Aging
}

// CurrencyAging is the tenant's aging in one currency.
type CurrencyAging struct {
	Currency string `json:"currency"`
	Aging
}

// ARAging is the accounts-receivable aging report.
type ARAging struct {
	AsOf       string          `json:"as_of"`
	Items      []CustomerAging `json:"items"`
	NextCursor *string         `json:"next_cursor"`
	Totals     []CurrencyAging `json:"totals"`
}

// agingBuckets sums the outstanding amounts of open invoices issued by $2 into buckets of
// days past due ($2 - due_date): an invoice is current up to and including its due date.
const agingBuckets = `coalesce(sum(outstanding) FILTER (WHERE due_date >= $2), 0)::text,
coalesce(sum(outstanding) FILTER (WHERE $2 - due_date BETWEEN 1 AND 30), 0)::text,
coalesce(sum(outstanding) FILTER (WHERE $2 - due_date BETWEEN 31 AND 60), 0)::text,
coalesce(sum(outstanding) FILTER (WHERE $2 - due_date BETWEEN 61 AND 90), 0)::text,
coalesce(sum(outstanding) FILTER (WHERE $2 - due_date > 90), 0)::text,
sum(outstanding)::text FROM invoices`

const openInvoices = `status IN ('issued', 'partially_paid') AND outstanding > 0 AND issue_date <= $2`

// getAging: GET /v1/reports/ar-aging?as_of=DATE (default today, UTC). Buckets are computed
// at query time from the invoices' due dates and what is outstanding on them now; as_of
// moves the day the days past due are counted to (and leaves out invoices issued after it).
// Per customer, paged, with the totals per currency on every page.
func getAging(ctx context.Context, r *request) (any, error) {
	asOf, ok := r.date("as_of")
	if !ok {
		now := r.api.cfg.Now().UTC()
		asOf = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	}
	var key []any
	if r.after != nil {
		if len(r.after) != 2 || r.id(paramCursor, r.after[0]) == "" {
			r.failCursor()
		} else {
			key = []any{r.after[0], r.after[1]}
		}
	}
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	q := newQuery(`SELECT customer_id::text, currency, `+agingBuckets, r.tenant)
	q.args = append(q.args, asOf)
	q.and(openInvoices)
	q.groupBy = "customer_id, currency"
	sql, args := q.page([]string{"customer_id", "currency"}, key, r.limit)
	page, err := collectPage(ctx, r, r.api.cfg.DB, sql, args, func(rows pgx.Rows) (CustomerAging, []string, error) {
		var a CustomerAging
		var b [6]string
		err := rows.Scan(&a.CustomerID, &a.Currency, &b[0], &b[1], &b[2], &b[3], &b[4], &b[5])
		a.Aging = aging(b, a.Currency)
		return a, []string{a.CustomerID, a.Currency}, err
	})
	if err != nil {
		return nil, err
	}
	rows, err := r.api.cfg.DB.Query(ctx, `SELECT currency, `+agingBuckets+` WHERE tenant_id = $1 AND `+openInvoices+
		` GROUP BY currency ORDER BY currency`, r.tenant, asOf)
	if err != nil {
		return nil, err
	}
	totals, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CurrencyAging, error) {
		var a CurrencyAging
		var b [6]string
		err := row.Scan(&a.Currency, &b[0], &b[1], &b[2], &b[3], &b[4], &b[5])
		a.Aging = aging(b, a.Currency)
		return a, err
	})
	if totals == nil {
		totals = []CurrencyAging{}
	}
	return ARAging{AsOf: asOf.Format(time.DateOnly), Items: page.Items, NextCursor: page.NextCursor, Totals: totals}, err
}

func aging(b [6]string, currency string) Aging {
	return Aging{Current: money(b[0], currency), Days1To30: money(b[1], currency), Days31To60: money(b[2], currency),
		Days61To90: money(b[3], currency), DaysOver90: money(b[4], currency), Outstanding: money(b[5], currency)}
}
