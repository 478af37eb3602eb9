package process

import (
	"encoding/binary"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

// deriveID derives a command id from its cause and labels (commands.DeriveUUID): the same
// cause always names the same command. It is how every command id of the process managers is
// made (see the package documentation).
func deriveID(source uuid.UUID, labels ...string) uuid.UUID {
	return commands.DeriveUUID(source, labels...)
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
