package process

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
)

// WithRouterCloseTimeout returns cfg with the router's close timeout set to d.
func WithRouterCloseTimeout(cfg Config, d time.Duration) Config {
	cfg.closeTimeout = d
	return cfg
}

// WithBeforeSend returns cfg with fn called before each command the managers send; an error
// from fn fails that send.
func WithBeforeSend(cfg Config, fn func(cmd any) error) Config {
	cfg.beforeSend = fn
	return cfg
}

// DunningBatch runs the dunning group's handler on envs, as on one message of its feed.
func (m *Manager) DunningBatch(ctx context.Context, envs []eventstore.Envelope) error {
	return m.dunningBatch(ctx, envs)
}

// Statements of the tracker over one tenant's invoices (TestTrackerReadsInvoicesByKey).
const (
	SettleSQL        = settleSQL
	DeleteSettledSQL = deleteSettledSQL
	PageSettingsSQL  = pageSettingsSQL
)

// NewHoldsAt is NewHolds on the clock now, so that a test decides when a hold lapses.
func NewHoldsAt(pool *pgxpool.Pool, now func() time.Time) *Holds {
	h := NewHolds(pool)
	h.now = now
	return h
}
