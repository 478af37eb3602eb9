package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/integration"
)

// FanoutConsumer is the feed consumer (row of feed_checkpoints) that fans events into the
// outbox.
const FanoutConsumer = "integration.webhooks"

// notifyChannel is the PostgreSQL channel a fan-out or a replay notifies when it enqueued
// deliveries: the dispatcher wakes at its commit.
const notifyChannel = "dotmac_webhooks"

func positionOf(p int64) eventstore.Position {
	return eventstore.Position(p) //nolint:gosec // checked non-negative by the tables
}

// target is an enabled endpoint as the fan-out sees it.
type target struct {
	id     uuid.UUID
	from   eventstore.Position
	filter []string
}

// fanout is the consumer's handler: it adds a delivery for every event of envs and every
// enabled endpoint of the event's tenant registered before it whose filter lets it through,
// in tx (the consumer's checkpoint transaction), and notifies the dispatcher.
func fanout(maxAge time.Duration, now func() time.Time) func(ctx context.Context, tx pgx.Tx, envs []eventstore.Envelope) error {
	return func(ctx context.Context, tx pgx.Tx, envs []eventstore.Envelope) error {
		// The events of each tenant, by index into envs: a tenant without an enabled
		// endpoint (most, on most batches) costs no copy of its events.
		tenants := map[string][]int{}
		for i := range envs {
			tenant, _, _, err := domain.ParseStream(envs[i].StreamID)
			if err != nil {
				continue // not a tenant's stream: nothing a tenant's endpoint receives
			}
			tenants[tenant.String()] = append(tenants[tenant.String()], i)
		}
		targets, err := enabledTargets(ctx, tx, tenants)
		if err != nil || len(targets) == 0 {
			return err
		}
		var rows []outboxRow
		for tenant, ts := range targets {
			for _, i := range tenants[tenant] {
				r, err := rowsFor(&envs[i], tenant, ts, func(t target, pos eventstore.Position) bool { return pos > t.from })
				if err != nil {
					return err
				}
				rows = append(rows, r...)
			}
		}
		return enqueueAndNotify(ctx, tx, rows, now(), maxAge, false)
	}
}

func enqueueAndNotify(ctx context.Context, tx pgx.Tx, rows []outboxRow, now time.Time, maxAge time.Duration, reset bool) error {
	n, err := enqueue(ctx, tx, rows, now, maxAge, reset)
	if err != nil || n == 0 {
		return err
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel)
	return err
}

// enabledTargets reads the enabled endpoints of the tenants.
func enabledTargets(ctx context.Context, tx pgx.Tx, tenants map[string][]int) (map[string][]target, error) {
	names := make([]string, 0, len(tenants))
	for t := range tenants {
		names = append(names, t)
	}
	rows, err := tx.Query(ctx, `SELECT tenant, id, from_position, event_types FROM webhook_endpoints
WHERE enabled AND tenant = ANY($1) ORDER BY id`, names)
	if err != nil {
		return nil, fmt.Errorf("webhooks: endpoints: %w", err)
	}
	defer rows.Close()
	out := map[string][]target{}
	for rows.Next() {
		var tenant string
		var t target
		var from int64
		if err := rows.Scan(&tenant, &t.id, &from, &t.filter); err != nil {
			return nil, fmt.Errorf("webhooks: endpoints: %w", err)
		}
		t.from = positionOf(from)
		out[tenant] = append(out[tenant], t)
	}
	return out, rows.Err()
}

// rowsFor maps env to its integration event once and returns a delivery for each target that
// takes it.
func rowsFor(env *eventstore.Envelope, tenant string, ts []target, takes func(target, eventstore.Position) bool) ([]outboxRow, error) {
	publicType := integration.PublicType(env.Type)
	if !slices.ContainsFunc(ts, func(t target) bool { return takes(t, env.Position) && Matches(t.filter, publicType) }) {
		return nil, nil
	}
	ev, err := integration.FromEnvelope(env)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("webhooks: encode event %s: %w", ev.ID, err)
	}
	var out []outboxRow
	for _, t := range ts {
		if takes(t, env.Position) && Matches(t.filter, ev.Type) {
			out = append(out, outboxRow{endpointID: t.id, tenant: tenant, eventID: ev.ID, eventType: ev.Type,
				position: int64(env.Position), payload: payload}) //nolint:gosec // positions fit
		}
	}
	return out, nil
}

// belongsTo reports whether env is an event of tenant's streams.
func belongsTo(env *eventstore.Envelope, tenant string) bool {
	t, _, _, err := domain.ParseStream(env.StreamID)
	return err == nil && t.String() == tenant
}
