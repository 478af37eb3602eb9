package pgstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// indexPageEvents is how many feed events one catch-up transaction reads.
const indexPageEvents = 2000

// Index is the PostgreSQL commands.BillingIndex (table cmd_billing_index): which customer has
// which services, per tenant. It is a tiny private projection of the global feed
// (ServiceProvisioned adds a row, ServiceTerminated sets its last day) with its checkpoint in
// the same transaction as the rows, so it is exact after CatchUp whatever crashed before.
//
// We chose to read the feed rather than write the index after each append: a write after the
// append is lost when the process dies between the two, and the billing run would then silently
// miss a service; the feed is gap-free, and catching up before each run costs one read of what
// was appended since the previous catch-up.
type Index struct {
	pool  *pgxpool.Pool
	store eventstore.Store
	mu    sync.Mutex // one catch-up at a time in this process (the checkpoint row serializes processes)
}

var _ commands.BillingIndex = (*Index)(nil)

// NewIndex returns the index in pool's schema (MigrationSet applied), fed from store.
func NewIndex(pool *pgxpool.Pool, store eventstore.Store) *Index {
	return &Index{pool: pool, store: store}
}

// CatchUp implements commands.BillingIndex: it reads the feed up to the head it sees when it
// starts.
func (x *Index) CatchUp(ctx context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	head, err := x.store.Head(ctx)
	if err != nil {
		return fmt.Errorf("billing index: %w", err)
	}
	for {
		at, err := x.catchUpPage(ctx)
		if err != nil {
			return err
		}
		if at >= head {
			return nil
		}
	}
}

// catchUpPage indexes one page of the feed after the checkpoint, in one transaction with the
// checkpoint, and returns the new checkpoint.
func (x *Index) catchUpPage(ctx context.Context) (eventstore.Position, error) {
	var at eventstore.Position
	err := pgx.BeginFunc(ctx, x.pool, func(tx pgx.Tx) error {
		var pos int64
		if err := tx.QueryRow(ctx, `SELECT position FROM cmd_billing_index_checkpoint FOR UPDATE`).Scan(&pos); err != nil {
			return err
		}
		at = eventstore.Position(pos) //nolint:gosec // positions are positive
		envs, err := x.store.ReadAll(ctx, at, indexPageEvents)
		if err != nil || len(envs) == 0 {
			return err
		}
		var rows indexRows
		for i := range envs {
			if err := rows.add(&envs[i]); err != nil {
				return err
			}
		}
		at = envs[len(envs)-1].Position
		return rows.write(ctx, tx, at)
	})
	return at, classify("billing index catch-up", err)
}

// indexRows are the index changes of one page of the feed.
type indexRows struct {
	tenants, customers, services []string
	termTenants, termServices    []string
	termDays                     []string
}

// add takes what env says about services; other events are ignored.
func (r *indexRows) add(env *eventstore.Envelope) error {
	if env.Type != "ServiceProvisioned" && env.Type != "ServiceTerminated" {
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

func (r *indexRows) write(ctx context.Context, tx pgx.Tx, at eventstore.Position) error {
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
	_, err := tx.Exec(ctx, `UPDATE cmd_billing_index_checkpoint SET position = $1`, int64(at)) //nolint:gosec // positions fit
	return err
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
