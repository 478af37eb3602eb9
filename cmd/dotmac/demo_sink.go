package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// handlerSink is the customer simulator's sink through the real command handlers: each
// command goes to the handler a portal request would reach, decided at the simulated instant
// (commands.Meta.At), and Record returns the events the handler appended. The overdue
// scheduler's marks go through process.MarkOverdue and the dunning policy's suspensions and
// resumptions through process.Dunning.Evaluate, the process managers' own policies. A billing
// run goes through Handlers.RunBilling when the simulation starts it: RunBilling starts the
// run, invoices every billable customer, records them and completes the run, and the
// simulation's later commands of that run (each customer's GenerateRecurringInvoice, each
// RecordCustomerInvoiced, CompleteBillingRun) are answered with the events RunBilling
// appended; a customer billed by one side and not the other is an error. A plan the tenant
// has already (an earlier seed) is taken as it is. It is safe for concurrent use.
type handlerSink struct {
	ctx     context.Context // domainsim.Sink takes no context: the sink serves one run
	h       *commands.Handlers
	store   eventstore.Store
	dunning *process.Dunning

	mu   sync.Mutex
	runs map[string]*billedRun // by billing run stream

	commands atomic.Int64
}

var _ domainsim.Sink = (*handlerSink)(nil)

// billedRun is what RunBilling appended to the run stream, by the command it answers.
type billedRun struct {
	started, completed []domain.Event
	invoiced           map[domain.CustomerID]domain.Event
}

// seedActor is the actor of the commands the seed sends as the portal would.
const seedActor = "demo-seed"

// catchUpEvents bounds the events read back for a customer billed by RunBilling (two).
const catchUpEvents = 16

func newHandlerSink(ctx context.Context, store eventstore.Store, h *commands.Handlers, graceDays int) (*handlerSink, error) {
	d, err := process.NewDunning(h, graceDays)
	if err != nil {
		return nil, err
	}
	return &handlerSink{ctx: ctx, h: h, store: store, dunning: d, runs: map[string]*billedRun{}}, nil
}

// Record sends cmd to its handler or policy and returns the events appended.
func (s *handlerSink) Record(cmd domainsim.Command) ([]domain.Event, error) {
	switch cmd.Actor {
	case domainsim.ActorOverdue:
		return s.markOverdue(cmd)
	case domainsim.ActorDunning:
		return s.dun(cmd)
	case domainsim.ActorBilling:
		return s.bill(cmd)
	case domainsim.ActorAdjustment:
		return s.adjusted(cmd)
	case domainsim.ActorAllocation:
		return s.allocated(cmd)
	}
	m := s.meta(cmd)
	var res commands.Result
	var err error
	switch c := cmd.Cmd.(type) {
	case domain.PlanCommand:
		res, err = s.plan(m, cmd.Plan, c)
	case domain.ServiceCommand:
		res, err = s.service(m, cmd.Service, c)
	case domain.AccountCommand:
		res, err = s.account(m, cmd.Customer, c)
	case domain.ClaimProviderPayment:
		res, err = s.h.ClaimProviderPayment(s.ctx, m, c)
	case domain.RecordUnallocatedReceipt:
		res, err = s.h.RecordUnallocatedReceipt(s.ctx, m, c)
	case domain.AllocateReceipt:
		if _, err = s.h.AllocateReceipt(s.ctx, m, cmd.Receipt, c.CustomerID); err == nil {
			var evs []domain.Event
			evs, err = s.readStream(cmd.Stream, cmd.Version, catchUpEvents)
			res.Events = evs
		}
	default:
		err = fmt.Errorf("the demo seed has no handler for %s", cmd.Kind())
	}
	return res.Events, err
}

// meta is the Meta of a command decided at the simulated instant, with a fresh command id.
func (s *handlerSink) meta(cmd domainsim.Command) commands.Meta {
	s.commands.Add(1)
	return commands.Meta{Tenant: cmd.Tenant, Actor: seedActor, CorrelationID: seedActor, CommandID: uuid.Must(uuid.NewV7()), At: cmd.At}
}

// plan defines or retires a plan; a plan defined already is returned as it stands.
func (s *handlerSink) plan(m commands.Meta, code domain.PlanCode, cmd domain.PlanCommand) (commands.Result, error) {
	c, ok := cmd.(domain.DefinePlan)
	if !ok {
		return s.h.RetirePlan(s.ctx, m, commands.RetirePlan{Code: code})
	}
	res, err := s.h.DefinePlan(s.ctx, m, c)
	if exists := (*domain.AlreadyExistsError)(nil); errors.As(err, &exists) {
		evs, err := s.readStream(domain.PlanStream(m.Tenant, code), 0, catchUpEvents)
		return commands.Result{Events: evs}, err
	}
	return res, err
}

