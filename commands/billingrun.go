package commands

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// Limits of a billing run.
const (
	// DefaultDueDays is the payment term of recurring invoices when none is given.
	DefaultDueDays = 14
	// MaxDueDays bounds the payment term of recurring invoices.
	MaxDueDays = 365
	// billingBatchCustomers is how many customers are billed together (billGroup: reads of
	// groupReadEvents, one statement for their numbers, one append) and then recorded in the run stream.
	billingBatchCustomers = 200
	// BillingRunWorkers bounds the groups of customers a billing run bills at once, so that
	// one group's round trips overlap another's decisions: the full speed of Config.Elastic.
	BillingRunWorkers = 4
	// maxRecordedPerAppend bounds the BillingRunCustomerInvoiced events of one append.
	maxRecordedPerAppend = 500
)

// ErrNothingToBill: the customer has no billable day in the period.
var ErrNothingToBill = errors.New("nothing billable in the period")

// RunBilling bills every customer of the tenant with billable services for Period.
type RunBilling struct {
	Period domain.Period
	// DueDays is the payment term: invoices are due DueDays after their issue date.
	DueDays int
}

// BilledInvoice is a customer's recurring invoice of a run.
type BilledInvoice struct {
	CustomerID domain.CustomerID
	InvoiceID  domain.InvoiceID
	// Number, Total and Position are set when this invocation created the invoice; an
	// invoice found already in the account (a re-invoked run) has only its id.
	Number   string
	Total    domain.Money
	Position eventstore.Position
}

// SkippedCustomer is a customer the run did not invoice, and why.
type SkippedCustomer struct {
	CustomerID domain.CustomerID
	Reason     string
}

// BillingRunResult is what RunBilling did. Result is that of the run stream, except Position:
// the last position of everything this invocation appended (invoices included).
type BillingRunResult struct {
	Result
	RunID     domain.BillingRunID
	Period    domain.Period
	Completed bool
	// CustomersInvoiced is how many customers the run stream records.
	CustomersInvoiced int
	// Invoices are the invoices this invocation recorded; Skipped the customers it did not bill.
	Invoices []BilledInvoice
	Skipped  []SkippedCustomer
}

