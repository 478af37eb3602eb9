package process

import (
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// The commands the process managers send over their CommandBus (JSON, in process). Each
// carries its cause and the instant it was decided to send it: the handler acts at that
// instant and derives its command ids from the cause.

// RunBillingPeriod asks the billing manager to run a tenant's billing run of Period to
// completion (commands.Handlers.RunBilling), starting it if needed.
type RunBillingPeriod struct {
	Tenant domain.TenantID `json:"tenant"`
	Period domain.Period   `json:"period"`
	Cause  uuid.UUID       `json:"cause"`
	At     time.Time       `json:"at"`
}

// EvaluateDunning asks the dunning manager to apply the policy to one customer (Dunning.Evaluate).
type EvaluateDunning struct {
	Tenant   domain.TenantID   `json:"tenant"`
	Customer domain.CustomerID `json:"customer"`
	Cause    uuid.UUID         `json:"cause"`
	At       time.Time         `json:"at"`
	// Position is the feed position of the customer's last event in the batch that asked for
	// the evaluation (absent: a scheduler tick, or a message of an older release), see
	// Trigger.Position.
	Position eventstore.Position `json:"position,omitempty"`
}

// MarkOverdueInvoice asks the overdue scheduler to mark one invoice overdue (MarkOverdue).
type MarkOverdueInvoice struct {
	Tenant   domain.TenantID   `json:"tenant"`
	Customer domain.CustomerID `json:"customer"`
	Invoice  domain.InvoiceID  `json:"invoice"`
	At       time.Time         `json:"at"`
}
