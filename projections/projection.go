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
// every event (including types it ignores).
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
	// Setup creates the projection's tables and indexes with unqualified names; it runs in
	// a transaction whose search_path is the (empty) build schema.
	Setup(ctx context.Context, tx pgx.Tx) error
	// Apply folds events, in global order, into the projection's tables. It runs inside the
	// transaction that also advances the checkpoint; returning an error rolls both back and
	// stalls the projection at the first event of the batch. Batches may hold thousands of
	// events (rebuilds use large ones): fold in memory and write set-based where you can.
	Apply(ctx context.Context, tx pgx.Tx, events []Event) error
}
