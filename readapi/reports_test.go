package readapi_test

import (
	"net/http"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
	"github.com/dotmac/ledger/readapi"
)

func TestARAging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme", "reports:read")
	zero := usd("0.00")
	// Today is 2026-03-15 (fixedNow): alice's R-1 (due 2026-02-15) is 28 days past due, with
	// 89.63 outstanding: 100.63 less 5.00 of credit at issue and the 6.00 goodwill credit note.
	a := decode[readapi.ARAging](t, e.ok(tok, "/v1/reports/ar-aging"))
	want := readapi.Aging{Current: zero, Days1To30: usd("89.63"), Days31To60: zero, Days61To90: zero, DaysOver90: zero, Outstanding: usd("89.63")}
	assert.Equal(t, "2026-03-15", a.AsOf)
	assert.Equal(t, []readapi.CustomerAging{{CustomerID: id(101), Currency: "USD", Aging: want}}, a.Items)
	assert.Equal(t, []readapi.CurrencyAging{{Currency: "USD", Aging: want}}, a.Totals)
	for asOf, bucket := range map[string]func(readapi.Aging) readapi.Money{
		"2026-02-15": func(a readapi.Aging) readapi.Money { return a.Current },    // due that day: current
		"2026-02-16": func(a readapi.Aging) readapi.Money { return a.Days1To30 },  // 1 day late
		"2026-03-17": func(a readapi.Aging) readapi.Money { return a.Days1To30 },  // 30 days
		"2026-03-18": func(a readapi.Aging) readapi.Money { return a.Days31To60 }, // 31
		"2026-04-16": func(a readapi.Aging) readapi.Money { return a.Days31To60 }, // 60
		"2026-05-16": func(a readapi.Aging) readapi.Money { return a.Days61To90 }, // 90
		"2026-05-17": func(a readapi.Aging) readapi.Money { return a.DaysOver90 }, // 91
	} {
		a := decode[readapi.ARAging](t, e.ok(tok, "/v1/reports/ar-aging?as_of="+asOf))
		require.Len(t, a.Items, 1, asOf)
		assert.Equal(t, usd("89.63"), bucket(a.Items[0].Aging), asOf)
		assert.Equal(t, usd("89.63"), a.Items[0].Outstanding, asOf)
	}
	// Before R-1 was issued nothing of today's outstanding amounts existed yet.
	before := decode[readapi.ARAging](t, e.ok(tok, "/v1/reports/ar-aging?as_of=2026-01-31"))
	assert.Empty(t, before.Items)
	assert.Empty(t, before.Totals)
	g := decode[readapi.ARAging](t, e.ok(e.token("globex"), "/v1/reports/ar-aging?as_of=2026-02-10"))
	require.Len(t, g.Items, 1)
	assert.Equal(t, readapi.Money{Amount: "12.345", Currency: "BHD"}, g.Items[0].Days1To30)
	assert.Equal(t, readapi.Money{Amount: "0.000", Currency: "BHD"}, g.Items[0].Current)
}

