package domain

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// Event is a fact recorded in a stream. Every event type is a struct value with stable
// snake_case JSON field names; EventType is its name in the store ("InvoiceIssued") and
// SchemaVersion the version of its JSON shape (bumped, with an upcaster in the event store,
// whenever the shape changes incompatibly).
type Event interface {
	EventType() string
	SchemaVersion() int
}

// AllEvents returns one zero value of every event type, in documentation order. The event
// store codec registers the types from this list, so every event type must be in it.
func AllEvents() []Event {
	return []Event{
		// Account stream: customer.
		CustomerRegistered{}, CustomerContactUpdated{}, CustomerDeactivated{},
		// Account stream: invoices.
		InvoiceCreated{}, InvoiceLineAdded{}, InvoiceIssued{}, InvoiceVoided{}, InvoiceMarkedOverdue{},
		// Account stream: payments and credit notes.
		PaymentRecorded{}, PaymentRefunded{}, CreditNoteIssued{},
		// Plan stream.
		PlanDefined{}, PlanRetired{},
		// Service stream.
		ServiceProvisioned{}, ServiceActivated{}, ServiceSuspended{}, ServiceResumed{},
		ServicePlanChanged{}, ServiceTerminated{},
		// Billing run stream.
		BillingRunStarted{}, BillingRunCustomerInvoiced{}, BillingRunCompleted{},
	}
}

// eventTypes maps each EventType name to its Go type.
var eventTypes = func() map[string]reflect.Type {
	m := make(map[string]reflect.Type)
	for _, e := range AllEvents() {
		m[e.EventType()] = reflect.TypeOf(e)
	}
	return m
}()

// DecodeEvent decodes the JSON payload of an event of the named type at its current schema
// version (older versions are upcast by the event store before they get here). Every value
// inside is validated by its own decoder (ids, money, dates, enums); unknown fields are
// ignored. An unknown type wraps ErrInvalid.
func DecodeEvent(eventType string, data []byte) (Event, error) {
	t, ok := eventTypes[eventType]
	if !ok {
		return nil, invalid("event type", eventType, "unknown")
	}
	ptr := reflect.New(t)
	if err := json.Unmarshal(data, ptr.Interface()); err != nil {
		return nil, fmt.Errorf("decode %s: %w", eventType, err)
	}
	e, ok := ptr.Elem().Interface().(Event)
	if !ok {
		return nil, invariantf("%s does not implement Event", t)
	}
	return e, nil
}
