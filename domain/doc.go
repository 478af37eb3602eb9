// Package domain is the ISP billing ledger's pure core: value objects (Money, Currency, Date,
// Period, typed ids), the aggregates of DESIGN.md (Account = Customer + Invoice + Payment +
// CreditNote, Plan, Service, BillingRun), the dunning policy, the domain events, and the
// double-entry journal those events post to.
//
// Nothing here does I/O, reads the clock, logs, or takes a context: time is an argument
// (`now`), ids are arguments (the command side generates UUIDv7s), and every function returns
// the same result for the same input.
//
// # How an aggregate works
//
// Every aggregate has the same three functions:
//
//	DecideX(state, command, now) ([]Event, error) // validate, return new facts or a typed error
//	ApplyX(state, event) (state, error)           // one type switch, never validates business rules
//	FoldX(events) (state, error)                  // ApplyX over a history, from the zero state
//
// State is only ever built by folding events. Apply never modifies the state it is given (maps
// and slices are copied on write), so a state can be kept and compared after later applies.
// An event that cannot apply to a state (an invoice issued twice, a payment in a foreign
// currency) means the stored history and this code disagree: Apply returns an error that
// wraps ErrInvariant and reads "invariant: ...". A command the rules forbid returns a typed
// error that wraps ErrInvalid, ErrNotFound or ErrRejected (see errors.go).
//
// # Streams
//
// Invoices, payments and credit notes of one customer live in the customer's account stream
// (CustomerStream), because a payment settles the oldest open invoice first and two racing
// payments must not both settle the same invoice. Plans, services and billing runs have their
// own streams (PlanStream, ServiceStream, BillingRunStream). The tenant is part of every
// stream id, so tenant isolation is structural.
//
// # Conventions
//
//   - Money is a decimal amount with an ISO 4217 currency and always holds a whole number of
//     the currency's minor units. Rounding is half away from zero ("half-up") to the minor unit,
//     per line; totals are sums of rounded lines. There is no float64 anywhere.
//   - Dates are calendar dates in UTC: DateOf(now) is "today". A Period is a calendar month.
//   - Date ranges are half-open, [From, To), unless a name says otherwise (TerminatedOn and
//     LastDay are the last day of service, inclusive).
//   - JSON field names are snake_case and stable; money is {"amount":"79.99","currency":"USD"},
//     dates "2026-01-10", periods "2026-01", instants RFC 3339, optional values null.
package domain
