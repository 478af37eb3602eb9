package readmodeltest

import (
	"fmt"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
)

// Tenant is one ISP of a generated history.
type Tenant struct {
	Name     string
	Currency string
}

// Config sizes a generated history.
type Config struct {
	// Tenants are the ISPs (default: one, "acme" in USD).
	Tenants []Tenant
	// Customers is the number of customers per tenant (default 100). They register over the
	// first half of the simulated months.
	Customers int
	// Start is the first simulated month (default 2025-01) and Months how many (default 6).
	Start  domain.Period
	Months int
	// Seed makes the history reproducible.
	Seed uint64
	// WithData fills each envelope's Data (see History.WithData).
	WithData bool
}

func (c *Config) setDefaults() {
	if len(c.Tenants) == 0 {
		c.Tenants = []Tenant{{Name: "acme", Currency: "USD"}}
	}
	if c.Customers <= 0 {
		c.Customers = 100
	}
	if c.Start.IsZero() {
		c.Start, _ = domain.NewPeriod(2025, time.January)
	}
	if c.Months <= 0 {
		c.Months = 6
	}
}

// EventsPerCustomerMonth is about how many events Generate records per customer and month
// (recurring invoice created and issued, the run's record of it, a payment, and the odd plan
// change, credit note, late payment, suspension, refund or one-off invoice); use it to size
// a history: events ≈ tenants × customers × months × EventsPerCustomerMonth.
const EventsPerCustomerMonth = 4.3

// Generate simulates the tenants' ISPs day by day: a catalog of plans; customers registering
// and subscribing to one or two services; a billing run on the first of each month that
// bills the month before (recurring invoices issued with the customer's credit applied);
// payments, most on time, some late (marked overdue, then dunning suspends and resumes
// services), some partial or over the amount (credit, sometimes refunded); plan changes,
// requested suspensions, terminations, contact updates, one-off invoices (some voided) and
// credit notes. Every event is decided by the domain, so the history is valid.
func Generate(cfg Config) ([]projections.Event, error) {
	cfg.setDefaults()
	s := &sim{cfg: cfg, h: NewHistory(cfg.Start.Start().Time().Add(8*time.Hour), cfg.Seed), agenda: map[domain.Date][]func() error{}}
	s.h.WithData = cfg.WithData
	for _, t := range cfg.Tenants {
		if err := s.addTenant(t); err != nil {
			return nil, err
		}
	}
	end := cfg.Start.Start()
	for range cfg.Months {
		end = end.Period().End()
	}
	for day := cfg.Start.Start(); day.Before(end); day = day.AddDays(1) {
		if err := s.runDay(day); err != nil {
			return nil, fmt.Errorf("%s: %w", day, err)
		}
	}
	return s.h.Events(), nil
}

// sim is the state of a simulation.
type sim struct {
	cfg     Config
	h       *History
	tenants []*tenantSim
	agenda  map[domain.Date][]func() error
	today   domain.Date
}

type tenantSim struct {
	id        domain.TenantID
	currency  domain.Currency
	plans     []domain.PlanCode // on sale: fiber plans first, then phone
	customers []*customerSim
}

type customerSim struct {
	t        *tenantSim
	id       domain.CustomerID
	services []domain.ServiceID
	kind     payer
	invoices int // numbers issued
	active   bool
}

// payer is how a customer pays.
type payer int

const (
	payerPrompt  payer = iota // pays in full within the due period
	payerLate                 // pays in full after the due date
	payerPartial              // pays half, then the rest later
	payerOver                 // pays more than owed; the credit is sometimes refunded
)

// at schedules f on day.
func (s *sim) at(day domain.Date, f func() error) { s.agenda[day] = append(s.agenda[day], f) }

