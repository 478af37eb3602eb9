package readapi

import (
	"context"
	"slices"
	"strings"
	"time"

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

// mrrSegmentsQuery reads the tenant's segments that can cover a month end of [$2 - 1 month,
// $3] ($2, $3: first days), ordered by service, then seq (the primary key's order; the
// planner reads by the primary key or by mrr_segments_from_idx and sorts the few rows).
// mrrReport does the rest in Go.
const mrrSegmentsQuery = `SELECT service_id, customer_id, plan_code, plan_name, currency, monthly_price::text,
  valid_from, valid_to, first_month
FROM mrr_segments
WHERE tenant_id = $1 AND valid_from < $3::date + interval '1 month' AND (valid_to IS NULL OR valid_to >= $2::date)
ORDER BY tenant_id, service_id, seq`

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
	months, err := mrrReport(ctx, r.api.cfg.DB, r.tenant, from, to, planArg)
	if err != nil {
		return nil, err
	}
	return MRRReport{From: from.Format("2006-01"), To: to.Format("2006-01"), Plan: planArg,
		Months: fillMonths(months, from, to)}, nil
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

// mrrSegment is a segment of mrr_segments as the report reads it.
type mrrSegment struct {
	service, customer  [16]byte
	plan, name, cur    string
	price              decimal.Decimal
	validFrom, validTo time.Time // validTo zero: open
	open               bool
	firstMonth         int // month index (year*12 + month - 1) of first_month; -1: NULL or not a first day
}

// mrrPoint is a service at a month end: the segment covering it.
type mrrPoint struct {
	month int // month index
	seg   *mrrSegment
}

// mrrGroup sums the rows of a month, currency and plan, or of a month and currency (total).
type mrrGroup struct {
	name     string // the greatest plan_name (byte order, as max() in the C.UTF-8 collation)
	services int
	cust     map[[16]byte]struct{}
	sums     [8]decimal.Decimal // mrr, new, reactivation, expansion, contraction, churned, transfer_in, transfer_out
}

func monthIndex(t time.Time) int { return t.Year()*12 + int(t.Month()) - 1 }

func monthStart(i int) time.Time { return time.Date(i/12, time.Month(i%12+1), 1, 0, 0, 0, 0, time.UTC) }

// mrrReport computes, for each month of [from, to] (first days), each service's contribution
// at the month's end and at the end of the month before, classifies the change, and sums it
// per month, currency and plan, and per month and currency (the total, first). It reads the
// segments that can cover a month end of [from - 1 month, to] once (mrrSegmentsQuery), in
// the service's order, and expands each to the month ends it covers; per service, the month
// before's point is the previous one when it is the calendar month before (billable on both
// month ends), the month after's the next one likewise:
//   - a point of a month in range is the service's contribution: its price is in mrr,
//     services and customers; with no month before it is new (the service's first_month is
//     this month) or reactivation; with a month before at a lower / higher price, the
//     difference is expansion / contraction, and on another plan its price before is
//     transfer_in (of this point's plan);
//   - a point of a month before to whose service is not billable the month after is churned
//     in the month after, and one whose service is on another plan the month after is
//     transfer_out; both count in the plan of the point, in the currency of the month
//     after's point when there is one (else the point's own).
//
// With plan, only that plan's rows count (the total is then the plan's). Amounts are exact
// decimals; customers counts distinct customers. Months and currencies with no row are absent
// (fillMonths adds them). The SQL this replaced is kept as the oracle of the property test
// (mrr_internal_test.go), which checks the two agree exactly.
func mrrReport(ctx context.Context, db Querier, tenant string, from, to time.Time, plan *string) ([]MRRMonth, error) {
	rows, err := db.Query(ctx, mrrSegmentsQuery, tenant, from, to)
	if err != nil {
		return nil, err
	}
	var segs []*mrrSegment
	for rows.Next() {
		var s mrrSegment
		var price string
		var validTo, first *time.Time
		if err := rows.Scan(&s.service, &s.customer, &s.plan, &s.name, &s.cur, &price, &s.validFrom, &validTo, &first); err != nil {
			rows.Close()
			return nil, err
		}
		if s.price, err = decimal.NewFromString(price); err != nil {
			rows.Close()
			return nil, err
		}
		s.open = validTo == nil
		if validTo != nil {
			s.validTo = *validTo
		}
		s.firstMonth = -1
		if first != nil && first.Day() == 1 {
			s.firstMonth = monthIndex(*first)
		}
		segs = append(segs, &s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return mrrAggregate(segs, monthIndex(from), monthIndex(to), plan), nil
}

// mrrAggregate is mrrReport's computation over segments ordered by service (then seq).
func mrrAggregate(segs []*mrrSegment, from, to int, plan *string) []MRRMonth {
	groups := map[mrrKey]*mrrGroup{}
	add := func(month int, cur, code, name string, customer *[16]byte, col int, amount decimal.Decimal) {
		if plan != nil && code != *plan {
			return
		}
		for _, k := range []mrrKey{{month, cur, code, false}, {month, cur, "", true}} {
			g := groups[k]
			if g == nil {
				g = &mrrGroup{cust: map[[16]byte]struct{}{}}
				groups[k] = g
			}
			if !k.total && name > g.name {
				g.name = name
			}
			if customer != nil {
				g.services++
				g.cust[*customer] = struct{}{}
			}
			g.sums[col] = g.sums[col].Add(amount)
		}
	}
	var pts []mrrPoint
	for i := 0; i < len(segs); {
		j := i
		pts = pts[:0]
		for ; j < len(segs) && segs[j].service == segs[i].service; j++ {
			pts = segs[j].appendMonthEnds(pts, from-1, to)
		}
		slices.SortStableFunc(pts, func(a, b mrrPoint) int { return a.month - b.month })
		for k, p := range pts {
			s := p.seg
			var prev, next *mrrSegment
			if k > 0 && pts[k-1].month == p.month-1 {
				prev = pts[k-1].seg
			}
			if k+1 < len(pts) && pts[k+1].month == p.month+1 {
				next = pts[k+1].seg
			}
			if p.month >= from {
				add(p.month, s.cur, s.plan, s.name, &s.customer, 0, s.price)
				switch {
				case prev == nil && s.firstMonth == p.month:
					add(p.month, s.cur, s.plan, s.name, nil, 1, s.price)
				case prev == nil:
					add(p.month, s.cur, s.plan, s.name, nil, 2, s.price)
				default:
					if c := s.price.Cmp(prev.price); c > 0 {
						add(p.month, s.cur, s.plan, s.name, nil, 3, s.price.Sub(prev.price))
					} else if c < 0 {
						add(p.month, s.cur, s.plan, s.name, nil, 4, prev.price.Sub(s.price))
					}
					if prev.plan != s.plan {
						add(p.month, s.cur, s.plan, s.name, nil, 6, prev.price)
					}
				}
			}
			if p.month < to && (next == nil || next.plan != s.plan) {
				if next == nil {
					add(p.month+1, s.cur, s.plan, s.name, nil, 5, s.price)
				} else {
					add(p.month+1, next.cur, s.plan, s.name, nil, 7, s.price)
				}
			}
		}
		i = j
	}
	keys := make([]mrrKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b mrrKey) int {
		switch {
		case a.month != b.month:
			return a.month - b.month
		case a.cur != b.cur:
			return strings.Compare(a.cur, b.cur)
		case a.total != b.total:
			if a.total {
				return -1
			}
			return 1
		}
		return strings.Compare(a.plan, b.plan)
	})
	var out []MRRMonth
	for _, k := range keys {
		g, c := groups[k], k.cur
		f := MRRFigures{MRR: money(g.sums[0].String(), c), Services: g.services, Customers: len(g.cust),
			ARPU: arpu(g.sums[0].String(), len(g.cust), c), New: money(g.sums[1].String(), c),
			Reactivation: money(g.sums[2].String(), c), Expansion: money(g.sums[3].String(), c),
			Contraction: money(g.sums[4].String(), c), Churned: money(g.sums[5].String(), c),
			TransferIn: money(g.sums[6].String(), c), TransferOut: money(g.sums[7].String(), c)}
		if k.total {
			out = append(out, MRRMonth{Month: monthStart(k.month).Format("2006-01"), Currency: c, MRRFigures: f, Plans: []MRRPlan{}})
			continue
		}
		last := &out[len(out)-1]
		last.Plans = append(last.Plans, MRRPlan{PlanCode: k.plan, PlanName: g.name, MRRFigures: f})
	}
	return out
}

// mrrKey is a group of the report: a month, currency and plan, or (total) a month and currency.
type mrrKey struct {
	month int
	cur   string
	plan  string
	total bool
}

// appendMonthEnds appends the month ends of [from, to] (month indexes) the segment covers:
// its last day on or after valid_from and before valid_to.
func (s *mrrSegment) appendMonthEnds(pts []mrrPoint, from, to int) []mrrPoint {
	first, last := max(monthIndex(s.validFrom), from), to
	if !s.open {
		last = min(monthIndex(s.validTo), to)
	}
	for m := first; m <= last; m++ {
		end := monthStart(m+1).AddDate(0, 0, -1)
		if !end.Before(s.validFrom) && (s.open || s.validTo.After(end)) {
			pts = append(pts, mrrPoint{month: m, seg: s})
		}
	}
	return pts
}
