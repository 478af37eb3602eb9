package pgstore

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/consumer"
)

// IndexConsumer is the billing index's row in feed_checkpoints (eventstore/consumer).
const IndexConsumer = "commands.billing_index"

// Index is the PostgreSQL commands.BillingIndex (table cmd_billing_index): which customer has
// which services, per tenant. It is a tiny private projection of the global feed
// (ServiceProvisioned adds a row, ServiceTerminated sets its last day), applied by a feed
// consumer (eventstore/consumer, checkpoint IndexConsumer) in the same transaction as its
// checkpoint, so it is exact after CatchUp whatever crashed before.
//
// We chose to read the feed rather than write the index after each append: a write after the
// append is lost when the process dies between the two, and the billing run would then silently
// miss a service; the feed is gap-free, and catching up before each run costs one read of what
// was appended since the previous catch-up.
//
// The same Index is the commands.PaymentReferences (table cmd_payment_references), fed by its
// own consumer (checkpoint ReferencesConsumer) that started at the beginning of the feed.
type Index struct {
	pool *pgxpool.Pool
	feed *consumer.Consumer
	refs *consumer.Consumer
}

var _ commands.BillingIndex = (*Index)(nil)

// NewIndex returns the index in pool's schema (MigrationSet applied), fed from store.
func NewIndex(pool *pgxpool.Pool, store eventstore.Store) *Index {
	feed, err := consumer.New(pool, store, IndexConsumer, applyIndex, consumer.Config{Types: indexTypes})
	if err != nil {
		panic("invariant: billing index consumer: " + err.Error())
	}
	refs, err := consumer.New(pool, store, ReferencesConsumer, applyReferences, consumer.Config{Types: referenceTypes})
	if err != nil {
		panic("invariant: payment references consumer: " + err.Error())
	}
	return &Index{pool: pool, feed: feed, refs: refs}
}

// CatchUp implements commands.BillingIndex: it reads the feed up to the head it sees when it
// starts.
func (x *Index) CatchUp(ctx context.Context) error {
	return classify("billing index catch-up", x.feed.CatchUp(ctx))
}

// CatchUpTo implements commands.BillingIndex: it reads the feed only when no catch-up of this
// process has indexed every event up to pos yet (eventstore/consumer.Consumer.CatchUpTo).
func (x *Index) CatchUpTo(ctx context.Context, pos eventstore.Position) error {
	return classify("billing index catch-up", x.feed.CatchUpTo(ctx, pos))
}

// RunWarmer catches the billing index and the payment references up with the feed once, soon
// after the process starts, so that the first billing run or provider callback after an
// upgrade (or after a long stop) does not read the whole feed inside its own request. Both
// are also caught up before every use, so this only moves the work; a failure is passed to
// onErr and retried (1 s doubling to a minute) until it succeeds or ctx ends.
func (x *Index) RunWarmer(ctx context.Context, onErr func(error)) {
	delay := time.Second
	for {
		err := x.CatchUp(ctx)
		if err == nil {
			err = classify("payment references catch-up", x.refs.CatchUp(ctx))
		}
		if err == nil || ctx.Err() != nil {
			return
		}
		onErr(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Minute)
	}
}

// Positions returns how far the billing index and the payment references have read the feed.
func (x *Index) Positions(ctx context.Context) (index, references eventstore.Position, err error) {
	if index, err = x.feed.Position(ctx); err != nil {
		return 0, 0, err
	}
	references, err = x.refs.Position(ctx)
	return index, references, err
}

// indexTypes are the only events the index reads: a page of the feed without any of them (a
// day of payments) only moves its checkpoint (consumer.Config.Types).
var indexTypes = []string{"ServiceProvisioned", "ServiceTerminated"}

// applyIndex is the index's consumer.Handler.
func applyIndex(ctx context.Context, tx pgx.Tx, envs []eventstore.Envelope) error {
	var rows indexRows
	for i := range envs {
		if err := rows.add(&envs[i]); err != nil {
			return err
		}
	}
	return rows.write(ctx, tx)
}

