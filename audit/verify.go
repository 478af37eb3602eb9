package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// To verifies the feed up to this position (0: the head when verification starts).
	To eventstore.Position
	// Tenant limits the checks and findings to one tenant's streams ("" = all tenants).
	Tenant string
	// DensePositions asserts that the store numbers the feed 1, 2, 3, ... with no gaps and
	// serializes appends (the PostgreSQL backend does), which makes a deleted event visible
	// even at the end of a stream and reordered events visible by their recorded-at times.
	DensePositions bool
	// Deep also decodes every event (not only those that post to the journal) and folds every
	// customer account through the domain, checking its invariants and that its balance
	// equals AR minus customer credit in the journal. It roughly halves the speed.
	Deep bool
	// MaxFindings stops collecting after this many findings (default 1000).
	MaxFindings int
	// Checkpoints are the signed checkpoints to check the feed against (nil: none). They need
	// the whole feed, so a verification of one Tenant leaves them out.
	Checkpoints CheckpointSource
	// PublicKeys verify the checkpoints' signatures; without them the digests are compared
	// but the report says the signatures were not checked.
	PublicKeys PublicKeys
	// Progress, if set, is called as verification advances with the events checked and the
	// number to check.
	Progress func(done, total int64)
}

// Verify recomputes every stream's hash chain and reports the first broken link of each
// stream; checks that stream versions and (with DensePositions) global positions have no
// gaps; decodes every money event, derives its journal entry and checks it balances; and
// checks each tenant's journal sums to zero per currency. With Deep it also decodes every
// other event and folds every customer account (see VerifyOptions.Deep).
// Findings are problems in the data; the error is for failures to read it.
//
// The feed is read in order (sequential reads, money events decoded in parallel), keeping a
// version and a hash per stream. A deep verification keeps each customer's folded account
// too, so on a store that can read stream by stream (eventstore.StreamOrderReader) it checks
// one stream at a time per worker instead, holding little in memory.
func (a *Auditor) Verify(ctx context.Context, o VerifyOptions) (*Report, error) {
	if o.MaxFindings <= 0 {
		o.MaxFindings = 1000
	}
	start := time.Now()
	to := o.To
	if to == 0 {
		head, err := a.store.Head(ctx)
		if err != nil {
			return nil, fmt.Errorf("verify: read head: %w", err)
		}
		to = head
	}
	cps, err := a.checkpointChecker(ctx, o, to)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	var r *Report
	if so, ok := a.store.(eventstore.StreamOrderReader); ok && o.Deep {
		r, err = a.verifyByStream(ctx, so, o, to, cps)
	} else {
		r, err = a.verifyInFeedOrder(ctx, o, to, cps)
	}
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	r.finish(o, to, start)
	if err := a.addCheckpoints(ctx, r, o, cps); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return r, nil
}

// checkpointChecker returns the checker of o's checkpoints (nil when none are checked).
func (a *Auditor) checkpointChecker(ctx context.Context, o VerifyOptions, to eventstore.Position) (*cpChecker, error) {
	if o.Checkpoints == nil || o.Tenant != "" {
		return nil, nil
	}
	upto := o.To // up to an explicit --to; else every checkpoint, so that one beyond the head is seen
	return newCPChecker(ctx, o.Checkpoints, o.PublicKeys, upto)
}

// addCheckpoints adds the checkpoint checks (or says they did not run) to r.
func (a *Auditor) addCheckpoints(ctx context.Context, r *Report, o VerifyOptions, c *cpChecker) error {
	if c == nil {
		runBy := "the signed checkpoints (the database, or an export with --export)"
		if o.Tenant != "" {
			runBy = "without --tenant: checkpoints cover every tenant's events"
		}
		r.NotChecked = append(r.NotChecked, NotChecked{Check: "signed checkpoints", RunBy: runBy})
		return nil
	}
	var headNow func(context.Context) (eventstore.Position, error)
	if o.To == 0 {
		headNow = a.store.Head
	}
	if err := c.finish(ctx, headNow); err != nil {
		return err
	}
	c.report(r)
	return nil
}

