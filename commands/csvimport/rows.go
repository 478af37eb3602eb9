package csvimport

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/dotmac/ledger/domain"
)

// The columns of each file.
var (
	PlanColumns = Columns{
		Required: []string{"code", "name", "monthly_price", "currency", "tax_rate"},
		Optional: []string{"tax_class", "bill_while_suspended"},
	}
	CustomerColumns = Columns{
		Required: []string{"external_id", "name", "email", "billing_address", "currency"},
		Optional: []string{"phone"},
	}
	ServiceColumns = Columns{
		Required: []string{"external_id", "customer_external_id", "plan_code", "start_date", "install_address"},
		Optional: []string{"activated_on", "ont_serial", "static_ip", "last_day"},
	}
	OpeningBalanceColumns = Columns{
		Required: []string{"customer_external_id", "amount", "currency", "as_of"},
	}
)

// DefaultTaxClass is a plan's tax class when its row leaves it empty.
const DefaultTaxClass = "standard"

// maxExternalIDBytes bounds an external id.
const maxExternalIDBytes = 128

// Rejection is a row that was not imported: its file, line, the column at fault ("" when the
// row as a whole is) and why.
type Rejection struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column string `json:"column,omitempty"`
	Reason string `json:"reason"`
}

func (r Rejection) String() string {
	if r.Column == "" {
		return fmt.Sprintf("%s line %d: %s", r.File, r.Line, r.Reason)
	}
	return fmt.Sprintf("%s line %d, column %s: %s", r.File, r.Line, r.Column, r.Reason)
}

// rowErr is why a row is rejected, before the file name is known to it.
type rowErr struct {
	column string
	reason string
}

func (e *rowErr) Error() string { return e.reason }

func reject(column, format string, args ...any) *rowErr {
	return &rowErr{column: column, reason: fmt.Sprintf(format, args...)}
}

// checkRow rejects a row whose shape is wrong or which lacks a required value.
func checkRow(r Row, cols Columns) *rowErr {
	if r.Width > 0 {
		return reject("", "has %d fields, the header has %d", r.Width, len(r.Values)+len(r.Bad))
	}
	if len(r.Bad) > 0 {
		return reject(r.Bad[0], "not UTF-8 text")
	}
	for _, c := range cols.Required {
		if r.Get(c) == "" {
			return reject(c, "missing")
		}
	}
	return nil
}

// parsed runs parse on column col's value, turning its error into a rejection of col.
func parsed[T any](r Row, col string, parse func(string) (T, error)) (T, *rowErr) {
	v, err := parse(r.Get(col))
	if err != nil {
		return v, reject(col, "%s", err.Error())
	}
	return v, nil
}

func externalID(r Row, col string) (string, *rowErr) {
	v := r.Get(col)
	if len(v) > maxExternalIDBytes {
		return "", reject(col, "longer than %d bytes", maxExternalIDBytes)
	}
	return v, nil
}

// optionalDate parses a date column that may be empty (the zero Date).
func optionalDate(r Row, col string) (domain.Date, *rowErr) {
	if r.Get(col) == "" {
		return domain.Date{}, nil
	}
	return parsed(r, col, domain.ParseDate)
}

// parseBool reads a yes/no column: empty, false, no, 0 are false; true, yes, 1 true.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "no", "n":
		return false, nil
	case "yes", "y":
		return true, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%q: want true or false", s)
	}
	return b, nil
}

// planRow is a row of the plans file.
type planRow struct {
	line int
	cmd  domain.DefinePlan
}

func parsePlan(r Row) (planRow, *rowErr) {
	if err := checkRow(r, PlanColumns); err != nil {
		return planRow{}, err
	}
	code, e1 := parsed(r, "code", domain.ParsePlanCode)
	cur, e2 := parsed(r, "currency", domain.ParseCurrency)
	rate, e3 := parsed(r, "tax_rate", domain.ParseTaxRate)
	bws, e4 := parsed(r, "bill_while_suspended", parseBool)
	if err := firstRowErr(e1, e2, e3, e4); err != nil {
		return planRow{}, err
	}
	price, err := parsed(r, "monthly_price", func(s string) (domain.Money, error) { return domain.ParseAmount(s, cur) })
	if err != nil {
		return planRow{}, err
	}
	class := r.Get("tax_class")
	if class == "" {
		class = DefaultTaxClass
	}
	return planRow{line: r.Line, cmd: domain.DefinePlan{Code: code, Name: r.Get("name"), MonthlyPrice: price,
		TaxClass: class, TaxRate: rate, BillWhileSuspended: bws}}, nil
}

// customerRow is a row of the customers file.
type customerRow struct {
	line     int
	external string
	contact  domain.Contact
	currency domain.Currency
}

func parseCustomer(r Row) (customerRow, *rowErr) {
	if err := checkRow(r, CustomerColumns); err != nil {
		return customerRow{}, err
	}
	ext, e1 := externalID(r, "external_id")
	cur, e2 := parsed(r, "currency", domain.ParseCurrency)
	if err := firstRowErr(e1, e2); err != nil {
		return customerRow{}, err
	}
	return customerRow{line: r.Line, external: ext, currency: cur, contact: domain.Contact{
		Name: r.Get("name"), Email: r.Get("email"), Phone: r.Get("phone"), BillingAddress: r.Get("billing_address")}}, nil
}

// serviceRow is a row of the services file.
type serviceRow struct {
	line               int
	external, customer string
	plan               domain.PlanCode
	start, on, lastDay domain.Date
	address, ontSerial string
	staticIP           netip.Addr
}

func parseService(r Row) (serviceRow, *rowErr) {
	if err := checkRow(r, ServiceColumns); err != nil {
		return serviceRow{}, err
	}
	ext, e1 := externalID(r, "external_id")
	cust, e2 := externalID(r, "customer_external_id")
	plan, e3 := parsed(r, "plan_code", domain.ParsePlanCode)
	start, e4 := parsed(r, "start_date", domain.ParseDate)
	on, e5 := optionalDate(r, "activated_on")
	last, e6 := optionalDate(r, "last_day")
	ip, e7 := parsed(r, "static_ip", parseIP)
	if err := firstRowErr(e1, e2, e3, e4, e5, e6, e7); err != nil {
		return serviceRow{}, err
	}
	return serviceRow{line: r.Line, external: ext, customer: cust, plan: plan, start: start, on: on, lastDay: last,
		address: r.Get("install_address"), ontSerial: r.Get("ont_serial"), staticIP: ip}, nil
}

func parseIP(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return ip, fmt.Errorf("%q: not an IP address", s)
	}
	return ip, nil
}

// openingRow is a row of the opening balances file.
type openingRow struct {
	line     int
	customer string
	amount   domain.Money
	asOf     domain.Date
}

func parseOpening(r Row) (openingRow, *rowErr) {
	if err := checkRow(r, OpeningBalanceColumns); err != nil {
		return openingRow{}, err
	}
	cust, e1 := externalID(r, "customer_external_id")
	cur, e2 := parsed(r, "currency", domain.ParseCurrency)
	asOf, e3 := parsed(r, "as_of", domain.ParseDate)
	if err := firstRowErr(e1, e2, e3); err != nil {
		return openingRow{}, err
	}
	amount, err := parsed(r, "amount", func(s string) (domain.Money, error) { return domain.ParseAmount(s, cur) })
	if err != nil {
		return openingRow{}, err
	}
	return openingRow{line: r.Line, customer: cust, amount: amount, asOf: asOf}, nil
}

func firstRowErr(errs ...*rowErr) *rowErr {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
