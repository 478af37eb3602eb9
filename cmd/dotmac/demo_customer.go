package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// customerSim is one demo customer. Its account and services are mirrored locally by folding
// the events every command returns, so the simulation decides from exact state without
// reading the store; only the billing run's invoices are read back (refresh).
type customerSim struct {
	s         *seeder
	index     int
	r         *rand.Rand
	payer     payer
	joinMonth int
	joinDay   int
	role      role // an activity this customer is sure to show (small demos show every kind)
	roleDone  bool
	id        domain.CustomerID
	account   domain.AccountState
	version   uint64 // the account stream's version account reflects
	services  []*simService
	clock     time.Time // the instant of the customer's latest command
	// plan holds the current month's actions by day; period is the current month.
	plan   map[domain.Date][]action
	period domain.Period
}

type simService struct {
	id    domain.ServiceID
	state domain.ServiceState
}

// catchUpEvents bounds the events read back after a billing run (it appends two per account).
const catchUpEvents = 16

// action is something the customer does on a day.
type action func(ctx context.Context, day domain.Date) error

// month simulates period p: joining (in the join month), then day by day the scheduler's
// overdue marks and dunning, and the customer's payments and occasional requests.
func (c *customerSim) month(ctx context.Context, month int, p domain.Period, billed bool) error {
	if month < c.joinMonth {
		return nil
	}
	first := p.Start()
	if month == c.joinMonth {
		first = p.Start().AddDays(c.joinDay - 1)
		if err := c.join(ctx, p, first); err != nil {
			return err
		}
	} else if billed {
		if err := c.catchUp(ctx); err != nil {
			return err
		}
	}
	c.plan, c.period = map[domain.Date][]action{}, p
	c.planPayments(month, first)
	c.planExtras(month, first)
	for d := first; d.Before(p.End()); d = d.AddDays(1) {
		if err := c.scheduler(ctx, d); err != nil {
			return err
		}
		for _, a := range c.plan[d] {
			if err := a(ctx, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// later schedules a for day d of the current month; a day after the month is dropped.
func (c *customerSim) later(d domain.Date, a action) {
	if !d.After(c.period.LastDay()) {
		c.plan[d] = append(c.plan[d], a)
	}
}

// at returns an instant on day d at hour (plus up to an hour of jitter), never before the
// customer's previous command: a customer's history moves forward in time.
func (c *customerSim) at(d domain.Date, hour int) time.Time {
	t := d.Time().Add(time.Duration(hour)*time.Hour + time.Duration(c.r.IntN(3600))*time.Second)
	if !t.After(c.clock) {
		t = c.clock.Add(time.Second)
	}
	c.clock = t
	return t
}

// foldAccount applies the events a command returned to the local account.
func (c *customerSim) foldAccount(res commands.Result) error {
	for _, e := range res.Events {
		var err error
		if c.account, err = domain.ApplyAccount(c.account, e); err != nil {
			return err
		}
	}
	if res.Changed() {
		c.version = res.Version
	}
	return nil
}

// foldService applies the events a command returned to the local service it names.
func (c *customerSim) foldService(res commands.Result) error {
	for _, s := range c.services {
		if s.id.String() != res.ID {
			continue
		}
		for _, e := range res.Events {
			var err error
			if s.state, err = domain.ApplyService(s.state, e); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("invariant: a result names service %s the customer does not have", res.ID)
}

// catchUp folds the events appended to the account since the customer's last command (the
// billing run's invoice).
func (c *customerSim) catchUp(ctx context.Context) error {
	envs, err := c.s.store.ReadStream(ctx, domain.CustomerStream(c.s.cfg.tenant, c.id), c.version+1, eventstore.Forwards, catchUpEvents)
	if err != nil {
		return fmt.Errorf("read the account back: %w", err)
	}
	for i := range envs {
		e, err := codec.Decode(&envs[i])
		if err != nil {
			return err
		}
		if c.account, err = domain.ApplyAccount(c.account, e); err != nil {
			return err
		}
		c.version = envs[i].Version
	}
	return nil
}

// join registers the customer, provisions and activates one to three services on day, and
// issues the prorated invoice for the rest of the month.
func (c *customerSim) join(ctx context.Context, p domain.Period, day domain.Date) error {
	h, n := c.s.h, c.index
	contact := domain.Contact{Name: fmt.Sprintf("Customer %05d", n), Email: fmt.Sprintf("customer%05d@example.net", n),
		Phone: fmt.Sprintf("+1555%07d", n%10_000_000), BillingAddress: fmt.Sprintf("%d Fiber Way, Springfield", 1+n%9000)}
	res, err := h.RegisterCustomer(ctx, c.s.meta(c.at(day, 9)), commands.RegisterCustomer{Contact: contact, Currency: c.s.cfg.currency})
	if err != nil {
		return err
	}
	if c.id, err = domain.ParseCustomerID(res.ID); err != nil {
		return err
	}
	if err := c.foldAccount(res); err != nil {
		return err
	}
	c.s.stats.customers.Add(1)
	for i := range 1 + c.r.IntN(3) {
		if err := c.provision(ctx, day, c.pickPlan(i)); err != nil {
			return err
		}
	}
	return c.activationInvoice(ctx, p, day)
}

// pickPlan chooses the plan of the customer's i-th service: internet first, then mostly a
// phone line.
func (c *customerSim) pickPlan(i int) domain.PlanState {
	internet := []int{0, 0, 0, 1, 2} // fiber_100 most, then fiber_500 and dsl_20
	if i > 0 && c.r.IntN(100) < 70 {
		return c.s.plans[3] // voip
	}
	return c.s.plans[internet[c.r.IntN(len(internet))]]
}

func (c *customerSim) provision(ctx context.Context, day domain.Date, plan domain.PlanState) error {
	cmd := commands.ProvisionService{CustomerID: c.id, PlanCode: plan.Code, StartDate: day,
		InstallAddress: c.account.Customer.Contact.BillingAddress}
	if plan.Code.String() != "voip" && plan.Code.String() != "dsl_20" {
		cmd.ONTSerial = fmt.Sprintf("ONT-%08X", c.r.Uint32())
	}
	if c.r.IntN(100) < 10 {
		cmd.StaticIP = netip.AddrFrom4([4]byte{100, 64, byte(c.index >> 8), byte(c.index)}) //nolint:gosec // wraps on purpose
	}
	res, err := c.s.h.ProvisionService(ctx, c.s.meta(c.at(day, 10)), cmd)
	if err != nil {
		return err
	}
	id, err := domain.ParseServiceID(res.ID)
	if err != nil {
		return err
	}
	c.services = append(c.services, &simService{id: id})
	if err := c.foldService(res); err != nil {
		return err
	}
	res, err = c.s.h.ActivateService(ctx, c.s.meta(c.at(day, 11)), commands.ActivateService{ServiceID: id})
	if err != nil {
		return err
	}
	c.s.stats.services.Add(1)
	return c.foldService(res)
}

// activationInvoice bills the rest of the join month (the month's billing run has passed):
// CreateInvoice with the recurring lines, then IssueInvoice.
func (c *customerSim) activationInvoice(ctx context.Context, p domain.Period, day domain.Date) error {
	lines, err := domain.RecurringCharges(p, c.account.Customer, c.serviceStates())
	if err != nil || len(lines) == 0 {
		return err
	}
	res, err := c.s.h.CreateInvoice(ctx, c.s.meta(c.at(day, 12)), commands.CreateInvoice{CustomerID: c.id, Lines: lines})
	if err != nil {
		return err
	}
	if err := c.foldAccount(res); err != nil {
		return err
	}
	invoice, err := domain.ParseInvoiceID(res.ID)
	if err != nil {
		return err
	}
	res, err = c.s.h.IssueInvoice(ctx, c.s.meta(c.at(day, 12)), commands.IssueInvoice{CustomerID: c.id, InvoiceID: invoice, DueDate: day.AddDays(seedDueDays)})
	if err != nil {
		return err
	}
	c.s.stats.activationInvoices.Add(1)
	return c.foldAccount(res)
}

func (c *customerSim) serviceStates() []domain.ServiceState {
	out := make([]domain.ServiceState, len(c.services))
	for i, s := range c.services {
		out[i] = s.state
	}
	return out
}

func (c *customerSim) serviceIDs() []domain.ServiceID {
	out := make([]domain.ServiceID, len(c.services))
	for i, s := range c.services {
		out[i] = s.id
	}
	return out
}

// scheduler does what the overdue scheduler and the dunning sweep would do for this customer
// on day d: mark invoices past their due date, and apply the dunning policy when it names a
// service.
func (c *customerSim) scheduler(ctx context.Context, d domain.Date) error {
	for _, inv := range c.account.OpenInvoices() {
		if inv.Overdue || !d.After(inv.DueDate) || !inv.Outstanding.IsPositive() {
			continue
		}
		t := process.Trigger{Tenant: c.s.cfg.tenant, Cause: inv.ID.UUID(), At: c.at(d, 6)}
		res, marked, err := process.MarkOverdue(ctx, c.s.h, t, c.id, inv.ID)
		if err != nil {
			return err
		}
		if marked {
			c.s.stats.overdueMarks.Add(1)
			if err := c.foldAccount(res); err != nil {
				return err
			}
		}
	}
	return c.dun(ctx, process.DunningTickCause(c.s.cfg.tenant, d), d.Time().Add(7*time.Hour))
}

// dun evaluates the dunning policy at instant at (no earlier than the customer's clock) when
// the local state says it would act.
func (c *customerSim) dun(ctx context.Context, cause uuid.UUID, at time.Time) error {
	if !at.After(c.clock) {
		at = c.clock.Add(time.Second)
	}
	balance, err := c.account.Balance()
	if err != nil {
		return err
	}
	in := domain.DunningInput{Now: at, GraceDays: c.s.cfg.graceDays, Balance: balance, Invoices: c.account.DunningInvoices()}
	for _, s := range c.services {
		in.Services = append(in.Services, s.state.DunningService())
	}
	decision, err := domain.DunningDecide(in)
	if err != nil || len(decision.Suspend)+len(decision.Resume) == 0 {
		return err
	}
	c.clock = at
	res, err := c.s.dunning.Evaluate(ctx, process.Trigger{Tenant: c.s.cfg.tenant, Cause: cause, At: at}, c.id, c.serviceIDs())
	if err != nil {
		return err
	}
	c.s.stats.suspensions.Add(int64(len(res.Suspended)))
	c.s.stats.resumptions.Add(int64(len(res.Resumed)))
	for _, r := range res.Results {
		if err := c.foldService(r); err != nil {
			return err
		}
	}
	return nil
}
