package pgstore

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// ReferencesConsumer is the payment references' row in feed_checkpoints (eventstore/consumer).
const ReferencesConsumer = "commands.payment_references"

var _ commands.PaymentReferences = (*Index)(nil)

// PaymentsByReference implements commands.PaymentReferences (table cmd_payment_references): it
// reads the feed up to the head it sees when it starts, then the payments of ref.
func (x *Index) PaymentsByReference(ctx context.Context, tenant domain.TenantID, ref string, limit int) ([]commands.ReferencedPayment, error) {
	if err := x.refs.CatchUp(ctx); err != nil {
		return nil, classify("payment references catch-up", err)
	}
	rows, err := x.pool.Query(ctx, `
		SELECT customer_id::text, payment_id::text, method FROM cmd_payment_references
		WHERE tenant = $1 AND external_reference = $2 ORDER BY position LIMIT $3`, tenant.String(), ref, limit)
	if err != nil {
		return nil, classify("payments by reference", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (commands.ReferencedPayment, error) {
		var customer, payment, method string
		if err := row.Scan(&customer, &payment, &method); err != nil {
			return commands.ReferencedPayment{}, err
		}
		return parseReferenced(customer, payment, method)
	})
	return out, classify("payments by reference", err)
}

func parseReferenced(customer, payment, method string) (p commands.ReferencedPayment, err error) {
	if p.CustomerID, err = domain.ParseCustomerID(customer); err != nil {
		return p, err
	}
	if p.PaymentID, err = domain.ParsePaymentID(payment); err != nil {
		return p, err
	}
	p.Method, err = domain.ParsePaymentMethod(method)
	return p, err
}

// referenceTypes are the only events the payment references read (consumer.Config.Types).
var referenceTypes = []string{"PaymentRecorded"}

// applyReferences is the payment references' consumer.Handler: every PaymentRecorded with an
// external reference becomes a row; other events are ignored (consumer.Config.Types: a page
// without a payment, a bill day's invoices, only moves the checkpoint).
func applyReferences(ctx context.Context, tx pgx.Tx, envs []eventstore.Envelope) error {
	var tenants, refs, customers, payments, methods []string
	var positions []int64
	for i := range envs {
		env := &envs[i]
		if !slices.Contains(referenceTypes, env.Type) {
			continue
		}
		tenant, _, _, err := domain.ParseStream(env.StreamID)
		if err != nil {
			continue // a stream this package does not know is not indexed
		}
		e, err := codec.Decode(env)
		if err != nil {
			return err
		}
		p, ok := e.(domain.PaymentRecorded)
		if !ok || p.ExternalReference == "" {
			continue
		}
		tenants, refs = append(tenants, tenant.String()), append(refs, p.ExternalReference)
		customers, payments = append(customers, p.CustomerID.String()), append(payments, p.PaymentID.String())
		methods, positions = append(methods, p.Method.String()), append(positions, int64(env.Position)) //nolint:gosec // positions are positive
	}
	if len(tenants) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO cmd_payment_references (tenant, external_reference, customer_id, payment_id, method, position)
		SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::bigint[])
		ON CONFLICT DO NOTHING`, tenants, refs, customers, payments, methods, positions)
	return err
}
