package commands

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// Statuses of a billing run's progress.
const (
	BillingRunOpen      = "open"      // started, not completed, and no worker of this process bills it
	BillingRunRunning   = "running"   // a worker of this process is billing it
	BillingRunCompleted = "completed" // every billable customer is invoiced or skipped
)

// BillingJob is a billing run executing in the background of this process (StartBillingJob).
type BillingJob struct {
	done     chan struct{}
	result   BillingRunResult
	err      error
	progress jobProgress
}

// jobProgress counts what a running job did, for progress reports while it runs.
type jobProgress struct {
	billable atomic.Int64 // customers to bill in total (-1 until known)
	invoiced atomic.Int64 // customers invoiced (recorded before the job started included)
	skipped  atomic.Int64
}

// Done is closed when the job has finished (completed the run, or stopped on an error or its
// context ending; a stopped run stays open and is continued by the next invocation).
func (j *BillingJob) Done() <-chan struct{} { return j.done }

// Result is RunBilling's answer; call it after Done is closed.
func (j *BillingJob) Result() (BillingRunResult, error) { return j.result, j.err }

// Progress reports how far the job is: customers invoiced so far (the run's earlier ones
// included), skipped, and to bill in total (-1 until the job has listed them).
func (j *BillingJob) Progress() (invoiced, skipped, billable int) {
	return int(j.progress.invoiced.Load()), int(j.progress.skipped.Load()), int(j.progress.billable.Load())
}

// billingJobs are the jobs running in this process, by run stream.
type billingJobs struct {
	mu      sync.Mutex
	running map[string]*BillingJob
}

// StartBillingJob starts the run of c.Period under ctx (StartBillingRun: nothing is appended
// if it is started already) and bills it in the background under bg, which the caller keeps
// detached from any request and ends on shutdown; it returns the job and the start's result.
// If this process bills the run of the period already, that job is returned and no second
// worker starts; across processes the run's own idempotency (recorded customers are skipped,
// an account refuses a second recurring invoice for the period) keeps one invoice per customer
// and period.
//
// Errors: those of RunBilling's checks (*domain.InvalidValueError) and of StartBillingRun.
func (h *Handlers) StartBillingJob(ctx, bg context.Context, m Meta, c RunBilling) (*BillingJob, Result, error) {
	m, err := m.withDefaults()
	if err != nil {
		return nil, Result{}, err
	}
	m.Recovering = false
	if err := h.checkRunBilling(m, c); err != nil {
		return nil, Result{}, err
	}
	started, err := h.StartBillingRun(ctx, m, c.Period)
	if err != nil {
		return nil, started, err
	}
	return h.billingJob(bg, m, c), started, nil
}

// billingJob returns the job of c's run in this process, starting it under ctx if none runs.
func (h *Handlers) billingJob(ctx context.Context, m Meta, c RunBilling) *BillingJob {
	key := domain.BillingRunStream(m.Tenant, c.Period)
	h.jobs.mu.Lock()
	defer h.jobs.mu.Unlock()
	if j, ok := h.jobs.running[key]; ok {
		return j
	}
	if h.jobs.running == nil {
		h.jobs.running = map[string]*BillingJob{}
	}
	j := &BillingJob{done: make(chan struct{})}
	j.progress.billable.Store(-1)
	h.jobs.running[key] = j
	go func() {
		defer close(j.done)
		_, _ = h.run("RunBilling", func() (Result, error) {
			j.result, j.err = h.runBilling(ctx, m, c, &j.progress)
			return j.result.Result, j.err
		})
		h.jobs.mu.Lock()
		delete(h.jobs.running, key)
		h.jobs.mu.Unlock()
	}()
	return j
}

// runningJob returns the job of this process billing the run stream, if any.
func (h *Handlers) runningJob(stream string) *BillingJob {
	h.jobs.mu.Lock()
	defer h.jobs.mu.Unlock()
	return h.jobs.running[stream]
}

