package readmodeltest

import (
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/projections"
)

// Generate runs the customer simulator (domainsim.Run) over cfg into a History and returns
// its feed: every event decided by the domain, numbered in order, with its Data (JSON).
// Tenants default to one, "acme" in USD; the simulation runs one customer after the other
// (cfg.Workers is ignored), so the same cfg always gives the same feed, ids included.
func Generate(cfg domainsim.Config) ([]projections.Event, error) {
	if len(cfg.Tenants) == 0 {
		cfg.Tenants = []domainsim.Tenant{{Name: "acme", Currency: "USD"}}
	}
	cfg.Workers = 1
	h := NewHistory(cfg.Start.Start().Time(), cfg.Seed)
	h.WithData = true
	if _, err := domainsim.Run(cfg, h); err != nil {
		return nil, err
	}
	return h.Events(), nil
}