// checker runs the per-stream checks. Each worker owns one; they are merged at the end.
type checker struct {
	tenant   string // "" = every tenant
	deep     bool
	chains   map[string]*chain
	slab     []chain // chains are carved from here, a block at a time
	accounts map[string]*account
	ledgers  map[string]*domain.LedgerTotals
	findings []Finding
	events   int
	money    int
	streams  int
	nAccts   int
}

type chain struct {
	version uint64
	// hash is the last event's hash, copied: keeping the envelope's slice would keep the
	// whole row it was read with (data, metadata and hash share one allocation) for as long
	// as the stream lives, which is to the end of the scan for most streams.
	hash   [eventstore.HashSize]byte
	broken bool
	tenant string // what the stream id names (streamTenant), parsed once per stream
	kind   domain.StreamKind
}

type account struct {
	tenant string
	state  domain.AccountState
	ledger domain.LedgerTotals // this customer's postings only
	// poster dates the customer's entries; dated holds their AR and customer-credit moves.
	poster domain.PostingState
	dated  []datedMove
	failed bool
	// version and position are those of the last event folded.
	version  uint64
	position eventstore.Position
}

// datedMove is what one journal entry moves AR and customer credit (positive: owed to the
// customer) by, on its date.
type datedMove struct {
	date       domain.Date
	ar, credit decimal.Decimal
}

func newChecker(tenant string, deep bool) *checker {
	return &checker{tenant: tenant, deep: deep, chains: map[string]*chain{}, accounts: map[string]*account{}, ledgers: map[string]*domain.LedgerTotals{}}
}

func (c *checker) add(f Finding) { c.findings = append(c.findings, f) }

// decode decodes what the checks need of env: every event in full when deep, else the money
// events for their journal entries' lines.
func (c *checker) decode(env *eventstore.Envelope) (domain.Event, error) {
	if c.deep {
		return codec.Decode(env)
	}
	return forJournal(env)
}

// event runs the stream checks on one event (events of a stream arrive in version order); ev
// is nil for an event the checks do not need decoded.
func (c *checker) event(env *eventstore.Envelope, ev domain.Event, decodeErr error) {
	ch := c.chain(env)
	tenant, kind := ch.tenant, ch.kind
	if c.tenant != "" && tenant != c.tenant {
		return
	}
	c.events++
	c.checkChain(ch, env)
	if decodeErr != nil {
		c.add(Finding{Kind: FindingDecodeError, Tenant: tenant, Stream: env.StreamID, Version: env.Version,
			Position: env.Position, Type: env.Type, Detail: decodeErr.Error()})
		if acc := c.accounts[env.StreamID]; acc != nil {
			acc.failed = true
		}
		return
	}
	if ev == nil {
		return
	}
	acc := c.accounts[env.StreamID]
	if c.deep && kind == domain.StreamCustomer && acc == nil {
		acc = &account{tenant: tenant}
		c.accounts[env.StreamID] = acc
		c.nAccts++
	}
	c.post(env, tenant, ev, acc)
	if acc != nil {
		c.fold(env, ev, acc)
	}
}

// chain returns the state of env's stream, created at its first event.
func (c *checker) chain(env *eventstore.Envelope) *chain {
	ch := c.chains[env.StreamID]
	if ch == nil {
		if len(c.slab) == 0 {
			c.slab = make([]chain, 1024) // one allocation per 1,024 streams, not per stream
		}
		ch, c.slab = &c.slab[0], c.slab[1:]
		ch.tenant, ch.kind = streamTenant(env)
		c.chains[env.StreamID] = ch
	}
	return ch
}