// RunBilling starts the run of c.Period (or continues it), invoices every billable customer
// the run has not recorded yet, records them, and completes the run once every customer is
// invoiced or skipped. A completed run is returned as it is. An error (the store unavailable)
// leaves the run open with what was recorded so far; invoking it again continues.
//
// Errors: *domain.InvalidValueError for a missing period or a due-days term out of range.
//
// RunBilling goes through this process's job registry (as StartBillingJob does): it joins the
// job billing the period if one runs, or starts one under ctx, and waits for it, so that one
// process never bills a run with two workers. Across processes an account's refusal of a
// second recurring invoice for the period keeps one invoice per customer.
func (h *Handlers) RunBilling(ctx context.Context, m Meta, c RunBilling) (BillingRunResult, error) {
	m, err := m.withDefaults()
	if err != nil {
		return BillingRunResult{}, err
	}
	m.Recovering = false
	if err := h.checkRunBilling(m, c); err != nil {
		return BillingRunResult{}, err
	}
	for {
		j := h.billingJob(ctx, m, c)
		select {
		case <-j.Done():
		case <-ctx.Done():
			return BillingRunResult{}, ctx.Err()
		}
		out, err := j.Result()
		if (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && ctx.Err() == nil {
			continue // the joined job stopped on its own context; this caller's goes on
		}
		return out, err
	}
}

// runBilling is RunBilling; progress, when not nil, is kept up to date as customers are billed.
func (h *Handlers) runBilling(ctx context.Context, m Meta, c RunBilling, progress *jobProgress) (BillingRunResult, error) {
	if progress == nil {
		progress = &jobProgress{}
	}
	m, err := m.withDefaults()
	if err != nil {
		return BillingRunResult{}, err
	}
	// Every step of a run is idempotent by the run's own state (a started run is not started
	// again, recorded customers are left out, an account refuses a second recurring invoice),
	// so a re-invoked run continues instead of returning the first step's recovered result.
	m.Recovering = false
	if err := h.checkRunBilling(m, c); err != nil {
		return BillingRunResult{}, err
	}
	started, err := h.StartBillingRun(ctx, m, c.Period)
	if err != nil {
		return BillingRunResult{}, err
	}
	// The request's idempotency key went with the run's start (or, when the run had started
	// already, the API records it with the answer): the customers' invoices, idempotent by the
	// run's state, do not carry it, so a bill day's appends record no key.
	m.Key = nil
	out := BillingRunResult{Result: started, Period: c.Period}
	run, _, err := h.BillingRun(ctx, m.Tenant, c.Period)
	if err != nil {
		return out.with(run), err
	}
	if run.Completed {
		// A run repeated for its period appends nothing and answers with what it billed.
		out.Invoices, err = h.recordedInvoices(ctx, m.Tenant, run)
		return out.with(run), err
	}
	customers, err := h.BillableCustomers(ctx, m.Tenant, c.Period)
	if err != nil {
		return out.with(run), err
	}
	progress.invoiced.Store(int64(len(run.Invoiced)))
	progress.billable.Store(int64(len(customers)))
	if err := h.billAll(ctx, m, run, customers, c.DueDays, &out, progress); err != nil {
		return out.with(run), err
	}
	res, err := h.CompleteBillingRun(ctx, m, c.Period)
	if err != nil {
		return out, err
	}
	out.merge(res)
	run, _, err = h.BillingRun(ctx, m.Tenant, c.Period)
	return out.with(run), err
}

// checkRunBilling refuses a run with a due-days term out of range or a period not begun yet.
func (h *Handlers) checkRunBilling(m Meta, c RunBilling) error {
	if c.DueDays < 0 || c.DueDays > MaxDueDays {
		return &domain.InvalidValueError{Field: "due days", Value: fmt.Sprint(c.DueDays), Reason: fmt.Sprintf("want 0 to %d", MaxDueDays)}
	}
	if today := domain.DateOf(h.clock(m)); c.Period.Start().After(today) {
		return &domain.InvalidValueError{Field: "period", Value: c.Period.String(),
			Reason: "has not started yet (today is " + today.String() + "): a month is billed once it has begun"}
	}
	return nil
}

// billAll bills the customers run has not recorded yet, in groups (billGroup), recording each
// group's invoiced customers in the run stream once it is billed. Up to BillingRunWorkers groups
// are billed at once, so one group's round trips overlap another's, each admitted by the
// elastic controller when there is one (the run gives way to the process's requests). After an
// error that is not a customer's (or ctx's end while a group waits for admission), no further
// group starts; the groups under way finish and are recorded.
func (h *Handlers) billAll(ctx context.Context, m Meta, run domain.BillingRunState, customers []BillableCustomer, dueDays int, out *BillingRunResult, progress *jobProgress) error {
	var todo []BillableCustomer
	for _, bc := range customers {
		if _, done := run.Invoiced[bc.CustomerID]; !done {
			todo = append(todo, bc)
		}
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	// A small run is split among the workers too: groups of ceil(n / workers), up to
	// billingBatchCustomers.
	size := min(billingBatchCustomers, max(1, (len(todo)+BillingRunWorkers-1)/BillingRunWorkers))
	sem := make(chan struct{}, BillingRunWorkers)
	for len(todo) > 0 {
		group := todo[:min(len(todo), size)]
		todo = todo[len(group):]
		sem <- struct{}{}
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		var admitted func()
		if !stop {
			admitted, stop = h.admitGroup(ctx, &mu, &firstErr)
		}
		if stop {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			defer admitted()
			billed, skipped, billErr := h.billBatch(ctx, m, run, group, dueDays, progress)
			res, recErr := h.RecordCustomersInvoiced(ctx, m, run.Period, billed)
			mu.Lock()
			defer mu.Unlock()
			out.Skipped = append(out.Skipped, skipped...)
			if recErr != nil {
				firstErr = cmp.Or(firstErr, recErr)
				return
			}
			out.merge(res)
			out.Invoices = append(out.Invoices, billed...)
			for _, b := range billed {
				out.Position = max(out.Position, b.Position)
			}
			if billErr != nil {
				firstErr = cmp.Or(firstErr, billErr)
			}
		})
	}
	wg.Wait()
	slices.SortFunc(out.Invoices, func(x, y BilledInvoice) int { return x.CustomerID.Compare(y.CustomerID) })
	slices.SortFunc(out.Skipped, func(x, y SkippedCustomer) int { return x.CustomerID.Compare(y.CustomerID) })
	return firstErr
}

// admitGroup waits for the elastic controller to admit one more group (at once without one);
// stop is true, and *firstErr set, if ctx ended first.
func (h *Handlers) admitGroup(ctx context.Context, mu *sync.Mutex, firstErr *error) (done func(), stop bool) {
	if h.elastic == nil {
		return func() {}, false
	}
	done, err := h.elastic.Admit(ctx)
	if err != nil {
		mu.Lock()
		*firstErr = cmp.Or(*firstErr, err)
		mu.Unlock()
		return nil, true
	}
	return done, false
}

// billBatch bills a group of customers (billGroup). It returns what was billed and skipped
// even when a customer failed with an error that is not the customer's (the first such error).
func (h *Handlers) billBatch(ctx context.Context, m Meta, run domain.BillingRunState, customers []BillableCustomer, dueDays int, progress *jobProgress) ([]BilledInvoice, []SkippedCustomer, error) {
	var billed []BilledInvoice
	var skipped []SkippedCustomer
	var firstErr error
	for i, o := range h.billGroup(ctx, m, run, customers, dueDays) {
		switch {
		case o.err == nil:
			billed = append(billed, o.billed)
			progress.invoiced.Add(1)
		case isCustomersProblem(o.err):
			skipped = append(skipped, SkippedCustomer{CustomerID: customers[i].CustomerID, Reason: o.err.Error()})
			progress.skipped.Add(1)
		case firstErr == nil:
			firstErr = o.err
		}
	}
	return billed, skipped, firstErr
}

// isCustomersProblem reports whether err is about the customer (nothing to bill, deactivated,
// a rule of the domain) rather than the system.
func isCustomersProblem(err error) bool {
	return errors.Is(err, ErrNothingToBill) || errors.Is(err, domain.ErrRejected) ||
		errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrNotFound)
}

