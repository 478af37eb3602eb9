package process

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// Actors: the process managers' names in the metadata of the events they cause.
const (
	ActorBilling = "process/billing"
	ActorDunning = "process/dunning"
	ActorOverdue = "process/overdue"
)

// Trigger says why and when a process manager acts. The commands it leads to are decided at
// At (commands.Meta.At), their command ids are derived from Cause and the target, and they
// run with Meta.Recovering: sent again for the same cause (a redelivered event, a restarted
// tick), a command that took effect already returns its first result instead of acting twice.
type Trigger struct {
	Tenant domain.TenantID
	// Cause is the id of the triggering event, or of the scheduler's tick (dayCause).
	Cause uuid.UUID
	// At is the instant to decide at (zero: the handlers' clock).
	At time.Time
	// CorrelationID is copied into the events' metadata (default: Cause).
	CorrelationID string
	// Position is the feed position of the triggering event (0: none, a scheduler tick): what
	// is decided on includes at least every event up to it.
	Position eventstore.Position
}

// meta returns the Meta of the command with id commandID sent by actor.
func (t Trigger) meta(actor string, commandID uuid.UUID) commands.Meta {
	corr := t.CorrelationID
	if corr == "" {
		corr = t.Cause.String()
	}
	return commands.Meta{Tenant: t.Tenant, Actor: actor, CorrelationID: corr, CausationID: t.Cause.String(),
		CommandID: commandID, Recovering: true, At: t.At}
}

// nothingToDo reports whether err is a refusal meaning the state has moved on (the invoice
// was paid, the service changed, the customer is gone): the command is not needed.
func nothingToDo(err error) bool {
	return errors.Is(err, domain.ErrRejected) || errors.Is(err, domain.ErrNotFound)
}

// MarkOverdue marks an invoice overdue at t.At (MarkInvoiceOverdue). Its command id is derived
// from the invoice alone, so however often it is sent (a second tick, a restart) an invoice is
// marked at most once. marked reports whether the invoice is marked by this command, now or in
// an earlier execution; it is false when no mark was needed (not yet due, already overdue,
// settled, void or unknown).
//
// Errors are the handlers' failures (the store unavailable, ctx ended); refusals are not errors.
func MarkOverdue(ctx context.Context, h *commands.Handlers, t Trigger, customer domain.CustomerID, invoice domain.InvoiceID) (res commands.Result, marked bool, err error) {
	id := deriveID(invoice.UUID(), "mark overdue", t.Tenant.String())
	res, err = h.MarkInvoiceOverdue(ctx, t.meta(ActorOverdue, id), commands.MarkInvoiceOverdue{CustomerID: customer, InvoiceID: invoice})
	switch {
	case err == nil:
		return res, res.Changed(), nil
	case nothingToDo(err):
		return commands.Result{}, false, nil
	default:
		return commands.Result{}, false, fmt.Errorf("mark invoice %s overdue: %w", invoice, err)
	}
}
