// Package events binds the domain's event types to the event store: one codec that knows
// every domain event (and, as schemas evolve, its upcasters), shared by the command side,
// the projections and the audit tools.
package events

import (
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/fastjson"
)

var (
	codecOnce sync.Once
	codec     *eventstore.Codec
)

// upcasters holds, per event type, the upcasters from each old schema version to the next.
// Every event is at schema version 1 today; when one changes shape, bump its SchemaVersion
// in domain/ and add the upcaster from the old version here.
var upcasters = map[string]map[int]eventstore.Upcaster{}

// Codec returns the codec registering every domain event at its current schema version.
func Codec() *eventstore.Codec {
	codecOnce.Do(func() {
		codec = eventstore.NewCodec()
		for _, e := range domain.AllEvents() {
			codec.Register(e.EventType(), e.SchemaVersion(), e, upcasters[e.EventType()])
		}
	})
	return codec
}

// Decode returns env's domain event, upcast to the current schema. Errors are
// *eventstore.DecodeError naming the type, stream and position.
func Decode(env *eventstore.Envelope) (domain.Event, error) {
	v, err := Codec().Decode(env)
	if err != nil {
		return nil, err
	}
	e, ok := v.(domain.Event)
	if !ok {
		return nil, &eventstore.DecodeError{Type: env.Type, SchemaVersion: env.SchemaVersion, StreamID: env.StreamID,
			Version: env.Version, Position: env.Position, Err: fmt.Errorf("invariant: %T is not a domain event", v)}
	}
	return e, nil
}

// Encode turns domain events into event data with fresh, time-ordered ids and md.
func Encode(md eventstore.Metadata, evs ...domain.Event) ([]eventstore.EventData, error) {
	out := make([]eventstore.EventData, len(evs))
	for i, e := range evs {
		name, version, data, err := Codec().Encode(e)
		if err != nil {
			return nil, err
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("event id: %w", err)
		}
		out[i] = eventstore.EventData{ID: id, Type: name, SchemaVersion: version, Data: data, Metadata: md}
	}
	return out, nil
}

// invoiceIssuedHead is InvoiceIssued without its lines: everything its journal entry needs.
// TestPartialTypesHaveTheirEventsFields and TestInvoiceIssuedHeadHasEveryFieldButLines keep it
// in step with domain.InvoiceIssued.
type invoiceIssuedHead struct {
	CustomerID    domain.CustomerID `json:"customer_id"`
	InvoiceID     domain.InvoiceID  `json:"invoice_id"`
	Number        string            `json:"number"`
	IssueDate     domain.Date       `json:"issue_date"`
	DueDate       domain.Date       `json:"due_date"`
	Currency      domain.Currency   `json:"currency"`
	Period        domain.Period     `json:"period"`
	NetTotal      domain.Money      `json:"net_total"`
	TaxTotal      domain.Money      `json:"tax_total"`
	Total         domain.Money      `json:"total"`
	CreditApplied domain.Money      `json:"credit_applied"`
	IssuedAt      time.Time         `json:"issued_at"`
}

// DecodeForPostings decodes env for its journal entry (domain.Postings) only: an
// InvoiceIssued comes back without its lines, which are most of its bytes and which the
// entry does not use. Every other event, and any schema version but the current one, is
// decoded in full by Decode.
func DecodeForPostings(env *eventstore.Envelope) (domain.Event, error) {
	issued := domain.InvoiceIssued{}
	if env.Type != issued.EventType() || env.SchemaVersion != issued.SchemaVersion() {
		return Decode(env)
	}
	var h invoiceIssuedHead
	if err := decodePart(env, &h); err != nil {
		return nil, err
	}
	return domain.InvoiceIssued{CustomerID: h.CustomerID, InvoiceID: h.InvoiceID, Number: h.Number,
		IssueDate: h.IssueDate, DueDate: h.DueDate, Currency: h.Currency, Period: h.Period, NetTotal: h.NetTotal,
		TaxTotal: h.TaxTotal, Total: h.Total, CreditApplied: h.CreditApplied, IssuedAt: h.IssuedAt}, nil
}

// invoiceIssuedAmounts and paymentRecordedAmounts hold only what the journal entries of the
// two most common money events need for their lines, customer and date (not their memos).
// TestPartialTypesHaveTheirEventsFields keeps their fields those of the domain events.
type invoiceIssuedAmounts struct {
	CustomerID    domain.CustomerID `json:"customer_id"`
	IssueDate     domain.Date       `json:"issue_date"`
	NetTotal      domain.Money      `json:"net_total"`
	TaxTotal      domain.Money      `json:"tax_total"`
	Total         domain.Money      `json:"total"`
	CreditApplied domain.Money      `json:"credit_applied"`
}

type paymentRecordedAmounts struct {
	CustomerID  domain.CustomerID   `json:"customer_id"`
	Amount      domain.Money        `json:"amount"`
	ReceivedAt  time.Time           `json:"received_at"`
	Allocations []domain.Allocation `json:"allocations"`
	Unapplied   domain.Money        `json:"unapplied"`
}

// DecodeForLedger decodes env for the lines, customer and date of its journal entry
// (domain.Postings) and nothing else: an InvoiceIssued or a PaymentRecorded comes back with
// only those fields set (so the entry's memo lacks its reference). Audit verify decodes every
// money event this way to check the ledger; every other event, and any schema version but
// the current one, is decoded by DecodeForPostings.
func DecodeForLedger(env *eventstore.Envelope) (domain.Event, error) {
	switch {
	case env.Type == (domain.InvoiceIssued{}).EventType() && env.SchemaVersion == (domain.InvoiceIssued{}).SchemaVersion():
		var a invoiceIssuedAmounts
		if err := decodePart(env, &a); err != nil {
			return nil, err
		}
		return domain.InvoiceIssued{CustomerID: a.CustomerID, IssueDate: a.IssueDate, NetTotal: a.NetTotal,
			TaxTotal: a.TaxTotal, Total: a.Total, CreditApplied: a.CreditApplied}, nil
	case env.Type == (domain.PaymentRecorded{}).EventType() && env.SchemaVersion == (domain.PaymentRecorded{}).SchemaVersion():
		var a paymentRecordedAmounts
		if err := decodePart(env, &a); err != nil {
			return nil, err
		}
		return domain.PaymentRecorded{CustomerID: a.CustomerID, Amount: a.Amount, ReceivedAt: a.ReceivedAt,
			Allocations: a.Allocations, Unapplied: a.Unapplied}, nil
	}
	return DecodeForPostings(env)
}

// decodePart decodes the fields of env's payload that v has.
func decodePart(env *eventstore.Envelope, v any) error {
	if err := fastjson.Unmarshal(env.Data, v); err != nil {
		return &eventstore.DecodeError{Type: env.Type, SchemaVersion: env.SchemaVersion, StreamID: env.StreamID,
			Version: env.Version, Position: env.Position, Err: err}
	}
	return nil
}