// BillingRunProgress is where a billing run stands, read from its stream (and from this
// process's worker while one runs it).
type BillingRunProgress struct {
	RunID  domain.BillingRunID
	Period domain.Period
	// Status is BillingRunOpen, BillingRunRunning or BillingRunCompleted.
	Status string
	// CustomersInvoiced: customers the run stream records (or, while this process runs it,
	// the customers its worker has invoiced so far, if more).
	CustomersInvoiced int
	// CustomersBillable: customers the billing index lists for the period now.
	CustomersBillable int
	// CustomersSkipped: customers the worker skipped (nothing billable, inactive), or for a
	// completed run the billable customers it did not invoice.
	CustomersSkipped int
	// Yielding: this process's worker runs it below full speed now, giving way to the
	// process's requests (Config.Elastic).
	Yielding bool
	// StartedAt and CompletedAt are when the run stream recorded its start and completion.
	StartedAt, CompletedAt time.Time
	// Version is the run stream's version.
	Version uint64
}

// Percent is the share of billable customers invoiced or skipped, 0 to 100 (100 once completed).
func (p BillingRunProgress) Percent() int {
	if p.Status == BillingRunCompleted {
		return 100
	}
	if p.CustomersBillable <= 0 {
		return 0
	}
	return min(99, (p.CustomersInvoiced+p.CustomersSkipped)*100/p.CustomersBillable)
}

// BillingRunProgress reads the progress of the run of period.
//
// Errors: *domain.NotFoundError if the run never started.
func (h *Handlers) BillingRunProgress(ctx context.Context, tenant domain.TenantID, period domain.Period) (BillingRunProgress, error) {
	stream := domain.BillingRunStream(tenant, period)
	job := h.runningJob(stream) // before the stream is read: a job ending meanwhile has completed it
	run, version, err := h.BillingRun(ctx, tenant, period)
	if err != nil {
		return BillingRunProgress{}, err
	}
	if !run.Started() {
		return BillingRunProgress{}, &domain.NotFoundError{Entity: "billing run", ID: period.String()}
	}
	p := BillingRunProgress{RunID: run.ID, Period: period, Status: BillingRunOpen, CustomersInvoiced: len(run.Invoiced), Version: version}
	if _, _, billable := jobProgressOf(job); billable >= 0 && !run.Completed {
		p.CustomersBillable = billable // the job's list: polling a running job costs no index query
	} else {
		customers, err := h.BillableCustomers(ctx, tenant, period)
		if err != nil {
			return BillingRunProgress{}, err
		}
		p.CustomersBillable = len(customers)
	}
	if p.StartedAt, err = h.recordedAt(ctx, stream, 1, eventstore.Forwards); err != nil {
		return BillingRunProgress{}, err
	}
	switch j := job; {
	case run.Completed:
		p.Status = BillingRunCompleted
		p.CustomersSkipped = max(0, p.CustomersBillable-p.CustomersInvoiced)
		if p.CompletedAt, err = h.recordedAt(ctx, stream, eventstore.EndOfStream, eventstore.Backwards); err != nil {
			return BillingRunProgress{}, err
		}
	case j != nil:
		p.Status = BillingRunRunning
		invoiced, skipped, _ := j.Progress()
		p.CustomersInvoiced, p.CustomersSkipped = max(p.CustomersInvoiced, invoiced), skipped
		p.Yielding = h.yielding()
	}
	return p, nil
}

// yielding reports whether the elastic controller, if it says so, holds background work
// below full speed now.
func (h *Handlers) yielding() bool {
	y, ok := h.elastic.(interface{ Yielding() bool })
	return ok && y.Yielding()
}

// jobProgressOf is j's progress; billable is -1 without a job.
func jobProgressOf(j *BillingJob) (invoiced, skipped, billable int) {
	if j == nil {
		return 0, 0, -1
	}
	return j.Progress()
}

// recordedAt is when the event of stream at version from (read in dir) was recorded.
func (h *Handlers) recordedAt(ctx context.Context, stream string, from uint64, dir eventstore.Direction) (time.Time, error) {
	envs, err := h.store.ReadStream(ctx, stream, from, dir, 1)
	if errors.Is(err, eventstore.ErrStreamNotFound) || (err == nil && len(envs) == 0) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return envs[0].RecordedAt(), nil
}
