package commands

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// groupReadEvents is how many events one ReadStreams call of a group asks for; the group's
// accounts are folded from each call's events before the next call, so a billing worker holds
// at most this many read events at once. At the store's own bound (100,000) a read held every
// event of its group's 200 customers at once (a year is about 60 events each, a busy
// customer's or a reseller's thousands): 126 MB of read events in the four workers' reads
// during the bench's billing run at a million events. A group of 200 ordinary customers now
// takes three reads instead of one.
const groupReadEvents = 4096

// groupOutcome is what billing one customer of a group came to: BillCustomer's answer.
type groupOutcome struct {
	billed BilledInvoice
	err    error
}

// groupCustomer is one customer of a group on its way through billGroup.
type groupCustomer struct {
	bc       BillableCustomer
	stream   string
	snap     snapshot // the account as read
	build    numberedCommand
	number   string
	next     domain.AccountState
	data     []eventstore.EventData
	events   []domain.Event
	numbered bool // its invoice takes a number
	decided  bool // events are decided, to append
	fallback bool // to bill alone (BillCustomer's path), number kept
}

// billGroup bills customers with a few round trips for the whole group instead of 4–5 per
// customer: one read of every account and service stream (eventstore.ReadStreams, after what
// the state cache holds), the decisions in memory with the domain's functions, the group's
// invoice numbers in one statement (InvoiceNumberRanges), and one append of every account
// (eventstore.AppendStreams), each at the version it was decided on. A customer whose account
// moved meanwhile (another command, another process billing the same run) is billed again on
// its own through BillCustomer's path, with the number it was given: its account refuses a
// second recurring invoice for the period, so it never gets two. Outcomes are BillCustomer's,
// in the order of customers.
func (h *Handlers) billGroup(ctx context.Context, m Meta, run domain.BillingRunState, customers []BillableCustomer, dueDays int) []groupOutcome {
	m.Recovering = false
	out := make([]groupOutcome, len(customers))
	fail := func(err error) []groupOutcome {
		for i := range out {
			out[i].err = err
		}
		return out
	}
	group := make([]*groupCustomer, len(customers))
	accounts := make(map[string]snapshot, len(customers))
	services := map[string]snapshot{}
	for i, bc := range customers {
		invoice, err := recurringInvoiceID(run.ID, bc.CustomerID)
		if err != nil {
			return fail(err)
		}
		out[i].billed = BilledInvoice{CustomerID: bc.CustomerID, InvoiceID: invoice}
		group[i] = &groupCustomer{bc: bc, stream: domain.CustomerStream(m.Tenant, bc.CustomerID)}
		accounts[group[i].stream] = h.cachedSnapshot(group[i].stream, domain.AccountState{})
		for _, id := range bc.Services {
			stream := domain.ServiceStream(m.Tenant, id)
			services[stream] = h.cachedSnapshot(stream, domain.ServiceState{})
		}
	}
	if err := loadMany(ctx, h, accountAggregate, accounts); err != nil {
		return fail(err)
	}
	if err := loadMany(ctx, h, serviceAggregate, services); err != nil {
		return fail(err)
	}
	now := h.clock(m)
	numbered := 0
	if err := h.inBackground(ctx, len(group), func(i int) {
		g := group[i]
		g.snap = accounts[g.stream]
		svcs, err := groupServices(m.Tenant, g.bc, services)
		if err == nil {
			g.build = recurringInvoice(run.Period, out[i].billed.InvoiceID, svcs, dueDays)
			g.events, err = g.decide(now, placeholderNumber)
		}
		var billed *domain.AlreadyBilledError
		switch {
		case errors.As(err, &billed): // a re-invoked run: the account has the period's invoice
			out[i].billed.InvoiceID = billed.Invoice
		case err != nil:
			out[i].err = err
		case issuesInvoice(g.events):
			g.numbered = true
			numbered++
		default: // nothing to number: append what it decided, if anything
			g.decided = len(g.events) > 0
		}
	}); err != nil {
		return fail(err)
	}
	if err := h.numberGroup(ctx, m.Tenant, group, numbered); err != nil {
		return fail(fmt.Errorf("allocate invoice numbers: %w", err))
	}
	if err := h.inBackground(ctx, len(group), func(i int) {
		g := group[i]
		if !g.numbered {
			return
		}
		var err error
		if g.events, err = g.decide(now, g.number); err != nil {
			out[i].err = err
			return
		}
		g.decided = true
	}); err != nil {
		return fail(err)
	}
	h.appendGroup(ctx, m, group, out)
	for i, g := range group {
		if g.fallback {
			out[i].billed, out[i].err = h.billCustomer(ctx, m, run, g.bc, dueDays, g.number)
		}
	}
	return out
}

