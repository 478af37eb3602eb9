package readapi

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Receipt is money received through a payment provider and booked to unallocated receipts
// (2300), because its account reference named no customer (reason unknown_customer) or a
// customer billed in another currency (currency_mismatch); status allocated once a person
// gave it to a customer (customer_id, payment_id).
type Receipt struct {
	ReceiptID         string  `json:"receipt_id"`
	Amount            Money   `json:"amount"`
	Method            string  `json:"method"`
	ExternalReference string  `json:"external_reference"`
	AccountReference  string  `json:"account_reference"`
	Payer             string  `json:"payer"`
	Reason            string  `json:"reason"`
	NamedCustomerID   *string `json:"named_customer_id"`
	ReceivedAt        string  `json:"received_at"`
	RecordedAt        string  `json:"recorded_at"`
	Status            string  `json:"status"`
	CustomerID        *string `json:"customer_id"`
	PaymentID         *string `json:"payment_id"`
	AllocatedAt       *string `json:"allocated_at"`
}

const receiptColumns = `SELECT receipt_id::text, amount::text, currency, method, external_reference, account_reference,
payer, reason, named_customer_id::text, received_at, recorded_at, status, customer_id::text, payment_id::text, allocated_at
FROM receipts`

func scanReceipt(row pgx.Row) (Receipt, error) {
	var rc Receipt
	var amount, currency string
	var received, recorded time.Time
	var allocated *time.Time
	err := row.Scan(&rc.ReceiptID, &amount, &currency, &rc.Method, &rc.ExternalReference, &rc.AccountReference, &rc.Payer,
		&rc.Reason, &rc.NamedCustomerID, &received, &recorded, &rc.Status, &rc.CustomerID, &rc.PaymentID, &allocated)
	rc.Amount, rc.ReceivedAt, rc.RecordedAt = money(amount, currency), instant(received), instant(recorded)
	if allocated != nil {
		s := instant(*allocated)
		rc.AllocatedAt = &s
	}
	return rc, err
}

// listReceipts: GET /v1/receipts?status=unallocated|allocated
func listReceipts(ctx context.Context, r *request) (any, error) {
	status := r.enum("status", "unallocated", "allocated")
	after := r.uuidKey()
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	q := newQuery(receiptColumns, r.tenant)
	if status != "" {
		q.and("status = ?", status)
	}
	sql, args := q.page([]string{"receipt_id"}, after, r.limit)
	return collectPage(ctx, r, r.api.cfg.DB, sql, args, func(rows pgx.Rows) (Receipt, []string, error) {
		rc, err := scanReceipt(rows)
		return rc, []string{rc.ReceiptID}, err
	})
}

// getReceipt: GET /v1/receipts/{receipt_id}
func getReceipt(ctx context.Context, r *request) (any, error) {
	id := r.pathID("receipt_id")
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	rc, err := scanReceipt(r.api.cfg.DB.QueryRow(ctx, receiptColumns+` WHERE tenant_id = $1 AND receipt_id = $2`, r.tenant, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("receipt", id)
	}
	return rc, err
}