func (s *handlerSink) service(m commands.Meta, id domain.ServiceID, cmd domain.ServiceCommand) (commands.Result, error) {
	switch c := cmd.(type) {
	case domain.ProvisionService:
		return s.h.ProvisionService(s.ctx, m, commands.ProvisionService{CustomerID: c.Customer.ID, PlanCode: c.Plan.Code,
			StartDate: c.StartDate, InstallAddress: c.InstallAddress, ONTSerial: c.ONTSerial, StaticIP: c.StaticIP})
	case domain.ActivateService:
		return s.h.ActivateService(s.ctx, m, commands.ActivateService{ServiceID: id, On: c.On})
	case domain.SuspendService:
		return s.h.SuspendService(s.ctx, m, commands.SuspendService{ServiceID: id, Reason: c.Reason, On: c.On})
	case domain.ResumeService:
		return s.h.ResumeService(s.ctx, m, commands.ResumeService{ServiceID: id, On: c.On})
	case domain.ChangePlan:
		return s.h.ChangePlan(s.ctx, m, commands.ChangePlan{ServiceID: id, PlanCode: c.NewPlan.Code, EffectiveDate: c.EffectiveDate})
	case domain.TerminateService:
		return s.h.TerminateService(s.ctx, m, commands.TerminateService{ServiceID: id, LastDay: c.LastDay, Reason: c.Reason})
	}
	return commands.Result{}, fmt.Errorf("the demo seed has no handler for %T", cmd)
}

// account sends an account command of customer to its handler.
func (s *handlerSink) account(m commands.Meta, customer domain.CustomerID, cmd domain.AccountCommand) (commands.Result, error) {
	switch c := cmd.(type) {
	case domain.RegisterCustomer:
		return s.h.RegisterCustomer(s.ctx, m, commands.RegisterCustomer{Contact: c.Contact, Currency: c.Currency})
	case domain.UpdateCustomerContact:
		return s.h.UpdateCustomerContact(s.ctx, m, commands.UpdateCustomerContact{CustomerID: customer, Contact: c.Contact})
	case domain.DeactivateCustomer:
		return s.h.DeactivateCustomer(s.ctx, m, commands.DeactivateCustomer{CustomerID: customer, Reason: c.Reason})
	case domain.CreateInvoice:
		return s.h.CreateInvoice(s.ctx, m, commands.CreateInvoice{CustomerID: customer, Lines: c.Lines})
	case domain.AddInvoiceLine:
		return s.h.AddInvoiceLine(s.ctx, m, commands.AddInvoiceLine{CustomerID: customer, InvoiceID: c.InvoiceID, Line: c.Line})
	case domain.IssueInvoice:
		return s.h.IssueInvoice(s.ctx, m, commands.IssueInvoice{CustomerID: customer, InvoiceID: c.InvoiceID, DueDate: c.DueDate})
	case domain.VoidInvoice:
		return s.h.VoidInvoice(s.ctx, m, commands.VoidInvoice{CustomerID: customer, InvoiceID: c.InvoiceID, Reason: c.Reason})
	case domain.RecordPayment:
		return s.h.RecordPayment(s.ctx, m, commands.RecordPayment{CustomerID: customer, Amount: c.Amount, Method: c.Method,
			ExternalReference: c.ExternalReference, ReceivedAt: c.ReceivedAt})
	case domain.RefundPayment:
		return s.h.RefundPayment(s.ctx, m, commands.RefundPayment{CustomerID: customer, PaymentID: c.PaymentID, Amount: c.Amount, Reason: c.Reason})
	case domain.IssueCreditNote:
		return s.h.IssueCreditNote(s.ctx, m, commands.IssueCreditNote{CustomerID: customer, InvoiceID: c.InvoiceID, Net: c.Net,
			TaxRate: c.TaxRate, Reason: c.Reason, IssuedOn: c.IssuedOn})
	case domain.RecordOpeningBalance:
		return s.h.RecordOpeningBalance(s.ctx, m, commands.RecordOpeningBalance{CustomerID: customer, Amount: c.Amount, AsOf: c.AsOf})
	}
	return commands.Result{}, fmt.Errorf("the demo seed has no handler for %T", cmd)
}

// adjusted answers the simulation's AdjustBilling with what the service command's handler
// appended to the account after the version the simulation folded: the handler adjusts the
// billing at once (commands.Handlers.AdjustBilling). Both sides decide the adjustment from the
// same timelines, so an adjustment on one side only is an error.
func (s *handlerSink) adjusted(cmd domainsim.Command) ([]domain.Event, error) {
	want, err := cmd.Decide()
	if err != nil {
		return nil, err
	}
	got, err := s.readStream(cmd.Stream, cmd.Version, catchUpEvents)
	if err != nil {
		return nil, err
	}
	if len(got) != len(want) {
		return nil, fmt.Errorf("customer %s: the command side appended %d adjustment events, the simulation decided %d", cmd.Customer, len(got), len(want))
	}
	return got, nil
}

// allocated answers the simulation's RecordPayment of an allocated receipt with what the
// AllocateReceipt handler appended to the customer's account after the version the simulation
// folded: the handler records the payment itself.
func (s *handlerSink) allocated(cmd domainsim.Command) ([]domain.Event, error) {
	got, err := s.readStream(cmd.Stream, cmd.Version, catchUpEvents)
	if err != nil {
		return nil, err
	}
	if len(got) != 1 {
		return nil, fmt.Errorf("customer %s: the allocation appended %d events to the account, want its payment", cmd.Customer, len(got))
	}
	return got, nil
}

// readStream decodes up to limit events of stream after version after.
func (s *handlerSink) readStream(stream string, after uint64, limit int) ([]domain.Event, error) {
	envs, err := s.store.ReadStream(s.ctx, stream, after+1, eventstore.Forwards, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s back: %w", stream, err)
	}
	out := make([]domain.Event, len(envs))
	for i := range envs {
		if out[i], err = codec.Decode(&envs[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
