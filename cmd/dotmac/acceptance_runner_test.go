package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
)

// runner sends a scenario's steps and checks what follows from each.
type runner struct {
	t         *testing.T
	s         *server
	sc        scenario
	token     string
	customers map[string]string // name -> id
	services  map[string]string // name -> id
	plans     map[string]bool   // defined
	currency  map[string]string // customer name -> currency
	pos       uint64            // the latest position any answer gave
	n         int               // idempotency keys
}

func newRunner(t *testing.T, s *server, sc scenario) *runner {
	tok, err := s.key.Mint(auth.Principal{Subject: "acceptance", Tenant: sc.Tenant, Permissions: []string{auth.All}}, time.Now(), time.Hour)
	require.NoError(t, err)
	r := &runner{t: t, s: s, sc: sc, token: tok, customers: map[string]string{}, services: map[string]string{},
		plans: map[string]bool{}, currency: map[string]string{}}
	for _, c := range sc.Customers {
		r.currency[c.Name] = c.Currency
	}
	return r
}

// run sends the steps in order, each as a subtest; the first that fails ends the scenario
// (the steps after it build on it).
func (r *runner) run() {
	parent := r.t
	for _, st := range r.sc.Steps {
		ok := parent.Run(st.Name, func(t *testing.T) {
			r.t = t
			date := r.step(st)
			r.checkBalances(st, date)
		})
		if !ok {
			return
		}
	}
}

// post sends a command, checks it succeeded, sends it again with the same Idempotency-Key and
// checks the answer is the same and replayed, and returns it.
func (r *runner) post(path string, body any) map[string]any {
	t := r.t
	r.n++
	key := fmt.Sprintf("acceptance-%d", r.n)
	first := r.s.do(t, http.MethodPost, r.s.command+path, r.token, key, body)
	require.Contains(t, []int{http.StatusOK, http.StatusCreated}, first.status, "POST %s: %s", path, first.body)
	again := r.s.do(t, http.MethodPost, r.s.command+path, r.token, key, body)
	assert.Equal(t, first.status, again.status, "POST %s again", path)
	assert.JSONEq(t, string(first.body), string(again.body), "POST %s again: the same answer", path)
	assert.Equal(t, "true", again.header.Get("Idempotent-Replayed"), "POST %s again is replayed, not run again", path)
	m := first.json(t)
	r.pos = max(r.pos, position(t, m))
	return m
}

func (r *runner) get(path string) map[string]any {
	t := r.t
	resp := r.s.do(t, http.MethodGet, r.s.query+path, r.token, "", nil)
	require.Equal(t, http.StatusOK, resp.status, "GET %s: %s", path, resp.body)
	return resp.json(t)
}

// step sends st's command and returns the business date it speaks of.
func (r *runner) step(st step) string {
	switch {
	case st.Subscribe != nil:
		c := st.Subscribe
		r.ensurePlan(c.Plan)
		customer := r.ensureCustomer(c.Customer)
		svc := r.post("/v1/services", map[string]any{"customer_id": customer, "plan_code": c.Plan, "start_date": c.On,
			"install_address": "1 Example Way"})
		r.services[c.Service] = r.str(svc, "id")
		act := r.post("/v1/services/"+r.services[c.Service]+"/activate", map[string]any{"effective_date": c.On})
		assert.Equal(r.t, c.On, act["effective_date"])
		assert.Equal(r.t, st.Scheduled, act["scheduled"])
		r.checkAdjustment(st, act)
		return c.On
	case st.ChangePlan != nil:
		c := st.ChangePlan
		r.ensurePlan(c.To)
		res := r.post("/v1/services/"+r.services[c.Service]+"/change-plan", map[string]any{"plan_code": c.To, "effective_date": c.On})
		r.checkAdjustment(st, res)
		return c.On
	case st.Terminate != nil:
		res := r.post("/v1/services/"+r.services[st.Terminate.Service]+"/terminate", map[string]any{"last_day": st.Terminate.LastDay})
		r.checkAdjustment(st, res)
		return st.Terminate.LastDay
	case st.Pay != nil:
		p := st.Pay
		r.post("/v1/customers/"+r.customers[p.Customer]+"/payments", map[string]any{
			"amount": map[string]any{"amount": p.Amount, "currency": r.currency[p.Customer]}, "method": "bank_transfer",
			"external_reference": fmt.Sprintf("ref-%d", r.n+1), "received_at": p.Received})
		return p.Received
	case st.Run != "":
		return r.billingRun(st)
	}
	r.t.Fatalf("step %q does nothing", st.Name)
	return ""
}

