package process

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/internal/db"
)

// maxCandidates bounds the rows one candidate query returns.
const maxCandidates = 10_000

// TrackerConsumer is the tracker's row in feed_checkpoints (eventstore/consumer).
const TrackerConsumer = "process.tracker"

// Tracker is the process managers' private projection of the global feed, in PostgreSQL
// (MigrationSet): the open invoices with their due dates and outstanding amounts, the services
// suspended for non_payment, and the tenants. The overdue scheduler and the dunning sweep read
// it instead of the read models.
//
// Like the command side's billing index it is a feed consumer (eventstore/consumer,
// checkpoint TrackerConsumer) caught up on demand: CatchUp reads the feed from its checkpoint
// to the head, one page per transaction with the checkpoint, so what it lists after CatchUp is
// exactly what the store held, whatever crashed before. It only proposes candidates: every
// command is decided by the handlers on the aggregate's fresh state. It is safe for
// concurrent use.
type Tracker struct {
	pool *pgxpool.Pool
	feed *consumer.Consumer
}

// NewTracker returns the tracker in pool's schema, fed from store.
func NewTracker(pool *pgxpool.Pool, store eventstore.Store) *Tracker {
	feed, err := consumer.New(pool, store, TrackerConsumer, applyTracker, consumer.Config{})
	if err != nil {
		panic("invariant: process tracker consumer: " + err.Error())
	}
	return &Tracker{pool: pool, feed: feed}
}

// CatchUp applies every event of the feed up to the head it sees when it starts.
func (t *Tracker) CatchUp(ctx context.Context) error {
	if err := t.feed.CatchUp(ctx); err != nil {
		return fmt.Errorf("process tracker: %w", err)
	}
	return nil
}

// applyTracker is the tracker's consumer.Handler.
func applyTracker(ctx context.Context, tx pgx.Tx, envs []eventstore.Envelope) error {
	var w trackerWrites
	for i := range envs {
		if err := w.add(&envs[i]); err != nil {
			return err
		}
	}
	return w.flush(ctx, tx)
}

// trackerWrites are the statements of one page, in feed order. A run of settlements (the
// allocations of consecutive payments, credit notes and credits) is one statement, and each
// tenant is inserted once per page: a page of n payments costs a few statements, not n.
type trackerWrites struct {
	b       pgx.Batch
	touched byTenant[[16]byte] // invoices whose outstanding amount went down
	tenants map[string]bool    // tenants inserted by this page
	// The settlements not queued yet, in order, by tenant.
	settlements byTenant[settlement]
}

// settlement is an amount settled on an invoice: the id as [16]byte and the amount as text,
// which pgx encodes to uuid[] and text[] at the first try (a string to uuid[] failed its
// binary encoding, an error formatted, before its text one).
type settlement struct {
	invoice [16]byte
	amount  string
}

// byTenant holds values by tenant, the tenants in the order they came: each statement over
// them names one tenant and its values as an array, so that it reads the rows it changes
// through the primary key (tenant, invoice_id). A statement over (tenant, invoice) pairs joined
// to the table was a hash join over all of it on every page, its cost growing with the open
// invoices of every tenant.
type byTenant[T any] struct {
	order  []string
	values map[string][]T
}

func (b *byTenant[T]) add(tenant string, v T) {
	if b.values == nil {
		b.values = map[string][]T{}
	}
	if _, ok := b.values[tenant]; !ok {
		b.order = append(b.order, tenant)
	}
	b.values[tenant] = append(b.values[tenant], v)
}

// Statements of the tracker over one tenant's invoices.
const (
	settleSQL = `UPDATE proc_open_invoices o SET outstanding = o.outstanding - s.amount
		FROM (SELECT invoice_id, sum(amount::numeric) AS amount FROM unnest($2::uuid[], $3::text[]) AS u(invoice_id, amount)
			GROUP BY 1) s
		WHERE o.tenant = $1 AND o.invoice_id = ANY($2::uuid[]) AND o.invoice_id = s.invoice_id`
	deleteSettledSQL = `DELETE FROM proc_open_invoices WHERE tenant = $1 AND invoice_id = ANY($2::uuid[]) AND outstanding <= 0`

	// pageSettingsSQL precedes a page's statements, in its transaction: generic plans (see
	// flush), and no nested loop for settleSQL's join of the invoices read through the key
	// to the page's sums. Its generic plan expects one invoice from the key, and so rescans
	// the sums for every invoice read: with k invoices in a page, k * k / 2 comparisons
	// (1,000 payments, half a million). A hash join of the two is linear. The page's other
	// statements join nothing, and the setting ends with the transaction.
	pageSettingsSQL = db.GenericPlansSQL + `, set_config('enable_nestloop', 'off', true)`
)

