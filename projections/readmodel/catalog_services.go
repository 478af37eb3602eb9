package readmodel

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
)

var servicesTable = newTable("services", []string{"tenant_id", "service_id"},
	column{"tenant_id", "text"}, column{"service_id", "uuid"}, column{"customer_id", "uuid"}, column{"plan_code", "text"},
	column{"plan_name", "text"}, column{"monthly_price", "numeric"}, column{"currency", "text"}, column{"tax_rate", "numeric"},
	column{"bill_while_suspended", "boolean"}, column{"status", "text"}, column{"suspension_reason", "text"},
	column{"suspended_on", "date"}, column{"start_date", "date"}, column{"billing_starts_on", "date"},
	column{"terminated_on", "date"}, column{"termination_reason", "text"}, column{"install_address", "text"},
	column{"ont_serial", "text"}, column{"static_ip", "text"}, column{"plan_changes", "integer"},
	column{"provisioned_at", "timestamptz"}, column{"updated_at", "timestamptz"}, column{"position", "bigint"})

// serviceRow is a services row being folded.
type serviceRow struct {
	key
	isNew                                     bool
	customer                                  uuid.UUID
	planCode, planName, currency              string
	price, taxRate                            decimal.Decimal
	billWhileSuspended                        bool
	status, suspensionReason, terminateReason string
	suspendedOn, startDate, billingStartsOn   domain.Date
	terminatedOn                              domain.Date
	address, ontSerial, staticIP              string
	planChanges                               int
	provisionedAt, updatedAt                  time.Time
	position                                  int64
}

func (r *serviceRow) write(c *copyRows) {
	c.row(23)
	c.text(r.tenant)
	c.uuid(r.id)
	c.uuid(r.customer)
	c.text(r.planCode)
	c.text(r.planName)
	c.numeric(r.price)
	c.text(r.currency)
	c.numeric(r.taxRate)
	c.bool(r.billWhileSuspended)
	c.text(r.status)
	c.textOrNull(r.suspensionReason)
	c.dateOrNull(r.suspendedOn)
	c.date(r.startDate)
	c.dateOrNull(r.billingStartsOn)
	c.dateOrNull(r.terminatedOn)
	c.textOrNull(r.terminateReason)
	c.text(r.address)
	c.text(r.ontSerial)
	c.textOrNull(r.staticIP)
	c.int4(r.planChanges)
	c.timestamptz(r.provisionedAt)
	c.timestamptz(r.updatedAt)
	c.int8(r.position)
}

var loadServices = `SELECT s.tenant_id, s.service_id, s.customer_id, s.plan_code, s.plan_name, s.monthly_price,
s.currency, s.tax_rate, s.bill_while_suspended, s.status, s.suspension_reason, s.suspended_on, s.start_date,
s.billing_starts_on, s.terminated_on, s.termination_reason, s.install_address, s.ont_serial, s.static_ip,
s.plan_changes, s.provisioned_at, s.updated_at, s.position
FROM ` + byKeys("services", "s", "tenant_id text", "service_id uuid")

func scanService(rows pgx.Rows) (*serviceRow, error) {
	r := &serviceRow{}
	var reason, termReason, ip pgtype.Text
	var suspendedOn, start, billing, terminated pgtype.Date
	var price, rate pgtype.Numeric
	err := rows.Scan(&r.tenant, &r.id, &r.customer, &r.planCode, &r.planName, &price, &r.currency, &rate,
		&r.billWhileSuspended, &r.status, &reason, &suspendedOn, &start, &billing, &terminated, &termReason,
		&r.address, &r.ontSerial, &ip, &r.planChanges, &r.provisionedAt, &r.updatedAt, &r.position)
	r.price, r.taxRate = decimalOf(price, minorUnits(r.currency)), decimal.NewFromBigInt(rate.Int, rate.Exp)
	r.suspensionReason, r.terminateReason, r.staticIP = reason.String, termReason.String, ip.String
	r.suspendedOn, r.startDate, r.billingStartsOn, r.terminatedOn = dateFrom(suspendedOn), dateFrom(start), dateFrom(billing), dateFrom(terminated)
	r.provisionedAt, r.updatedAt = r.provisionedAt.UTC(), r.updatedAt.UTC()
	return r, err
}