func (r *runner) ensurePlan(code string) {
	if r.plans[code] {
		return
	}
	for _, p := range r.sc.Plans {
		if p.Code == code {
			rate := p.TaxRate
			if rate == "" {
				rate = "0"
			}
			r.post("/v1/plans", map[string]any{"code": p.Code, "name": p.Name, "tax_class": "standard", "tax_rate": rate,
				"monthly_price": map[string]any{"amount": p.Price, "currency": p.Currency}})
			r.plans[code] = true
			return
		}
	}
	r.t.Fatalf("no plan %s in the scenario", code)
}

func (r *runner) ensureCustomer(name string) string {
	if id, ok := r.customers[name]; ok {
		return id
	}
	res := r.post("/v1/customers", map[string]any{"name": "Customer " + name, "email": name + "@example.com",
		"billing_address": "1 Example Way", "currency": r.currency[name]})
	r.customers[name] = r.str(res, "id")
	return r.customers[name]
}

// checkAdjustment compares the billing adjustment a service command issued with st's.
func (r *runner) checkAdjustment(st step, res map[string]any) {
	if st.Adjustment == nil {
		return
	}
	var got []string
	if adj, ok := res["adjustment"].(map[string]any); ok {
		lines, _ := adj["lines"].([]any)
		for _, l := range lines {
			got = append(got, r.netOf(l))
		}
	}
	r.assertAmounts(st.Adjustment, got, "adjustment lines")
}

func (r *runner) netOf(line any) string {
	l, ok := line.(map[string]any)
	require.True(r.t, ok)
	net, ok := l["net"].(map[string]any)
	require.True(r.t, ok)
	return r.str(net, "amount")
}

// objects returns v as a JSON array of objects, failing the test when it is not one.
func (r *runner) objects(v any) []map[string]any {
	arr, ok := v.([]any)
	require.True(r.t, ok, "not an array: %v", v)
	out := make([]map[string]any, len(arr))
	for i, e := range arr {
		out[i], ok = e.(map[string]any)
		require.True(r.t, ok, "not an object: %v", e)
	}
	return out
}

// str returns the string field key of a JSON object, failing the test when it is not one.
func (r *runner) str(obj map[string]any, key string) string {
	v, ok := obj[key].(string)
	require.True(r.t, ok, "%s is not a string in %v", key, obj)
	return v
}

func (r *runner) assertAmounts(want, got []string, what string) {
	require.Len(r.t, got, len(want), "%s: %v", what, got)
	for i := range want {
		assert.True(r.t, decimal.RequireFromString(want[i]).Equal(decimal.RequireFromString(got[i])), "%s %d: %s, want %s", what, i, got[i], want[i])
	}
}

// billingRun runs st.Run and checks the lines of the invoices of the customers st names. A run
// repeated answers with its original invoices and appends nothing.
func (r *runner) billingRun(st step) string {
	res := r.post("/v1/billing-runs", map[string]any{"period": st.Run})
	assert.Equal(r.t, "completed", res["status"])
	invoices, _ := res["invoices"].([]any)
	byCustomer := map[string]string{}
	for _, inv := range invoices {
		m, ok := inv.(map[string]any)
		require.True(r.t, ok, "invoice %v", inv)
		byCustomer[r.str(m, "customer_id")] = r.str(m, "invoice_id")
	}
	for name, want := range st.Lines {
		id, ok := byCustomer[r.customers[name]]
		require.True(r.t, ok, "the run of %s invoiced no %s: %v", st.Run, name, invoices)
		inv := r.get(fmt.Sprintf("/v1/invoices/%s?min_position=%d", id, r.pos))
		var got []string
		lines, ok := inv["lines"].([]any)
		require.True(r.t, ok, "invoice lines %v", inv)
		for _, l := range lines {
			got = append(got, r.netOf(l))
		}
		r.assertAmounts(want, got, name+"'s invoice")
		if total, ok := st.Totals[name]; ok {
			assert.True(r.t, decimal.RequireFromString(total).Equal(amountOf(r.t, inv["total"])), "%s's total", name)
		}
	}
	p, err := time.Parse("2006-01", st.Run)
	require.NoError(r.t, err)
	return p.AddDate(0, 1, -1).Format(time.DateOnly)
}