// queue queues a statement after the pending settlements.
func (w *trackerWrites) queue(sql string, args ...any) {
	w.queueSettlements()
	w.b.Queue(sql, args...)
}

// queueSettlements queues the pending settlements as one statement per tenant: amounts
// settled on the same invoice are summed (subtractions commute, and nothing else touches the
// invoices between them).
func (w *trackerWrites) queueSettlements() {
	for _, tenant := range w.settlements.order {
		ss := w.settlements.values[tenant]
		invoices, amounts := make([][16]byte, len(ss)), make([]string, len(ss))
		for i, s := range ss {
			invoices[i], amounts[i] = s.invoice, s.amount
		}
		w.b.Queue(settleSQL, tenant, invoices, amounts)
	}
	w.settlements = byTenant[settlement]{}
}

// trackedTypes are the event types the tracker reads; the rest are skipped undecoded.
var trackedTypes = map[string]bool{
	"CustomerRegistered": true, "InvoiceIssued": true, "InvoiceVoided": true, "InvoiceMarkedOverdue": true,
	"PaymentRecorded": true, "CreditNoteIssued": true, "CustomerCreditApplied": true,
	"ServiceSuspended": true, "ServiceResumed": true, "ServiceTerminated": true,
}

func (w *trackerWrites) add(env *eventstore.Envelope) error {
	if !trackedTypes[env.Type] {
		return nil
	}
	tenant, _, _, err := domain.ParseStream(env.StreamID)
	if err != nil {
		return nil //nolint:nilerr // a stream this package does not know is not tracked
	}
	e, err := codec.Decode(env)
	if err != nil {
		return err
	}
	w.addEvent(tenant.String(), e)
	return nil
}

func (w *trackerWrites) addEvent(tenant string, e domain.Event) {
	switch e := e.(type) {
	case domain.CustomerRegistered:
		if !w.tenants[tenant] {
			if w.tenants == nil {
				w.tenants = map[string]bool{}
			}
			w.tenants[tenant] = true
			w.queue(`INSERT INTO proc_tenants (tenant) VALUES ($1) ON CONFLICT DO NOTHING`, tenant)
		}
	case domain.InvoiceIssued:
		owed, err := e.Total.Sub(e.CreditApplied)
		if err == nil && owed.IsPositive() {
			w.queue(`INSERT INTO proc_open_invoices (tenant, invoice_id, customer_id, due_date, outstanding)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
				tenant, e.InvoiceID.String(), e.CustomerID.String(), e.DueDate.String(), owed.AmountString())
		}
	case domain.InvoiceVoided:
		w.queue(`DELETE FROM proc_open_invoices WHERE tenant = $1 AND invoice_id = $2`, tenant, e.InvoiceID.String())
	case domain.InvoiceMarkedOverdue:
		w.queue(`UPDATE proc_open_invoices SET overdue = true WHERE tenant = $1 AND invoice_id = $2`, tenant, e.InvoiceID.String())
	case domain.PaymentRecorded:
		for _, a := range e.Allocations {
			w.settle(tenant, a.InvoiceID, a.Amount)
		}
	case domain.CustomerCreditApplied:
		for _, a := range e.Allocations {
			w.settle(tenant, a.InvoiceID, a.Amount)
		}
	case domain.CreditNoteIssued:
		if !e.InvoiceID.IsZero() {
			w.settle(tenant, e.InvoiceID, e.Total)
		}
		for _, a := range e.Allocations { // a credit note on the account settles open invoices
			w.settle(tenant, a.InvoiceID, a.Amount)
		}
	case domain.ServiceSuspended:
		if e.Reason == domain.SuspensionNonPayment {
			w.queue(`INSERT INTO proc_nonpayment_suspensions (tenant, service_id, customer_id) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, tenant, e.ServiceID.String(), e.CustomerID.String())
		}
	case domain.ServiceResumed:
		w.queue(`DELETE FROM proc_nonpayment_suspensions WHERE tenant = $1 AND service_id = $2`, tenant, e.ServiceID.String())
	case domain.ServiceTerminated:
		w.queue(`DELETE FROM proc_nonpayment_suspensions WHERE tenant = $1 AND service_id = $2`, tenant, e.ServiceID.String())
	}
}

