package readmodeltest_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

var twoTenants = []domainsim.Tenant{{Name: "acme", Currency: "USD"}, {Name: "gulf", Currency: "BHD"}}

// TestGenerateCoversEveryKind: the History as the simulator's sink records every command kind,
// event type and activity, numbers the feed densely with each stream's versions in order, and
// fills every envelope's Data.
func TestGenerateCoversEveryKind(t *testing.T) {
	t.Parallel()
	h := readmodeltest.NewHistory(time.Time{}, 1)
	h.WithData = true
	stats, err := domainsim.Run(domainsim.Config{Tenants: twoTenants, Customers: 12, Months: 4, Seed: 1, GraceDays: 10}, h)
	require.NoError(t, err)
	assert.Empty(t, stats.Missing())
	evs := h.Events()
	require.Len(t, evs, stats.EventCount())
	versions := map[string]uint64{}
	for i, e := range evs {
		versions[e.StreamID]++
		require.Equal(t, uint64(i+1), uint64(e.Position))
		require.Equal(t, versions[e.StreamID], e.Version, "position %d", e.Position)
		require.NotEmpty(t, e.Data)
		require.Equal(t, e.Payload.EventType(), e.Type)
	}
}

// TestGenerateIsReproducible: the same Config gives the same feed, ids and all, whatever
// its Workers; tenants default to acme.
func TestGenerateIsReproducible(t *testing.T) {
	t.Parallel()
	cfg := domainsim.Config{Tenants: twoTenants, Customers: 10, Months: 3, Seed: 9}
	a, err := readmodeltest.Generate(cfg)
	require.NoError(t, err)
	cfg.Workers = 4 // ignored: one feed, in order
	b, err := readmodeltest.Generate(cfg)
	require.NoError(t, err)
	assert.Equal(t, a, b)
	one, err := readmodeltest.Generate(domainsim.Config{Customers: 1, Months: 1})
	require.NoError(t, err)
	assert.Equal(t, "acme", one[0].Metadata.TenantID)
}