// indexRows are the index changes of one page of the feed.
type indexRows struct {
	tenants, customers, services []string
	termTenants, termServices    []string
	termDays                     []string
}

// add takes what env says about services; other events are ignored.
func (r *indexRows) add(env *eventstore.Envelope) error {
	if !slices.Contains(indexTypes, env.Type) {
		return nil
	}
	tenant, _, _, err := domain.ParseStream(env.StreamID)
	if err != nil {
		return nil //nolint:nilerr // a stream this package does not know is not indexed
	}
	e, err := codec.Decode(env)
	if err != nil {
		return err
	}
	switch e := e.(type) {
	case domain.ServiceProvisioned:
		r.tenants = append(r.tenants, tenant.String())
		r.customers = append(r.customers, e.CustomerID.String())
		r.services = append(r.services, e.ServiceID.String())
	case domain.ServiceTerminated:
		r.termTenants = append(r.termTenants, tenant.String())
		r.termServices = append(r.termServices, e.ServiceID.String())
		r.termDays = append(r.termDays, e.TerminatedOn.String())
	}
	return nil
}

func (r *indexRows) write(ctx context.Context, tx pgx.Tx) error {
	if len(r.tenants) > 0 {
		if _, err := tx.Exec(ctx, `
			INSERT INTO cmd_billing_index (tenant, customer_id, service_id)
			SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[])
			ON CONFLICT DO NOTHING`, r.tenants, r.customers, r.services); err != nil {
			return err
		}
	}
	if len(r.termTenants) > 0 {
		if _, err := tx.Exec(ctx, `
			UPDATE cmd_billing_index b SET terminated_on = u.day
			FROM unnest($1::text[], $2::uuid[], $3::date[]) AS u (tenant, service_id, day)
			WHERE b.tenant = u.tenant AND b.service_id = u.service_id`, r.termTenants, r.termServices, r.termDays); err != nil {
			return err
		}
	}
	return nil
}

// Billable implements commands.BillingIndex.
func (x *Index) Billable(ctx context.Context, tenant domain.TenantID, period domain.Period) ([]commands.BillableCustomer, error) {
	rows, err := x.pool.Query(ctx, `
		SELECT customer_id::text, array_agg(service_id::text ORDER BY service_id)
		FROM cmd_billing_index
		WHERE tenant = $1 AND (terminated_on IS NULL OR terminated_on >= $2::date)
		GROUP BY customer_id ORDER BY customer_id`, tenant.String(), period.Start().String())
	if err != nil {
		return nil, classify("billable customers", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (commands.BillableCustomer, error) {
		var customer string
		var services []string
		if err := row.Scan(&customer, &services); err != nil {
			return commands.BillableCustomer{}, err
		}
		return parseBillable(customer, services)
	})
	return out, classify("billable customers", err)
}

// Services implements commands.BillingIndex.
func (x *Index) Services(ctx context.Context, tenant domain.TenantID, customer domain.CustomerID) ([]domain.ServiceID, error) {
	var services []string
	err := x.pool.QueryRow(ctx, `
		SELECT coalesce(array_agg(service_id::text ORDER BY service_id), '{}')
		FROM cmd_billing_index WHERE tenant = $1 AND customer_id = $2`, tenant.String(), customer.String()).Scan(&services)
	if err != nil {
		return nil, classify("customer services", err)
	}
	bc, err := parseBillable(customer.String(), services)
	return bc.Services, err
}

func parseBillable(customer string, services []string) (commands.BillableCustomer, error) {
	id, err := domain.ParseCustomerID(customer)
	if err != nil {
		return commands.BillableCustomer{}, err
	}
	bc := commands.BillableCustomer{CustomerID: id, Services: make([]domain.ServiceID, len(services))}
	for i, s := range services {
		if bc.Services[i], err = domain.ParseServiceID(s); err != nil {
			return commands.BillableCustomer{}, err
		}
	}
	return bc, nil
}
