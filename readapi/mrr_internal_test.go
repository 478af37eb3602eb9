package readapi

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections/readmodel"
)

// mrrQuery is the SQL the report ran before mrrReport, kept as the oracle of
// TestMRRReportMatchesSQL (350–1,000 ms on demo data on a loaded 2-core host).
//
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

// mrrOracle runs mrrQuery.
func mrrOracle(ctx context.Context, db Querier, tenant string, from, to time.Time, plan *string) ([]MRRMonth, error) {
	rows, err := db.Query(ctx, mrrQuery, tenant, from, to, plan)
	if err != nil {
		return nil, err
	}
	return scanMRR(rows)
}

// mrrRandomSegments writes random segment histories for tenant: several services of a few
// customers, each a run of segments on random plans (prices, plan names and currencies vary,
// as does first_month: the first month end, another month, not a first day, NULL), with gaps
// (reactivations), and closed (terminated) or open at the end.
func mrrRandomSegments(rng *rand.Rand, tenant string) [][]any {
	plans := []string{"fiber_100", "fiber_500", "dsl_20", "lte"}
	names := []string{"Fiber 100", "Fiber 500", "DSL", "LTE", "fiber (old)"}
	prices := []string{"79.99", "119.99", "80", "80.00", "49.5", "10.005", "0", "1999", "0.01"}
	currencies := []string{"USD", "USD", "USD", "EUR", "JOD", "JPY"}
	day0 := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	var out [][]any
	services := 1 + rng.IntN(14)
	customers := 1 + rng.IntN(5)
	for s := range services {
		svc := fmt.Sprintf("00000000-0000-0000-0000-%012d", s+1)
		cust := fmt.Sprintf("00000000-0000-0000-0001-%012d", rng.IntN(customers)+1)
		cur := currencies[rng.IntN(len(currencies))]
		from := day0.AddDate(0, 0, rng.IntN(800))
		var first any
		switch rng.IntN(6) {
		case 0:
			first = nil
		case 1:
			first = day0.AddDate(0, rng.IntN(30), 0)
		case 2:
			first = from
		default: // the month of its first month end
			end := time.Date(from.Year(), from.Month()+1, 0, 0, 0, 0, 0, time.UTC)
			first = time.Date(end.Year(), end.Month(), 1, 0, 0, 0, 0, time.UTC)
		}
		for seq := range 1 + rng.IntN(7) {
			if rng.IntN(8) == 0 {
				cur = currencies[rng.IntN(len(currencies))]
			}
			p := rng.IntN(len(plans))
			name := names[p]
			if rng.IntN(10) == 0 {
				name = names[4]
			}
			var to any
			end := from.AddDate(0, 0, 1+rng.IntN(120))
			if rng.IntN(7) != 0 {
				to = end
			}
			out = append(out, []any{tenant, svc, seq, cust, plans[p], name, cur, prices[rng.IntN(len(prices))], from, to, first})
			if to == nil {
				break
			}
			from = end
			if rng.IntN(3) == 0 { // a gap: suspended or terminated and back
				from = from.AddDate(0, 0, 1+rng.IntN(90))
			}
		}
	}
	return out
}

// The report computed in Go equals the SQL's exactly, on random segment sets and ranges
// (before, over and after the data; with and without a plan, one that may not exist).
func TestMRRReportMatchesSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, readmodel.MRR{}.Setup(ctx, tx))
	require.NoError(t, tx.Commit(ctx))
	cols := []string{"tenant_id", "service_id", "seq", "customer_id", "plan_code", "plan_name", "currency", "monthly_price",
		"valid_from", "valid_to", "first_month"}
	rng := rand.New(rand.NewPCG(7, 11))
	var compared, nonEmpty int
	rounds := 20 // 240 reports compared; DOTMAC_TEST_DEEP=1: 60 (720)
	if os.Getenv("DOTMAC_TEST_DEEP") != "" {
		rounds = 60
	}
	for round := range rounds {
		_, err := pool.Exec(ctx, "TRUNCATE mrr_segments")
		require.NoError(t, err)
		var rows [][]any
		for _, tenant := range []string{"acme", "globex"} {
			rows = append(rows, mrrRandomSegments(rng, tenant)...)
		}
		_, err = pool.CopyFrom(ctx, pgx.Identifier{"mrr_segments"}, cols, pgx.CopyFromRows(rows))
		require.NoError(t, err)
		for range 12 {
			from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, rng.IntN(48), 0)
			to := from.AddDate(0, rng.IntN(30), 0)
			var plan *string
			if rng.IntN(3) == 0 {
				p := []string{"fiber_100", "fiber_500", "dsl_20", "lte", "none"}[rng.IntN(5)]
				plan = &p
			}
			want, err := mrrOracle(ctx, pool, "acme", from, to, plan)
			require.NoError(t, err)
			got, err := mrrReport(ctx, pool, "acme", from, to, plan)
			require.NoError(t, err)
			require.Equal(t, want, got, "round %d, %s..%s, plan %q", round, from.Format("2006-01"), to.Format("2006-01"), deref(plan))
			compared++
			if len(want) > 0 {
				nonEmpty++
			}
		}
	}
	t.Logf("%d reports compared, %d not empty", compared, nonEmpty)
	require.Greater(t, nonEmpty, compared/2)
}
