package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// SpecVersion is the CloudEvents version of every integration event.
const SpecVersion = "1.0"

// ContentType is the media type of an integration event in structured mode.
const ContentType = "application/cloudevents+json"

// SourcePrefix starts every event's source: "dotmac-ledger/<tenant>".
const SourcePrefix = "dotmac-ledger/"

// Event is one integration event: a CloudEvent in its JSON structured form. Tenant and
// Position are extension attributes ("tenant", "position"); Position is the event's global
// position in the ledger's feed as a decimal string (CloudEvents integers are 32-bit).
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema"`
	Tenant          string          `json:"tenant"`
	Position        string          `json:"position"`
	Data            json.RawMessage `json:"data"`
}

// ErrNotMapped: a domain event type has no integration mapping (a programmer error that
// TestEveryEventTypeIsMapped catches).
var ErrNotMapped = errors.New("integration: event type has no mapping")

// DataSchema is the dataschema of a public type at a payload version.
func DataSchema(publicType string, version int) string {
	return fmt.Sprintf("urn:dotmac:ledger:%s:v%d", publicType, version)
}

// FromEnvelope decodes a stored event and maps it to its integration event. The tenant comes
// from the stream id (every stream of the ledger is "t-<tenant>/..."), the time is when the
// store recorded the event.
func FromEnvelope(env *eventstore.Envelope) (Event, error) {
	tenant, _, _, err := domain.ParseStream(env.StreamID)
	if err != nil {
		return Event{}, fmt.Errorf("integration: event %s at %d: %w", env.ID, env.Position, err)
	}
	e, err := codec.Decode(env)
	if err != nil {
		return Event{}, fmt.Errorf("integration: %w", err)
	}
	return Map(e, Meta{ID: env.ID.String(), Tenant: tenant.String(), Position: env.Position, Time: env.RecordedAt()})
}

// Meta is what an integration event takes from the stored event around the domain event.
type Meta struct {
	ID       string
	Tenant   string
	Position eventstore.Position
	Time     time.Time
}

// Map builds the integration event of e.
func Map(e domain.Event, m Meta) (Event, error) {
	mp, ok := mappings[e.EventType()]
	if !ok {
		return Event{}, fmt.Errorf("%w: %s", ErrNotMapped, e.EventType())
	}
	subject, payload, err := mp.build(e)
	if err != nil {
		return Event{}, err
	}
	data, err := json.Marshal(payload)
	if err != nil {
		return Event{}, fmt.Errorf("integration: encode %s: %w", mp.publicType, err)
	}
	return Event{
		SpecVersion: SpecVersion, ID: m.ID, Source: SourcePrefix + m.Tenant, Type: mp.publicType,
		Subject: subject, Time: m.Time.UTC(), DataContentType: "application/json",
		DataSchema: DataSchema(mp.publicType, mp.version), Tenant: m.Tenant,
		Position: strconv.FormatUint(uint64(m.Position), 10), Data: data,
	}, nil
}

// PublicType returns the public type of a domain event type ("InvoiceIssued" ->
// "billing.invoice_issued"), or "" when it has none.
func PublicType(eventType string) string { return mappings[eventType].publicType }

// PublicTypes returns every public type, in the order of domain.AllEvents.
func PublicTypes() []string {
	var out []string
	for _, e := range domain.AllEvents() {
		if t := PublicType(e.EventType()); t != "" {
			out = append(out, t)
		}
	}
	return out
}
