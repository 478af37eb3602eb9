// Package process holds the process managers of DotMac Ledger: the billing-run manager, the
// dunning manager and the scheduler that marks invoices overdue, built on Watermill's cqrs
// component over the command handlers (package commands). docs/process-managers.md is the
// operator's view; this is the contract.
//
// # Shape
//
//	event store feed ──esw.Subscriber (consumer group, a batch of events per message)──▶ router handler of the group
//	    process.billing: BillingRunStarted                      ─┐
//	    process.dunning: InvoiceMarkedOverdue, PaymentRecorded,   ├─▶ cqrs.CommandBus ──syncBus──▶ cqrs.CommandProcessor
//	                     CreditNoteIssued, InvoiceVoided,        │     RunBillingPeriod   → Handlers.RunBilling
//	                     CustomerCreditApplied                   │
//	scheduler tick (Start, then every TickInterval) ─────────────┘     EvaluateDunning    → Dunning.Evaluate
//	    Tracker.CatchUp; overdue marks; dunning sweep; scheduled runs   MarkOverdueInvoice → MarkOverdue
//
// Each group's subscriber puts into one message what the feed has ready, up to
// feedBatchEvents events, and the group's handler takes the batch as a whole (batch.go): the
// billing group drives each BillingRunStarted of it to completion in turn; the dunning group
// asks the Tracker once which of the batch's customers the policy could act on
// (Tracker.MayNeedDunningAll, one statement when the tracker is caught up) and evaluates only
// those, each customer once per batch. A handler sends its commands one at a time and returns
// only when each has taken effect, so the batch is acknowledged, and its consumer group's
// offset advanced, only after all of its commands are done; a failure nacks the batch and
// the whole batch is handled again (the commands done already are idempotent, below). The
// scheduler reads candidates from the Tracker, a private projection of the feed caught up
// before every tick.
//
// # Exactly-once
//
// Delivery is at least once: an event is redelivered, with the rest of its batch, after a
// failure or a crash between its command and its offset (offsets are written at most every
// offsetFlushEvery); a tick is repeated after a restart; two ticks may name the same
// candidate. Effects are exactly once because every
// command the managers send to the handlers has a deterministic command id and runs with
// commands.Meta.Recovering:
//
//   - MarkInvoiceOverdue: the id derives from the invoice, so an invoice is marked at most once
//     however it is reached (and the domain refuses a second mark).
//   - SuspendService and ResumeService (dunning): the id derives from the cause (the id of the
//     customer's first event in the batch, or the tick's day) and the service and the version the policy read, and the command is
//     decided on exactly that version (Meta.ExpectedVersion). Sent again for the same cause,
//     it returns its first result; a service that changed since the read is read and decided
//     again. A suspension and a resumption always follow a fresh read of the account, so a
//     service is suspended once per overdue episode and resumed once when it ends.
//   - RunBilling: the id derives from the cause; the run is idempotent by itself (its stream
//     records each customer once, an account refuses a second recurring invoice per period,
//     invoice ids derive from the run and the customer). It runs without Meta.Recovering,
//     whose command-id lookup would return an earlier batch's record instead of the next.
//
// # Transport
//
// The CommandBus publishes to syncBus, an in-process Publisher/Subscriber whose Publish
// returns when the command's handler acked (nil) or nacked (ErrCommandFailed), and never
// returns nil for a command nobody handled. Watermill's GoChannel is not used: it returns nil
// when closed before the ack or when a topic has no subscriber, and retries a nack forever
// inside Publish, which would let an event be acknowledged for a command that never ran. A
// durable broker is not needed: the event, not the command, is the durable unit of work, and
// the command is derived from it again after a crash.
package process
