package gen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
)

// payer is how a customer pays.
type payer int

const (
	payerOnTime  payer = iota // pays in full within ten days
	payerLate                 // pays in full after the due date
	payerPartial              // pays about half by the due date, the rest next month
	payerMissing              // often pays nothing for a month, then everything
)

func pickPayer(r *rand.Rand) payer {
	switch n := r.IntN(100); {
	case n < 70:
		return payerOnTime
	case n < 82:
		return payerLate
	case n < 92:
		return payerPartial
	default:
		return payerMissing
	}
}

// stream is one aggregate's stream: its version in the store and the events decided since
// the last append.
type stream struct {
	id      string
	version uint64
	pending []domain.Event
}

type service struct {
	stream
	state domain.ServiceState
}

type customerSim struct {
	g        *generator
	index    uint64
	r        *rand.Rand
	payer    payer
	joinAt   int // months after the start
	months   int // months simulated so far
	account  stream
	state    domain.AccountState
	services []*service
	invoices int       // sequence for invoice numbers
	clock    time.Time // the instant of the latest decision
}

func (g *generator) newCustomer(index uint64) *customerSim {
	r := g.rng(index)
	return &customerSim{g: g, index: index, r: r, payer: pickPayer(r), joinAt: r.IntN(max(1, g.cfg.Months/3))}
}

// month simulates period p: joining (in the join month), the recurring invoice, payments,
// overdue marks, dunning and the occasional credit note, refund, plan change or termination.
// Every stream touched is appended once at the end of the month.
func (c *customerSim) month(ctx context.Context, p domain.Period) error {
	defer func() { c.months++ }()
	if c.months < c.joinAt {
		return nil
	}
	billOn := p.Start()
	if c.months == c.joinAt {
		day := p.Start().AddDays(c.r.IntN(10))
		if err := c.join(day); err != nil {
			return err
		}
		billOn = day
	}
	steps := []func(domain.Period, domain.Date) error{c.bill, c.pay, c.markOverdue, c.dun, c.extras}
	for _, step := range steps {
		if err := step(p, billOn); err != nil {
			return err
		}
	}
	return c.flush(ctx)
}

// at returns an instant on day d (09:00 UTC plus some jitter), never before the customer's
// previous decision: a customer's history moves forward in time.
func (c *customerSim) at(d domain.Date) time.Time {
	t := d.Time().Add(9*time.Hour + time.Duration(c.r.IntN(3600))*time.Second)
	if !t.After(c.clock) {
		t = c.clock.Add(time.Second)
	}
	c.clock = t
	return t
}

func newID[T any](parse func(uuid.UUID) (T, error)) T {
	id, err := parse(uuid.Must(uuid.NewV7()))
	if err != nil {
		panic("invariant: a fresh UUIDv7 is a valid id: " + err.Error())
	}
	return id
}

// decideAccount decides cmd on the account and folds the events in.
func (c *customerSim) decideAccount(cmd domain.AccountCommand, now time.Time) error {
	evs, err := domain.DecideAccount(c.state, cmd, now)
	if err != nil {
		return fmt.Errorf("%T: %w", cmd, err)
	}
	for _, e := range evs {
		if c.state, err = domain.ApplyAccount(c.state, e); err != nil {
			return err
		}
	}
	c.account.pending = append(c.account.pending, evs...)
	return nil
}

func (c *customerSim) decideService(s *service, cmd domain.ServiceCommand, now time.Time) error {
	evs, err := domain.DecideService(s.state, cmd, now)
	if err != nil {
		return fmt.Errorf("%T: %w", cmd, err)
	}
	for _, e := range evs {
		if s.state, err = domain.ApplyService(s.state, e); err != nil {
			return err
		}
	}
	s.pending = append(s.pending, evs...)
	return nil
}

