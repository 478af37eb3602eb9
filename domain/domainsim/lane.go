package domainsim

import (
	"math/rand/v2"
	"time"

	"github.com/dotmac/ledger/domain"
)

// lane is one customer: its account and services as folded from what the sink recorded, its
// habits, and its agenda. A lane touches nothing of another lane, so lanes run at once.
type lane struct {
	sim      *sim
	t        *tenant
	index    int
	r        *rand.Rand
	rec      recorder
	payer    payer
	role     role
	joinOn   domain.Date // the day the customer registers
	account  stream[domain.AccountState]
	services []*stream[domain.ServiceState]
	agenda   map[domain.Date][]action
	clock    time.Time // the instant of the lane's latest command
	// billed is the invoice of the current billing run (zero: not billed by it).
	billed domain.InvoiceID
	// checks are the days on which the overdue scheduler or the dunning policy may act on the
	// open invoices (the day after a due date, the day after its grace period); swept is
	// false when the customer changed since the last sweep. On other days the sweep would
	// find nothing to do, so it is skipped.
	checks []domain.Date
	swept  bool
	// seq numbers what the lane creates (invoice numbers, payment references, phone numbers).
	seq     int
	leaving bool // every service terminated: deactivate once the last bill is settled
	// mistyped is set once the customer paid with an account reference naming nobody.
	mistyped bool
}

// action is something a customer does (or has done to it) on a day.
type action func(d domain.Date) error

func newLane(s *sim, t *tenant, index int) *lane {
	r := rand.New(rand.NewPCG(s.cfg.seed, uint64(t.index)<<32|uint64(index))) // #nosec G404 -- reproducible simulation, not secrets
	l := &lane{sim: s, t: t, index: index, r: r, rec: recorder{sink: s.sink}, agenda: map[domain.Date][]action{}}
	l.payer, l.role = pickPayer(r), roleOf(index)
	joinMonth, joinDay := r.IntN(max(1, s.cfg.months/3)), 1+r.IntN(20)
	if l.role != roleNone {
		joinMonth, joinDay = 0, 1+r.IntN(5)
	}
	l.payer = l.role.payer(l.payer)
	l.joinOn = s.cfg.period(joinMonth).Start().AddDays(joinDay - 1)
	return l
}

// monthOfLife is how many months the customer has been with the ISP (0: the join month).
func (l *lane) monthOfLife() int {
	return l.sim.month - monthsBetween(l.sim.cfg.start, l.joinOn.Period())
}

func monthsBetween(from, to domain.Period) int {
	return (to.Start().Year()-from.Start().Year())*12 + int(to.Start().Month()) - int(from.Start().Month())
}

// at returns an instant on day d at hour (plus up to an hour of jitter), never before the
// lane's previous command: a customer's history moves forward in time.
func (l *lane) at(d domain.Date, hour int) time.Time {
	t := d.Time().Add(time.Duration(hour)*time.Hour + time.Duration(l.r.IntN(3600))*time.Second)
	if !t.After(l.clock) {
		t = l.clock.Add(time.Second)
	}
	l.clock = t
	return t
}

// later schedules a on day d (today's actions may schedule more for today).
func (l *lane) later(d domain.Date, a action) { l.agenda[d] = append(l.agenda[d], a) }

// onAccount sends an account command and refreshes what depends on the account.
func (l *lane) onAccount(cmd domain.AccountCommand, actor Actor, at time.Time) ([]domain.Event, error) {
	c := Command{Tenant: l.t.id, At: at, Actor: actor, Customer: l.account.state.Customer.ID, Cmd: cmd}
	switch c2 := cmd.(type) {
	case domain.RegisterCustomer:
		c.Customer = c2.CustomerID
	case domain.GenerateRecurringInvoice:
		c.Period = c2.Period
	}
	evs, err := send(&l.rec, &l.account, c, func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
		return domain.DecideAccount(a, cmd, now)
	}, domain.ApplyAccount)
	l.account.id = domain.CustomerStream(l.t.id, l.account.state.Customer.ID)
	l.refreshChecks()
	return evs, err
}

// onService sends a service command to s.
func (l *lane) onService(s *stream[domain.ServiceState], cmd domain.ServiceCommand, actor Actor, at time.Time) error {
	c := Command{Tenant: l.t.id, At: at, Actor: actor, Customer: l.account.state.Customer.ID, Service: s.state.ID, Cmd: cmd}
	if p, ok := cmd.(domain.ProvisionService); ok {
		c.Service = p.ServiceID
	}
	_, err := send(&l.rec, s, c, func(st domain.ServiceState, now time.Time) ([]domain.Event, error) {
		return domain.DecideService(st, cmd, now)
	}, domain.ApplyService)
	s.id = domain.ServiceStream(l.t.id, s.state.ID)
	l.swept = false
	if _, provisioning := cmd.(domain.ProvisionService); err != nil || provisioning {
		return err
	}
	// A change may move days of a month already billed: the command side adjusts at once.
	return l.adjust(at)
}

// serviceStates returns the states of the customer's services.
func (l *lane) serviceStates() []domain.ServiceState {
	out := make([]domain.ServiceState, len(l.services))
	for i, s := range l.services {
		out[i] = s.state
	}
	return out
}

// serviceByID returns the customer's service id; a policy naming another is a programmer
// error.
func (l *lane) serviceByID(id domain.ServiceID) *stream[domain.ServiceState] {
	for _, s := range l.services {
		if s.state.ID == id {
			return s
		}
	}
	panic("invariant: a policy named service " + id.String() + " the customer does not have")
}

// refreshChecks recomputes the days to sweep from the account.
func (l *lane) refreshChecks() {
	l.swept, l.checks = false, l.checks[:0]
	for _, inv := range l.account.state.Invoices {
		if inv.IsOpen() {
			l.checks = append(l.checks, inv.DueDate.AddDays(1), inv.DueDate.AddDays(l.sim.cfg.graceDays+1))
		}
	}
}

// mustSweep reports whether the scheduler may have something to do on day d: the customer
// changed since the last sweep while an invoice is past due, or d is a check day.
func (l *lane) mustSweep(d domain.Date) bool {
	for _, c := range l.checks {
		if d == c || !l.swept && d.After(c) {
			return true
		}
	}
	return false
}

// active reports whether the customer has joined and is not deactivated.
func (l *lane) active() bool { return l.account.state.Customer.Active() }
