package audit

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// MaxHistoryEvents bounds one history (and one as-of replay) of a single stream.
const MaxHistoryEvents = 1_000_000

// HistoryEntry is one event as an auditor reads it.
type HistoryEntry struct {
	Position      eventstore.Position `json:"position"`
	Stream        string              `json:"stream"`
	Version       uint64              `json:"version"`
	Type          string              `json:"type"`
	SchemaVersion int                 `json:"schema_version"`
	OccurredAt    time.Time           `json:"occurred_at"`
	RecordedAt    time.Time           `json:"recorded_at"`
	Actor         string              `json:"actor,omitempty"`
	CorrelationID string              `json:"correlation_id,omitempty"`
	CausationID   string              `json:"causation_id,omitempty"`
	CommandID     string              `json:"command_id,omitempty"`
	RequestID     string              `json:"request_id,omitempty"`
	Hash          string              `json:"hash"`
	Data          json.RawMessage     `json:"data"`
}

// HistoryQuery selects the events of one stream, optionally only those concerning one
// entity inside it (an invoice, payment or credit note of a customer's account) and only
// those recorded within [From, To).
type HistoryQuery struct {
	Stream string
	// Entity filters on an id field of the payload ("invoice_id", "payment_id",
	// "credit_note_id"); EntityID is its value. An invoice's history includes the payments
	// allocated to it.
	Entity   string
	EntityID string
	From, To time.Time
}

// ErrNoHistory is returned when a stream or entity has no events.
var ErrNoHistory = errors.New("no events")

// History returns the events of q.Stream in order, with their provenance and hash.
func (a *Auditor) History(ctx context.Context, q HistoryQuery) ([]HistoryEntry, error) {
	envs, err := a.readStream(ctx, q.Stream)
	if err != nil {
		return nil, err
	}
	var out []HistoryEntry
	for i := range envs {
		e := &envs[i]
		if !q.From.IsZero() && e.RecordedAt().Before(q.From) || !q.To.IsZero() && !e.RecordedAt().Before(q.To) {
			continue
		}
		if q.Entity != "" && !concerns(e, q.Entity, q.EntityID) {
			continue
		}
		out = append(out, entryOf(e))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("history of %s %s: %w", q.Stream, q.EntityID, ErrNoHistory)
	}
	return out, nil
}

func (a *Auditor) readStream(ctx context.Context, stream string) ([]eventstore.Envelope, error) {
	var out []eventstore.Envelope
	from := uint64(1)
	for len(out) < MaxHistoryEvents {
		page, err := a.store.ReadStream(ctx, stream, from, eventstore.Forwards, PageSize)
		if err != nil {
			if errors.Is(err, eventstore.ErrStreamNotFound) {
				return nil, fmt.Errorf("stream %s: %w", stream, ErrNoHistory)
			}
			return nil, err
		}
		out = append(out, page...)
		if len(page) < PageSize {
			return out, nil
		}
		from = page[len(page)-1].Version + 1
	}
	return nil, fmt.Errorf("stream %s has more than %d events", stream, MaxHistoryEvents)
}

func entryOf(e *eventstore.Envelope) HistoryEntry {
	h := HistoryEntry{Position: e.Position, Stream: e.StreamID, Version: e.Version, Type: e.Type, SchemaVersion: e.SchemaVersion,
		RecordedAt: e.RecordedAt(), Actor: e.Metadata.Actor, CorrelationID: e.Metadata.CorrelationID,
		CausationID: e.Metadata.CausationID, CommandID: e.Metadata.CommandID, RequestID: e.Metadata.RequestID,
		Hash: hex.EncodeToString(e.Hash), Data: e.Data}
	if ev, err := codec.Decode(e); err == nil {
		h.OccurredAt = domain.OccurredAt(ev)
	}
	return h
}

// concerns reports whether e's payload names id in field (directly, or for invoices in a
// payment's allocations).
func concerns(e *eventstore.Envelope, field, id string) bool {
	var payload map[string]json.RawMessage
	if json.Unmarshal(e.Data, &payload) != nil {
		return false
	}
	var v string
	if json.Unmarshal(payload[field], &v) == nil && v == id {
		return true
	}
	if field != "invoice_id" {
		return false
	}
	var allocations []struct {
		InvoiceID string `json:"invoice_id"`
	}
	_ = json.Unmarshal(payload["allocations"], &allocations)
	for _, al := range allocations {
		if al.InvoiceID == id {
			return true
		}
	}
	return false
}
