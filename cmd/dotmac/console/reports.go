package console

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/readapi"
)

// agingData is the AR aging page's.
type agingData struct {
	AsOf   string
	Report readapi.ARAging
	Names  map[string]string
	Charts []template.HTML
	Cut    bool
}

// aging is the AR aging report as of a date, as a chart per currency and a table.
func (c *Console) aging(w http.ResponseWriter, r *http.Request, v *view) {
	asOf, err := dateParam(r, "as_of")
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	path := "/v1/reports/ar-aging?limit=100"
	if asOf != "" {
		path += "&as_of=" + asOf
	}
	d := agingData{AsOf: asOf}
	if err := v.get(r, path, &d.Report); err != nil {
		c.fail(w, r, v, err)
		return
	}
	d.AsOf, d.Cut = d.Report.AsOf, d.Report.NextCursor != nil
	for _, t := range d.Report.Totals {
		groups := []barGroup{}
		for _, b := range []struct {
			label string
			m     readapi.Money
		}{{"Current", t.Current}, {"1–30", t.Days1To30}, {"31–60", t.Days31To60}, {"61–90", t.Days61To90}, {"90+", t.DaysOver90}} {
			groups = append(groups, barGroup{Label: b.label, Segments: []segment{{Name: "outstanding", Class: "bar", Value: dec(b.m.Amount)}}})
		}
		d.Charts = append(d.Charts, barChart("aging-"+t.Currency, "AR aging in "+t.Currency+" as of "+d.AsOf,
			"Outstanding receivables by days past due, as in the totals table.", groups))
	}
	d.Names = c.customerNames(r, v)
	c.render(w, r, v, http.StatusOK, "aging", d)
}

// customerNames maps the tenant's customer ids to names (for report rows), best effort.
func (c *Console) customerNames(r *http.Request, v *view) map[string]string {
	names := map[string]string{}
	cs, _, err := getAll[readapi.Customer](v, r, "/v1/customers")
	if err != nil {
		return names
	}
	for _, cu := range cs {
		names[cu.CustomerID] = cu.Name
	}
	return names
}

// mrrData is the MRR page's.
type mrrData struct {
	From, To, Plan string
	Currency       string
	Months         []readapi.MRRMonth
	Plans          []string
	PlanNames      map[string]string
	// PlanMRR[plan][i] is the plan's MRR in Months[i].
	PlanMRR               map[string][]readapi.Money
	MRRChart, Movements   template.HTML
	ARPUChart, PlansChart template.HTML
}

// mrr is MRR, its movements (new, expansion, contraction, churned) and ARPU by month and
// plan.
func (c *Console) mrr(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	d := mrrData{From: q.Get("from"), To: q.Get("to"), Plan: q.Get("plan")}
	vals := url.Values{}
	for k, s := range map[string]string{"from": d.From, "to": d.To, "plan": d.Plan} {
		if s != "" {
			vals.Set(k, s)
		}
	}
	var rep readapi.MRRReport
	if err := v.get(r, "/v1/reports/mrr?"+vals.Encode(), &rep); err != nil {
		c.fail(w, r, v, err)
		return
	}
	d.From, d.To = rep.From, rep.To
	d.Currency = firstCurrency(rep.Months)
	if cur := q.Get("currency"); cur != "" {
		d.Currency = cur
	}
	c.mrrFigures(&d, rep.Months)
	c.render(w, r, v, http.StatusOK, "mrr", d)
}

func firstCurrency(ms []readapi.MRRMonth) string {
	for _, m := range ms {
		if m.Currency != "" {
			return m.Currency
		}
	}
	return ""
}

// mrrFigures picks the currency's months and draws the charts.
func (c *Console) mrrFigures(d *mrrData, months []readapi.MRRMonth) {
	d.PlanNames, d.PlanMRR = map[string]string{}, map[string][]readapi.Money{}
	for _, m := range months {
		if m.Currency == d.Currency || m.Currency == "" {
			d.Months = append(d.Months, m)
		}
	}
	var mrrPts, arpuPts []point
	var moves, planBars []barGroup
	for i, m := range d.Months {
		mrrPts = append(mrrPts, point{Label: m.Month, Value: dec(m.MRR.Amount)})
		arpuPts = append(arpuPts, point{Label: m.Month, Value: dec(m.ARPU.Amount)})
		moves = append(moves, barGroup{Label: m.Month, Segments: []segment{
			{Name: "new", Class: "new", Value: dec(m.New.Amount)},
			{Name: "reactivation", Class: "react", Value: dec(m.Reactivation.Amount)},
			{Name: "expansion", Class: "exp", Value: dec(m.Expansion.Amount)},
			{Name: "contraction", Class: "contr", Value: dec(m.Contraction.Amount).Abs().Neg()},
			{Name: "churned", Class: "churn", Value: dec(m.Churned.Amount).Abs().Neg()},
		}})
		pb := barGroup{Label: m.Month}
		for _, p := range m.Plans {
			if _, ok := d.PlanMRR[p.PlanCode]; !ok {
				d.Plans = append(d.Plans, p.PlanCode)
				d.PlanMRR[p.PlanCode] = make([]readapi.Money, len(d.Months))
			}
			d.PlanNames[p.PlanCode] = p.PlanName
			d.PlanMRR[p.PlanCode][i] = p.MRR
		}
		planBars = append(planBars, pb)
	}
	for i := range d.Months {
		for j, code := range d.Plans {
			planBars[i].Segments = append(planBars[i].Segments, segment{Name: code, Class: "s" + strconv.Itoa(j%6),
				Value: dec(d.PlanMRR[code][i].Amount)})
		}
	}
	cur := d.Currency
	d.MRRChart = lineChart("mrr", "MRR by month ("+cur+")", "Monthly recurring revenue at each month's end, as in the table.", mrrPts, false)
	d.Movements = barChart("moves", "MRR movements by month ("+cur+")",
		"New, reactivation and expansion MRR above zero; contraction and churned MRR below, as in the table.", moves)
	d.ARPUChart = lineChart("arpu", "ARPU by month ("+cur+")", "Average revenue per customer: MRR divided by paying customers.", arpuPts, false)
	d.PlansChart = barChart("plans", "MRR by plan ("+cur+")", "Each month's MRR split by plan, as in the plan table.", planBars)
}

