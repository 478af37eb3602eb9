package main

import (
	"fmt"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
)

// markOverdue marks an invoice overdue through the overdue scheduler's policy.
func (s *handlerSink) markOverdue(cmd domainsim.Command) ([]domain.Event, error) {
	c, ok := cmd.Cmd.(domain.MarkInvoiceOverdue)
	if !ok {
		return nil, fmt.Errorf("the overdue scheduler sends no %s", cmd.Kind())
	}
	s.commands.Add(1)
	t := process.Trigger{Tenant: cmd.Tenant, Cause: c.InvoiceID.UUID(), At: cmd.At}
	res, marked, err := process.MarkOverdue(s.ctx, s.h, t, cmd.Customer, c.InvoiceID)
	if err == nil && !marked {
		err = fmt.Errorf("the overdue policy did not mark invoice %s as the simulation did", c.InvoiceID)
	}
	return res.Events, err
}

// dun suspends or resumes one service through the dunning policy, evaluated for that service.
func (s *handlerSink) dun(cmd domainsim.Command) ([]domain.Event, error) {
	s.commands.Add(1)
	t := process.Trigger{Tenant: cmd.Tenant, Cause: process.DunningTickCause(cmd.Tenant, domain.DateOf(cmd.At)), At: cmd.At}
	res, err := s.dunning.Evaluate(s.ctx, t, cmd.Customer, []domain.ServiceID{cmd.Service})
	if err != nil {
		return nil, err
	}
	if len(res.Results) != 1 {
		return nil, fmt.Errorf("dunning did not send %s for service %s as the simulation decided", cmd.Kind(), cmd.Service)
	}
	return res.Results[0].Events, nil
}

// bill runs a billing run with Handlers.RunBilling when the simulation starts it, and answers
// the run's later commands with what RunBilling appended.
func (s *handlerSink) bill(cmd domainsim.Command) ([]domain.Event, error) {
	stream := domain.BillingRunStream(cmd.Tenant, cmd.Period)
	if _, ok := cmd.Cmd.(domain.StartBillingRun); ok {
		return s.runBilling(cmd, stream)
	}
	s.mu.Lock()
	run := s.runs[stream]
	s.mu.Unlock()
	if run == nil {
		return nil, fmt.Errorf("%s before the run of %s started", cmd.Kind(), cmd.Period)
	}
	switch c := cmd.Cmd.(type) {
	case domain.GenerateRecurringInvoice:
		if run.invoiced[cmd.Customer] == nil {
			return nil, fmt.Errorf("the billing run of %s did not invoice customer %s", cmd.Period, cmd.Customer)
		}
		return s.readStream(domain.CustomerStream(cmd.Tenant, cmd.Customer), cmd.Version, catchUpEvents)
	case domain.RecordCustomerInvoiced:
		if e := run.invoiced[c.CustomerID]; e != nil {
			return []domain.Event{e}, nil
		}
		return nil, fmt.Errorf("the billing run of %s did not record customer %s", cmd.Period, c.CustomerID)
	case domain.CompleteBillingRun:
		return run.completed, nil
	}
	return nil, fmt.Errorf("a billing run sends no %s", cmd.Kind())
}

// runBilling runs the billing run of cmd.Period and keeps what it appended to the run stream.
func (s *handlerSink) runBilling(cmd domainsim.Command, stream string) ([]domain.Event, error) {
	res, err := s.h.RunBilling(s.ctx, s.meta(cmd), commands.RunBilling{Period: cmd.Period, DueDays: domainsim.DueDays})
	if err != nil {
		return nil, fmt.Errorf("billing run %s: %w", cmd.Period, err)
	}
	if !res.Completed {
		return nil, fmt.Errorf("billing run %s did not complete", cmd.Period)
	}
	run := &billedRun{invoiced: map[domain.CustomerID]domain.Event{}}
	for _, e := range res.Events {
		switch e := e.(type) {
		case domain.BillingRunStarted:
			run.started = append(run.started, e)
		case domain.BillingRunCustomerInvoiced:
			run.invoiced[e.CustomerID] = e
		case domain.BillingRunCompleted:
			run.completed = append(run.completed, e)
		}
	}
	s.mu.Lock()
	s.runs[stream] = run
	s.mu.Unlock()
	return run.started, nil
}
