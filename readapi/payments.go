package readapi

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Payment is money received from a customer.
type Payment struct {
	PaymentID         string `json:"payment_id"`
	CustomerID        string `json:"customer_id"`
	Amount            Money  `json:"amount"`
	Method            string `json:"method"`
	ExternalReference string `json:"external_reference"`
	ReceivedAt        string `json:"received_at"`
	RecordedAt        string `json:"recorded_at"`
	Allocated         Money  `json:"allocated"`
	Unapplied         Money  `json:"unapplied"`
	Refunded          Money  `json:"refunded"`
	Status            string `json:"status"`
}

// PaymentAllocation is the part of a payment that settled one invoice.
type PaymentAllocation struct {
	InvoiceID string `json:"invoice_id"`
	Amount    Money  `json:"amount"`
}

// PaymentDetail is a payment with its allocations, oldest invoice first.
type PaymentDetail struct {
	Payment
	Allocations []PaymentAllocation `json:"allocations"`
}

const (
	paymentFields = `payment_id::text, customer_id::text, amount::text, currency, method, external_reference,
received_at, recorded_at, allocated::text, unapplied::text, refunded::text, status`
	paymentColumns = `SELECT ` + paymentFields + ` FROM payments`
)

// scanPayment reads paymentFields, then extra columns into extra.
func scanPayment(row pgx.Row, extra ...any) (Payment, error) {
	var p Payment
	var amount, currency, allocated, unapplied, refunded string
	var received, recorded time.Time
	err := row.Scan(append([]any{&p.PaymentID, &p.CustomerID, &amount, &currency, &p.Method, &p.ExternalReference, &received,
		&recorded, &allocated, &unapplied, &refunded, &p.Status}, extra...)...)
	p.Amount, p.Allocated, p.Unapplied, p.Refunded = money(amount, currency), money(allocated, currency), money(unapplied, currency), money(refunded, currency)
	p.ReceivedAt, p.RecordedAt = instant(received), instant(recorded)
	return p, err
}

// listPayments: GET /v1/payments?customer_id=
func listPayments(ctx context.Context, r *request) (any, error) {
	customer := r.queryID("customer_id")
	key := r.uuidKey()
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	q := newQuery(paymentColumns, r.tenant)
	if customer != "" {
		q.and("customer_id = ?", customer)
	}
	sql, args := q.page([]string{"payment_id"}, key, r.limit)
	return collectPage(ctx, r, r.api.cfg.DB, sql, args, func(rows pgx.Rows) (Payment, []string, error) {
		p, err := scanPayment(rows)
		return p, []string{p.PaymentID}, err
	})
}

// paymentDetailSQL reads a payment with its allocations in one statement.
const paymentDetailSQL = `SELECT ` + paymentFields + `,
(SELECT coalesce(json_agg(json_build_object('invoice_id', invoice_id, 'amount', amount::text) ORDER BY seq), '[]')
 FROM payment_allocations a WHERE a.tenant_id = p.tenant_id AND a.payment_id = p.payment_id)
FROM payments p WHERE p.tenant_id = $1 AND p.payment_id = $2`

// getPayment: GET /v1/payments/{payment_id}
func getPayment(ctx context.Context, r *request) (any, error) {
	id := r.pathID("payment_id")
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	var allocations []byte
	p, err := scanPayment(r.api.cfg.DB.QueryRow(ctx, paymentDetailSQL, r.tenant, id), &allocations)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("payment", id)
	}
	if err != nil {
		return nil, err
	}
	type allocation struct {
		InvoiceID string `json:"invoice_id"`
		Amount    string `json:"amount"`
	}
	d := PaymentDetail{Payment: p}
	d.Allocations, err = decodeAgg(allocations, "payment allocations", func(a allocation) PaymentAllocation {
		return PaymentAllocation{InvoiceID: a.InvoiceID, Amount: money(a.Amount, p.Amount.Currency)}
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