// serviceOf returns the service a service event is about, and whether it provisions it.
func serviceOf(e domain.Event) (id uuid.UUID, opens bool) {
	switch e := e.(type) {
	case domain.ServiceProvisioned:
		return e.ServiceID.UUID(), true
	case domain.ServiceActivated:
		return e.ServiceID.UUID(), false
	case domain.ServiceSuspended:
		return e.ServiceID.UUID(), false
	case domain.ServiceResumed:
		return e.ServiceID.UUID(), false
	case domain.ServicePlanChanged:
		return e.ServiceID.UUID(), false
	case domain.ServiceTerminated:
		return e.ServiceID.UUID(), false
	}
	return uuid.Nil, false
}

// serviceKeys returns the key of every service event of evs (uuid.Nil key for other
// events) and the services the batch must read: those it does not provision itself.
func serviceKeys(evs []projections.Event) ([]key, []key, error) {
	keys := make([]key, len(evs))
	opened := map[key]bool{}
	var load keySet
	for i := range evs {
		id, opens := serviceOf(evs[i].Payload)
		if id == uuid.Nil {
			continue
		}
		t, err := tenantOf(&evs[i])
		if err != nil {
			return nil, nil, err
		}
		keys[i] = key{t, id}
		if opens {
			opened[keys[i]] = true
		} else if !opened[keys[i]] {
			load.add(keys[i])
		}
	}
	return keys, load.list, nil
}

func applyServices(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	keys, load, err := serviceKeys(evs)
	if err != nil {
		return err
	}
	rows := map[key]*serviceRow{}
	err = loadByKeys(ctx, tx, loadServices, load, func(r pgx.Rows) error {
		s, err := scanService(r)
		rows[s.key] = s
		return err
	})
	if err != nil {
		return err
	}
	for i := range evs {
		if keys[i].id == uuid.Nil {
			continue
		}
		r, err := applyService(rows[keys[i]], keys[i], &evs[i])
		if err != nil {
			return err
		}
		rows[keys[i]] = r
	}
	var inserts, updates copyRows
	for _, r := range rows {
		if r.isNew {
			r.write(&inserts)
		} else {
			r.write(&updates)
		}
	}
	if err := servicesTable.insert(ctx, tx, &inserts); err != nil {
		return err
	}
	return servicesTable.update(ctx, tx, &updates)
}

func applyService(r *serviceRow, k key, ev *projections.Event) (*serviceRow, error) {
	if p, ok := ev.Payload.(domain.ServiceProvisioned); ok {
		if r != nil {
			return nil, invariantf(ev, "service %s provisioned twice", p.ServiceID)
		}
		return newServiceRow(k, p, pos(ev)), nil
	}
	if r == nil {
		return nil, invariantf(ev, "unknown service %s", k.id)
	}
	switch e := ev.Payload.(type) {
	case domain.ServiceActivated:
		r.status, r.billingStartsOn, r.updatedAt = "active", e.BillingStartsOn, e.ActivatedAt
	case domain.ServiceSuspended:
		r.status, r.suspensionReason, r.suspendedOn, r.updatedAt = "suspended", e.Reason.String(), e.SuspendedOn, e.SuspendedAt
	case domain.ServiceResumed:
		r.status, r.suspensionReason, r.suspendedOn, r.updatedAt = "active", "", domain.Date{}, e.ResumedAt
	case domain.ServicePlanChanged:
		r.setPlan(e.NewPlan)
		r.planChanges++
		r.updatedAt = e.ChangedAt
	case domain.ServiceTerminated:
		r.status, r.suspensionReason, r.suspendedOn = "terminated", "", domain.Date{}
		r.terminatedOn, r.terminateReason, r.updatedAt = e.TerminatedOn, e.Reason, e.TerminatedAt
	}
	r.position = pos(ev)
	return r, nil
}

func newServiceRow(k key, p domain.ServiceProvisioned, position int64) *serviceRow {
	r := &serviceRow{key: k, isNew: true, customer: p.CustomerID.UUID(), status: "provisioned", startDate: p.StartDate,
		address: p.InstallAddress, ontSerial: p.ONTSerial, provisionedAt: p.ProvisionedAt, updatedAt: p.ProvisionedAt,
		position: position}
	if p.StaticIP.IsValid() {
		r.staticIP = p.StaticIP.String()
	}
	r.setPlan(p.Plan)
	return r
}

func (r *serviceRow) setPlan(p domain.PlanSnapshot) {
	r.planCode, r.planName, r.currency = p.Code.String(), p.Name, p.MonthlyPrice.Currency().Code()
	r.price, r.taxRate, r.billWhileSuspended = p.MonthlyPrice.Amount(), p.TaxRate.Decimal(), p.BillWhileSuspended
}
