package webhooks

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/eventstore"
)

// ErrReplayTooFar: a replay names a position after the head.
var ErrReplayTooFar = errors.New("webhooks: replay position after the head")

// Limits of one replay call.
const (
	MaxReplayEvents     = 100_000
	MaxReplayDeliveries = 5_000
	replayPage          = 1_000
)

// ReplayResult says what a replay call enqueued and, when it stopped at a limit, where to
// continue (Next, the from_position of the next call).
type ReplayResult struct {
	Enqueued int
	Next     *eventstore.Position
}

// Replay makes the events after position from that the endpoint's filter lets through due
// again for the tenant's endpoint, up to the fan-out's checkpoint (later events are fanned
// out anyway), whether or not they were delivered before; they keep their webhook-id. One
// call reads at most MaxReplayEvents events and enqueues at most MaxReplayDeliveries.
func (s *Service) Replay(ctx context.Context, tenant string, id uuid.UUID, from eventstore.Position) (ReplayResult, error) {
	e, err := s.store.Get(ctx, tenant, id)
	if err != nil {
		return ReplayResult{}, err
	}
	upTo, err := s.cons.Position(ctx)
	if err != nil {
		return ReplayResult{}, err
	}
	upTo = max(upTo, e.FromPosition)
	if head, err := s.events.Head(ctx); err != nil {
		return ReplayResult{}, fmt.Errorf("webhooks: replay: %w", err)
	} else if from > head {
		return ReplayResult{}, ErrReplayTooFar
	}
	return s.replay(ctx, e, from, upTo)
}

func (s *Service) replay(ctx context.Context, e Endpoint, from, upTo eventstore.Position) (ReplayResult, error) {
	var res ReplayResult
	ts := []target{{id: e.ID, filter: e.EventTypes}}
	takes := func(_ target, pos eventstore.Position) bool { return pos <= upTo }
	for scanned := 0; from < upTo; {
		if scanned >= MaxReplayEvents || res.Enqueued >= MaxReplayDeliveries {
			res.Next = &from
			return res, nil
		}
		envs, err := s.events.ReadAll(ctx, from, replayPage)
		if err != nil || len(envs) == 0 {
			return res, err
		}
		rows, err := s.replayRows(envs, e.Tenant, ts, takes)
		if err != nil {
			return res, err
		}
		if err := s.enqueueReplay(ctx, rows); err != nil {
			return res, err
		}
		res.Enqueued += len(rows)
		scanned += len(envs)
		from = envs[len(envs)-1].Position
	}
	return res, nil
}

func (s *Service) replayRows(envs []eventstore.Envelope, tenant string, ts []target,
	takes func(target, eventstore.Position) bool) ([]outboxRow, error) {
	var rows []outboxRow
	for i := range envs {
		if !belongsTo(&envs[i], tenant) {
			continue
		}
		r, err := rowsFor(&envs[i], tenant, ts, takes)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

func (s *Service) enqueueReplay(ctx context.Context, rows []outboxRow) error {
	if len(rows) == 0 {
		return nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("webhooks: replay: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := enqueueAndNotify(ctx, tx, rows, s.cfg.Now(), s.cfg.MaxAge, true); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
