package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

// Numbers allocates invoice numbers from one counter row per tenant and year. Each Next is one
// statement that increments the row under its row lock, so concurrent commands (and several
// processes) never get the same number, and the lock is held for microseconds only.
//
// We chose a table over a counter stream in the event store: a counter stream would put
// bookkeeping events into the global feed that every projector and auditor must skip, and it
// would cost an event-store append (and a hash-chain link) per number. A number taken by a
// command whose append then fails is skipped (see package commands): numbers are unique and
// increasing per tenant and year, with gaps only after failures.
type Numbers struct {
	pool *pgxpool.Pool
	opts Options
}

var (
	_ commands.InvoiceNumbers      = (*Numbers)(nil)
	_ commands.InvoiceNumberRanges = (*Numbers)(nil)
)

// NewNumbers returns the counters in pool's schema (MigrationSet applied).
func NewNumbers(pool *pgxpool.Pool, opts Options) *Numbers { return &Numbers{pool: pool, opts: opts} }

// Next returns the next number of tenant and year: 1, 2, 3, ...
func (n *Numbers) Next(ctx context.Context, tenant domain.TenantID, year int) (int64, error) {
	var next int64
	err := queryRow(ctx, n.pool, settings{async: n.opts.AsyncCommit}, []any{&next}, `
		INSERT INTO cmd_invoice_numbers (tenant, year, last) VALUES ($1, $2, 1)
		ON CONFLICT (tenant, year) DO UPDATE SET last = cmd_invoice_numbers.last + 1
		RETURNING last`, tenant.String(), year)
	return next, classify("invoice number", err)
}

// NextRange takes the next n numbers of tenant and year at once (a billing run's group) in
// one statement: first, first+1, ..., first+n-1.
func (n *Numbers) NextRange(ctx context.Context, tenant domain.TenantID, year, count int) (int64, error) {
	if count < 1 {
		return 0, &domain.InvalidValueError{Field: "invoice numbers", Value: fmt.Sprint(count), Reason: "want at least one"}
	}
	var last int64
	err := queryRow(ctx, n.pool, settings{async: n.opts.AsyncCommit}, []any{&last}, `
		INSERT INTO cmd_invoice_numbers (tenant, year, last) VALUES ($1, $2, $3)
		ON CONFLICT (tenant, year) DO UPDATE SET last = cmd_invoice_numbers.last + $3
		RETURNING last`, tenant.String(), year, int64(count))
	return last - int64(count) + 1, classify("invoice numbers", err)
}

// Last returns the last number handed out for tenant and year (0: none yet), taking none: a
// dry run numbers its invoices after it.
func (n *Numbers) Last(ctx context.Context, tenant domain.TenantID, year int) (int64, error) {
	var last int64
	err := queryRow(ctx, n.pool, settings{}, []any{&last}, `
		SELECT coalesce((SELECT last FROM cmd_invoice_numbers WHERE tenant = $1 AND year = $2), 0)`, tenant.String(), year)
	return last, classify("invoice number", err)
}