// checkChain verifies the stream's version sequence and hash chain, reporting only the first
// broken link of each stream (everything after it is suspect anyway).
func (c *checker) checkChain(ch *chain, env *eventstore.Envelope) {
	first := ch.version == 0
	if first {
		c.streams++
	}
	defer func() { ch.version = env.Version }()
	if ch.broken {
		return
	}
	if env.Version != ch.version+1 {
		ch.broken = true
		c.add(Finding{Kind: FindingVersionGap, Stream: env.StreamID, Version: env.Version, Position: env.Position,
			Expected: fmt.Sprint(ch.version + 1), Stored: fmt.Sprint(env.Version),
			Detail: fmt.Sprintf("version %d follows version %d", env.Version, ch.version)})
		return
	}
	prev := ch.hash[:]
	if first {
		prev = nil
	}
	want := eventstore.ChainSum(prev, env)
	if string(want[:]) != string(env.Hash) {
		ch.broken = true // the hash is not kept: nothing after a broken link is checked
		c.add(Finding{Kind: FindingHashMismatch, Stream: env.StreamID, Version: env.Version, Position: env.Position,
			Type: env.Type, Expected: hex.EncodeToString(want[:]), Stored: hex.EncodeToString(env.Hash),
			Detail: "the stored hash does not match the event and its predecessor: the event, its hash or an earlier event was altered"})
		return
	}
	ch.hash = want
}

// post derives the journal entry of a money event and adds it to the tenant's ledger and
// the customer's.
func (c *checker) post(env *eventstore.Envelope, tenant string, ev domain.Event, acc *account) {
	entry, ok, err := domain.Postings(ev)
	if err != nil {
		c.add(Finding{Kind: FindingUnbalancedEntry, Tenant: tenant, Stream: env.StreamID, Version: env.Version,
			Position: env.Position, Type: env.Type, Detail: err.Error()})
		return
	}
	if !ok {
		return
	}
	c.money++
	l := c.ledgers[tenant]
	if l == nil {
		l = &domain.LedgerTotals{}
		c.ledgers[tenant] = l
	}
	l.Post(entry)
	if acc != nil {
		acc.ledger.Post(entry)
		acc.postDated(ev)
	}
}

// postDated notes the AR and customer-credit moves of ev's entries by date (domain.Poster).
func (acc *account) postDated(ev domain.Event) {
	entries, err := acc.poster.Post(ev)
	if err != nil {
		return // the entry's imbalance is reported already
	}
	for _, entry := range entries {
		m := datedMove{date: entry.Date()}
		for _, l := range entry.Lines() {
			switch l.Account {
			case domain.AccountReceivable:
				m.ar = m.ar.Add(l.Signed())
			case domain.AccountCustomerCredit:
				m.credit = m.credit.Sub(l.Signed())
			}
		}
		if !m.ar.IsZero() || !m.credit.IsZero() {
			acc.dated = append(acc.dated, m)
		}
	}
}

// checkByDate reports the first day on which the customer's AR or customer credit, summed
// from the entries dated up to it, is negative.
func (c *checker) checkByDate(stream string, acc *account) {
	slices.SortStableFunc(acc.dated, func(a, b datedMove) int { return a.date.Compare(b.date) })
	var ar, credit decimal.Decimal
	for i, m := range acc.dated {
		ar, credit = ar.Add(m.ar), credit.Add(m.credit)
		if i+1 < len(acc.dated) && acc.dated[i+1].date == m.date {
			continue
		}
		if ar.IsNegative() || credit.IsNegative() {
			cur := acc.state.Customer.Currency
			c.add(Finding{Kind: FindingNegativeByDate, Tenant: acc.tenant, Stream: stream, Expected: "AR >= 0 and customer credit >= 0",
				Stored: fmt.Sprintf("AR %s, customer credit %s", ar.StringFixed(cur.MinorUnits()), credit.StringFixed(cur.MinorUnits())),
				Detail: fmt.Sprintf("as of %s the journal gives AR %s and customer credit %s: a settlement dated before the invoice it settles or the credit it uses",
					m.date, ar.StringFixed(cur.MinorUnits()), credit.StringFixed(cur.MinorUnits()))})
			return
		}
	}
}

