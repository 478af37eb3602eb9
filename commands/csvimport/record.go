package csvimport

import (
	"context"
	"errors"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

// terminationReason is the reason recorded on a service the import terminates.
const terminationReason = "moved over: terminated in the previous system"

// The columns the domain's field names stand for, per file.
var (
	planFields = map[string]string{"plan code": "code", "plan name": "name", "monthly price": "monthly_price",
		"amount": "monthly_price", "tax class": "tax_class", "currency": "currency"}
	customerFields = map[string]string{"name": "name", "email": "email", "phone": "phone",
		"billing address": "billing_address", "currency": "currency"}
	serviceFields = map[string]string{"start date": "start_date", "install address": "install_address",
		"ONT serial": "ont_serial", "static IP": "static_ip", "activation date": "activated_on", "last day": "last_day",
		"currency": "plan_code"}
	openingFields = map[string]string{"opening balance": "amount", "amount": "amount", "as of": "as_of", "currency": "currency"}
)

// rows runs one per row of f, recording each outcome with fields.
func (im *importer) rows(ctx context.Context, f *fileRows, fields map[string]string, one func(context.Context, Row) error) error {
	for _, r := range f.rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		before := im.store.appended.Load()
		if err := im.outcome(r.Line, before, one(ctx, r), fields); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) plans(ctx context.Context, f *fileRows) error {
	im.plansName = f.name
	dup := duplicates(f.rows, "code")
	return im.rows(ctx, f, planFields, func(ctx context.Context, r Row) error {
		err := im.plan(ctx, r, dup)
		im.planFile[r.Get("code")] = err == nil
		return err
	})
}

func (im *importer) plan(ctx context.Context, r Row, dup map[string]bool) error {
	if dup[r.Get("code")] {
		return reject("code", "plan %s is on more than one row", r.Get("code"))
	}
	p, rerr := parsePlan(r)
	if rerr != nil {
		return rerr
	}
	existing, err := im.h.Plan(ctx, im.cfg.Tenant, p.cmd.Code)
	switch {
	case err == nil:
		return samePlan(existing, p.cmd)
	case !errors.Is(err, domain.ErrNotFound):
		return err
	}
	_, err = im.h.DefinePlan(ctx, im.meta("plan", p.cmd.Code.String(), "define"), p.cmd)
	return err
}

// samePlan accepts a plan already in the ledger only when the row says the same of it.
func samePlan(p domain.PlanState, c domain.DefinePlan) error {
	differs := func(column, what, has string) error {
		return reject(column, "plan %s is already defined with %s %s", p.Code, what, has)
	}
	switch {
	case !p.MonthlyPrice.Equal(c.MonthlyPrice):
		return differs("monthly_price", "monthly price", p.MonthlyPrice.String())
	case p.Name != c.Name:
		return differs("name", "name", p.Name)
	case !p.TaxRate.Equal(c.TaxRate):
		return differs("tax_rate", "tax rate", p.TaxRate.String())
	case p.TaxClass != c.TaxClass:
		return differs("tax_class", "tax class", p.TaxClass)
	case p.BillWhileSuspended != c.BillWhileSuspended:
		return reject("bill_while_suspended", "plan %s is already defined with bill_while_suspended %t", p.Code, p.BillWhileSuspended)
	}
	return nil
}

func (im *importer) customers(ctx context.Context, f *fileRows) error {
	im.customersName = f.name
	dup := duplicates(f.rows, "external_id")
	return im.rows(ctx, f, customerFields, func(ctx context.Context, r Row) error {
		err := im.customer(ctx, r, dup)
		im.customerFile[r.Get("external_id")] = err == nil
		return err
	})
}

func (im *importer) customer(ctx context.Context, r Row, dup map[string]bool) error {
	if dup[r.Get("external_id")] {
		return reject("external_id", "external id %s is on more than one row", r.Get("external_id"))
	}
	c, rerr := parseCustomer(r)
	if rerr != nil {
		return rerr
	}
	_, err := im.h.RegisterCustomer(ctx, im.meta("customer", c.external, "register"),
		commands.RegisterCustomer{Contact: c.contact, Currency: c.currency})
	return err
}

// knownCustomer returns the account of the customer with external id ext, imported from the
// customers file or before; column names the row's column that refers to it.
func (im *importer) knownCustomer(ctx context.Context, ext, column string) (domain.AccountState, error) {
	id, err := CustomerID(im.cfg.Tenant, ext)
	if err != nil {
		return domain.AccountState{}, err
	}
	a, _, err := im.h.Account(ctx, im.cfg.Tenant, id)
	if !errors.Is(err, domain.ErrNotFound) {
		return a, err
	}
	if ok, in := im.customerFile[ext]; in && !ok {
		return a, reject(column, "unknown customer %s: its row in %s was rejected", ext, im.customersName)
	}
	return a, reject(column, "unknown customer %s: not in the customers file, nor imported before", ext)
}

// knownPlan returns the plan with code, from the plans file or already in the ledger.
func (im *importer) knownPlan(ctx context.Context, code domain.PlanCode) (domain.PlanState, error) {
	p, err := im.h.Plan(ctx, im.cfg.Tenant, code)
	if !errors.Is(err, domain.ErrNotFound) {
		return p, err
	}
	if ok, in := im.planFile[code.String()]; in && !ok {
		return p, reject("plan_code", "unknown plan %s: its row in %s was rejected", code, im.plansName)
	}
	return p, reject("plan_code", "unknown plan %s: not in the plans file, nor defined in the ledger", code)
}

func (im *importer) openings(ctx context.Context, f *fileRows) error {
	dup := duplicates(f.rows, "customer_external_id")
	return im.rows(ctx, f, openingFields, func(ctx context.Context, r Row) error {
		return im.opening(ctx, r, dup)
	})
}

func (im *importer) opening(ctx context.Context, r Row, dup map[string]bool) error {
	if dup[r.Get("customer_external_id")] {
		return reject("customer_external_id", "customer %s has more than one opening balance row", r.Get("customer_external_id"))
	}
	o, rerr := parseOpening(r)
	if rerr != nil {
		return rerr
	}
	account, err := im.knownCustomer(ctx, o.customer, "customer_external_id")
	if err != nil || o.amount.IsZero() {
		return err // a zero balance records nothing
	}
	_, err = im.h.RecordOpeningBalance(ctx, im.meta("opening balance", o.customer, "record"),
		commands.RecordOpeningBalance{CustomerID: account.Customer.ID, Amount: o.amount, AsOf: o.asOf})
	return err
}
