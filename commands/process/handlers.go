package process

import (
	"context"
	"fmt"
	"time"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/wait"
)

// Event handlers, called by the groups' batch handlers (batch.go) for the events they react
// to. Each returns only once the command it sent has taken effect, so the batch is
// acknowledged (and its offset saved) only after every command of it is done. A failure
// nacks the batch: it is handled again.

// onBillingRunStarted is the billing manager's watchdog: every started run is driven to
// completion. A run still making progress (another request is billing it) is left alone
// until it has been idle for ResumeAfter; then the manager resumes it. The event is acked
// once the run is completed, so a run cut short by a crash is found again after a restart.
func (m *Manager) onBillingRunStarted(ctx context.Context, o origin, e *domain.BillingRunStarted) error {
	for {
		run, _, err := m.h.BillingRun(ctx, o.tenant, e.Period)
		if err != nil {
			return err
		}
		if run.Completed || run.ID != e.BillingRunID {
			return nil
		}
		idle, err := m.runIdle(ctx, o.tenant, e.Period)
		if err != nil {
			return err
		}
		if idle >= m.cfg.ResumeAfter {
			m.log.Info().Str("tenant", o.tenant.String()).Stringer("period", e.Period).Dur("idle", idle).Msg("process: resuming an unfinished billing run")
			return m.send(ctx, &RunBillingPeriod{Tenant: o.tenant, Period: e.Period, Cause: o.cause, At: m.now()})
		}
		if err := wait.Sleep(ctx, m.cfg.ResumeAfter-idle); err != nil {
			return err
		}
	}
}

// runIdle returns how long ago (wall clock) the run stream of period last changed.
func (m *Manager) runIdle(ctx context.Context, tenant domain.TenantID, period domain.Period) (time.Duration, error) {
	envs, err := m.cfg.Store.ReadStream(ctx, domain.BillingRunStream(tenant, period), eventstore.EndOfStream, eventstore.Backwards, 1)
	if err != nil {
		return 0, fmt.Errorf("billing run %s: %w", period, err)
	}
	return time.Since(envs[0].RecordedAt()), nil
}

// send sends cmd through the bus, unless its tenant is on hold (Holds): then it sends nothing
// and the next tick after the hold does what is due.
func (m *Manager) send(ctx context.Context, cmd any) error {
	if tenant, ok := tenantOf(cmd); ok {
		held, err := m.holds.Held(ctx, tenant)
		if err != nil {
			return err
		}
		if held {
			m.log.Debug().Str("tenant", tenant.String()).Str("command", fmt.Sprintf("%T", cmd)).Msg("process: tenant on hold, nothing sent")
			return nil
		}
	}
	return m.sendUnheld(ctx, cmd)
}

// sendUnheld is send for a caller that found cmd's tenant not on hold itself (a batch checks
// its tenants in one statement: Holds.HeldAmong).
func (m *Manager) sendUnheld(ctx context.Context, cmd any) error {
	if m.cfg.beforeSend != nil {
		if err := m.cfg.beforeSend(cmd); err != nil {
			return err
		}
	}
	if err := m.sender.Send(ctx, cmd); err != nil {
		return fmt.Errorf("send %T: %w", cmd, err)
	}
	return nil
}

// Command handlers. They return an error only when the command may succeed if sent again
// (the store unavailable, a conflict that did not settle, ctx ended); refusals by the domain
// mean the state moved on, and are logged at debug level by the policies.

// handleRunBillingPeriod runs (or continues) the billing run to completion. RunBilling is
// idempotent by itself: it skips the customers its run stream records, and an account refuses
// a second recurring invoice for a period. It runs without Meta.Recovering: its commands on
// the run stream share the command id, and recovery would return an earlier batch's result
// instead of recording the next batch.
func (m *Manager) handleRunBillingPeriod(ctx context.Context, c *RunBillingPeriod) error {
	t := Trigger{Tenant: c.Tenant, Cause: c.Cause, At: c.At}
	meta := t.meta(ActorBilling, deriveID(c.Cause, "run billing", c.Tenant.String(), c.Period.String()))
	meta.Recovering = false
	res, err := m.h.RunBilling(ctx, meta, commands.RunBilling{Period: c.Period, DueDays: m.cfg.DueDays})
	if err != nil {
		return fmt.Errorf("billing run %s of %s: %w", c.Period, c.Tenant, err)
	}
	if !res.Completed {
		return fmt.Errorf("billing run %s of %s: not completed", c.Period, c.Tenant)
	}
	m.log.Info().Str("tenant", c.Tenant.String()).Stringer("period", c.Period).Int("customers_invoiced", res.CustomersInvoiced).
		Int("invoices_created", len(res.Invoices)).Int("skipped", len(res.Skipped)).Msg("process: billing run completed")
	return nil
}

func (m *Manager) handleEvaluateDunning(ctx context.Context, c *EvaluateDunning) error {
	res, err := m.dunning.Evaluate(ctx, Trigger{Tenant: c.Tenant, Cause: c.Cause, At: c.At, Position: c.Position}, c.Customer, nil)
	if err != nil {
		return err
	}
	if len(res.Suspended)+len(res.Resumed) > 0 {
		m.log.Info().Str("tenant", c.Tenant.String()).Stringer("customer", c.Customer).Int("suspended", len(res.Suspended)).
			Int("resumed", len(res.Resumed)).Msg("process: dunning")
	}
	return nil
}

func (m *Manager) handleMarkOverdueInvoice(ctx context.Context, c *MarkOverdueInvoice) error {
	t := Trigger{Tenant: c.Tenant, Cause: c.Invoice.UUID(), At: c.At}
	_, marked, err := MarkOverdue(ctx, m.h, t, c.Customer, c.Invoice)
	if marked {
		m.log.Debug().Str("tenant", c.Tenant.String()).Stringer("invoice", c.Invoice).Msg("process: invoice marked overdue")
	}
	return err
}

// tenantOf returns the tenant a command of the managers acts in.
func tenantOf(cmd any) (domain.TenantID, bool) {
	switch c := cmd.(type) {
	case *RunBillingPeriod:
		return c.Tenant, true
	case *EvaluateDunning:
		return c.Tenant, true
	case *MarkOverdueInvoice:
		return c.Tenant, true
	}
	return domain.TenantID{}, false
}
