package process

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/domain"
)

// DefaultHoldTTL is how long a hold lasts unless renewed: a tool that crashes while holding
// a tenant leaves it to the managers again after this long.
const DefaultHoldTTL = 2 * time.Minute

// ErrHeld is returned by Holds.Hold when another holder's hold on the tenant has not lapsed.
var ErrHeld = errors.New("the tenant is held by another tool")

// Holds are the tenants the process managers leave alone. A tool that records a tenant's
// history through the handlers at simulated or past instants (demo seed, import) holds the
// tenant meanwhile: otherwise the running server's scheduler would mark that history's
// invoices overdue at today's date and dunning would suspend the services the tool is still
// creating, and the two would decide against each other. While a tenant is held the managers
// send none of its commands (overdue marks, dunning, billing runs) and acknowledge its events;
// once the hold ends, the next scheduler tick marks and sweeps whatever is due, so nothing is
// lost, only later. A hold lapses DefaultHoldTTL (or the ttl given) after it was last renewed.
// Holds lives in the process managers' schema (MigrationSet, table proc_tenant_holds).
type Holds struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// NewHolds returns the holds kept in pool.
func NewHolds(pool *pgxpool.Pool) *Holds { return &Holds{pool: pool, now: time.Now} }

// Hold holds tenant for holder until ttl from now, or renews holder's own hold. It fails with
// ErrHeld while another holder's hold has not lapsed.
func (h *Holds) Hold(ctx context.Context, tenant domain.TenantID, holder, reason string, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = DefaultHoldTTL
	}
	now := h.now()
	tag, err := h.pool.Exec(ctx, `
		INSERT INTO proc_tenant_holds (tenant, holder, reason, held_at, expires_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant) DO UPDATE SET holder = EXCLUDED.holder, reason = EXCLUDED.reason,
			held_at = CASE WHEN proc_tenant_holds.holder = EXCLUDED.holder THEN proc_tenant_holds.held_at ELSE EXCLUDED.held_at END,
			expires_at = EXCLUDED.expires_at
		WHERE proc_tenant_holds.holder = EXCLUDED.holder OR proc_tenant_holds.expires_at <= EXCLUDED.held_at`,
		tenant.String(), holder, reason, now, now.Add(ttl))
	if err != nil {
		return fmt.Errorf("hold tenant %s: %w", tenant, err)
	}
	if tag.RowsAffected() == 0 {
		var other string
		var until time.Time
		err := h.pool.QueryRow(ctx, `SELECT holder, expires_at FROM proc_tenant_holds WHERE tenant = $1`, tenant.String()).Scan(&other, &until)
		if err != nil {
			return fmt.Errorf("hold tenant %s: %w", tenant, err)
		}
		return fmt.Errorf("hold tenant %s: %w (%s, until %s)", tenant, ErrHeld, other, until.UTC().Format(time.RFC3339))
	}
	return nil
}

// Keep renews holder's hold on tenant every ttl/3 until ctx ends. It returns the error of a
// renewal that failed (the hold may then lapse while the tool still works) or nil when ctx
// ended.
func (h *Holds) Keep(ctx context.Context, tenant domain.TenantID, holder, reason string, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = DefaultHoldTTL
	}
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := h.Hold(ctx, tenant, holder, reason, ttl); err != nil && ctx.Err() == nil {
			return err
		}
	}
}

// Release ends holder's hold on tenant (nothing when it holds none).
func (h *Holds) Release(ctx context.Context, tenant domain.TenantID, holder string) error {
	if _, err := h.pool.Exec(ctx, `DELETE FROM proc_tenant_holds WHERE tenant = $1 AND holder = $2`, tenant.String(), holder); err != nil {
		return fmt.Errorf("release tenant %s: %w", tenant, err)
	}
	return nil
}

// HeldAmong returns which of tenants are held now, in one statement (a batch's check).
func (h *Holds) HeldAmong(ctx context.Context, tenants []domain.TenantID) (map[domain.TenantID]bool, error) {
	byName := make(map[string]domain.TenantID, len(tenants))
	names := make([]string, 0, len(tenants))
	for _, t := range tenants {
		byName[t.String()] = t
		names = append(names, t.String())
	}
	rows, err := h.pool.Query(ctx, `SELECT tenant FROM proc_tenant_holds WHERE tenant = ANY($1::text[]) AND expires_at > $2`, names, h.now())
	if err != nil {
		return nil, fmt.Errorf("are tenants held: %w", err)
	}
	held, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("are tenants held: %w", err)
	}
	out := make(map[domain.TenantID]bool, len(held))
	for _, name := range held {
		out[byName[name]] = true
	}
	return out, nil
}

// Held reports whether tenant is held now.
func (h *Holds) Held(ctx context.Context, tenant domain.TenantID) (bool, error) {
	var held bool
	err := h.pool.QueryRow(ctx, `SELECT true FROM proc_tenant_holds WHERE tenant = $1 AND expires_at > $2`, tenant.String(), h.now()).Scan(&held)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("is tenant %s held: %w", tenant, err)
	}
	return held, nil
}