// tbRow is one account of a trial balance.
type tbRow struct {
	Account                int
	Name, Currency         string
	Debit, Credit, Balance readapi.Money
}

// trialBalanceData is the trial balance page's.
type trialBalanceData struct {
	AsOf     string
	Position uint64
	Source   string
	Rows     []tbRow
	Totals   []readapi.TrialBalanceTotal
	Balanced bool
	// Replay: the figures were replayed from the event store, not read from the journal.
	Replay bool
}

// trialBalance is the trial balance now or as of a business date, from the journal read
// model (each account drilling down to its lines) or, with source=replay, replayed from the
// event store by the auditors' as-of: the two must agree.
func (c *Console) trialBalance(w http.ResponseWriter, r *http.Request, v *view) {
	asOf, err := dateParam(r, "as_of")
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	d := trialBalanceData{AsOf: asOf, Balanced: true, Replay: r.URL.Query().Get("source") == "replay" && asOf != ""}
	if !d.Replay {
		path := "/v1/trial-balance"
		if asOf != "" {
			path += "?as_of=" + asOf
		}
		var tb readapi.TrialBalance
		if err := v.get(r, path, &tb); err != nil {
			c.fail(w, r, v, err)
			return
		}
		d.Source = "journal read model"
		for _, a := range tb.Accounts {
			d.Rows = append(d.Rows, tbRow{Account: a.Account, Name: a.AccountName, Currency: a.Currency, Debit: a.Debit, Credit: a.Credit, Balance: a.Balance})
		}
		d.Totals = tb.Totals
		for _, t := range tb.Totals {
			d.Balanced = d.Balanced && dec(t.Balance.Amount).IsZero()
		}
	} else {
		var tb audit.TrialBalanceAsOf
		if err := v.get(r, "/v1/audit/trial-balance?date="+asOf, &tb); err != nil {
			c.fail(w, r, v, err)
			return
		}
		d.Source, d.Position, d.Balanced = "event store, replayed", uint64(tb.Position), tb.Balanced
		d.Rows, d.Totals = ledgerRows(tb.Lines)
	}
	c.render(w, r, v, http.StatusOK, "trial-balance", d)
}

// ledgerRows turns the auditors' ledger lines into rows and per-currency totals.
func ledgerRows(lines []audit.LedgerLine) ([]tbRow, []readapi.TrialBalanceTotal) {
	var rows []tbRow
	sums := map[string][3]decimal.Decimal{}
	var order []string
	for _, l := range lines {
		m := func(s string) readapi.Money { return readapi.Money{Amount: s, Currency: l.Currency} }
		rows = append(rows, tbRow{Account: l.Account, Name: l.Name, Currency: l.Currency, Debit: m(l.Debit), Credit: m(l.Credit), Balance: m(l.Balance)})
		s, ok := sums[l.Currency]
		if !ok {
			order = append(order, l.Currency)
		}
		sums[l.Currency] = [3]decimal.Decimal{s[0].Add(dec(l.Debit)), s[1].Add(dec(l.Credit)), s[2].Add(dec(l.Balance))}
	}
	var totals []readapi.TrialBalanceTotal
	for _, cur := range order {
		s := sums[cur]
		m := func(d decimal.Decimal) readapi.Money { return readapi.Money{Amount: d.String(), Currency: cur} }
		totals = append(totals, readapi.TrialBalanceTotal{Currency: cur, Debit: m(s[0]), Credit: m(s[1]), Balance: m(s[2])})
	}
	return rows, totals
}

// accountData is an account's journal lines page.
type accountData struct {
	Account int
	Name    string
	To      string
	Lines   []readapi.JournalLine
	Next    string
}

// accountPage bounds the journal lines of one account page.
const accountPage = 100

// account drills down from the trial balance: the account's journal lines up to a date, a
// page at a time.
func (c *Console) account(w http.ResponseWriter, r *http.Request, v *view) {
	code, err := strconv.Atoi(mux.Vars(r)["account"])
	if err != nil || code <= 0 {
		c.fail(w, r, v, errNotFound)
		return
	}
	to, err := dateParam(r, "to")
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	vals := url.Values{"account": {strconv.Itoa(code)}, "limit": {strconv.Itoa(accountPage)}}
	if to != "" {
		vals.Set("to", to)
	}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		vals.Set("cursor", cur)
	}
	var pg page[readapi.JournalLine]
	if err := v.get(r, "/v1/journal?"+vals.Encode(), &pg); err != nil {
		c.fail(w, r, v, err)
		return
	}
	d := accountData{Account: code, To: to, Lines: pg.Items}
	if len(pg.Items) > 0 {
		d.Name = pg.Items[0].AccountName
	}
	v.Title = "Account " + strconv.Itoa(code) + " " + d.Name
	if pg.NextCursor != nil {
		next := url.Values{"cursor": {*pg.NextCursor}}
		if to != "" {
			next.Set("to", to)
		}
		d.Next = Prefix + "/ledger/accounts/" + strconv.Itoa(code) + "?" + next.Encode()
	}
	c.render(w, r, v, http.StatusOK, "account", d)
}

// monthOf is the YYYY-MM of a time.
func monthOf(t time.Time) string { return t.UTC().Format("2006-01") }
