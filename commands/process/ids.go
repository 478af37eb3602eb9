package process

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
)

// deriveID returns a UUIDv7 determined by source and the labels: the 48-bit millisecond
// timestamp of source (a UUIDv7 itself, so derived ids sort by their cause) followed by bits
// of SHA-256(source, labels). The same inputs always give the same id. It is how every
// command id of the process managers is made (see the package documentation).
func deriveID(source uuid.UUID, labels ...string) uuid.UUID {
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

// dayCause is the cause of what a scheduler does for tenant on day: a UUIDv7 with the day's
// midnight as its timestamp, so every tick of the same day names the same commands.
func dayCause(kind string, tenant domain.TenantID, day domain.Date) uuid.UUID {
	var base uuid.UUID
	ms := uint64(max(day.Time().UnixMilli(), 0)) //nolint:gosec // not negative
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ms)
	copy(base[:6], b[2:])
	return deriveID(base, kind, tenant.String(), day.String())
}

// periodCause is the cause of the scheduled billing run of tenant's period.
func periodCause(tenant domain.TenantID, period domain.Period) uuid.UUID {
	return dayCause("billing schedule", tenant, period.Start())
}

// DunningTickCause is the cause of the dunning sweep's evaluations of tenant's customers on
// day: the commands of every sweep of the same day share it (their ids also name the service
// version decided on, so a later episode on the same day still acts).
func DunningTickCause(tenant domain.TenantID, day domain.Date) uuid.UUID {
	return dayCause("dunning", tenant, day)
}
