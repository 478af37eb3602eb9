package readapi

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// MRRFigures are a month's recurring revenue and its movements since the month before. MRR
// is the sum of the monthly prices of the services billable on the month's last day (see
// docs/api-queries.md); the movements explain the change:
// mrr = previous mrr + new + reactivation + expansion − contraction − churned
// (+ transfer_in − transfer_out for one plan; transfers cancel out in the month's total).
type MRRFigures struct {
	MRR          Money `json:"mrr"`
	Services     int   `json:"services"`
	Customers    int   `json:"customers"`
	ARPU         Money `json:"arpu"`
	New          Money `json:"new"`
	Reactivation Money `json:"reactivation"`
	Expansion    Money `json:"expansion"`
	Contraction  Money `json:"contraction"`
	Churned      Money `json:"churned"`
	TransferIn   Money `json:"transfer_in"`
	TransferOut  Money `json:"transfer_out"`
}

// MRRPlan is one plan's figures in a month.
type MRRPlan struct {
	PlanCode string `json:"plan_code"`
	PlanName string `json:"plan_name"`
	MRRFigures
}

// MRRMonth is a month's figures in one currency, in total and per plan.
type MRRMonth struct {
	Month    string `json:"month"`
	Currency string `json:"currency"`
	MRRFigures
	Plans []MRRPlan `json:"plans"`
}

// MRRReport is the MRR report of a range of months.
type MRRReport struct {
	From   string     `json:"from"`
	To     string     `json:"to"`
	Plan   *string    `json:"plan"`
	Months []MRRMonth `json:"months"`
}

// mrrQuery computes, for each month of [$2, $3] (first days), each service's contribution at
// the month's end and at the end of the month before, classifies the change, and sums it per
// month, currency and plan (and per month and currency: the total rows, plan_code NULL).
//
// Each segment that can cover a month end of [$2 - 1 month, $3] is read once (the primary
// key's order is the service's) and expanded to the month ends it covers (w); in month order
// per service, the month before's row is lag() when it is the calendar month before (a
// service billable on both month ends), and the month after's is lead() likewise. A row of a month in range is the
// service's contribution (new, reactivation, expansion, contraction, transfer_in); a row of a
// month before $3 whose service is not billable the month after, or is on another plan, is
// churn or transfer_out in the month after (in the currency of the month after's row when
// there is one). One sort and window pass replaces a FULL JOIN of the month-end rows with
// themselves, which scanned the index once per month and sorted the rows twice.
const mrrQuery = `WITH w AS (
  SELECT m.month, s.customer_id, s.plan_code, s.plan_name, s.currency, s.monthly_price AS price, s.first_month,
    lag(m.month) OVER sv AS prev_month, lag(s.plan_code) OVER sv AS prev_plan, lag(s.monthly_price) OVER sv AS prev_price,
    lead(m.month) OVER sv AS next_month, lead(s.plan_code) OVER sv AS next_plan, lead(s.currency) OVER sv AS next_currency
  FROM mrr_segments s
  CROSS JOIN LATERAL (SELECT g::date AS month FROM generate_series(
    greatest(date_trunc('month', s.valid_from::timestamp), $2::date - interval '1 month'),
    least(date_trunc('month', s.valid_to::timestamp), $3::date::timestamp), interval '1 month') AS g
    WHERE (g + interval '1 month' - interval '1 day')::date >= s.valid_from
      AND (s.valid_to IS NULL OR s.valid_to > (g + interval '1 month' - interval '1 day')::date)) m
  WHERE s.tenant_id = $1 AND s.valid_from < $3::date + interval '1 month' AND (s.valid_to IS NULL OR s.valid_to >= $2::date)
  WINDOW sv AS (PARTITION BY s.service_id ORDER BY m.month)
), pairs AS (
  SELECT month, plan_code, plan_name, currency, customer_id, price, first_month,
    CASE WHEN prev_month = (month - interval '1 month')::date THEN prev_plan END AS prev_plan,
    CASE WHEN prev_month = (month - interval '1 month')::date THEN prev_price END AS prev_price,
    (month + interval '1 month')::date AS next,
    CASE WHEN next_month = (month + interval '1 month')::date THEN next_plan END AS next_plan,
    CASE WHEN next_month = (month + interval '1 month')::date THEN next_currency END AS next_currency
  FROM w
), contrib AS (
  SELECT month, plan_code, plan_name, currency, customer_id, price AS mrr,
    CASE WHEN prev_plan IS NULL AND first_month = month THEN price ELSE 0 END AS new,
    CASE WHEN prev_plan IS NULL AND first_month IS DISTINCT FROM month THEN price ELSE 0 END AS reactivation,
    CASE WHEN price > prev_price THEN price - prev_price ELSE 0 END AS expansion,
    CASE WHEN price < prev_price THEN prev_price - price ELSE 0 END AS contraction,
    0 AS churned,
    CASE WHEN prev_plan <> plan_code THEN prev_price ELSE 0 END AS transfer_in,
    0 AS transfer_out
  FROM pairs WHERE month >= $2
  UNION ALL
  SELECT next, plan_code, plan_name, coalesce(next_currency, currency), NULL, 0, 0, 0, 0, 0,
    CASE WHEN next_plan IS NULL THEN price ELSE 0 END, 0,
    CASE WHEN next_plan IS NOT NULL THEN price ELSE 0 END
  FROM pairs WHERE month < $3 AND (next_plan IS NULL OR next_plan <> plan_code)
)
SELECT month::text, currency, plan_code, max(plan_name), sum(mrr)::text, count(customer_id), count(DISTINCT customer_id),
  sum(new)::text, sum(reactivation)::text, sum(expansion)::text, sum(contraction)::text, sum(churned)::text,
  sum(transfer_in)::text, sum(transfer_out)::text, GROUPING(plan_code) = 1
FROM contrib WHERE $4::text IS NULL OR plan_code = $4
GROUP BY GROUPING SETS ((month, currency, plan_code), (month, currency))
ORDER BY month, currency, GROUPING(plan_code) DESC, plan_code`

