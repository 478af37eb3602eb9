package readmodel

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
)

// Catalog projects the plans of each tenant's catalog and the services (subscriptions) on
// them: one row per plan and one per service, with the plan the service is on now.
type Catalog struct{}

var _ projections.Projection = Catalog{}

// Name returns "catalog".
func (Catalog) Name() string { return NameCatalog }

// Version returns 1.
func (Catalog) Version() int { return 1 }

// Tables returns the tables the query API reads.
func (Catalog) Tables() []string { return []string{"plans", "services"} }

const catalogSchema = `
CREATE TABLE plans (
    tenant_id            text        NOT NULL,
    plan_code            text        NOT NULL,
    name                 text        NOT NULL,
    monthly_price        numeric     NOT NULL,
    currency             text        NOT NULL,
    tax_class            text        NOT NULL,
    tax_rate             numeric     NOT NULL,
    bill_while_suspended boolean     NOT NULL,
    status               text        NOT NULL CHECK (status IN ('active', 'retired')),
    defined_at           timestamptz NOT NULL,
    retired_at           timestamptz,
    position             bigint      NOT NULL,
    PRIMARY KEY (tenant_id, plan_code)
);
CREATE TABLE services (
    tenant_id            text        NOT NULL,
    service_id           uuid        NOT NULL,
    customer_id          uuid        NOT NULL,
    plan_code            text        NOT NULL,
    plan_name            text        NOT NULL,
    monthly_price        numeric     NOT NULL,
    currency             text        NOT NULL,
    tax_rate             numeric     NOT NULL,
    bill_while_suspended boolean     NOT NULL,
    status               text        NOT NULL CHECK (status IN ('provisioned', 'active', 'suspended', 'terminated')),
    suspension_reason    text,
    suspended_on         date,
    start_date           date        NOT NULL,
    billing_starts_on    date,
    terminated_on        date,
    termination_reason   text,
    install_address      text        NOT NULL,
    ont_serial           text        NOT NULL,
    static_ip            text,
    plan_changes         integer     NOT NULL,
    provisioned_at       timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    position             bigint      NOT NULL,
    PRIMARY KEY (tenant_id, service_id)
);
`

// Setup creates plans and services.
func (Catalog) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, catalogSchema)
	return err
}

// catalogIndexes are the secondary indexes the query API reads by (Apply uses primary keys only).
var catalogIndexes = []string{
	`CREATE INDEX IF NOT EXISTS services_customer_idx ON services (tenant_id, customer_id, service_id)`,
	`CREATE INDEX IF NOT EXISTS services_status_idx ON services (tenant_id, status, service_id)`,
	`CREATE INDEX IF NOT EXISTS services_plan_idx ON services (tenant_id, plan_code, service_id)`,
}

// Apply folds plan and service events.
func (Catalog) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	if err := applyPlans(ctx, tx, evs); err != nil {
		return err
	}
	return applyServices(ctx, tx, evs)
}

var plansTable = newTable("plans", []string{"tenant_id", "plan_code"},
	column{"tenant_id", "text"}, column{"plan_code", "text"}, column{"name", "text"}, column{"monthly_price", "numeric"},
	column{"currency", "text"}, column{"tax_class", "text"}, column{"tax_rate", "numeric"},
	column{"bill_while_suspended", "boolean"}, column{"status", "text"}, column{"defined_at", "timestamptz"},
	column{"retired_at", "timestamptz"}, column{"position", "bigint"})

// planKey identifies a plan.
type planKey struct{ tenant, code string }

// planRow is a plans row being folded. Plans never change price: a PlanDefined row is only
// ever retired, so a retirement needs no read (UPDATE by key).
type planRow struct {
	planKey
	defined domain.PlanDefined
	retired domain.PlanRetired
	isNew   bool
	pos     int64
}

// applyPlans inserts defined plans and marks retired ones. A plan defined and retired in the
// same batch is inserted retired.
func applyPlans(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	rows := map[planKey]*planRow{}
	var order []planKey
	for i := range evs {
		ev := &evs[i]
		var code string
		switch e := ev.Payload.(type) {
		case domain.PlanDefined:
			code = e.PlanCode.String()
		case domain.PlanRetired:
			code = e.PlanCode.String()
		default:
			continue
		}
		t, err := tenantOf(ev)
		if err != nil {
			return err
		}
		k := planKey{t, code}
		r := rows[k]
		if r == nil {
			r = &planRow{planKey: k}
			rows[k] = r
			order = append(order, k)
		}
		if err := r.apply(ev); err != nil {
			return err
		}
	}
	return writePlans(ctx, tx, rows, order)
}

func (r *planRow) apply(ev *projections.Event) error {
	switch e := ev.Payload.(type) {
	case domain.PlanDefined:
		if r.isNew || !r.retired.RetiredAt.IsZero() {
			return invariantf(ev, "plan %s defined twice", e.PlanCode)
		}
		r.defined, r.isNew = e, true
	case domain.PlanRetired:
		if !r.retired.RetiredAt.IsZero() {
			return invariantf(ev, "plan %s retired twice", e.PlanCode)
		}
		r.retired = e
	}
	r.pos = pos(ev)
	return nil
}

const retirePlans = `UPDATE plans p SET status = 'retired', retired_at = k.retired_at, position = k.position
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[]) AS k(tenant_id, plan_code, retired_at, position)
WHERE p.tenant_id = k.tenant_id AND p.plan_code = k.plan_code AND p.status = 'active'`

func writePlans(ctx context.Context, tx pgx.Tx, rows map[planKey]*planRow, order []planKey) error {
	var inserts copyRows
	var retire [4][]any
	for _, k := range order {
		r := rows[k]
		if r.isNew {
			r.write(&inserts)
			continue
		}
		retire[0], retire[1] = append(retire[0], r.tenant), append(retire[1], r.code)
		retire[2], retire[3] = append(retire[2], r.retired.RetiredAt), append(retire[3], r.pos)
	}
	if err := plansTable.insert(ctx, tx, &inserts); err != nil {
		return err
	}
	if len(retire[0]) == 0 {
		return nil
	}
	tag, err := tx.Exec(ctx, retirePlans, retire[0], retire[1], retire[2], retire[3])
	if err != nil {
		return err
	}
	if int(tag.RowsAffected()) != len(retire[0]) {
		return fmtInvariant("retired %d plans, %d of them unknown or retired already", len(retire[0]), len(retire[0])-int(tag.RowsAffected()))
	}
	return nil
}

func (r *planRow) write(c *copyRows) {
	d := r.defined
	status := "active"
	if !r.retired.RetiredAt.IsZero() {
		status = "retired"
	}
	c.row(12)
	c.text(r.tenant)
	c.text(r.code)
	c.text(d.Name)
	c.numeric(d.MonthlyPrice.Amount())
	c.text(d.MonthlyPrice.Currency().Code())
	c.text(d.TaxClass)
	c.numeric(d.TaxRate.Decimal())
	c.bool(d.BillWhileSuspended)
	c.text(status)
	c.timestamptz(d.DefinedAt)
	c.timestamptzOrNull(r.retired.RetiredAt)
	c.int8(r.pos)
}
