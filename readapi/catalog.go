package readapi

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Plan is a plan of the tenant's catalog.
type Plan struct {
	PlanCode           string  `json:"plan_code"`
	Name               string  `json:"name"`
	MonthlyPrice       Money   `json:"monthly_price"`
	TaxClass           string  `json:"tax_class"`
	TaxRate            string  `json:"tax_rate"`
	BillWhileSuspended bool    `json:"bill_while_suspended"`
	Status             string  `json:"status"`
	DefinedAt          string  `json:"defined_at"`
	RetiredAt          *string `json:"retired_at"`
}

const planColumns = `SELECT plan_code, name, monthly_price::text, currency, tax_class, tax_rate::text,
bill_while_suspended, status, defined_at, retired_at FROM plans`

func scanPlan(row pgx.Row) (Plan, error) {
	var p Plan
	var price, currency string
	var defined time.Time
	var retired pgtype.Timestamptz
	err := row.Scan(&p.PlanCode, &p.Name, &price, &currency, &p.TaxClass, &p.TaxRate, &p.BillWhileSuspended, &p.Status,
		&defined, &retired)
	p.MonthlyPrice, p.DefinedAt, p.RetiredAt = money(price, currency), instant(defined), instantOrNil(retired)
	return p, err
}

// listPlans: GET /v1/plans?status=
func listPlans(ctx context.Context, r *request) (any, error) {
	status := r.enum("status", "active", "retired")
	var after []any
	if r.after != nil {
		if len(r.after) != 1 || r.planCode(paramCursor, r.after[0]) == "" {
			r.failCursor()
		} else {
			after = []any{r.after[0]}
		}
	}
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	q := newQuery(planColumns, r.tenant)
	if status != "" {
		q.and("status = ?", status)
	}
	sql, args := q.page([]string{"plan_code"}, after, r.limit)
	return collectPage(ctx, r, r.api.cfg.DB, sql, args, func(rows pgx.Rows) (Plan, []string, error) {
		p, err := scanPlan(rows)
		return p, []string{p.PlanCode}, err
	})
}

// getPlan: GET /v1/plans/{plan_code}
func getPlan(ctx context.Context, r *request) (any, error) {
	code := r.planCode("plan_code", r.vars("plan_code"))
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	p, err := scanPlan(r.api.cfg.DB.QueryRow(ctx, planColumns+` WHERE tenant_id = $1 AND plan_code = $2`, r.tenant, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("plan", code)
	}
	return p, err
}

// ServicePlan is the plan a service is billed by now.
type ServicePlan struct {
	Code               string `json:"code"`
	Name               string `json:"name"`
	MonthlyPrice       Money  `json:"monthly_price"`
	TaxRate            string `json:"tax_rate"`
	BillWhileSuspended bool   `json:"bill_while_suspended"`
}

// Service is a customer's subscription.
type Service struct {
	ServiceID         string      `json:"service_id"`
	CustomerID        string      `json:"customer_id"`
	Plan              ServicePlan `json:"plan"`
	Status            string      `json:"status"`
	SuspensionReason  *string     `json:"suspension_reason"`
	SuspendedOn       *string     `json:"suspended_on"`
	StartDate         string      `json:"start_date"`
	BillingStartsOn   *string     `json:"billing_starts_on"`
	TerminatedOn      *string     `json:"terminated_on"`
	TerminationReason *string     `json:"termination_reason"`
	InstallAddress    string      `json:"install_address"`
	ONTSerial         string      `json:"ont_serial"`
	StaticIP          *string     `json:"static_ip"`
	PlanChanges       int         `json:"plan_changes"`
	ProvisionedAt     string      `json:"provisioned_at"`
	UpdatedAt         string      `json:"updated_at"`
}

const serviceColumns = `SELECT service_id::text, customer_id::text, plan_code, plan_name, monthly_price::text, currency,
tax_rate::text, bill_while_suspended, status, suspension_reason, suspended_on::text, start_date::text,
billing_starts_on::text, terminated_on::text, termination_reason, install_address, ont_serial, static_ip,
plan_changes, provisioned_at, updated_at FROM services`

func scanService(row pgx.Row) (Service, error) {
	var s Service
	var price, currency string
	var reason, suspended, billing, terminated, termReason, ip pgtype.Text
	var provisioned, updated time.Time
	err := row.Scan(&s.ServiceID, &s.CustomerID, &s.Plan.Code, &s.Plan.Name, &price, &currency, &s.Plan.TaxRate,
		&s.Plan.BillWhileSuspended, &s.Status, &reason, &suspended, &s.StartDate, &billing, &terminated, &termReason,
		&s.InstallAddress, &s.ONTSerial, &ip, &s.PlanChanges, &provisioned, &updated)
	s.Plan.MonthlyPrice = money(price, currency)
	s.SuspensionReason, s.SuspendedOn, s.BillingStartsOn = textOrNil(reason), textOrNil(suspended), textOrNil(billing)
	s.TerminatedOn, s.TerminationReason, s.StaticIP = textOrNil(terminated), textOrNil(termReason), textOrNil(ip)
	s.ProvisionedAt, s.UpdatedAt = instant(provisioned), instant(updated)
	return s, err
}

// listServices: GET /v1/services?customer_id=&status=&plan=
func listServices(ctx context.Context, r *request) (any, error) {
	customer := r.queryID("customer_id")
	status := r.enum("status", "provisioned", "active", "suspended", "terminated")
	plan := r.planCode("plan", r.query("plan"))
	after := r.uuidKey()
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	q := newQuery(serviceColumns, r.tenant)
	if customer != "" {
		q.and("customer_id = ?", customer)
	}
	if status != "" {
		q.and("status = ?", status)
	}
	if plan != "" {
		q.and("plan_code = ?", plan)
	}
	sql, args := q.page([]string{"service_id"}, after, r.limit)
	return collectPage(ctx, r, r.api.cfg.DB, sql, args, func(rows pgx.Rows) (Service, []string, error) {
		s, err := scanService(rows)
		return s, []string{s.ServiceID}, err
	})
}

// getService: GET /v1/services/{service_id}
func getService(ctx context.Context, r *request) (any, error) {
	id := r.pathID("service_id")
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	s, err := scanService(r.api.cfg.DB.QueryRow(ctx, serviceColumns+` WHERE tenant_id = $1 AND service_id = $2`, r.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("service", id)
	}
	return s, err
}