// checkBalances checks the balances st states and, for every customer so far, the ledger's
// own consistency: the trial balance nets to zero, receivable minus credit from the journal is
// the balance, and audit as-of on date gives what the statement shows for date.
func (r *runner) checkBalances(st step, date string) {
	tb := r.get(fmt.Sprintf("/v1/trial-balance?min_position=%d", r.pos))
	for _, tot := range r.objects(tb["totals"]) {
		assert.True(r.t, amountOf(r.t, tot["balance"]).IsZero(), "the trial balance nets to zero: %v", tot)
	}
	for name, id := range r.customers {
		bal := r.balance(id)
		if want, ok := st.Balances[name]; ok {
			assert.True(r.t, decimal.RequireFromString(want).Equal(bal), "%s's balance %s, want %s", name, bal, want)
		}
		assert.True(r.t, r.journalBalance(id).Equal(bal), "%s: receivable − credit in the journal is the balance %s", name, bal)
		if want, ok := st.Credits[name]; ok {
			got := r.credit(id)
			assert.True(r.t, decimal.RequireFromString(want).Equal(got), "%s's customer credit %s, want %s", name, got, want)
		}
		if want, ok := st.Open[name]; ok {
			assert.Equal(r.t, want, r.openInvoices(id), "%s's open invoices (status outstanding)", name)
		}
		path := fmt.Sprintf("/v1/audit/customers/%s/as-of?date=%s", id, date)
		resp := r.s.do(r.t, http.MethodGet, r.s.query+path, r.token, "", nil)
		if resp.status == http.StatusNotFound {
			// Nothing of the customer is recorded or dated by then: the statement shows nothing either.
			assert.True(r.t, r.statementBalance(id, date).IsZero(), "%s: audit as-of %s has no history, the statement a balance", name, date)
			continue
		}
		require.Equal(r.t, http.StatusOK, resp.status, "GET %s: %s", path, resp.body)
		asOf := resp.json(r.t)
		assert.True(r.t, dec(r.t, asOf["balance"]).Equal(r.statementBalance(id, date)),
			"%s: audit as-of %s (%s) is what the statement shows for that date", name, date, asOf["balance"])
	}
}

func (r *runner) balance(customer string) decimal.Decimal {
	b := r.get(fmt.Sprintf("/v1/customers/%s/balance?min_position=%d", customer, r.pos))
	rows, _ := b["balances"].([]any)
	if len(rows) == 0 {
		return decimal.Zero
	}
	row := r.objects(rows)[0]
	bal := amountOf(r.t, row["balance"])
	assert.True(r.t, amountOf(r.t, row["receivable"]).Sub(amountOf(r.t, row["credit"])).Equal(bal), "receivable − credit = balance")
	return bal
}

// credit is the customer's credit (2200) on its balance.
func (r *runner) credit(customer string) decimal.Decimal {
	b := r.get(fmt.Sprintf("/v1/customers/%s/balance?min_position=%d", customer, r.pos))
	rows, _ := b["balances"].([]any)
	if len(rows) == 0 {
		return decimal.Zero
	}
	return amountOf(r.t, r.objects(rows)[0]["credit"])
}

// openInvoices lists the customer's open invoices as "status outstanding", sorted.
func (r *runner) openInvoices(customer string) []string {
	out := []string{}
	for _, inv := range r.all(fmt.Sprintf("/v1/customers/%s/invoices?min_position=%d", customer, r.pos)) {
		if s := r.str(inv, "status"); s == "issued" || s == "partially_paid" {
			out = append(out, s+" "+amountOf(r.t, inv["outstanding"]).String())
		}
	}
	slices.Sort(out)
	return out
}

// journalBalance is the customer's AR (1100) minus customer credit (2200), from the journal.
func (r *runner) journalBalance(customer string) decimal.Decimal {
	sum := decimal.Zero
	for _, l := range r.all(fmt.Sprintf("/v1/journal?customer_id=%s&min_position=%d", customer, r.pos)) {
		account, ok := l["account"].(json.Number)
		require.True(r.t, ok, "journal line account %v", l)
		switch account.String() {
		case "1100", "2200":
			sum = sum.Add(amountOf(r.t, l["debit"])).Sub(amountOf(r.t, l["credit"]))
		}
	}
	return sum
}

// statementBalance is what the customer's statement lines dated on or before date add up to.
func (r *runner) statementBalance(customer, date string) decimal.Decimal {
	sum := decimal.Zero
	for _, l := range r.all(fmt.Sprintf("/v1/customers/%s/statement?min_position=%d", customer, r.pos)) {
		if r.str(l, "date") <= date {
			sum = sum.Add(amountOf(r.t, l["debit"])).Sub(amountOf(r.t, l["credit"]))
		}
	}
	return sum
}

// all walks every page of a list.
func (r *runner) all(path string) []map[string]any {
	var out []map[string]any
	url := path + "&limit=500"
	for range 100 {
		page := r.get(url)
		out = append(out, r.objects(page["items"])...)
		next, ok := page["next_cursor"].(string)
		if !ok || next == "" {
			return out
		}
		url = path + "&limit=500&cursor=" + next
	}
	r.t.Fatalf("%s: more than 100 pages", path)
	return nil
}
