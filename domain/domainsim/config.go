package domainsim

import (
	"errors"
	"fmt"
	"time"

	"github.com/dotmac/ledger/domain"
)

// Defaults and limits of a Config.
const (
	// DefaultCustomers is the number of customers per tenant when Config.Customers is zero.
	DefaultCustomers = 100
	// DefaultMonths is the number of months simulated when Config.Months is zero.
	DefaultMonths = 12
	// DueDays is the payment term of every invoice a simulation issues: a sink that bills
	// through the command side passes it as the billing run's due days.
	DueDays = 14
	// MaxTenants, MaxCustomers (per tenant), MaxMonths and MaxWorkers bound a Config.
	MaxTenants   = 64
	MaxCustomers = 1_000_000
	MaxMonths    = 120
	MaxWorkers   = 256
)

// EventsPerCustomerMonthX10 is ten times the events a simulation records per customer and
// simulated month (measured over 12-month histories: customers join over the first third of
// the months and each month's bill comes the month after); CustomersFor sizes a history with it.
const EventsPerCustomerMonthX10 = 44

// CustomersFor returns how many customers (of one tenant) give about events events over
// months months.
func CustomersFor(events, months int) int {
	return max(1, events*10/(max(1, months)*EventsPerCustomerMonthX10))
}

// Tenant is one ISP of a simulation: its tenant id and billing currency ("acme", "USD").
type Tenant struct {
	Name     string
	Currency string
}

// Config sizes a simulation. Zero values take the defaults.
type Config struct {
	// Tenants are the ISPs (default: one, "demo" in USD).
	Tenants []Tenant
	// Customers is the number of customers of each tenant (default DefaultCustomers).
	Customers int
	// Months is how many months are simulated (default DefaultMonths) from Start (default
	// 2025-01). The last month is billed on the first day after them.
	Months int
	Start  domain.Period
	// Seed makes the simulation reproducible: the same Config sends the same commands.
	Seed uint64
	// GraceDays is how many days past its due date an invoice may stay unpaid before dunning
	// suspends (0 to domain.MaxGraceDays; zero is a valid policy, not a default).
	GraceDays int
	// Workers is how many customers are simulated at once (default 1: one after the other,
	// day by day, in a reproducible order).
	Workers int
	// Progress, if set, is called after each customer's month with the customer-months done
	// and the total; with several workers, from several goroutines at once.
	Progress func(done, total int)
}

// settings is a validated Config with its values parsed.
type settings struct {
	tenants   []tenantSpec
	customers int
	months    int
	start     domain.Period
	seed      uint64
	graceDays int
	workers   int
	progress  func(done, total int)
}

type tenantSpec struct {
	id       domain.TenantID
	currency domain.Currency
}

// settings applies the defaults and validates c; errors name the field.
func (c Config) settings() (settings, error) {
	s := settings{customers: c.Customers, months: c.Months, start: c.Start, seed: c.Seed,
		graceDays: c.GraceDays, workers: c.Workers, progress: c.Progress}
	if s.customers == 0 {
		s.customers = DefaultCustomers
	}
	if s.months == 0 {
		s.months = DefaultMonths
	}
	if s.start.IsZero() {
		s.start, _ = domain.NewPeriod(2025, time.January)
	}
	s.workers = max(1, s.workers)
	if s.progress == nil {
		s.progress = func(int, int) {}
	}
	tenants := c.Tenants
	if len(tenants) == 0 {
		tenants = []Tenant{{Name: "demo", Currency: "USD"}}
	}
	var err error
	s.tenants, err = parseTenants(tenants)
	return s, errors.Join(err, s.check())
}

func (s settings) check() error {
	switch {
	case s.customers < 1 || s.customers > MaxCustomers:
		return fmt.Errorf("domainsim: customers %d: want 1 to %d", s.customers, MaxCustomers)
	case s.months < 1 || s.months > MaxMonths:
		return fmt.Errorf("domainsim: months %d: want 1 to %d", s.months, MaxMonths)
	case s.graceDays < 0 || s.graceDays > domain.MaxGraceDays:
		return fmt.Errorf("domainsim: grace days %d: want 0 to %d", s.graceDays, domain.MaxGraceDays)
	case s.workers > MaxWorkers:
		return fmt.Errorf("domainsim: workers %d: want 1 to %d", s.workers, MaxWorkers)
	}
	return nil
}

func parseTenants(tenants []Tenant) ([]tenantSpec, error) {
	if len(tenants) > MaxTenants {
		return nil, fmt.Errorf("domainsim: %d tenants: want at most %d", len(tenants), MaxTenants)
	}
	out := make([]tenantSpec, 0, len(tenants))
	seen := map[domain.TenantID]bool{}
	for _, t := range tenants {
		id, err := domain.ParseTenantID(t.Name)
		if err != nil {
			return nil, fmt.Errorf("domainsim: tenant: %w", err)
		}
		cur, err := domain.ParseCurrency(t.Currency)
		if err != nil {
			return nil, fmt.Errorf("domainsim: tenant %s: %w", t.Name, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("domainsim: tenant %s twice", t.Name)
		}
		seen[id] = true
		out = append(out, tenantSpec{id: id, currency: cur})
	}
	return out, nil
}

// period returns the m-th simulated month (0: Start).
func (s settings) period(m int) domain.Period {
	p := s.start
	for range m {
		p = p.Next()
	}
	return p
}
