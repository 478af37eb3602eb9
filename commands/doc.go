// Package commands is the write side of DotMac Ledger: one handler per command of DESIGN.md,
// shared by the command REST API (package api) and the process managers. A Handlers method
// loads the aggregate's stream, decides with the domain, and appends the new events with the
// stream's version as the expected version; a 2xx from the API means that append is durable.
//
// # The handler loop
//
// Every command runs the same loop (execute.go), under an in-process lock of its stream:
//
//  1. Take the stream's folded state and version from a bounded LRU cache (a stream not in
//     the cache starts as the empty state at version 0). This state is unverified: another
//     process may have appended since.
//  2. Decide with `now` from the injectable clock. If the decision on an unverified state is
//     an error or a no-op, read the events after the cached version, fold them and decide
//     again: only a fresh state may refuse a command.
//  3. Append with the version the decision was made on. Success proves the state was fresh;
//     the new events are applied to it and cached. On ErrWrongExpectedVersion read the
//     missing events and decide again, up to Config.MaxAttempts times with a small jittered
//     backoff. When the caller stated the version it saw (Meta.ExpectedVersion, the HTTP
//     If-Match), a conflict is returned as *ConflictError instead.
//
// Commands of one stream that arrive while its lock is held wait in the stream's queue, and the
// caller that takes the lock next runs every command waiting then as one batch (batch.go):
// each is decided in arrival order on the state the ones before it leave (step 2 for the
// whole batch), their events are appended together with one expected version (step 3: one
// conflict check, one round trip), and each caller is answered with its own result, version
// and position, or its own refusal. A conflict with another process decides the batch again;
// a command that stated its version (If-Match) gets its *ConflictError at once. A command whose
// id repeats one earlier in the batch (a retry racing its original) runs after the original's
// append. A caller that gives up withdraws its command if no batch has taken it yet; a batch's
// append is cancelled only when every caller in it has given up. So one busy customer (a
// reseller, a provider's burst of callbacks) costs one append per round trip, not per command.
//
// So the hot path of a command is one round trip (the append); the stream is read only after
// a restart, an eviction, or a write by another process. This is correct because streams are
// append-only and domain Apply never modifies the state it is given (domain/doc.go), so a
// cached state can be shared by concurrent commands and extended with later events.
//
// # Ids and exactly-once
//
// Ids are generated here, never in the domain: UUIDv7s derived from the command id
// (Meta.CommandID), so re-running the same command execution (after a crash, with the same
// command id and Meta.Recovering) creates the same customer, payment or invoice id and can
// never record a second one; event ids are derived from the command id, the stream and the
// expected version. A recurring invoice's id is derived from the billing run and the customer,
// so a re-invoked run names the same invoice. With Meta.Recovering the handler first looks
// back from the end of the stream for events of the same command id (for a lapsed claim's
// retry, Meta.LapsedClaim, as far back as the claim's time however many events other commands
// appended since) and, if found, returns their result without deciding again. Without it, an append whose event ids are stored already
// (another process ran the same command id on the same version, perhaps with other inputs and
// another decision) is answered with the events stored, never with this process's decision.
//
// # Invoice numbers
//
// IssueInvoice and the billing run number invoices INV-<year>-<n> (n at least six digits),
// sequential per tenant and year of the issue date, from a counter (InvoiceNumbers; a
// PostgreSQL row per tenant and year in package pgstore). A number is taken only after the
// command was decided successfully with a placeholder, and reused on conflict retries, so
// a number is skipped only when the append itself then fails (store unavailable, a crash, or
// a state that changed in another process): gaps are possible, duplicates are not.
//
// # Billing runs
//
// RunBilling bills a period: it starts the run (BillingRun stream), lists the tenant's
// customers with services from a command-side index (BillingIndex, fed from the event store's
// global feed up to its head before each run, so a crash can never hide a service from it),
// generates and issues one recurring invoice per customer (GenerateRecurringInvoice on the
// account), records each invoiced customer in the run stream, and completes the run.
// Re-invoking it continues where it stopped: customers the run already recorded are skipped,
// and an account that already has the period's invoice answers *domain.AlreadyBilledError
// naming it, which the run records instead of creating another.
package commands