func (s *sim) runDay(day domain.Date) error {
	s.today = day
	s.h.Now = day.Time().Add(8 * time.Hour)
	if day.Day() == 1 && day.After(s.cfg.Start.Start()) {
		for _, t := range s.tenants {
			if err := s.billingRun(t, day.AddDays(-1).Period()); err != nil {
				return err
			}
		}
	}
	for i := 0; i < len(s.agenda[day]); i++ { // actions may schedule more for today
		s.h.Tick(100 * time.Millisecond)
		if err := s.agenda[day][i](); err != nil {
			return err
		}
	}
	delete(s.agenda, day)
	for _, t := range s.tenants {
		if err := s.randomDay(t); err != nil {
			return err
		}
	}
	return nil
}

// chance reports true with probability p.
func (s *sim) chance(p float64) bool { return s.h.rng.Float64() < p }

// within returns a day 0 to n-1 days after today.
func (s *sim) within(n int) domain.Date { return s.today.AddDays(s.h.rng.IntN(n)) }

// money is units minor units of the tenant's currency.
func (t *tenantSim) money(units int64) domain.Money {
	return domain.MoneyFromMinorUnits(units, t.currency)
}

func (s *sim) addTenant(cfg Tenant) error {
	id, err := domain.ParseTenantID(cfg.Name)
	if err != nil {
		return err
	}
	cur, err := domain.ParseCurrency(cfg.Currency)
	if err != nil {
		return err
	}
	t := &tenantSim{id: id, currency: cur}
	s.tenants = append(s.tenants, t)
	if err := s.definePlans(t); err != nil {
		return err
	}
	days := s.cfg.Start.Start().DaysUntil(s.cfg.Start.Start().AddDays(s.cfg.Months * 30 / 2))
	for n := range s.cfg.Customers {
		c := &customerSim{t: t, kind: s.payerKind()}
		t.customers = append(t.customers, c)
		day := s.cfg.Start.Start().AddDays(n * max(days, 1) / s.cfg.Customers)
		s.at(day, func() error { return s.register(c, n) })
	}
	return nil
}

func (s *sim) payerKind() payer {
	switch r := s.h.rng.Float64(); {
	case r < 0.78:
		return payerPrompt
	case r < 0.88:
		return payerLate
	case r < 0.94:
		return payerPartial
	}
	return payerOver
}

// planSpec is a catalog plan: code, name, price in minor units, tax rate, bills while
// suspended.
type planSpec struct {
	code, name string
	price      int64
	tax        string
	billed     bool
}

var catalog = []planSpec{
	{"fiber_100", "Fiber 100", 7999, "0.2", false},
	{"fiber_500", "Fiber 500", 11999, "0.2", false},
	{"fiber_1000", "Fiber 1000", 14999, "0.2", false},
	{"voice", "Home phone", 2999, "0.075", true},
	{"legacy_dsl", "DSL 20", 3999, "0.2", false},
}

func (s *sim) definePlans(t *tenantSim) error {
	for _, p := range catalog {
		code, _ := domain.ParsePlanCode(p.code)
		rate, _ := domain.ParseTaxRate(p.tax)
		_, err := s.h.Plan(t.id, code, domain.DefinePlan{Code: code, Name: p.name, MonthlyPrice: t.money(p.price),
			TaxClass: "standard", TaxRate: rate, BillWhileSuspended: p.billed})
		if err != nil {
			return err
		}
		t.plans = append(t.plans, code)
	}
	legacy := t.plans[len(t.plans)-1]
	t.plans = t.plans[:len(t.plans)-1]
	_, err := s.h.Plan(t.id, legacy, domain.RetirePlan{})
	return err
}

func (s *sim) register(c *customerSim, n int) error {
	id, _ := domain.NewCustomerID(s.h.ID())
	c.id = id
	contact := domain.Contact{Name: fmt.Sprintf("Customer %d", n), Email: fmt.Sprintf("c%d@%s.example", n, c.t.id),
		Phone: "+1 555 0100", BillingAddress: fmt.Sprintf("%d Fiber Way", n+1)}
	if _, err := s.h.Account(c.t.id, c.id, domain.RegisterCustomer{CustomerID: id, Contact: contact, Currency: c.t.currency}); err != nil {
		return err
	}
	c.active = true
	if err := s.subscribe(c, c.t.plans[s.h.rng.IntN(3)]); err != nil {
		return err
	}
	if s.chance(0.3) {
		return s.subscribe(c, c.t.plans[3])
	}
	return nil
}

