package process

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	esw "github.com/dotmac/ledger/eventstore/watermill"
)

// eventMarshaler is the cqrs marshaler of the domain events the event-store subscriber
// delivers (see eventstore/watermill.MessageFromEnvelope): the name is the event type, and
// Unmarshal decodes through the event codec (upcasters included). The process managers never
// publish events, so Marshal refuses.
type eventMarshaler struct{}

var _ cqrs.CommandEventMarshaler = eventMarshaler{}

var errPublishEvent = errors.New("process managers do not publish events")

func (eventMarshaler) Marshal(any) (*message.Message, error) { return nil, errPublishEvent }

// Name returns the event type of a domain event (or a pointer to one).
func (eventMarshaler) Name(v any) string {
	if e, ok := v.(domain.Event); ok {
		return e.EventType()
	}
	return fmt.Sprintf("(not a domain event: %T)", v)
}

// NameFromMessage returns the event type a message carries.
func (eventMarshaler) NameFromMessage(msg *message.Message) string {
	return msg.Metadata.Get(esw.MetaEventType)
}

// Unmarshal decodes msg into v, a pointer to the domain event type msg carries.
func (eventMarshaler) Unmarshal(msg *message.Message, v any) error {
	env, err := envelopeOf(msg)
	if err != nil {
		return err
	}
	e, err := codec.Decode(&env)
	if err != nil {
		return err
	}
	dst := reflect.ValueOf(v)
	src := reflect.ValueOf(e)
	if dst.Kind() != reflect.Pointer || dst.IsNil() || src.Type() != dst.Elem().Type() {
		return fmt.Errorf("invariant: cannot unmarshal %s into %T", env.Type, v)
	}
	dst.Elem().Set(src)
	return nil
}

// envelopeOf rebuilds what the codec needs of the stored event from a single-event message.
func envelopeOf(msg *message.Message) (eventstore.Envelope, error) {
	md := msg.Metadata
	sv, err := strconv.Atoi(md.Get(esw.MetaSchemaVersion))
	if err != nil {
		return eventstore.Envelope{}, fmt.Errorf("message %s: schema version: %w", msg.UUID, err)
	}
	pos, err := strconv.ParseUint(md.Get(esw.MetaPosition), 10, 64)
	if err != nil {
		return eventstore.Envelope{}, fmt.Errorf("message %s: position: %w", msg.UUID, err)
	}
	version, err := strconv.ParseUint(md.Get(esw.MetaStreamVersion), 10, 64)
	if err != nil {
		return eventstore.Envelope{}, fmt.Errorf("message %s: stream version: %w", msg.UUID, err)
	}
	return eventstore.Envelope{StreamID: md.Get(esw.MetaStreamID), Version: version, Position: eventstore.Position(pos),
		Type: md.Get(esw.MetaEventType), SchemaVersion: sv, Data: []byte(msg.Payload)}, nil
}

// origin is where a handled event came from: its id (the cause of the commands it leads to),
// its tenant and its position.
type origin struct {
	cause    uuid.UUID
	tenant   domain.TenantID
	position eventstore.Position
}

// originOf reads the origin of the event being handled from the message in ctx.
func originOf(msg *message.Message) (origin, error) {
	if msg == nil {
		return origin{}, errors.New("invariant: no message in the handler's context")
	}
	tenant, _, _, err := domain.ParseStream(msg.Metadata.Get(esw.MetaStreamID))
	if err != nil {
		return origin{}, fmt.Errorf("event %s: %w", msg.UUID, err)
	}
	pos, err := strconv.ParseUint(msg.Metadata.Get(esw.MetaPosition), 10, 64)
	if err != nil {
		return origin{}, fmt.Errorf("event %s: position: %w", msg.UUID, err)
	}
	cause, err := uuid.Parse(msg.UUID) // the subscriber names a domain event's message by its event id
	if err != nil {
		return origin{}, fmt.Errorf("invariant: event at position %d has the non-UUID id %q", pos, msg.UUID)
	}
	return origin{cause: cause, tenant: tenant, position: eventstore.Position(pos)}, nil
}