func (w *trackerWrites) settle(tenant string, invoice domain.InvoiceID, amount domain.Money) {
	w.settlements.add(tenant, settlement{invoice.UUID(), amount.AmountString()})
	w.touched.add(tenant, invoice.UUID())
}

func (w *trackerWrites) flush(ctx context.Context, tx pgx.Tx) error {
	w.queueSettlements()
	for _, tenant := range w.touched.order {
		w.b.Queue(deleteSettledSQL, tenant, w.touched.values[tenant])
	}
	if w.b.Len() == 0 {
		return nil
	}
	// The page's statements run on their connection's generic plans, which read the
	// invoices by their key (TestTrackerReadsInvoicesByKey): left to choose, PostgreSQL
	// planned the settlements and the deletes again on most pages, an array's custom plan
	// always looking cheaper than the generic one. See pageSettingsSQL for the join.
	b := &pgx.Batch{QueuedQueries: append([]*pgx.QueuedQuery{{SQL: pageSettingsSQL}}, w.b.QueuedQueries...)}
	return tx.SendBatch(ctx, b).Close()
}

// InvoiceRef names an open invoice.
type InvoiceRef struct {
	Tenant   domain.TenantID
	Customer domain.CustomerID
	Invoice  domain.InvoiceID
}

// CustomerRef names a customer.
type CustomerRef struct {
	Tenant   domain.TenantID
	Customer domain.CustomerID
}

// OverdueCandidates lists invoices not marked overdue, with money outstanding, due before
// today (at most maxCandidates, earliest due first).
func (t *Tracker) OverdueCandidates(ctx context.Context, today domain.Date) ([]InvoiceRef, error) {
	rows, err := t.pool.Query(ctx, `
		SELECT tenant, customer_id::text, invoice_id::text FROM proc_open_invoices
		WHERE NOT overdue AND due_date < $1::date ORDER BY due_date, invoice_id LIMIT $2`, today.String(), maxCandidates)
	if err != nil {
		return nil, fmt.Errorf("process tracker: overdue candidates: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (InvoiceRef, error) {
		var tenant, customer, invoice string
		if err := row.Scan(&tenant, &customer, &invoice); err != nil {
			return InvoiceRef{}, err
		}
		return parseInvoiceRef(tenant, customer, invoice)
	})
}

// DunningCandidates lists the customers the policy may act on at today: those owing on an
// invoice due before today minus graceDays (suspension), and those with a service suspended
// for non_payment (resumption). At most maxCandidates.
func (t *Tracker) DunningCandidates(ctx context.Context, today domain.Date, graceDays int) ([]CustomerRef, error) {
	rows, err := t.pool.Query(ctx, `
		SELECT tenant, customer_id::text FROM proc_open_invoices WHERE due_date < $1::date
		UNION
		SELECT tenant, customer_id::text FROM proc_nonpayment_suspensions
		ORDER BY 1, 2 LIMIT $2`, today.AddDays(-graceDays).String(), maxCandidates)
	if err != nil {
		return nil, fmt.Errorf("process tracker: dunning candidates: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (CustomerRef, error) {
		var tenant, customer string
		if err := row.Scan(&tenant, &customer); err != nil {
			return CustomerRef{}, err
		}
		return parseCustomerRef(tenant, customer)
	})
}

// Tenants lists the tenants with customers.
func (t *Tracker) Tenants(ctx context.Context) ([]domain.TenantID, error) {
	rows, err := t.pool.Query(ctx, `SELECT tenant FROM proc_tenants ORDER BY tenant LIMIT $1`, maxCandidates)
	if err != nil {
		return nil, fmt.Errorf("process tracker: tenants: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.TenantID, error) {
		var tenant string
		if err := row.Scan(&tenant); err != nil {
			return domain.TenantID{}, err
		}
		return domain.ParseTenantID(tenant)
	})
}

