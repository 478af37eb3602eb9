package readmodel

import (
	"fmt"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
)

// tenantOf returns the tenant of ev: its metadata's tenant, or, for an event recorded without
// one, the tenant named in its stream id. Both present and different is an invariant error.
func tenantOf(ev *projections.Event) (string, error) {
	if t := ev.Metadata.TenantID; t != "" {
		return t, nil
	}
	t, _, _, err := domain.ParseStream(ev.StreamID)
	if err != nil {
		return "", fmt.Errorf("invariant: event at position %d has no tenant: %w", ev.Position, err)
	}
	return t.String(), nil
}

// pos returns ev's global position as a bigint argument.
func pos(ev *projections.Event) int64 { return int64(ev.Position) } //nolint:gosec // positions fit in a bigint

// invariantf reports an event that cannot apply to the read model: the feed and this code
// disagree, and the projection must stop there.
func invariantf(ev *projections.Event, format string, args ...any) error {
	return fmt.Errorf("invariant: %s at position %d: %s", ev.Payload.EventType(), ev.Position, fmt.Sprintf(format, args...))
}

// fmtInvariant reports a batch that does not fit the read model's rows.
func fmtInvariant(format string, args ...any) error {
	return fmt.Errorf("invariant: "+format, args...)
}
