package readmodel

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/projections"
)

// loadMaxRows is how many changing rows (invoices, payments, balances) a Load holds in
// memory before it writes them and lets them go: about 30 MB of invoices.
const loadMaxRows = 50_000

// folder is a read model's in-memory fold, shared by its Apply (one per batch) and its Load
// (one across a rebuild's batches).
type folder interface {
	// fold reads the rows evs change that it does not hold, and folds evs in memory.
	fold(ctx context.Context, tx pgx.Tx, evs []projections.Event) error
	// held is how many changing rows it holds.
	held() int
	// writeRows writes the changing rows it holds (new ones inserted, others updated) and
	// lets them go.
	writeRows(ctx context.Context, tx pgx.Tx) error
	// writeAdded COPYs the rows that never change once written, folded since it last ran.
	writeAdded(ctx context.Context, tx pgx.Tx) error
}

// applyFold is a read model's Apply: fold the batch, write everything.
func applyFold(ctx context.Context, tx pgx.Tx, f folder, evs []projections.Event) error {
	if err := f.fold(ctx, tx, evs); err != nil {
		return err
	}
	if err := f.writeRows(ctx, tx); err != nil {
		return err
	}
	return f.writeAdded(ctx, tx)
}

// heldLoad is a read model's Load: it writes each batch's added rows, and its changing rows
// only when it holds maxRows of them, and at Flush.
type heldLoad struct {
	f       folder
	maxRows int
}

func newHeldLoad(f folder) *heldLoad { return &heldLoad{f: f, maxRows: loadMaxRows} }

func (l *heldLoad) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	if err := l.f.fold(ctx, tx, evs); err != nil {
		return err
	}
	if err := l.f.writeAdded(ctx, tx); err != nil {
		return err
	}
	if l.f.held() >= l.maxRows {
		return l.f.writeRows(ctx, tx)
	}
	return nil
}

func (l *heldLoad) Flush(ctx context.Context, tx pgx.Tx) error { return l.f.writeRows(ctx, tx) }
