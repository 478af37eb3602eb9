package commands

import (
	"context"
	"time"

	"github.com/dotmac/ledger/domain"
)

// billingRunTarget is the run stream of period.
func billingRunTarget(m Meta, period domain.Period, mustExist bool) target[domain.BillingRunState] {
	t := target[domain.BillingRunState]{agg: billingRunAggregate, stream: domain.BillingRunStream(m.Tenant, period)}
	if mustExist {
		t.require = func(r domain.BillingRunState) error {
			if !r.Started() {
				return &domain.NotFoundError{Entity: "billing run", ID: period.String()}
			}
			return nil
		}
	}
	return t
}

// StartBillingRun starts the run of period, unless it is started already (then nothing is
// appended); Result.ID is the period. The run id is derived from the command id.
//
// Errors: *domain.InvalidValueError for a missing period.
func (h *Handlers) StartBillingRun(ctx context.Context, m Meta, period domain.Period) (Result, error) {
	return h.onBillingRun(ctx, "StartBillingRun", m, period, false, func(r domain.BillingRunState, now time.Time) ([]domain.Event, error) {
		if r.Started() {
			return nil, nil
		}
		id, err := BillingRunIDFor(m.CommandID)
		if err != nil {
			return nil, err
		}
		return domain.DecideBillingRun(r, domain.StartBillingRun{BillingRunID: id, Period: period}, now)
	})
}

// RecordCustomersInvoiced records in the run stream the customers invoiced for its period;
// customers the run recorded already are left out, so recording again is harmless.
//
// Errors: *domain.NotFoundError if the run is not started; *domain.InvalidTransitionError once
// it is completed.
func (h *Handlers) RecordCustomersInvoiced(ctx context.Context, m Meta, period domain.Period, billed []BilledInvoice) (Result, error) {
	var out Result
	for len(billed) > 0 {
		chunk := billed[:min(len(billed), maxRecordedPerAppend)]
		billed = billed[len(chunk):]
		res, err := h.onBillingRun(ctx, "RecordCustomersInvoiced", m, period, true, recordInvoiced(chunk))
		if err != nil {
			return out, err
		}
		out = res
	}
	return out, nil
}

// recordInvoiced decides the records of billed on the run as it stands. It decides each on r
// itself, not on r with the chunk's earlier records applied: applying one record copies the
// run's customers (the state is never modified in place), which made recording a 100,000
// customer run quadratic. A customer twice in billed is recorded once.
func recordInvoiced(billed []BilledInvoice) decideFunc[domain.BillingRunState] {
	return func(r domain.BillingRunState, now time.Time) ([]domain.Event, error) {
		var out []domain.Event
		seen := make(map[domain.CustomerID]struct{}, len(billed))
		for _, b := range billed {
			if _, done := r.Invoiced[b.CustomerID]; done {
				continue
			}
			if _, dup := seen[b.CustomerID]; dup {
				continue
			}
			seen[b.CustomerID] = struct{}{}
			evs, err := domain.DecideBillingRun(r, domain.RecordCustomerInvoiced{CustomerID: b.CustomerID, InvoiceID: b.InvoiceID}, now)
			if err != nil {
				return nil, err
			}
			out = append(out, evs...)
		}
		return out, nil
	}
}

// CompleteBillingRun closes the run of period (nothing is appended if it is closed already).
//
// Errors: *domain.NotFoundError if the run is not started.
func (h *Handlers) CompleteBillingRun(ctx context.Context, m Meta, period domain.Period) (Result, error) {
	return h.onBillingRun(ctx, "CompleteBillingRun", m, period, true, func(r domain.BillingRunState, now time.Time) ([]domain.Event, error) {
		if r.Completed {
			return nil, nil
		}
		return domain.DecideBillingRun(r, domain.CompleteBillingRun{}, now)
	})
}

func (h *Handlers) onBillingRun(ctx context.Context, name string, m Meta, period domain.Period, mustExist bool, decide decideFunc[domain.BillingRunState]) (Result, error) {
	return h.run(name, func() (Result, error) {
		m, err := m.withDefaults()
		if err != nil {
			return Result{}, err
		}
		if period.IsZero() {
			return Result{}, &domain.InvalidValueError{Field: "period", Reason: "missing"}
		}
		res, err := execute(ctx, h, m, billingRunTarget(m, period, mustExist), decide)
		res.ID = period.String()
		return res, err
	})
}

// BillingRun returns the run of period as it stands (the zero state if it never started) and
// its stream version.
func (h *Handlers) BillingRun(ctx context.Context, tenant domain.TenantID, period domain.Period) (domain.BillingRunState, uint64, error) {
	r, snap, err := load(ctx, h, billingRunAggregate, domain.BillingRunStream(tenant, period))
	return r, snap.version, err
}
