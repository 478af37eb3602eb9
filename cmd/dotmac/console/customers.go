package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/readapi"
)

// customersData is the search page's.
type customersData struct {
	Query     string
	Customers []readapi.Customer
	Invoices  []readapi.Invoice
	Next      string
	Searched  bool
}

// customers searches by name, email, customer id or invoice number; with no query it lists
// the tenant's customers, a page at a time. A query that names exactly one thing (an id, an
// invoice number) opens it.
func (c *Console) customers(w http.ResponseWriter, r *http.Request, v *view) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := customersData{Query: q, Searched: q != ""}
	if q == "" {
		path := "/v1/customers?limit=50"
		if cur := r.URL.Query().Get("cursor"); cur != "" {
			path += "&cursor=" + url.QueryEscape(cur)
		}
		var pg page[readapi.Customer]
		if err := v.get(r, path, &pg); err != nil {
			c.fail(w, r, v, err)
			return
		}
		d.Customers = pg.Items
		if pg.NextCursor != nil {
			d.Next = Prefix + "/customers?cursor=" + url.QueryEscape(*pg.NextCursor)
		}
		c.render(w, r, v, http.StatusOK, "customers", d)
		return
	}
	if target, ok := c.exactID(r, v, q); ok {
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	var cs page[readapi.Customer]
	if err := v.get(r, "/v1/customers?limit=100&q="+url.QueryEscape(q), &cs); err != nil {
		c.fail(w, r, v, err)
		return
	}
	var inv page[readapi.Invoice]
	if err := v.get(r, "/v1/invoices?limit=10&number="+url.QueryEscape(q), &inv); err != nil {
		c.fail(w, r, v, err)
		return
	}
	if len(cs.Items) == 0 && len(inv.Items) == 1 {
		http.Redirect(w, r, Prefix+"/invoices/"+inv.Items[0].InvoiceID, http.StatusSeeOther)
		return
	}
	d.Customers, d.Invoices = cs.Items, inv.Items
	c.render(w, r, v, http.StatusOK, "customers", d)
}

// exactID finds the customer, invoice or payment a UUID names.
func (c *Console) exactID(r *http.Request, v *view, q string) (string, bool) {
	id, err := uuid.Parse(q)
	if err != nil {
		return "", false
	}
	for _, k := range []struct{ api, page string }{
		{"/v1/customers/", "/customers/"}, {"/v1/invoices/", "/invoices/"}, {"/v1/payments/", "/payments/"},
	} {
		if err := v.get(r, k.api+id.String(), nil); err == nil {
			return Prefix + k.page + id.String(), true
		}
	}
	return "", false
}

// customerData is the customer page's.
type customerData struct {
	Customer  readapi.Customer
	Balance   readapi.CustomerBalance
	Services  []serviceRow
	PlansNote string
	Invoices  []readapi.Invoice
	// Open are the invoices with an amount outstanding: what the receivable is made of.
	Open []readapi.Invoice
	// Numbers maps the customer's invoice ids to their numbers.
	Numbers   map[string]string
	Payments  []readapi.PaymentDetail
	Credits   []readapi.StatementLine
	Statement []readapi.StatementLine
	// Cut: the statement is longer than the page shows.
	Cut bool
	// Closing is the statement's last running balance (the balance as of AsOf).
	Closing   readapi.Money
	AsOf      string
	AsOfState *audit.CustomerAsOf
	Chart     template.HTML
}

// serviceRow is a service with its plan history.
type serviceRow struct {
	readapi.Service
	Plans []planStep
}

// planStep is one plan a service was on, from its events.
type planStep struct {
	Date, Code, Name, Price, Event string
	Position                       uint64
}

// customer is the customer page: profile, balance, services and their plans, invoices,
// payments with allocations, credit notes, and the statement with its running balance, as of
// a date when asked.
func (c *Console) customer(w http.ResponseWriter, r *http.Request, v *view) {
	id := mux.Vars(r)["customer_id"]
	if _, err := uuid.Parse(id); err != nil {
		c.fail(w, r, v, errNotFound)
		return
	}
	asOf, err := dateParam(r, "as_of")
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	d := customerData{AsOf: asOf}
	base := "/v1/customers/" + id
	if err := v.get(r, base, &d.Customer); err != nil {
		c.fail(w, r, v, err)
		return
	}
	v.Title = d.Customer.Name
	if err := c.loadAccount(r, v, id, &d); err != nil {
		c.fail(w, r, v, err)
		return
	}
	if asOf != "" {
		var st audit.CustomerAsOf
		if err := v.get(r, "/v1/audit/customers/"+id+"/as-of?date="+asOf, &st); err == nil {
			d.AsOfState = &st
		} else if !optional(err) {
			c.fail(w, r, v, err)
			return
		}
	}
	d.Services, d.PlansNote, err = c.loadServices(r, v, id)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	d.Chart = balanceChart(d.Statement, d.Customer.Currency)
	c.render(w, r, v, http.StatusOK, "customer", d)
}