// BillCustomer generates and issues the recurring invoice of run's period for one customer
// (GenerateRecurringInvoice with the next invoice number), over the services the billing index
// lists for it. The invoice id is derived from the run and the customer. If the account has
// the period's invoice already, that invoice is returned (with no Number) and nothing is
// appended. It does not record the customer in the run (RecordCustomersInvoiced does).
//
// Errors: ErrNothingToBill; *domain.CustomerInactiveError; *domain.NotFoundError; the
// errors of GenerateRecurringInvoice.
func (h *Handlers) BillCustomer(ctx context.Context, m Meta, run domain.BillingRunState, bc BillableCustomer, dueDays int) (BilledInvoice, error) {
	return h.billCustomer(ctx, m, run, bc, dueDays, "")
}

// billCustomer is BillCustomer; a number, when given, is the invoice's (taken for it already,
// by its group), else one is taken once the invoice is decided.
func (h *Handlers) billCustomer(ctx context.Context, m Meta, run domain.BillingRunState, bc BillableCustomer, dueDays int, number string) (BilledInvoice, error) {
	m.Recovering = false
	invoice, err := recurringInvoiceID(run.ID, bc.CustomerID)
	if err != nil {
		return BilledInvoice{}, err
	}
	out := BilledInvoice{CustomerID: bc.CustomerID, InvoiceID: invoice}
	res, err := h.run("GenerateRecurringInvoice", func() (Result, error) {
		services, err := h.customerServices(ctx, m.Tenant, bc)
		if err != nil {
			return Result{}, err
		}
		build := recurringInvoice(run.Period, invoice, services, dueDays)
		decide := h.numbered(ctx, m, build)
		if number != "" {
			decide = func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
				cmd, err := build(a, now, number)
				if err != nil {
					return nil, err
				}
				return domain.DecideAccount(a, cmd, now)
			}
		}
		return h.decideAccountNoMetrics(ctx, m, bc.CustomerID, invoice.String(), decide)
	})
	var billed *domain.AlreadyBilledError
	if errors.As(err, &billed) {
		out.InvoiceID = billed.Invoice
		return out, nil
	}
	if err != nil {
		return out, err
	}
	out.Position = res.Position
	for _, e := range res.Events {
		if issued, ok := e.(domain.InvoiceIssued); ok {
			out.Number, out.Total = issued.Number, issued.Total
		}
	}
	return out, nil
}