// fold applies an account event to its customer's state.
func (c *checker) fold(env *eventstore.Envelope, ev domain.Event, acc *account) {
	if acc.failed {
		return
	}
	next, err := domain.ApplyAccount(acc.state, ev)
	if err != nil {
		acc.failed = true
		c.add(Finding{Kind: FindingFoldError, Tenant: acc.tenant, Stream: env.StreamID, Version: env.Version,
			Position: env.Position, Type: env.Type, Detail: err.Error()})
		return
	}
	acc.state, acc.version, acc.position = next, env.Version, env.Position
}

// endStream checks a finished account and forgets the stream (stream-order mode).
func (c *checker) endStream(stream string) {
	if acc := c.accounts[stream]; acc != nil {
		c.checkBalance(stream, acc)
	}
	delete(c.chains, stream)
	delete(c.accounts, stream)
}

// checkBalance compares a folded account's balance with its journal (AR - credit).
func (c *checker) checkBalance(stream string, acc *account) {
	if acc.failed || !acc.state.Customer.Registered() {
		return
	}
	folded, err := acc.state.Balance()
	if err != nil {
		c.add(Finding{Kind: FindingFoldError, Tenant: acc.tenant, Stream: stream, Detail: err.Error()})
		return
	}
	journal := acc.ledger.CustomerBalance(acc.state.Customer.Currency)
	c.checkByDate(stream, acc)
	if !folded.Equal(journal) {
		c.add(Finding{Kind: FindingBalanceMismatch, Tenant: acc.tenant, Stream: stream, Expected: folded.String(), Stored: journal.String(),
			Detail: fmt.Sprintf("the account's balance is %s but its journal (AR - customer credit) says %s", folded, journal)})
	}
	if acc.state.CreditBesideOpenInvoices() {
		ar, _ := acc.state.Receivable()
		c.add(Finding{Kind: FindingCreditBesideOpen, Tenant: acc.tenant, Stream: stream, Version: acc.version, Position: acc.position,
			Expected: "0", Stored: acc.state.Credit.String(),
			Detail: fmt.Sprintf("customer credit %s sits beside %s outstanding on open invoices (written by an earlier version); "+
				"apply it: POST /v1/customers/%s/apply-credit", acc.state.Credit, ar, acc.state.Customer.ID)})
	}
}

// feedChecker runs the checks that need feed order: dense positions, recorded-at order and
// the digest of every hash.
type feedChecker struct {
	cp       *cpChecker // nil: no checkpoints checked
	dense    bool
	lastPos  eventstore.Position
	lastAt   time.Time
	digest   hash.Hash
	findings []Finding
}

func newFeedChecker(dense bool, cp *cpChecker) *feedChecker {
	return &feedChecker{dense: dense, digest: sha256.New(), cp: cp}
}

func (f *feedChecker) mark(pos eventstore.Position, at time.Time, h []byte) {
	f.digest.Write(h)
	if f.cp != nil {
		f.cp.mark(pos, h)
	}
	if !f.dense {
		return
	}
	if pos != f.lastPos+1 {
		f.findings = append(f.findings, Finding{Kind: FindingPositionGap, Position: pos,
			Detail: fmt.Sprintf("position %d follows %d: %d event(s) missing from the feed", pos, f.lastPos, pos-f.lastPos-1)})
	}
	if !f.lastAt.IsZero() && at.Before(f.lastAt) {
		f.findings = append(f.findings, Finding{Kind: FindingRecordedAtOrder, Position: pos,
			Detail: fmt.Sprintf("the event at position %d was recorded at %s, before the one at position %d (%s): the feed was reordered or an event's metadata altered",
				pos, at.Format(time.RFC3339Nano), f.lastPos, f.lastAt.Format(time.RFC3339Nano))})
	}
	f.lastPos, f.lastAt = pos, at
}

