package readmodel

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
)

// NameReceipts names the receipts read model.
const NameReceipts = "receipts"

// Receipts projects the money booked to unallocated receipts (2300): one row per receipt,
// unallocated until a person allocates it to a customer. Receipts are rare (a mistyped
// account reference, a payment in the wrong currency), so Apply writes row by row.
type Receipts struct{}

var _ projections.Projection = Receipts{}

// Name returns "receipts".
func (Receipts) Name() string { return NameReceipts }

// Version returns 1.
func (Receipts) Version() int { return 1 }

// Tables returns the table the query API reads.
func (Receipts) Tables() []string { return []string{"receipts"} }

const receiptsSchema = `
CREATE TABLE receipts (
    tenant_id          text        NOT NULL,
    receipt_id         uuid        NOT NULL,
    amount             numeric     NOT NULL,
    currency           text        NOT NULL,
    method             text        NOT NULL,
    external_reference text        NOT NULL,
    account_reference  text        NOT NULL,
    payer              text        NOT NULL,
    reason             text        NOT NULL,
    named_customer_id  uuid,
    received_at        timestamptz NOT NULL,
    recorded_at        timestamptz NOT NULL,
    status             text        NOT NULL CHECK (status IN ('unallocated', 'allocated')),
    customer_id        uuid,
    payment_id         uuid,
    allocated_at       timestamptz,
    position           bigint      NOT NULL,
    PRIMARY KEY (tenant_id, receipt_id)
);
`

// Setup creates the receipts table.
func (Receipts) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, receiptsSchema)
	return err
}

var receiptsIndexes = []string{
	`CREATE INDEX IF NOT EXISTS receipts_status_idx ON receipts (tenant_id, status, receipt_id)`,
}

// Tuning: only the receipt events; the status index deferred.
func (Receipts) Tuning() projections.Tuning {
	return projections.Tuning{Handles: []string{"UnallocatedReceiptRecorded", "UnallocatedReceiptAllocated"},
		DeferredIndexes: receiptsIndexes}
}

const (
	insertReceipt = `INSERT INTO receipts (tenant_id, receipt_id, amount, currency, method, external_reference,
account_reference, payer, reason, named_customer_id, received_at, recorded_at, status, position)
VALUES ($1, $2, $3::numeric, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'unallocated', $13)`
	allocateReceipt = `UPDATE receipts SET status = 'allocated', customer_id = $3, payment_id = $4, allocated_at = $5,
position = $6 WHERE tenant_id = $1 AND receipt_id = $2 AND status = 'unallocated'`
)

// Apply folds receipt events into receipts, one statement per event.
func (Receipts) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	for i := range evs {
		if err := applyReceipt(ctx, tx, &evs[i]); err != nil {
			return err
		}
	}
	return nil
}

func applyReceipt(ctx context.Context, tx pgx.Tx, ev *projections.Event) error {
	switch e := ev.Payload.(type) {
	case domain.UnallocatedReceiptRecorded:
		t, err := tenantOf(ev)
		if err != nil {
			return err
		}
		var named any
		if !e.CustomerID.IsZero() {
			named = e.CustomerID.UUID()
		}
		_, err = tx.Exec(ctx, insertReceipt, t, e.ReceiptID.UUID(), e.Amount.AmountString(), e.Amount.Currency().Code(), e.Method.String(),
			e.ExternalReference, e.AccountReference, e.Payer, e.Reason.String(), named, e.ReceivedAt, e.RecordedAt, pos(ev))
		return err
	case domain.UnallocatedReceiptAllocated:
		t, err := tenantOf(ev)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, allocateReceipt, t, e.ReceiptID.UUID(), e.CustomerID.UUID(), e.PaymentID.UUID(), e.AllocatedAt, pos(ev))
		if err == nil && tag.RowsAffected() != 1 {
			return invariantf(ev, "receipt %s is not unallocated", e.ReceiptID)
		}
		return err
	}
	return nil
}