func parseCustomerRef(tenant, customer string) (CustomerRef, error) {
	t, err := domain.ParseTenantID(tenant)
	if err != nil {
		return CustomerRef{}, err
	}
	c, err := domain.ParseCustomerID(customer)
	return CustomerRef{Tenant: t, Customer: c}, err
}

func parseInvoiceRef(tenant, customer, invoice string) (InvoiceRef, error) {
	ref, err := parseCustomerRef(tenant, customer)
	if err != nil {
		return InvoiceRef{}, err
	}
	inv, err := domain.ParseInvoiceID(invoice)
	return InvoiceRef{Tenant: ref.Tenant, Customer: ref.Customer, Invoice: inv}, err
}

// MayNeedDunning reports whether the dunning policy could act on customer at today, once the
// tracker has applied the feed up to position at (it catches up first if behind): whether the
// customer owes on an invoice due more than graceDays before today (a suspension) or has a
// service suspended for non_payment (a resumption). Without either there is nothing to
// evaluate, so most payments and overdue marks cost one indexed lookup, not a fold.
func (t *Tracker) MayNeedDunning(ctx context.Context, tenant domain.TenantID, customer domain.CustomerID, at eventstore.Position, today domain.Date, graceDays int) (bool, error) {
	may, err := t.MayNeedDunningAll(ctx, []CustomerRef{{Tenant: tenant, Customer: customer}}, at, today, graceDays)
	if err != nil {
		return false, err
	}
	return may[0], nil
}

// MayNeedDunningAll is MayNeedDunning for several customers at once (the dunning group's
// batch): may[i] answers for customers[i]. It costs one statement when the tracker has
// applied the feed up to at, and otherwise a catch-up and a second statement, however many
// customers it is asked about.
func (t *Tracker) MayNeedDunningAll(ctx context.Context, customers []CustomerRef, at eventstore.Position, today domain.Date, graceDays int) ([]bool, error) {
	if len(customers) == 0 {
		return nil, nil
	}
	tenants := make([]string, len(customers))
	ids := make([]string, len(customers))
	for i, c := range customers {
		tenants[i], ids[i] = c.Tenant.String(), c.Customer.String()
	}
	cutoff := today.AddDays(-graceDays)
	// One statement reads the tracker's place and the answers together (one snapshot): when
	// the tracker has reached at, which it mostly has (it catches up a page of many events
	// at once), the answer costs one round trip, not two.
	cp, may, err := t.mayNeedDunning(ctx, tenants, ids, cutoff)
	if err != nil || cp >= at {
		return may, err
	}
	if err := t.CatchUp(ctx); err != nil {
		return nil, err
	}
	_, may, err = t.mayNeedDunning(ctx, tenants, ids, cutoff)
	return may, err
}

// mayNeedDunning returns the tracker's place in the feed and, as of it, whether each customer
// (tenants[i], customers[i]) has a non-payment suspension or an invoice due before cutoff.
func (t *Tracker) mayNeedDunning(ctx context.Context, tenants, customers []string, cutoff domain.Date) (eventstore.Position, []bool, error) {
	var (
		cp    int64
		found []int64 // 1-based indexes into customers
	)
	err := t.pool.QueryRow(ctx, `SELECT coalesce((SELECT position FROM feed_checkpoints WHERE consumer = $4), 0),
		array(SELECT c.i FROM unnest($1::text[], $2::uuid[]) WITH ORDINALITY AS c(tenant, customer_id, i)
			WHERE EXISTS (SELECT 1 FROM proc_nonpayment_suspensions s WHERE s.tenant = c.tenant AND s.customer_id = c.customer_id)
			OR EXISTS (SELECT 1 FROM proc_open_invoices o WHERE o.tenant = c.tenant AND o.customer_id = c.customer_id AND o.due_date < $3::date)
			ORDER BY c.i)`,
		tenants, customers, cutoff.String(), TrackerConsumer).Scan(&cp, &found)
	if err != nil {
		return 0, nil, fmt.Errorf("process tracker: %w", err)
	}
	may := make([]bool, len(customers))
	for _, i := range found {
		if i < 1 || int(i) > len(may) {
			return 0, nil, fmt.Errorf("invariant: process tracker: customer index %d of %d", i, len(may))
		}
		may[i-1] = true
	}
	return eventstore.Position(max(cp, 0)), may, nil
}
