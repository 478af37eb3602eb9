// Package projections keeps the PostgreSQL read models: each Projection folds the global
// event feed into its own tables. This file is the contract between the projection runtime
// (live projector, checkpoints, rebuilds, status) and the read models that implement it.
//
// # Where a projection's rows live
//
// Every build of a projection lives in its own PostgreSQL schema (a "build schema", named by
// the runtime). Apply runs with the transaction's search_path set to that build schema, so a
// read model writes plain, unqualified table names and the same code fills the live build, a
// shadow build during a rebuild, or an analyst's point-in-time copy. The query API reads
// stable views, one per table in Tables(), in the application's schema; a rebuild swaps them
// to the new build atomically.
//
// # Checkpoints
//
// The runtime stores each build's checkpoint (the position of the last applied event) in the
// same transaction as the rows Apply wrote, so a crash neither double-applies nor skips.
// Apply therefore never sees an event twice, always sees events in global order, and sees
// every event (including types it ignores) unless its Tuning lists the types it handles.
//
// # Failures
//
// An Apply error (or panic) rolls the batch back. The live projector retries the batch with
// backoff; if it keeps failing, the runtime applies the batch in smaller parts (each in a
// savepoint) to find the one event that fails alone and stalls that event's tenant there (an
// event that does not decode stalls its tenant at once): the stall (tenant, position, an error
// id, the error) is committed with the other tenants' events and the checkpoint, and the build
// leaves out the tenant's later events until Retry replays them after a fix. Rebuilds do the
// same. Since batches may be split and retried, Apply must keep no state between calls:
// everything it knows is in its tables.
//
// The runtime (builds, views, live projector, rebuilds, status) is described in
// docs/projections.md.
package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// Event is a stored event with its decoded domain payload.
type Event struct {
	eventstore.Envelope
	Payload domain.Event
	// decodeErr is why Payload could not be decoded; such an event never reaches Apply.
	decodeErr error
}

// Projection is one read model, and the only interface a read model implements.
type Projection interface {
	// Name identifies the projection ("invoices"); lower case, digits and '_'.
	Name() string
	// Version is the version of the projection's schema and logic. Changing it (new
	// columns, a fixed fold) makes the runtime rebuild the projection into a new build
	// and swap to it when caught up.
	Version() int
	// Tables lists the tables the query API reads, each exposed as a view of the same
	// name in the application schema.
	Tables() []string
	// Setup creates the projection's tables and the indexes Apply needs (see
	// Tuning.DeferredIndexes for the others) with unqualified names; it runs in a transaction
	// whose search_path is the (empty) build schema.
	Setup(ctx context.Context, tx pgx.Tx) error
	// Apply folds events, in global order, into the projection's tables. It runs inside the
	// transaction that also advances the checkpoint; returning an error rolls both back (see
	// Failures above: the projection stalls at the event that fails). Batches may hold tens of
	// thousands of events (rebuilds use large ones): fold in memory and write set-based where
	// you can.
	Apply(ctx context.Context, tx pgx.Tx, events []Event) error
	// Tuning returns the projection's speed-ups; Tuning{} asks for none and is always correct.
	Tuning() Tuning
}

// BusinessDated is implemented by projections whose rows go by business date (the journal and
// the balances), so that a copy of them as of a business date means something: the copy's
// Apply is given every event recorded, with the date in its context (BusinessCutoff), and
// leaves out what is dated after it. (An event's entries can fall on several dates: a
// back-dated payment settles an invoice issued later on the invoice's date, see domain.Poster.)
// A copy of any other projection as of a business date is refused.
type BusinessDated interface {
	Projection
	// BusinessDated marks the projection; it is never called.
	BusinessDated()
}

// Tuning is every optional speed-up a projection may ask of the runtime, in one place. Each
// only changes how fast a build fills, never what it holds: a projection returning Tuning{}
// ends in exactly the same rows.
type Tuning struct {
	// Handles lists the event types Apply uses (nil: every event). The runtime then decodes
	// only those and passes only those to Apply; the checkpoint still advances over every
	// event, and a batch with none of them commits the checkpoint alone. Decoding is most of a
	// replay's cost, so this speeds up rebuilds of projections that read few types.
	Handles []string
	// Trimmed says Apply never reads an invoice's lines from an InvoiceIssued: a batch decoded
	// only for trimmed projections (a replay of invoices, balances and journal) is decoded by
	// Options.DecodeTrimmed, which returns an InvoiceIssued as its domain.InvoiceIssuedHead
	// (the lines repeat those of the draft's events and are most of its bytes). Apply must
	// then handle both domain.InvoiceIssued and domain.InvoiceIssuedHead.
	Trimmed bool
	// DeferredIndexes are the statements creating the secondary indexes the query API reads
	// by, which Apply never needs. A rebuild or an as-of copy runs them once its tables are
	// filled (building an index over loaded rows costs a fraction of maintaining it row by
	// row: a rebuild of invoices, balances and journal ran about 40 % faster); a live build
	// runs them right after Setup. Statements use unqualified names and must be idempotent
	// (CREATE INDEX IF NOT EXISTS); each runs with search_path set to the build schema.
	DeferredIndexes []string
	// NewLoad, if set, makes a Load for filling a new build (a rebuild or an as-of copy: a
	// build that starts empty and that nobody else reads or writes until it is done). Its
	// replay then goes through one Load instead of Apply, and Flush is called once the replay
	// reaches its target; the build's checkpoint still advances with every batch, but only the
	// rows after Flush are complete (nothing ever resumes a build from that checkpoint: a build
	// that fails or is interrupted is dropped). The catch-up after Flush and every live build
	// use Apply.
	NewLoad func() Load
	// CrossTenant says one event may change rows of other tenants than its own (a total over
	// every tenant, a shared catalog). Such a projection is never split into tenant-hash
	// partitions (Options.Partitions): its live build has one checkpoint and runs in one
	// projector process at a time. A projection whose rows are all keyed by the tenant of the
	// event that writes them (every read model of package readmodel) leaves it false, so
	// projector processes share its partitions.
	CrossTenant bool
}

// Load folds a replay into an empty build (see Tuning.NewLoad). It sees every event once, in
// global order, in batches as Apply does; unlike Apply it may hold rows across batches and
// write them when it chooses (to bound its memory) or at Flush. An error fails the build; it
// should name the event at fault, since a Load cannot be re-run on part of a batch to find it.
type Load interface {
	// Apply folds events into the build in tx (whose search_path is the build schema),
	// writing what it chooses and keeping the rest in memory.
	Apply(ctx context.Context, tx pgx.Tx, events []Event) error
	// Flush writes everything held in memory: afterwards the tables hold exactly the rows
	// Projection.Apply would have written for the same events.
	Flush(ctx context.Context, tx pgx.Tx) error
}

// businessCutoffKey is the context key of BusinessCutoff.
type businessCutoffKey struct{}

// withBusinessCutoff returns ctx carrying the business date of an as-of copy.
func withBusinessCutoff(ctx context.Context, d domain.Date) context.Context {
	return context.WithValue(ctx, businessCutoffKey{}, d)
}

// BusinessCutoff returns, inside the Apply of a copy as of a business date, that date: a
// BusinessDated projection leaves out rows dated after it. ok is false everywhere else.
func BusinessCutoff(ctx context.Context) (d domain.Date, ok bool) {
	d, ok = ctx.Value(businessCutoffKey{}).(domain.Date)
	return d, ok && !d.IsZero()
}
