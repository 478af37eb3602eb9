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

const paymentColumns = `SELECT payment_id::text, customer_id::text, amount::text, currency, method, external_reference,
received_at, recorded_at, allocated::text, unapplied::text, refunded::text, status FROM payments`

func scanPayment(row pgx.Row) (Payment, error) {
	var p Payment
	var amount, currency, allocated, unapplied, refunded string
	var received, recorded time.Time
	err := row.Scan(&p.PaymentID, &p.CustomerID, &amount, &currency, &p.Method, &p.ExternalReference, &received,
		&recorded, &allocated, &unapplied, &refunded, &p.Status)
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

// getPayment: GET /v1/payments/{payment_id}, in one round trip and one snapshot.
func getPayment(ctx context.Context, r *request) (any, error) {
	id := r.pathID("payment_id")
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(snapshotBegin)
	b.Queue(paymentColumns+` WHERE tenant_id = $1 AND payment_id = $2`, r.tenant, id)
	b.Queue(`SELECT invoice_id::text, amount::text FROM payment_allocations WHERE tenant_id = $1 AND payment_id = $2 ORDER BY seq`,
		r.tenant, id)
	b.Queue(`COMMIT`)
	br := r.api.cfg.DB.SendBatch(ctx, b)
	defer func() { _ = br.Close() }()
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	p, err := scanPayment(br.QueryRow())
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("payment", id)
	}
	if err != nil {
		return nil, err
	}
	d := PaymentDetail{Payment: p}
	d.Allocations, err = collect(br, func(row pgx.CollectableRow) (PaymentAllocation, error) {
		var a PaymentAllocation
		var amount string
		err := row.Scan(&a.InvoiceID, &amount)
		a.Amount = money(amount, p.Amount.Currency)
		return a, err
	})
	if err != nil {
		return nil, err
	}
	_, err = br.Exec()
	return d, err
}
