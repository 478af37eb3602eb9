package readapi

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dotmac/ledger/projections/readmodel"
)

// Customer is a customer's profile.
type Customer struct {
	CustomerID         string  `json:"customer_id"`
	Name               string  `json:"name"`
	Email              string  `json:"email"`
	Phone              string  `json:"phone"`
	BillingAddress     string  `json:"billing_address"`
	Currency           string  `json:"currency"`
	Status             string  `json:"status"`
	RegisteredAt       string  `json:"registered_at"`
	UpdatedAt          string  `json:"updated_at"`
	DeactivatedAt      *string `json:"deactivated_at"`
	DeactivationReason *string `json:"deactivation_reason"`
}

const customerColumns = `SELECT customer_id::text, name, email, phone, billing_address, currency, status, registered_at,
updated_at, deactivated_at, deactivation_reason FROM customers`

// customerByIDSQL reads customer $2 of tenant $1; customerExistsSQL says whether it exists.
const (
	customerByIDSQL   = customerColumns + ` WHERE tenant_id = $1 AND customer_id = $2`
	customerExistsSQL = `SELECT EXISTS (SELECT 1 FROM customers WHERE tenant_id = $1 AND customer_id = $2)`
)

func scanCustomer(rows pgx.Row) (Customer, error) {
	var c Customer
	var registered, updated time.Time
	var deactivated pgtype.Timestamptz
	var reason pgtype.Text
	err := rows.Scan(&c.CustomerID, &c.Name, &c.Email, &c.Phone, &c.BillingAddress, &c.Currency, &c.Status,
		&registered, &updated, &deactivated, &reason)
	c.RegisteredAt, c.UpdatedAt, c.DeactivatedAt, c.DeactivationReason = instant(registered), instant(updated), instantOrNil(deactivated), textOrNil(reason)
	return c, err
}

// listCustomers: GET /v1/customers?status=&q=. q finds the customers whose name or email
// contains it, ignoring case.
func listCustomers(ctx context.Context, r *request) (any, error) {
	status := r.enum("status", "active", "deactivated")
	search := r.text("q", maxSearchLen)
	after := r.uuidKey()
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	q := newQuery(customerColumns, r.tenant)
	if status != "" {
		q.and("status = ?", status)
	}
	if search != "" {
		pattern := "%" + likeEscaper.Replace(search) + "%"
		q.and("(name ILIKE ? OR email ILIKE ?)", pattern, pattern)
	}
	sql, args := q.page([]string{"customer_id"}, after, r.limit)
	return collectPage(ctx, r, r.api.cfg.DB, sql, args, func(rows pgx.Rows) (Customer, []string, error) {
		c, err := scanCustomer(rows)
		return c, []string{c.CustomerID}, err
	})
}

// requireCustomer answers 404 unless the tenant has customer id, as the other routes under
// /v1/customers/{customer_id} do: another tenant's customer is no customer. It reads the
// customers read model once it has caught up with the checkpoint the answer reflects, so a
// customer the endpoint's own read model knows is known there too.
func (r *request) requireCustomer(ctx context.Context, id string) error {
	if _, err := r.waitFor(ctx, readmodel.NameCustomers, r.position); err != nil {
		return err
	}
	var exists bool
	err := r.api.cfg.DB.QueryRow(ctx, customerExistsSQL,
		r.tenant, id).Scan(&exists)
	if err != nil {
		return err
	}
	if !exists {
		return notFound("customer", id)
	}
	return nil
}

// getCustomer: GET /v1/customers/{customer_id}
func getCustomer(ctx context.Context, r *request) (any, error) {
	id := r.pathID("customer_id")
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	c, err := scanCustomer(r.api.cfg.DB.QueryRow(ctx, customerByIDSQL, r.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("customer", id)
	}
	return c, err
}

// uuidKey validates a one-UUID cursor key.
func (r *request) uuidKey() []any {
	if r.after == nil {
		return nil
	}
	if len(r.after) != 1 || r.id(paramCursor, r.after[0]) == "" {
		r.failCursor()
		return nil
	}
	return []any{r.after[0]}
}

// failCursor records a cursor whose key does not fit the endpoint.
func (r *request) failCursor() {
	for _, e := range r.errs {
		if e.Field == paramCursor {
			return
		}
	}
	r.fail(paramCursor, errBadCursor.Error())
}
