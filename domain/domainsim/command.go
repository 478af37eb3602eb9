package domainsim

import (
	"reflect"
	"time"

	"github.com/dotmac/ledger/domain"
)

// Actor is who sends a command. A sink that goes through the command side routes by it: the
// overdue scheduler's and the dunning policy's commands go through their process managers.
// The zero Actor is invalid.
type Actor struct {
	s string
}

// The actors.
var (
	// ActorPortal is the customer or the ISP's staff, through the portal.
	ActorPortal = Actor{"portal"}
	// ActorCatalog is the ISP's product team: DefinePlan and RetirePlan.
	ActorCatalog = Actor{"catalog"}
	// ActorBilling is the billing run: StartBillingRun, GenerateRecurringInvoice,
	// RecordCustomerInvoiced and CompleteBillingRun.
	ActorBilling = Actor{"billing"}
	// ActorOverdue is the overdue scheduler: MarkInvoiceOverdue.
	ActorOverdue = Actor{"overdue"}
	// ActorDunning is the dunning policy: SuspendService (non_payment) and ResumeService.
	ActorDunning = Actor{"dunning"}
	// ActorAdjustment is the billing adjustment the command side issues at once after a
	// service change (AdjustBilling): a sink through the command handlers finds it already
	// appended by the service command's handler.
	ActorAdjustment = Actor{"adjustment"}
	// ActorProvider is a payment provider's callback: ClaimProviderPayment, then
	// RecordUnallocatedReceipt, for money whose account reference names no customer.
	ActorProvider = Actor{"provider"}
	// ActorAllocation is the customer's payment an allocation records (RecordPayment with
	// Receipt set): a sink through the command handlers finds it already appended by the
	// AllocateReceipt handler.
	ActorAllocation = Actor{"allocation"}
)

// String returns the actor's name ("portal").
func (a Actor) String() string { return a.s }

// Command is one command of a simulation, addressed to one stream. Exactly one of the
// domain's command interfaces holds Cmd: domain.AccountCommand (Stream is the customer's
// account), domain.ServiceCommand (a service stream), domain.PlanCommand (a plan stream) or
// domain.BillingRunCommand (a billing run stream) or domain.ReceiptCommand (a receipt stream).
type Command struct {
	Tenant domain.TenantID
	// Stream is the stream the command is decided on; Version the version of it the
	// simulation has folded (0: the stream is new).
	Stream  string
	Version uint64
	// At is the simulated instant the command is decided at.
	At    time.Time
	Actor Actor
	// Customer is set on account and service commands; Service on service commands (both
	// name the new entity on RegisterCustomer and ProvisionService); Plan on plan commands;
	// Period on billing run commands and GenerateRecurringInvoice.
	Customer domain.CustomerID
	Service  domain.ServiceID
	Plan     domain.PlanCode
	Period   domain.Period
	// Receipt is set on receipt commands and ClaimProviderPayment (a provider payment stream).
	Receipt domain.ReceiptID
	// Cmd is the domain command, such as domain.RecordPayment.
	Cmd any

	decide func() ([]domain.Event, error)
}

// Kind names the domain command: "RecordPayment".
func (c Command) Kind() string { return kindOf(c.Cmd) }

// Decide decides Cmd at At against the simulation's state of Stream (at Version) with the
// domain's pure deciders and returns the events, or the domain's typed error. It does not
// change the simulation: the simulation folds what the sink's Record returns. Decide may be
// called any number of times, but only while Record runs.
func (c Command) Decide() ([]domain.Event, error) {
	if c.decide == nil {
		return nil, &domain.InvalidValueError{Field: "command", Value: c.Kind(), Reason: "not built by a simulation"}
	}
	return c.decide()
}

// Sink records the commands of a simulation.
//
// Record records cmd and returns the events recorded for it, oldest first (none when it
// changed nothing). A sink that goes straight to the domain returns what cmd.Decide returns.
// A sink that sends the command elsewhere (the command handlers) returns the events appended
// for it, which are Decide's except for the ids of the entities the command creates
// (customer, service, invoice, line, payment, credit note, billing run) and invoice numbers:
// the simulation takes those from the events. An error stops the simulation; Run returns it
// wrapped with the command.
//
// With Config.Workers above one, Record is called from several goroutines at once, for
// different customers' streams; the commands of one stream never overlap and come in order,
// and tenant-level commands (plans, billing runs) never overlap with any other call.
type Sink interface {
	Record(cmd Command) ([]domain.Event, error)
}

// Flusher is implemented by a sink that holds recorded events back to write them in batches.
// Run calls Flush after every phase of the simulation (a tenant-level step, the customers'
// billing, the customers' month) and at the end, never while Record runs: everything recorded
// before must be written when Flush returns, so that each phase's events precede the next
// phase's in the sink's feed.
type Flusher interface {
	Flush() error
}

// kindOf names a domain command's type.
func kindOf(cmd any) string {
	if cmd == nil {
		return "(none)"
	}
	return reflect.TypeOf(cmd).Name()
}
