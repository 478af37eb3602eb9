package commands

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
)

// DeriveUUID returns a UUIDv7 determined by source and the labels: the 48-bit millisecond
// timestamp of source (itself a UUIDv7, so derived ids still sort by creation time) followed
// by bits of SHA-256(source, labels), labels length-prefixed. The same inputs always give the
// same id. Process managers use it to derive a command id from the event that caused it, so a
// redelivered event runs the same command (see Meta.CommandID).
func DeriveUUID(source uuid.UUID, labels ...string) uuid.UUID {
	h := sha256.New()
	h.Write(source[:])
	for _, l := range labels {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(l))) //nolint:gosec // labels are short
		h.Write(n[:])
		h.Write([]byte(l))
	}
	sum := h.Sum(nil)
	var u uuid.UUID
	copy(u[:6], source[:6])
	copy(u[6:], sum[:10])
	u[6] = 0x70 | (u[6] & 0x0f) // version 7
	u[8] = 0x80 | (u[8] & 0x3f) // RFC 9562 variant
	return u
}

// idFor returns the id of the entity a command creates, derived from its command id: the
// same command execution always creates the same id.
func idFor[K any](m Meta, label string, wrap func(uuid.UUID) (K, error)) (K, error) {
	return wrap(DeriveUUID(m.CommandID, "entity", label))
}

// eventID is the id of the index-th event a command appends to stream at expected version.
func eventID(m Meta, stream string, expected uint64, index int) uuid.UUID {
	var v [16]byte
	binary.BigEndian.PutUint64(v[:8], expected)
	binary.BigEndian.PutUint64(v[8:], uint64(index)) //nolint:gosec // index >= 0
	return DeriveUUID(m.CommandID, "event", stream, string(v[:]))
}

// recurringInvoiceID is the id of the invoice run gives customer: a re-invoked run names the
// same invoice.
func recurringInvoiceID(run domain.BillingRunID, customer domain.CustomerID) (domain.InvoiceID, error) {
	return domain.NewInvoiceID(DeriveUUID(run.UUID(), "recurring invoice", customer.String()))
}

// lineIDs returns n line ids derived from source (a command id, or a recurring invoice's id).
func lineIDs(source uuid.UUID, n int) ([]domain.LineID, error) {
	out := make([]domain.LineID, n)
	for i := range out {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i)) //nolint:gosec // i >= 0
		id, err := domain.NewLineID(DeriveUUID(source, "line", string(b[:])))
		if err != nil {
			return nil, err
		}
		out[i] = id
	}
	return out, nil
}

// CustomerIDFor returns the id of the customer RegisterCustomer creates when run with command
// id commandID: a caller that chooses its command ids (an import) knows its ids beforehand.
func CustomerIDFor(commandID uuid.UUID) (domain.CustomerID, error) {
	return idFor(Meta{CommandID: commandID}, "customer", domain.NewCustomerID)
}

// ServiceIDFor returns the id of the service ProvisionService creates when run with command
// id commandID.
func ServiceIDFor(commandID uuid.UUID) (domain.ServiceID, error) {
	return idFor(Meta{CommandID: commandID}, "service", domain.NewServiceID)
}

// BillingRunIDFor returns the id of the billing run RunBilling starts when run with command id
// commandID (the run of a period nobody had started).
func BillingRunIDFor(commandID uuid.UUID) (domain.BillingRunID, error) {
	return idFor(Meta{CommandID: commandID}, "billing run", domain.NewBillingRunID)
}