// subscribe provisions a service starting within a week and activates it on its start day.
func (s *sim) subscribe(c *customerSim, plan domain.PlanCode) error {
	id, _ := domain.NewServiceID(s.h.ID())
	start := s.within(7)
	_, err := s.h.Service(c.t.id, id, domain.ProvisionService{ServiceID: id, Customer: s.h.AccountState(c.t.id, c.id).Customer,
		Plan: s.h.PlanState(c.t.id, plan), StartDate: start, InstallAddress: "1 Fiber Way", ONTSerial: "ONT-" + id.String()[:8]})
	if err != nil {
		return err
	}
	c.services = append(c.services, id)
	s.at(start, func() error {
		if s.h.ServiceState(c.t.id, id).Status != domain.ServiceStatusProvisioned {
			return nil // terminated before it started
		}
		_, err := s.h.Service(c.t.id, id, domain.ActivateService{})
		return err
	})
	return nil
}

// billingRun bills every active customer for period p, the way the command side's billing
// run does: start, one recurring invoice per customer with something to bill, complete.
func (s *sim) billingRun(t *tenantSim, p domain.Period) error {
	runID, _ := domain.NewBillingRunID(s.h.ID())
	if _, err := s.h.BillingRun(t.id, p, domain.StartBillingRun{BillingRunID: runID, Period: p}); err != nil {
		return err
	}
	for _, c := range t.customers {
		if !c.active || c.id.IsZero() {
			continue
		}
		s.h.Tick(10 * time.Millisecond)
		if err := s.bill(c, p); err != nil {
			return err
		}
	}
	_, err := s.h.BillingRun(t.id, p, domain.CompleteBillingRun{})
	return err
}

func (s *sim) bill(c *customerSim, p domain.Period) error {
	states := make([]domain.ServiceState, len(c.services))
	for i, id := range c.services {
		states[i] = s.h.ServiceState(c.t.id, id)
	}
	account := s.h.AccountState(c.t.id, c.id)
	lines, err := domain.RecurringCharges(p, account.Customer, states)
	if err != nil || len(lines) == 0 {
		return err
	}
	for i := range lines {
		lines[i].LineID, _ = domain.NewLineID(s.h.ID())
	}
	invoice, _ := domain.NewInvoiceID(s.h.ID())
	c.invoices++
	due := s.today.AddDays(14)
	_, err = s.h.Account(c.t.id, c.id, domain.GenerateRecurringInvoice{InvoiceID: invoice, Period: p,
		Number: fmt.Sprintf("R%s-%04d", p, c.invoices), DueDate: due, Lines: lines})
	if err != nil {
		return err
	}
	if _, err := s.h.BillingRun(c.t.id, p, domain.RecordCustomerInvoiced{CustomerID: c.id, InvoiceID: invoice}); err != nil {
		return err
	}
	s.schedulePayment(c, invoice, due)
	return nil
}

// schedulePayment plans how the customer settles invoice (due on due), by payer kind.
func (s *sim) schedulePayment(c *customerSim, invoice domain.InvoiceID, due domain.Date) {
	s.at(due.AddDays(1), func() error { return s.markOverdue(c, invoice) })
	switch c.kind {
	case payerPrompt:
		s.at(s.within(12).AddDays(1), func() error { return s.pay(c, 1, 0) })
	case payerLate:
		s.at(due.AddDays(3+s.h.rng.IntN(35)), func() error { return s.pay(c, 1, 0) })
	case payerPartial:
		s.at(s.within(10).AddDays(1), func() error { return s.pay(c, 0.5, 0) })
		s.at(due.AddDays(5+s.h.rng.IntN(20)), func() error { return s.pay(c, 1, 0) })
	case payerOver:
		s.at(s.within(12).AddDays(1), func() error { return s.pay(c, 1, 2000) })
	}
}
