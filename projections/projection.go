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
// every event (including types it ignores) unless the projection is an EventFilter.
//
// # Failures
//
// An Apply error (or panic) rolls the batch back. The live projector retries the batch with
// backoff; if it keeps failing, the runtime applies the batch in smaller parts (each in a
// savepoint) to find the one event that fails alone, commits everything before it, and
// stalls the projection at that event: state stalled, the error, the position. Nothing after
// it is applied until a restart (after a fix) or a rebuild. Since batches may be split and
// retried, Apply must keep no state between calls: everything it knows is in its tables.
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
}

// Projection is one read model.
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
	// Setup creates the projection's tables and the indexes Apply needs (see Indexer for the
	// others) with unqualified names; it runs in a transaction whose search_path is the
	// (empty) build schema.
	Setup(ctx context.Context, tx pgx.Tx) error
	// Apply folds events, in global order, into the projection's tables. It runs inside the
	// transaction that also advances the checkpoint; returning an error rolls both back (see
	// Failures above: the projection stalls at the event that fails). Batches may hold tens of
	// thousands of events (rebuilds use large ones): fold in memory and write set-based where
	// you can.
	Apply(ctx context.Context, tx pgx.Tx, events []Event) error
}

// Indexer is optionally implemented by a Projection whose secondary indexes — those the query
// API reads by, which Apply never needs — can wait. A rebuild or an as-of copy then creates
// its tables with Setup, fills them, and only then runs Indexes: building an index over
// loaded rows costs a fraction of maintaining it row by row (a rebuild of invoices, balances
// and journal ran about 40 % faster). A live build runs them right after Setup. Statements
// use unqualified names and must be idempotent (CREATE INDEX IF NOT EXISTS); each runs with
// search_path set to the build schema.
type Indexer interface {
	Indexes() []string
}

// Loader is optionally implemented by a Projection that fills a new build faster when it may
// keep what it folds in memory from one batch to the next. A rebuild or an as-of copy (a
// build that starts empty and that nobody else reads or writes until it is done) then feeds
// its replay through one Load instead of Apply, and calls Flush once the replay reaches its
// target; the build's checkpoint still advances with every batch, but only the rows after
// Flush are complete (nothing ever resumes a build from that checkpoint: a build that fails
// or is interrupted is dropped). The catch-up after Flush and every live build use Apply.
//
// A Load sees every event once, in global order, in batches as Apply does; unlike Apply it
// may hold rows across batches and write them when it chooses (to bound its memory) or at
// Flush. An error fails the build; it should name the event at fault, since a Load cannot
// be re-run on part of a batch to find it.
type Loader interface {
	NewLoad() Load
}

// Load folds a replay into an empty build (see Loader).
type Load interface {
	// Apply folds events into the build in tx (whose search_path is the build schema),
	// writing what it chooses and keeping the rest in memory.
	Apply(ctx context.Context, tx pgx.Tx, events []Event) error
	// Flush writes everything held in memory: afterwards the tables hold exactly the rows
	// Projection.Apply would have written for the same events.
	Flush(ctx context.Context, tx pgx.Tx) error
}

// TrimmedPayloads is optionally implemented by a Projection that never reads the parts of
// payloads Options.DecodeTrimmed leaves out: by default an InvoiceIssued's lines, which repeat
// the lines its draft's events carried and are most of its bytes. A batch decoded only for
// such projections (a replay of invoices, balances and journal) is decoded trimmed. A
// projection that reads InvoiceIssued.Lines must not implement it.
type TrimmedPayloads interface {
	TrimmedPayloads()
}

// EventFilter is optionally implemented by a Projection that uses only some event types.
// The runtime then decodes only the events it handles and passes only those to Apply; the
// checkpoint still advances over every event, and a batch with none of them commits the
// checkpoint alone. Decoding is most of a replay's cost, so a filter speeds up rebuilds of
// projections that read few types. Handles must depend on the type name only.
type EventFilter interface {
	Handles(eventType string) bool
}