// verifyInFeedOrder reads the feed once, in order.
func (a *Auditor) verifyInFeedOrder(ctx context.Context, o VerifyOptions, to eventstore.Position, cps *cpChecker) (*Report, error) {
	c := newChecker(o.Tenant, o.Deep)
	feed := newFeedChecker(o.DensePositions && o.Tenant == "", cps)
	err := a.scan(ctx, 0, to, c.decode, func(p *page) error {
		for i := range p.envs {
			env := &p.envs[i]
			if o.Tenant == "" || c.chain(env).tenant == o.Tenant {
				feed.mark(env.Position, env.RecordedAt(), env.Hash)
			}
			c.event(env, p.evs[i], p.errs[i])
		}
		if o.Progress != nil {
			o.Progress(int64(p.envs[len(p.envs)-1].Position), int64(to))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for stream := range c.accounts {
		c.endStream(stream)
	}
	return merge([]*checker{c}, feed), nil
}

// verifyByStream checks streams in parallel, one stream per worker at a time, while one
// goroutine walks the feed marks.
func (a *Auditor) verifyByStream(ctx context.Context, so eventstore.StreamOrderReader, o VerifyOptions, to eventstore.Position, cps *cpChecker) (*Report, error) {
	feed := newFeedChecker(o.DensePositions && o.Tenant == "", cps)
	feedErr := make(chan error, 1)
	go func() { feedErr <- a.walkFeed(ctx, so, feed, to, o.Tenant) }()
	checkers := make([]*checker, a.workers)
	streams := make(chan []eventstore.Envelope, 4*a.workers)
	var wg sync.WaitGroup
	for w := range checkers {
		checkers[w] = newChecker(o.Tenant, o.Deep)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for evs := range streams {
				checkers[w].stream(evs, to)
			}
		}()
	}
	err := readStreams(ctx, so, to, streams, o.Progress)
	close(streams)
	wg.Wait()
	if ferr := <-feedErr; err == nil {
		err = ferr
	}
	if err != nil {
		return nil, err
	}
	return merge(checkers, feed), nil
}

// stream checks one whole stream (events beyond `to` are ignored).
func (c *checker) stream(evs []eventstore.Envelope, to eventstore.Position) {
	for i := range evs {
		if evs[i].Position > to {
			continue
		}
		ev, err := c.decode(&evs[i])
		c.event(&evs[i], ev, err)
	}
	c.endStream(evs[0].StreamID)
}

// readStreams pages through the store in stream order and sends each whole stream.
func readStreams(ctx context.Context, so eventstore.StreamOrderReader, to eventstore.Position, out chan<- []eventstore.Envelope, progress func(done, total int64)) error {
	var current []eventstore.Envelope
	afterStream, afterVersion, done := "", uint64(0), int64(0)
	for {
		page, err := so.ReadAllByStream(ctx, afterStream, afterVersion, PageSize)
		if err != nil {
			return err
		}
		for _, e := range page {
			if len(current) > 0 && e.StreamID != current[0].StreamID {
				if err := send(ctx, out, current); err != nil {
					return err
				}
				current = nil
			}
			current = append(current, e)
		}
		if len(page) < PageSize {
			if len(current) > 0 {
				return send(ctx, out, current)
			}
			return nil
		}
		last := page[len(page)-1]
		afterStream, afterVersion = last.StreamID, last.Version
		if done += int64(len(page)); progress != nil {
			progress(done, int64(to))
		}
	}
}

func send(ctx context.Context, out chan<- []eventstore.Envelope, evs []eventstore.Envelope) error {
	select {
	case out <- evs:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// walkFeed runs the feed-order checks over the feed marks up to `to`.
func (a *Auditor) walkFeed(ctx context.Context, so eventstore.StreamOrderReader, feed *feedChecker, to eventstore.Position, tenant string) error {
	if tenant != "" {
		return nil // the feed is shared by every tenant: its shape is the operator's to check
	}
	var after eventstore.Position
	for after < to {
		marks, err := so.ReadFeedMarks(ctx, after, eventstore.MaxReadLimit)
		if err != nil {
			return err
		}
		if len(marks) == 0 {
			return nil
		}
		for _, m := range marks {
			if m.Position > to {
				return nil
			}
			feed.mark(m.Position, m.RecordedAt, m.Hash)
		}
		after = marks[len(marks)-1].Position
	}
	return nil
}

// merge combines the workers' results into a report (finish completes it).
func merge(checkers []*checker, feed *feedChecker) *Report {
	ledgers := map[string]*domain.LedgerTotals{}
	r := &Report{}
	var findings []Finding
	accounts := 0
	for _, c := range checkers {
		r.Events += c.events
		r.MoneyEvents += c.money
		r.Streams += c.streams
		accounts += c.nAccts
		findings = append(findings, c.findings...)
		for t, l := range c.ledgers {
			if ledgers[t] == nil {
				ledgers[t] = &domain.LedgerTotals{}
			}
			ledgers[t].Add(*l)
		}
	}
	r.Accounts = &accounts // finish drops it unless the accounts were folded
	sort.SliceStable(findings, func(i, j int) bool { return findings[i].Position < findings[j].Position })
	r.Findings = append(append([]Finding{}, feed.findings...), findings...)
	r.FeedDigest = hex.EncodeToString(feed.digest.Sum(nil))
	r.TrialBalance, r.Findings = checkLedgers(ledgers, r.Findings)
	return r
}

func (r *Report) finish(o VerifyOptions, to eventstore.Position, start time.Time) {
	if len(r.Findings) > o.MaxFindings {
		n := len(r.Findings) - o.MaxFindings
		r.Findings = append(r.Findings[:o.MaxFindings], Finding{Kind: "truncated", Detail: fmt.Sprintf("%d more findings were not listed", n)})
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	took := time.Since(start)
	r.OK, r.Head, r.Started, r.Seconds = len(r.Findings) == 0, to, start.UTC(), took.Seconds()
	if took > 0 {
		r.EventsPerSecond = float64(r.Events) / took.Seconds()
	}
	r.Checks = []string{"hash chains", "stream versions", "money events decode", "journal entries balance",
		"ledger sums to zero per currency"}
	r.NotChecked = []NotChecked{}
	r.optional(o.Deep, "--deep", "every event decodes", "account folds", "customer balance = AR - credit",
		"no customer credit beside open invoices", "AR and customer credit not negative at any date")
	r.optional(o.DensePositions && o.Tenant == "", "the PostgreSQL backend, without --tenant", "dense global positions", "recorded-at order")
	if !o.Deep {
		r.Accounts = nil
	}
}

// optional lists checks among Checks when ran, else among NotChecked with what runs them.
func (r *Report) optional(ran bool, runBy string, checks ...string) {
	for _, c := range checks {
		if ran {
			r.Checks = append(r.Checks, c)
		} else {
			r.NotChecked = append(r.NotChecked, NotChecked{Check: c, RunBy: runBy})
		}
	}
}

// checkLedgers checks each tenant's journal nets to zero and returns the trial balance.
func checkLedgers(ledgers map[string]*domain.LedgerTotals, findings []Finding) ([]LedgerLine, []Finding) {
	tenants := make([]string, 0, len(ledgers))
	for t := range ledgers {
		tenants = append(tenants, t)
	}
	sort.Strings(tenants)
	out := []LedgerLine{}
	for _, t := range tenants {
		l := ledgers[t]
		for _, c := range l.Currencies() {
			if net := l.Net(c); !net.IsZero() {
				findings = append(findings, Finding{Kind: FindingLedgerNotZero, Tenant: t, Detail: fmt.Sprintf("the journal nets to %s, not zero", net)})
			}
			out = append(out, trialLines(t, l, c)...)
		}
	}
	return out, findings
}

// streamTenant returns the tenant and kind a stream id names (zero values if it names none).
func streamTenant(env *eventstore.Envelope) (string, domain.StreamKind) {
	tenant, kind, _, err := domain.ParseStream(env.StreamID)
	if err != nil {
		return env.Metadata.TenantID, domain.StreamKind{}
	}
	return tenant.String(), kind
}