// The fixture's services: alice's 601 on fiber_100 (79.99) from 2026-01-01, moved to
// fiber_500 (119.99) on 2026-01-16; bob's 602 on fiber_100 from 2026-01-03, suspended for
// non-payment 2026-02-20 (fiber plans do not bill while suspended), resumed 2026-02-25, last
// day 2026-03-31.
func TestMRR(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme", "reports:read")
	rep := decode[readapi.MRRReport](t, e.ok(tok, "/v1/reports/mrr?from=2025-12&to=2026-05"))
	type row struct{ month, mrr, newMRR, react, churned, arpu string }
	var got []row
	for _, m := range rep.Months {
		got = append(got, row{m.Month, m.MRR.Amount, m.New.Amount, m.Reactivation.Amount, m.Churned.Amount, m.ARPU.Amount})
		assert.Equal(t, "0.00", m.Expansion.Amount, m.Month)
		assert.Equal(t, "0.00", m.Contraction.Amount, m.Month)
	}
	assert.Equal(t, []row{
		{"2025-12", "0.00", "0.00", "0.00", "0.00", "0.00"},
		{"2026-01", "199.98", "199.98", "0.00", "0.00", "99.99"}, // alice (on fiber_500 by the 31st) and bob
		{"2026-02", "199.98", "0.00", "0.00", "0.00", "99.99"},   // bob's suspension ended on the 25th
		{"2026-03", "199.98", "0.00", "0.00", "0.00", "99.99"},   // bob billable on his last day, the 31st
		{"2026-04", "119.99", "0.00", "0.00", "79.99", "119.99"}, // bob gone
		{"2026-05", "119.99", "0.00", "0.00", "0.00", "119.99"},
	}, got)
	jan := rep.Months[1]
	require.Len(t, jan.Plans, 2)
	assert.Equal(t, "fiber_100", jan.Plans[0].PlanCode)
	assert.Equal(t, 1, jan.Plans[0].Customers)
	assert.Equal(t, usd("79.99"), jan.Plans[0].New)
	assert.Equal(t, 2, jan.Customers)
	assert.Equal(t, 2, jan.Services)

	only := decode[readapi.MRRReport](t, e.ok(tok, "/v1/reports/mrr?from=2026-01&to=2026-04&plan=fiber_100"))
	require.NotNil(t, only.Plan)
	var mrr []string
	for _, m := range only.Months {
		mrr = append(mrr, m.MRR.Amount)
	}
	assert.Equal(t, []string{"79.99", "79.99", "79.99", "0.00"}, mrr)

	def := decode[readapi.MRRReport](t, e.ok(tok, "/v1/reports/mrr"))
	assert.Equal(t, "2025-04", def.From, "the 12 months up to this month (fixedNow: 2026-03)")
	assert.Equal(t, "2026-03", def.To)
	assert.Equal(t, http.StatusBadRequest, e.get(tok, "/v1/reports/mrr?from=2026-05&to=2026-01").Status)
	assert.Equal(t, http.StatusBadRequest, e.get(tok, "/v1/reports/mrr?from=2020-01&to=2026-01").Status)
}

// On a generated history (plan changes, suspensions across month ends, terminations), every
// month's movements explain the change of MRR exactly: in total, and per plan with transfers.
func TestMRRMovementsAddUp(t *testing.T) {
	t.Parallel()
	evs, err := readmodeltest.Generate(domainsim.Config{Customers: 31, Months: 10, Seed: 3})
	require.NoError(t, err)
	e := newEnv(t, evs)
	rep := decode[readapi.MRRReport](t, e.ok(e.token("acme"), "/v1/reports/mrr?from=2024-12&to=2025-10"))
	require.Len(t, rep.Months, 11)
	prevTotal := decimal.Zero
	prevPlan := map[string]decimal.Decimal{}
	var moved, expanded, reactivated bool
	for i, m := range rep.Months {
		total := d(m.MRR).Sub(d(m.New)).Sub(d(m.Reactivation)).Sub(d(m.Expansion)).Add(d(m.Contraction)).Add(d(m.Churned))
		assert.True(t, total.Equal(prevTotal), "%s: %s − movements = %s, previous month %s", m.Month, m.MRR.Amount, total, prevTotal)
		assert.True(t, d(m.TransferIn).Equal(d(m.TransferOut)), m.Month)
		seen := map[string]bool{}
		for _, p := range m.Plans {
			seen[p.PlanCode] = true
			before := d(p.MRR).Sub(d(p.New)).Sub(d(p.Reactivation)).Sub(d(p.Expansion)).Add(d(p.Contraction)).Add(d(p.Churned)).
				Sub(d(p.TransferIn)).Add(d(p.TransferOut))
			assert.True(t, before.Equal(prevPlan[p.PlanCode]), "%s %s", m.Month, p.PlanCode)
			prevPlan[p.PlanCode] = d(p.MRR)
		}
		for code := range prevPlan {
			if !seen[code] {
				assert.True(t, prevPlan[code].IsZero(), "%s: plan %s vanished with MRR %s", m.Month, code, prevPlan[code])
			}
		}
		if i > 0 {
			moved = moved || d(m.TransferIn).IsPositive()
			expanded = expanded || d(m.Expansion).IsPositive() || d(m.Contraction).IsPositive()
			reactivated = reactivated || d(m.Reactivation).IsPositive()
		}
		prevTotal = d(m.MRR)
	}
	assert.True(t, moved && expanded && reactivated, "the history changes plans and reactivates services")
}

func d(m readapi.Money) decimal.Decimal { return decimal.RequireFromString(m.Amount) }