// loadAccount reads the balance, statement, invoices and payments.
func (c *Console) loadAccount(r *http.Request, v *view, id string, d *customerData) error {
	base := "/v1/customers/" + id
	if err := v.get(r, base+"/balance", &d.Balance); err != nil {
		return err
	}
	stmt := base + "/statement"
	if d.AsOf != "" {
		stmt += "?to=" + d.AsOf
	}
	var err error
	if d.Statement, d.Cut, err = getAll[readapi.StatementLine](v, r, stmt); err != nil {
		return err
	}
	for _, l := range d.Statement {
		if l.EventType == "CreditNoteIssued" {
			d.Credits = append(d.Credits, l)
		}
	}
	d.Closing = readapi.Money{Amount: "0", Currency: d.Customer.Currency}
	if n := len(d.Statement); n > 0 {
		d.Closing = d.Statement[n-1].BalanceAfter
	}
	if d.Invoices, _, err = getAll[readapi.Invoice](v, r, base+"/invoices"); err != nil {
		return err
	}
	d.Invoices = newestFirst(d.Invoices, func(i readapi.Invoice) string { return derefOr(i.IssueDate, i.CreatedAt) })
	if d.AsOf != "" {
		d.Invoices = dated(d.Invoices, d.AsOf, func(i readapi.Invoice) string { return derefOr(i.IssueDate, i.CreatedAt) })
	}
	d.Numbers = map[string]string{}
	for _, i := range d.Invoices {
		d.Numbers[i.InvoiceID] = derefOr(i.Number, "draft")
		if !dec(i.Outstanding.Amount).IsZero() {
			d.Open = append(d.Open, i)
		}
	}
	pays, _, err := getAll[readapi.Payment](v, r, "/v1/payments?customer_id="+id)
	if err != nil {
		return err
	}
	pays = newestFirst(pays, func(p readapi.Payment) string { return p.ReceivedAt })
	if d.AsOf != "" {
		pays = dated(pays, d.AsOf, func(p readapi.Payment) string { return p.ReceivedAt })
	}
	for _, p := range pays[:min(len(pays), maxPaymentDetails)] {
		var pd readapi.PaymentDetail
		if err := v.get(r, "/v1/payments/"+p.PaymentID, &pd); err != nil {
			return err
		}
		d.Payments = append(d.Payments, pd)
	}
	return nil
}

// maxPaymentDetails bounds the payments whose allocations the customer page shows.
const maxPaymentDetails = 24

// loadServices reads the customer's services and, from each one's history, its plans.
func (c *Console) loadServices(r *http.Request, v *view, id string) ([]serviceRow, string, error) {
	svcs, _, err := getAll[readapi.Service](v, r, "/v1/services?customer_id="+id)
	if err != nil {
		return nil, "", err
	}
	note := ""
	rows := make([]serviceRow, 0, len(svcs))
	for i, s := range svcs {
		row := serviceRow{Service: s}
		if i >= maxServiceHistories {
			// A reseller's account can hold thousands of services: a page reads a bounded
			// number of histories, and says so.
			note = fmt.Sprintf("Plan history is shown for the first %d of %d services.", maxServiceHistories, len(svcs))
			rows = append(rows, row)
			continue
		}
		var h historyAnswer
		if err := v.get(r, "/v1/audit/services/"+s.ServiceID+"/history", &h); err != nil {
			if !optional(err) {
				return nil, "", err
			}
			note = "Plan history needs the audit:read permission."
		}
		row.Plans = planSteps(h.Events)
		rows = append(rows, row)
	}
	return rows, note, nil
}

// maxServiceHistories bounds the services whose plan history the customer page reads.
const maxServiceHistories = 50

// historyAnswer is GET /v1/audit/.../history's.
type historyAnswer struct {
	Stream string               `json:"stream"`
	Events []audit.HistoryEntry `json:"events"`
}

// planSteps picks the plan of each ServiceProvisioned and ServicePlanChanged event.
func planSteps(evs []audit.HistoryEntry) []planStep {
	type plan struct {
		Code, Name   string
		MonthlyPrice readapi.Money `json:"monthly_price"`
	}
	var out []planStep
	for _, e := range evs {
		var data struct {
			Plan          *plan  `json:"plan"`
			NewPlan       *plan  `json:"new_plan"`
			StartDate     string `json:"start_date"`
			EffectiveDate string `json:"effective_date"`
		}
		if json.Unmarshal(e.Data, &data) != nil {
			continue
		}
		p, date := data.Plan, data.StartDate
		if e.Type == "ServicePlanChanged" {
			p, date = data.NewPlan, data.EffectiveDate
		}
		if p == nil || (e.Type != "ServiceProvisioned" && e.Type != "ServicePlanChanged") {
			continue
		}
		out = append(out, planStep{Date: date, Code: p.Code, Name: p.Name, Price: formatMoney(p.MonthlyPrice), Event: e.Type,
			Position: uint64(e.Position)})
	}
	return out
}

// optional reports an error a page shows as a note instead of failing: a permission the
// token lacks, or no history yet.
func optional(err error) bool {
	e, ok := asAPIError(err)
	return ok && (e.Status == http.StatusForbidden || e.Status == http.StatusNotFound)
}

// dateParam is the optional YYYY-MM-DD query parameter name (a 400 when malformed).
func dateParam(r *http.Request, name string) (string, error) {
	s := strings.TrimSpace(r.URL.Query().Get(name))
	if s == "" {
		return "", nil
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return "", &apiError{Status: http.StatusBadRequest, Title: "Invalid date", Detail: name + " wants a date like 2026-01-31."}
	}
	return s, nil
}

// dated keeps the xs dated (by date, a YYYY-MM-DD prefix) on or before asOf.
func dated[T any](xs []T, asOf string, date func(T) string) []T {
	var out []T
	for _, x := range xs {
		if shortDate(date(x)) <= asOf {
			out = append(out, x)
		}
	}
	return out
}

// newestFirst sorts xs by key, newest first (stable).
func newestFirst[T any](xs []T, key func(T) string) []T {
	out := slices.Clone(xs)
	slices.SortStableFunc(out, func(a, b T) int { return strings.Compare(key(b), key(a)) })
	return out
}