// recurringInvoice builds GenerateRecurringInvoice from the account and its services. The
// invoice is dated today, or the period's last day for a past period (billed as if run then),
// and due dueDays later.
func recurringInvoice(period domain.Period, invoice domain.InvoiceID, services []domain.ServiceState, dueDays int) numberedCommand {
	return func(a domain.AccountState, now time.Time, number string) (domain.AccountCommand, error) {
		if billed, ok := a.BilledPeriods[period]; ok {
			return nil, &domain.AlreadyBilledError{Customer: a.Customer.ID, Period: period, Invoice: billed}
		}
		issued := domain.DateOf(now)
		if last := period.LastDay(); last.Before(issued) {
			issued = last
		}
		lines, err := domain.RecurringCharges(period, a, services)
		if err != nil {
			return nil, err
		}
		if len(lines) == 0 {
			return nil, fmt.Errorf("customer %s, %s: %w", a.Customer.ID, period, ErrNothingToBill)
		}
		ids, err := lineIDs(invoice.UUID(), len(lines))
		if err != nil {
			return nil, err
		}
		for i := range lines {
			lines[i].LineID = ids[i]
		}
		return domain.GenerateRecurringInvoice{InvoiceID: invoice, Period: period, Number: number,
			IssueDate: issued, DueDate: issued.AddDays(dueDays), Lines: lines}, nil
	}
}

// recordedInvoices lists the invoices run recorded, each with its number and total read from
// the customer's account, in customer order.
func (h *Handlers) recordedInvoices(ctx context.Context, tenant domain.TenantID, run domain.BillingRunState) ([]BilledInvoice, error) {
	out := make([]BilledInvoice, 0, len(run.Invoiced))
	for customer, invoice := range run.Invoiced {
		a, _, err := h.Account(ctx, tenant, customer)
		if err != nil {
			return nil, err
		}
		b := BilledInvoice{CustomerID: customer, InvoiceID: invoice}
		if inv, ok := a.Invoices[invoice]; ok {
			b.Number, b.Total = inv.Number, inv.Total
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(x, y BilledInvoice) int { return x.CustomerID.Compare(y.CustomerID) })
	return out, nil
}

// customerServices loads the services of bc that belong to it.
func (h *Handlers) customerServices(ctx context.Context, tenant domain.TenantID, bc BillableCustomer) ([]domain.ServiceState, error) {
	out := make([]domain.ServiceState, 0, len(bc.Services))
	for _, id := range bc.Services {
		s, _, err := h.Service(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		if s.Customer == bc.CustomerID {
			out = append(out, s)
		}
	}
	return out, nil
}

// decideAccountNoMetrics is decideAccount inside a caller's h.run.
func (h *Handlers) decideAccountNoMetrics(ctx context.Context, m Meta, customer domain.CustomerID, id string, decide decideFunc[domain.AccountState]) (Result, error) {
	m, err := m.withDefaults()
	if err != nil {
		return Result{}, err
	}
	res, err := execute(ctx, h, m, accountTarget(m, customer), decide)
	res.ID = id
	return res, err
}

func (r BillingRunResult) with(run domain.BillingRunState) BillingRunResult {
	r.RunID, r.Completed, r.CustomersInvoiced = run.ID, run.Completed, len(run.Invoiced)
	r.ID = r.Period.String()
	return r
}

// merge takes a later result of the run stream into r.
func (r *BillingRunResult) merge(res Result) {
	if res.Stream == "" {
		return
	}
	pos, events := max(r.Position, res.Position), slices.Concat(r.Events, res.Events)
	r.Result = res
	r.Position, r.Events = pos, events
}
