package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/gen"
)

// The demo seeder simulates an ISP's calendar month by month through the real command
// handlers, deciding every command at its simulated instant (commands.Meta.At): the billing
// run on the first of each month, then every customer's month in parallel, day by day: joining
// (register, provision and activate one to three services, a prorated activation invoice),
// payments by the customer's habits, the overdue scheduler's marks and the dunning policy
// (process.MarkOverdue and process.Dunning, the managers' own policies, run on the simulated
// calendar), and now and then a credit note, a refund, a plan change, a requested hold or a
// termination.

// Seeder limits and defaults.
const (
	// defaultSeedWorkers is how many customers are simulated at once.
	defaultSeedWorkers = 48
	// seedDueDays is the payment term of every demo invoice.
	seedDueDays = 14
)

// seedConfig sizes a demo history.
type seedConfig struct {
	tenant    domain.TenantID
	currency  domain.Currency
	customers int
	months    int
	start     domain.Period
	seed      uint64
	graceDays int
	workers   int
}

// seedStats counts what the seeder created.
type seedStats struct {
	plans, customers, services, billingRuns, recurringInvoices, activationInvoices atomic.Int64
	payments, latePayments, partialPayments, overpayments, missedPayments          atomic.Int64
	overdueMarks, suspensions, resumptions, holds, holdResumes                     atomic.Int64
	creditNotes, refunds, planChanges, terminations, commands                      atomic.Int64
}

// seeder runs one demo history.
type seeder struct {
	h       *commands.Handlers
	store   eventstore.Store
	cfg     seedConfig
	dunning *process.Dunning
	plans   []domain.PlanState
	stats   seedStats
	tick    func() // one customer-month done
}

func newSeeder(store eventstore.Store, h *commands.Handlers, cfg seedConfig, tick func()) (*seeder, error) {
	d, err := process.NewDunning(h, cfg.graceDays)
	if err != nil {
		return nil, err
	}
	if cfg.workers <= 0 {
		cfg.workers = defaultSeedWorkers
	}
	if tick == nil {
		tick = func() {}
	}
	return &seeder{store: store, h: h, cfg: cfg, dunning: d, tick: tick}, nil
}

// meta is the Meta of a seeder command decided at at, with a fresh command id.
func (s *seeder) meta(at time.Time) commands.Meta {
	s.stats.commands.Add(1)
	return commands.Meta{Tenant: s.cfg.tenant, Actor: "demo-seed", CorrelationID: "demo-seed", CommandID: uuid.Must(uuid.NewV7()), At: at}
}

// run seeds the whole history.
func (s *seeder) run(ctx context.Context) error {
	if run, _, err := s.h.BillingRun(ctx, s.cfg.tenant, s.cfg.start); err != nil {
		return err
	} else if run.Started() {
		return fmt.Errorf("tenant %s already has a billing run for %s: seed another --tenant or --start", s.cfg.tenant, s.cfg.start)
	}
	if err := s.definePlans(ctx); err != nil {
		return err
	}
	sims := make([]*customerSim, s.cfg.customers)
	for i := range sims {
		sims[i] = s.newCustomer(i)
	}
	p := s.cfg.start
	for month := range s.cfg.months {
		billed, err := s.bill(ctx, p)
		if err != nil {
			return err
		}
		if err := s.simulateMonth(ctx, sims, month, p, billed); err != nil {
			return err
		}
		p = p.Next()
	}
	return nil
}

// bill runs the period's billing run at 02:00 on its first day and returns the customers it
// invoiced.
func (s *seeder) bill(ctx context.Context, p domain.Period) (map[domain.CustomerID]bool, error) {
	res, err := s.h.RunBilling(ctx, s.meta(p.Start().Time().Add(2*time.Hour)), commands.RunBilling{Period: p, DueDays: seedDueDays})
	if err != nil {
		return nil, fmt.Errorf("billing run %s: %w", p, err)
	}
	if !res.Completed {
		return nil, fmt.Errorf("billing run %s did not complete", p)
	}
	s.stats.billingRuns.Add(1)
	s.stats.recurringInvoices.Add(int64(len(res.Invoices)))
	billed := make(map[domain.CustomerID]bool, len(res.Invoices))
	for _, inv := range res.Invoices {
		billed[inv.CustomerID] = true
	}
	return billed, nil
}

// simulateMonth runs every customer's month, cfg.workers at a time.
func (s *seeder) simulateMonth(ctx context.Context, sims []*customerSim, month int, p domain.Period, billed map[domain.CustomerID]bool) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan *customerSim)
	var wg sync.WaitGroup
	for range s.cfg.workers {
		wg.Go(func() {
			for c := range next {
				if err := c.month(ctx, month, p, billed[c.id]); err != nil {
					cancel(fmt.Errorf("customer %d, %s: %w", c.index, p, err))
				}
				s.tick()
			}
		})
	}
	for _, c := range sims {
		select {
		case next <- c:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// definePlans defines the catalog the day before the first period (keeping plans defined by
// an earlier seed of the tenant).
func (s *seeder) definePlans(ctx context.Context) error {
	at := s.cfg.start.Start().Time().Add(-12 * time.Hour)
	for _, spec := range gen.Plans {
		code, err := domain.ParsePlanCode(spec.Code)
		if err != nil {
			return err
		}
		price, err := domain.ParseAmount(spec.Price, s.cfg.currency)
		if err != nil {
			return err
		}
		rate, err := domain.ParseTaxRate(spec.TaxRate)
		if err != nil {
			return err
		}
		_, err = s.h.DefinePlan(ctx, s.meta(at), commands.DefinePlan{Code: code, Name: spec.Name, MonthlyPrice: price,
			TaxClass: taxClass(spec.TaxRate), TaxRate: rate, BillWhileSuspended: spec.BillWhileSuspended})
		var exists *domain.AlreadyExistsError
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("define plan %s: %w", spec.Code, err)
		}
		if err == nil {
			s.stats.plans.Add(1)
		}
		plan, err := s.h.Plan(ctx, s.cfg.tenant, code)
		if err != nil {
			return err
		}
		s.plans = append(s.plans, plan)
	}
	return nil
}

func taxClass(rate string) string {
	if rate == "0" {
		return "exempt"
	}
	return "telecom"
}

// payer is how a customer pays.
type payer int

const (
	payerOnTime  payer = iota // pays in full within ten days
	payerLate                 // pays in full after the due date, within the grace days
	payerPartial              // pays about half early and the rest after the due date
	payerMissing              // often pays nothing for a month, then everything
)

func pickPayer(r *rand.Rand) payer {
	switch n := r.IntN(100); {
	case n < 68:
		return payerOnTime
	case n < 80:
		return payerLate
	case n < 90:
		return payerPartial
	default:
		return payerMissing
	}
}

func (s *seeder) newCustomer(index int) *customerSim {
	r := rand.New(rand.NewPCG(s.cfg.seed, uint64(index))) // #nosec G404 -- reproducible demo data
	c := &customerSim{s: s, index: index, r: r, payer: pickPayer(r), role: roleOf(index), roleDone: true}
	switch index {
	case 0:
		c.payer = payerLate
	case 1:
		c.payer = payerPartial
	}
	switch c.role {
	case roleSkip:
		c.payer = payerMissing
	case roleRefund:
		c.payer = payerOnTime
	}
	c.joinMonth = r.IntN(max(1, s.cfg.months/3))
	c.joinDay = 1 + r.IntN(20)
	return c
}