// join registers the customer and provisions and activates one to three services.
func (c *customerSim) join(day domain.Date) error {
	id := newID(domain.NewCustomerID)
	c.account.id = domain.CustomerStream(c.g.tenant, id)
	contact := domain.Contact{Name: fmt.Sprintf("Customer %d", c.index), Email: fmt.Sprintf("customer%d@example.net", c.index),
		Phone: fmt.Sprintf("+1555%07d", c.index%10_000_000), BillingAddress: fmt.Sprintf("%d Fiber Way", 1+c.index%9000)}
	if err := c.decideAccount(domain.RegisterCustomer{CustomerID: id, Contact: contact, Currency: c.g.currency}, c.at(day)); err != nil {
		return err
	}
	c.g.count.customers.Add(1)
	for n := 1 + c.r.IntN(3); n > 0; n-- {
		if err := c.provision(day); err != nil {
			return err
		}
	}
	return nil
}

func (c *customerSim) provision(day domain.Date) error {
	plan := c.g.plans[c.r.IntN(len(c.g.plans))]
	s := &service{}
	id := newID(domain.NewServiceID)
	s.id = domain.ServiceStream(c.g.tenant, id)
	ip := netip.AddrFrom4([4]byte{100, 64, byte(c.index >> 8), byte(c.index)}) //nolint:gosec // wraps on purpose
	cmd := domain.ProvisionService{ServiceID: id, Customer: c.state.Customer, Plan: plan, StartDate: day,
		InstallAddress: c.state.Customer.Contact.BillingAddress, ONTSerial: fmt.Sprintf("ONT%08d", c.r.IntN(1e8)), StaticIP: ip}
	if err := c.decideService(s, cmd, c.at(day)); err != nil {
		return err
	}
	if err := c.decideService(s, domain.ActivateService{}, c.at(day)); err != nil {
		return err
	}
	c.services = append(c.services, s)
	c.g.count.services.Add(1)
	return nil
}

// bill issues the recurring invoice of p on day billOn, if anything is billable.
func (c *customerSim) bill(p domain.Period, billOn domain.Date) error {
	states := make([]domain.ServiceState, len(c.services))
	for i, s := range c.services {
		states[i] = s.state
	}
	lines, err := domain.RecurringCharges(p, c.state.Customer, states)
	if err != nil || len(lines) == 0 {
		return err
	}
	for i := range lines {
		lines[i].LineID = newID(domain.NewLineID)
	}
	c.invoices++
	cmd := domain.GenerateRecurringInvoice{InvoiceID: newID(domain.NewInvoiceID), Period: p,
		Number: fmt.Sprintf("INV-%s-%06d-%03d", p, c.index, c.invoices), DueDate: billOn.AddDays(14), Lines: lines}
	if err := c.decideAccount(cmd, c.at(billOn)); err != nil {
		return err
	}
	c.g.count.invoices.Add(1)
	return nil
}

// pay records this month's payment according to the customer's habits.
func (c *customerSim) pay(p domain.Period, billOn domain.Date) error {
	balance, err := c.state.Balance()
	if err != nil || !balance.IsPositive() {
		return err
	}
	amount, day := balance, billOn.AddDays(1+c.r.IntN(10))
	switch c.payer {
	case payerLate:
		day = billOn.AddDays(15 + c.r.IntN(12))
	case payerPartial:
		amount = balance.Mul(decimal.New(5, -1))
	case payerMissing:
		if c.r.IntN(100) < 60 {
			return nil
		}
		day = billOn.AddDays(20 + c.r.IntN(8))
	}
	if c.r.IntN(100) < 3 { // a few pay a little too much: customer credit
		amount, _ = amount.Add(domain.MoneyFromMinorUnits(500, c.g.currency))
	}
	if !amount.IsPositive() {
		return nil
	}
	if last := p.LastDay(); day.After(last) {
		day = last
	}
	methods := []domain.PaymentMethod{domain.PaymentMethodCard, domain.PaymentMethodBankTransfer, domain.PaymentMethodDirectDebit, domain.PaymentMethodMobileMoney}
	now := c.at(day)
	cmd := domain.RecordPayment{PaymentID: newID(domain.NewPaymentID), Amount: amount, Method: methods[c.r.IntN(len(methods))],
		ExternalReference: fmt.Sprintf("ext-%d-%s-%d", c.index, p, c.r.IntN(1e9)), ReceivedAt: now.Add(-time.Minute)}
	if err := c.decideAccount(cmd, now); err != nil {
		return err
	}
	c.g.count.payments.Add(1)
	return c.resumeIfCleared(now)
}
