// Package domainsim is the one customer simulator of the ledger: it simulates ISPs (tenants,
// each with a plan catalog and a billing currency) and their customers day by day over a
// number of months, deciding each next command against the state folded from the events the
// earlier commands produced, and hands every command to a Sink. It is pure like domain: no
// clock, no I/O, no context, no logging; randomness comes from math/rand/v2 generators seeded
// from Config.Seed, one per customer and one per tenant, so the same Config gives every
// customer the same commands whatever the scheduling.
//
// # What a simulation does
//
// Each tenant defines its catalog the day before the first month, retires a legacy plan at the
// start of the second month and launches a new plan at the start of the third. Customers join
// over the first third of the months: they register, provision and activate one to three
// services, and many get a one-off installation invoice built as a draft (CreateInvoice,
// AddInvoiceLine, IssueInvoice). On the first of every month at 02:00 each tenant's billing run
// bills the month before (StartBillingRun, GenerateRecurringInvoice per customer with
// something to bill, RecordCustomerInvoiced, CompleteBillingRun). Customers pay by habit: on
// time, late, half then the rest, or missing months; a few overpay and have the excess
// refunded. The overdue scheduler marks invoices the day after their due date and the dunning
// policy (domain.DunningDecide) suspends services once an invoice is overdue beyond the grace
// days and resumes them once the balance is cleared. Now and then a customer gets a credit note
// (against an invoice or the account), changes plan, asks for a hold, updates its contact,
// is billed a technician visit (some voided), adds a service, terminates one, or leaves
// (terminates everything, settles the last bill, is deactivated). The first customers of every
// fifty have a role that guarantees one of the rare activities, so that even ten customers
// over three months show every kind (Stats.Missing lists what a run did not show).
//
// # Sinks
//
// Run hands each command to a Sink as a Command: tenant, target stream, the version of that
// stream the simulation has folded, the simulated instant, the actor, and the domain command.
// Command.Decide decides it against the simulation's own state with the domain's deciders, so
// a sink that goes straight to the domain records what Decide returns; a sink that goes
// through the command handlers returns what they appended. Either way the simulation folds the
// returned events itself, once. The sinks live beside their users: the in-memory feed of the
// read-model tests (projections/readmodel/readmodeltest), the event-store appender of
// `dotmac bench` (cmd/dotmac/bench) and the command-handler sink of `dotmac demo seed`
// (cmd/dotmac).
//
// Customers are independent lanes between tenant-level steps (catalog changes, billing runs):
// with Config.Workers > 1, Run simulates several customers at once; with one worker it runs
// them day by day in order, so the feed is in time order and the same on every run.
//
// # Adding a command kind
//
//  1. Add a zero value of the domain command to commandKinds (stats.go): Stats.Missing, and
//     so every sink's coverage test, then reports it until a simulation sends it.
//  2. Decide when the simulation sends it: a lane method (lane_extras.go for occasional
//     activities) that checks the state folded so far and calls l.onAccount or l.onService with
//     the command and its actor, scheduled with l.later or from planExtras; tenant-level
//     commands go in tenant.go. Count it under a new activity name (activities, stats.go) if
//     the demo should print it, and give a role (roles.go) the guarantee of doing it in small
//     runs.
//  3. Teach the command-handler sink of `dotmac demo seed` (cmd/dotmac/demo_sink.go) which
//     handler runs it. The memory and event-store sinks need nothing: they decide every
//     command with Command.Decide.
package domainsim