// decide decides g's recurring invoice on its account as read, with number.
func (g *groupCustomer) decide(now time.Time, number string) ([]domain.Event, error) {
	a := stateOf[domain.AccountState](g.snap)
	if !a.Customer.Registered() {
		return nil, &domain.NotFoundError{Entity: "customer", ID: g.bc.CustomerID.String()}
	}
	cmd, err := g.build(a, now, number)
	if err != nil {
		return nil, err
	}
	return domain.DecideAccount(a, cmd, now)
}

// appendGroup encodes the decided customers' events and appends them together, each at the
// version its account was read at, and answers them in out; a customer whose account moved
// is marked for the fallback.
func (h *Handlers) appendGroup(ctx context.Context, m Meta, group []*groupCustomer, out []groupOutcome) {
	var appends []eventstore.StreamAppend
	var which []int
	if err := h.inBackground(ctx, len(group), func(i int) {
		g := group[i]
		if out[i].err != nil || !g.decided {
			return
		}
		var err error
		g.next, g.data, err = prepareEvents(accountAggregate.chain(), m, g.stream, stateOf[domain.AccountState](g.snap), g.snap.version, g.events)
		if err != nil {
			out[i].err = err
			return
		}
		appends = append(appends, eventstore.StreamAppend{Stream: g.stream, Expected: eventstore.Exact(g.snap.version), Events: g.data})
		which = append(which, i)
	}); err != nil {
		for i := range out {
			if out[i].err == nil && group[i].decided {
				out[i].err = err
			}
		}
		return
	}
	if len(appends) == 0 {
		return
	}
	start := time.Now()
	outcomes := eventstore.AppendStreams(ctx, h.store, appends)
	took := time.Since(start)
	for k, o := range outcomes {
		i := which[k]
		g := group[i]
		h.metrics.observeAppend(domain.StreamCustomer, o.Err, took)
		switch {
		case o.Err == nil && !o.Result.Duplicate:
			h.cache.put(g.stream, snapshot{state: g.next, version: o.Result.LastVersion, position: o.Result.LastPosition})
			out[i].billed.Position = o.Result.LastPosition
			for _, e := range g.events {
				if issued, ok := e.(domain.InvoiceIssued); ok {
					out[i].billed.Number, out[i].billed.Total = issued.Number, issued.Total
				}
			}
			h.metrics.observe("GenerateRecurringInvoice", Result{Stream: g.stream, Version: o.Result.LastVersion, Events: g.events}, nil, took)
		case o.Err == nil, errors.Is(o.Err, eventstore.ErrWrongExpectedVersion), errors.Is(o.Err, eventstore.ErrDuplicateEventID):
			// Moved on, or this command id's events stored by an earlier attempt (the same
			// events, or another decision of the same command id, which only part of these ids
			// match): decided again alone, which answers with what was stored.
			g.fallback = true
		default:
			out[i].err = o.Err
			h.metrics.observe("GenerateRecurringInvoice", Result{}, o.Err, took)
		}
	}
}

// groupServices are the services of bc (those that belong to it), from the group's read.
func groupServices(tenant domain.TenantID, bc BillableCustomer, read map[string]snapshot) ([]domain.ServiceState, error) {
	out := make([]domain.ServiceState, 0, len(bc.Services))
	for _, id := range bc.Services {
		s := stateOf[domain.ServiceState](read[domain.ServiceStream(tenant, id)])
		if !s.Provisioned() {
			return nil, &domain.NotFoundError{Entity: "service", ID: id.String()}
		}
		if s.Customer == bc.CustomerID {
			out = append(out, s)
		}
	}
	return out, nil
}

