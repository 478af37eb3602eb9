package readmodel

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
)

// Customers projects the customer profiles: one row per customer.
type Customers struct{}

var _ projections.Projection = Customers{}

// Name returns "customers".
func (Customers) Name() string { return NameCustomers }

// Version returns 1.
func (Customers) Version() int { return 1 }

// Tables returns the table the query API reads.
func (Customers) Tables() []string { return []string{"customers"} }

const customersSchema = `
CREATE TABLE customers (
    tenant_id           text        NOT NULL,
    customer_id         uuid        NOT NULL,
    name                text        NOT NULL,
    email               text        NOT NULL,
    phone               text        NOT NULL,
    billing_address     text        NOT NULL,
    currency            text        NOT NULL,
    status              text        NOT NULL CHECK (status IN ('active', 'deactivated')),
    registered_at       timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    deactivated_at      timestamptz,
    deactivation_reason text,
    position            bigint      NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);
`

// Setup creates the customers table.
func (Customers) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, customersSchema)
	return err
}

// customersIndexes are the secondary indexes the query API reads by (Apply uses primary keys only).
var customersIndexes = []string{
	`CREATE INDEX IF NOT EXISTS customers_status_idx ON customers (tenant_id, status, customer_id)`,
}

var customersTable = newTable("customers", []string{"tenant_id", "customer_id"},
	column{"tenant_id", "text"}, column{"customer_id", "uuid"}, column{"name", "text"}, column{"email", "text"},
	column{"phone", "text"}, column{"billing_address", "text"}, column{"currency", "text"}, column{"status", "text"},
	column{"registered_at", "timestamptz"}, column{"updated_at", "timestamptz"}, column{"deactivated_at", "timestamptz"},
	column{"deactivation_reason", "text"}, column{"position", "bigint"})

// customerRow is a customers row being folded.
type customerRow struct {
	key
	isNew                                                 bool
	name, email, phone, address, currency, status, reason string
	registeredAt, updatedAt, deactivatedAt                time.Time
	position                                              int64
}

func (r *customerRow) write(c *copyRows) {
	c.row(13)
	c.text(r.tenant)
	c.uuid(r.id)
	c.text(r.name)
	c.text(r.email)
	c.text(r.phone)
	c.text(r.address)
	c.text(r.currency)
	c.text(r.status)
	c.timestamptz(r.registeredAt)
	c.timestamptz(r.updatedAt)
	c.timestamptzOrNull(r.deactivatedAt)
	c.textOrNull(r.reason)
	c.int8(r.position)
}

var loadCustomers = `SELECT c.tenant_id, c.customer_id, c.name, c.email, c.phone, c.billing_address, c.currency,
c.status, c.registered_at, c.updated_at, c.deactivated_at, c.deactivation_reason, c.position
FROM ` + byKeys("customers", "c", "tenant_id text", "customer_id uuid")

func scanCustomer(rows pgx.Rows) (*customerRow, error) {
	r := &customerRow{}
	var reason pgtype.Text
	var deactivated pgtype.Timestamptz
	err := rows.Scan(&r.tenant, &r.id, &r.name, &r.email, &r.phone, &r.address, &r.currency, &r.status,
		&r.registeredAt, &r.updatedAt, &deactivated, &reason, &r.position)
	r.reason, r.deactivatedAt = reason.String, timeFrom(deactivated)
	r.registeredAt, r.updatedAt = r.registeredAt.UTC(), r.updatedAt.UTC()
	return r, err
}

// Apply folds customer events into customers.
func (Customers) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	rows := map[key]*customerRow{}
	var load keySet
	for i := range evs {
		ev := &evs[i]
		id, registers := customerOf(ev.Payload)
		if id == uuid.Nil {
			continue
		}
		t, err := tenantOf(ev)
		if err != nil {
			return err
		}
		k := key{t, id}
		if registers {
			rows[k] = nil // created in the batch: nothing to read
		} else if _, ok := rows[k]; !ok {
			load.add(k)
		}
	}
	err := loadByKeys(ctx, tx, loadCustomers, load.list, func(r pgx.Rows) error {
		c, err := scanCustomer(r)
		rows[c.key] = c
		return err
	})
	if err != nil {
		return err
	}
	return foldCustomers(ctx, tx, evs, rows)
}

// customerOf returns the customer a customer event is about, and whether it registers it.
func customerOf(e domain.Event) (id uuid.UUID, registers bool) {
	switch e := e.(type) {
	case domain.CustomerRegistered:
		return e.CustomerID.UUID(), true
	case domain.CustomerContactUpdated:
		return e.CustomerID.UUID(), false
	case domain.CustomerDeactivated:
		return e.CustomerID.UUID(), false
	}
	return uuid.Nil, false
}

func foldCustomers(ctx context.Context, tx pgx.Tx, evs []projections.Event, rows map[key]*customerRow) error {
	for i := range evs {
		ev := &evs[i]
		id, _ := customerOf(ev.Payload)
		if id == uuid.Nil {
			continue
		}
		t, _ := tenantOf(ev) // checked in Apply
		k := key{t, id}
		r, err := applyCustomer(rows[k], k, ev)
		if err != nil {
			return err
		}
		rows[k] = r
	}
	var inserts, updates copyRows
	for _, r := range rows {
		if r.isNew {
			r.write(&inserts)
		} else {
			r.write(&updates)
		}
	}
	if err := customersTable.insert(ctx, tx, &inserts); err != nil {
		return err
	}
	return customersTable.update(ctx, tx, &updates)
}

func applyCustomer(r *customerRow, k key, ev *projections.Event) (*customerRow, error) {
	switch e := ev.Payload.(type) {
	case domain.CustomerRegistered:
		if r != nil {
			return nil, invariantf(ev, "customer %s registered twice", e.CustomerID)
		}
		at := e.RegisteredAt
		return &customerRow{key: k, isNew: true, name: e.Name, email: e.Email, phone: e.Phone, address: e.BillingAddress,
			currency: e.Currency.Code(), status: domain.CustomerStatusActive.String(), registeredAt: at, updatedAt: at,
			position: pos(ev)}, nil
	case domain.CustomerContactUpdated:
		if r == nil {
			return nil, invariantf(ev, "unknown customer %s", e.CustomerID)
		}
		r.name, r.email, r.phone, r.address = e.Name, e.Email, e.Phone, e.BillingAddress
		r.updatedAt, r.position = e.UpdatedAt, pos(ev)
	case domain.CustomerDeactivated:
		if r == nil {
			return nil, invariantf(ev, "unknown customer %s", e.CustomerID)
		}
		at := e.DeactivatedAt
		r.status, r.reason, r.deactivatedAt = domain.CustomerStatusDeactivated.String(), e.Reason, at
		r.updatedAt, r.position = at, pos(ev)
	}
	return r, nil
}