// getMRR: GET /v1/reports/mrr?from=YYYY-MM&to=YYYY-MM&plan= (default: the last 12 months).
func getMRR(ctx context.Context, r *request) (any, error) {
	from, to := r.mrrRange()
	plan := r.planCode("plan", r.query("plan"))
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	var planArg *string
	if plan != "" {
		planArg = &plan
	}
	rows, err := r.api.cfg.DB.Query(ctx, mrrQuery, r.tenant, from, to, planArg)
	if err != nil {
		return nil, err
	}
	months, err := scanMRR(rows)
	if err != nil {
		return nil, err
	}
	return MRRReport{From: from.Format("2006-01"), To: to.Format("2006-01"), Plan: planArg,
		Months: fillMonths(months, from, to)}, nil
}

// scanMRR reads the report's rows: each month and currency's total row, then its plans.
func scanMRR(rows pgx.Rows) ([]MRRMonth, error) {
	defer rows.Close()
	var out []MRRMonth
	for rows.Next() {
		var month, currency string
		var code, name *string
		var a [8]string
		var services, customers int
		var total bool
		if err := rows.Scan(&month, &currency, &code, &name, &a[0], &services, &customers, &a[1], &a[2], &a[3], &a[4],
			&a[5], &a[6], &a[7], &total); err != nil {
			return nil, err
		}
		f := MRRFigures{MRR: money(a[0], currency), Services: services, Customers: customers, ARPU: arpu(a[0], customers, currency),
			New: money(a[1], currency), Reactivation: money(a[2], currency), Expansion: money(a[3], currency),
			Contraction: money(a[4], currency), Churned: money(a[5], currency), TransferIn: money(a[6], currency),
			TransferOut: money(a[7], currency)}
		if total || len(out) == 0 {
			out = append(out, MRRMonth{Month: month[:7], Currency: currency, MRRFigures: f, Plans: []MRRPlan{}})
			continue
		}
		last := &out[len(out)-1]
		last.Plans = append(last.Plans, MRRPlan{PlanCode: deref(code), PlanName: deref(name), MRRFigures: f})
	}
	return out, rows.Err()
}

// fillMonths gives every month of [from, to] an entry for each currency the report has, with
// zeros where nothing was billable and nothing moved.
func fillMonths(months []MRRMonth, from, to time.Time) []MRRMonth {
	have := map[[2]string]bool{}
	var currencies []string
	for _, m := range months {
		have[[2]string{m.Month, m.Currency}] = true
		if !slices.Contains(currencies, m.Currency) {
			currencies = append(currencies, m.Currency)
		}
	}
	slices.Sort(currencies)
	out := make([]MRRMonth, 0, len(months))
	i := 0
	for m := from; !m.After(to); m = m.AddDate(0, 1, 0) {
		month := m.Format("2006-01")
		for _, c := range currencies {
			if have[[2]string{month, c}] {
				out = append(out, months[i])
				i++
				continue
			}
			z := money("0", c)
			out = append(out, MRRMonth{Month: month, Currency: c, Plans: []MRRPlan{}, MRRFigures: MRRFigures{MRR: z, ARPU: z,
				New: z, Reactivation: z, Expansion: z, Contraction: z, Churned: z, TransferIn: z, TransferOut: z}})
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// mrrRange validates from and to (months), defaulting to the 12 months up to this one.
func (r *request) mrrRange() (from, to time.Time) {
	now := r.api.cfg.Now().UTC()
	to = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	if t, ok := r.month("to"); ok {
		to = t
	}
	from = to.AddDate(0, -11, 0)
	if f, ok := r.month("from"); ok {
		from = f
	}
	months := (to.Year()-from.Year())*12 + int(to.Month()) - int(from.Month()) + 1
	switch {
	case months < 1:
		r.fail("from", "must not be after to")
	case months > maxMRRMonths:
		r.fail("to", "at most 60 months after from")
	}
	return from, to
}

// arpu is mrr divided by customers, rounded half away from zero to the currency's units.
func arpu(mrr string, customers int, currency string) Money {
	if customers == 0 {
		return money("0", currency)
	}
	d, err := decimal.NewFromString(mrr)
	if err != nil {
		return money("0", currency)
	}
	return money(d.DivRound(decimal.NewFromInt(int64(customers)), places(currency)).String(), currency)
}