// loadMany brings every stream of snaps (each at the version it holds) up to date with
// ReadStreams calls, caching the results, as load does for one stream.
func loadMany[S any](ctx context.Context, h *Handlers, agg aggregate[S], snaps map[string]snapshot) error {
	reads := make([]eventstore.StreamRead, 0, len(snaps))
	for stream, snap := range snaps {
		reads = append(reads, eventstore.StreamRead{Stream: stream, From: snap.version + 1})
	}
	for len(reads) > 0 {
		chunk := reads[:min(len(reads), eventstore.MaxStreamsPerCall)]
		envs, err := eventstore.ReadStreams(ctx, h.store, chunk, h.groupReadEvents)
		if err != nil {
			return fmt.Errorf("load %d streams: %w", len(chunk), err)
		}
		done := len(chunk)
		if len(envs) == h.groupReadEvents { // cut short: the last stream returned may go on
			last := envs[len(envs)-1].StreamID
			for i, r := range chunk {
				if r.Stream == last {
					done = i
					break
				}
			}
		}
		if err := h.background.Do(ctx, func() error { return foldInto(agg, snaps, envs) }); err != nil {
			return err
		}
		for _, r := range chunk[:done] {
			h.cache.put(r.Stream, snaps[r.Stream])
		}
		reads = reads[done:]
		if len(reads) > 0 && done < len(chunk) {
			reads[0].From = snaps[reads[0].Stream].version + 1
		}
	}
	return nil
}

// foldInto applies envs (runs of events by stream, each in version order) to their streams'
// snapshots.
func foldInto[S any](agg aggregate[S], snaps map[string]snapshot, envs []eventstore.Envelope) error {
	for i := 0; i < len(envs); {
		stream := envs[i].StreamID
		snap := snaps[stream]
		state, apply := stateOf[S](snap), agg.chain()
		for ; i < len(envs) && envs[i].StreamID == stream; i++ {
			var err error
			if state, err = applyEnvelope(apply, state, &envs[i], snap.version); err != nil {
				return err
			}
			snap.version, snap.position = envs[i].Version, envs[i].Position
		}
		if snap.version > maxStreamEvents {
			return fmt.Errorf("load %s: more than %d events: %w", stream, maxStreamEvents, domain.ErrInvariant)
		}
		snap.state = state
		snaps[stream] = snap
	}
	return nil
}

// numberGroup gives each numbered customer of group (n of them) a number of the year of its
// invoice's issue date, as its placeholder decision dated it: a run going past midnight on
// Dec 31, or billing December in January, numbers December's invoices in December's year.
// One range is taken per year the group's invoices fall in (one, in practice).
func (h *Handlers) numberGroup(ctx context.Context, tenant domain.TenantID, group []*groupCustomer, n int) error {
	byYear := map[int][]*groupCustomer{}
	for _, g := range group {
		if !g.numbered {
			continue
		}
		year, ok := issueYear(g.events)
		if !ok {
			return fmt.Errorf("numbered customer %s issues no invoice: %w", g.bc.CustomerID, domain.ErrInvariant)
		}
		byYear[year] = append(byYear[year], g)
	}
	years := slices.Sorted(maps.Keys(byYear))
	taken := 0
	for _, year := range years {
		gs := byYear[year]
		numbers, err := h.takeNumbers(ctx, tenant, year, len(gs))
		if err != nil {
			return err
		}
		for i, g := range gs {
			g.number = numbers[i]
		}
		taken += len(gs)
	}
	if taken != n {
		return fmt.Errorf("numbered %d of %d customers: %w", taken, n, domain.ErrInvariant)
	}
	return nil
}

// takeNumbers takes n invoice numbers of tenant and year (InvoiceNumberRanges' one statement
// where the numbers have it, else n calls of Next), formatted.
func (h *Handlers) takeNumbers(ctx context.Context, tenant domain.TenantID, year, n int) ([]string, error) {
	if n == 0 {
		return nil, nil
	}
	out := make([]string, n)
	if r, ok := h.numbers.(InvoiceNumberRanges); ok {
		first, err := r.NextRange(ctx, tenant, year, n)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i] = FormatInvoiceNumber(year, first+int64(i))
		}
		return out, nil
	}
	for i := range out {
		next, err := h.numbers.Next(ctx, tenant, year)
		if err != nil {
			return nil, err
		}
		out[i] = FormatInvoiceNumber(year, next)
	}
	return out, nil
}

// backgroundStride is how many customers a billing group decides between two yields of its
// background slot (inBackground): about a millisecond of work.
const backgroundStride = 16

// inBackground runs fn(i) for every i below n holding a slot of the background gate, which it
// yields every backgroundStride items so the process's requests (and other background work)
// run in between. It returns ctx's error if ctx ends while it waits for a slot.
func (h *Handlers) inBackground(ctx context.Context, n int, fn func(i int)) error {
	slot, err := h.background.Enter(ctx)
	if err != nil {
		return err
	}
	defer slot.Leave()
	for i := range n {
		if i > 0 && i%backgroundStride == 0 {
			if err := slot.Yield(ctx); err != nil {
				return err
			}
		}
		fn(i)
	}
	return nil
}
