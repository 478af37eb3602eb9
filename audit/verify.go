package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"sort"
	"strconv"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
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
	// MaxFindings stops collecting after this many findings (default 1000).
	MaxFindings int
	// Progress, if set, is called after each page with the position reached and the target.
	Progress func(at, to eventstore.Position)
}

// Verify recomputes every stream's hash chain and reports the first broken link of each
// stream; checks that stream versions and (with DensePositions) global positions have no
// gaps; decodes every event; derives every money event's journal entry and checks it
// balances; folds every customer account and checks its balance equals AR minus customer
// credit in the journal; and checks each tenant's journal sums to zero per currency.
// Findings are problems in the data; the error is for failures to read it.
func (a *Auditor) Verify(ctx context.Context, o VerifyOptions) (*Report, error) {
	if o.MaxFindings <= 0 {
		o.MaxFindings = 1000
	}
	v := newVerifier(o)
	start := time.Now()
	to := o.To
	if to == 0 {
		head, err := a.store.Head(ctx)
		if err != nil {
			return nil, fmt.Errorf("verify: read head: %w", err)
		}
		to = head
	}
	err := a.scan(ctx, 0, to, func(p *page) error {
		for i := range p.envs {
			v.event(&p.envs[i], p.evs[i], p.errs[i])
		}
		if o.Progress != nil {
			o.Progress(p.envs[len(p.envs)-1].Position, to)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return v.report(to, start), nil
}

type chain struct {
	version uint64
	hash    []byte
	broken  bool
}

type account struct {
	tenant string
	state  domain.AccountState
	ledger domain.LedgerTotals // this customer's postings only
	failed bool
}

type verifier struct {
	o        VerifyOptions
	chains   map[string]*chain
	accounts map[string]*account
	ledgers  map[string]*domain.LedgerTotals // per tenant
	digest   hash.Hash
	lastPos  eventstore.Position
	lastAt   time.Time
	events   int
	money    int
	findings []Finding
	dropped  int
}

func newVerifier(o VerifyOptions) *verifier {
	return &verifier{o: o, chains: map[string]*chain{}, accounts: map[string]*account{},
		ledgers: map[string]*domain.LedgerTotals{}, digest: sha256.New()}
}

func (v *verifier) add(f Finding) {
	if len(v.findings) >= v.o.MaxFindings {
		v.dropped++
		return
	}
	v.findings = append(v.findings, f)
}

// event runs every check on one event, in feed order.
func (v *verifier) event(env *eventstore.Envelope, ev domain.Event, decodeErr error) {
	tenant, kind := streamTenant(env)
	if v.o.DensePositions {
		v.checkFeedOrder(env)
	}
	if v.o.Tenant != "" && tenant != v.o.Tenant {
		return
	}
	v.events++
	v.digest.Write(env.Hash)
	v.checkChain(env)
	if decodeErr != nil {
		v.add(Finding{Kind: FindingDecodeError, Tenant: tenant, Stream: env.StreamID, Version: env.Version,
			Position: env.Position, Type: env.Type, Detail: decodeErr.Error()})
		v.failAccount(env.StreamID)
		return
	}
	if kind == domain.StreamCustomer && v.accounts[env.StreamID] == nil {
		v.accounts[env.StreamID] = &account{tenant: tenant}
	}
	v.post(env, tenant, ev)
	if kind == domain.StreamCustomer {
		v.fold(env, tenant, ev)
	}
}

// checkFeedOrder: dense positions, and recorded-at never going back along the feed.
func (v *verifier) checkFeedOrder(env *eventstore.Envelope) {
	if env.Position != v.lastPos+1 {
		v.add(Finding{Kind: FindingPositionGap, Position: env.Position,
			Detail: fmt.Sprintf("position %d follows %d: %d event(s) missing from the feed", env.Position, v.lastPos, env.Position-v.lastPos-1)})
	}
	if at := env.RecordedAt(); !v.lastAt.IsZero() && at.Before(v.lastAt) {
		v.add(Finding{Kind: FindingRecordedAtOrder, Position: env.Position,
			Detail: fmt.Sprintf("the event at position %d was recorded at %s, before the one at position %d (%s): the feed was reordered or an event's metadata altered",
				env.Position, at.Format(time.RFC3339Nano), v.lastPos, v.lastAt.Format(time.RFC3339Nano))})
	}
	v.lastPos, v.lastAt = env.Position, env.RecordedAt()
}

// checkChain verifies the stream's version sequence and hash chain, reporting only the first
// broken link of each stream (everything after it is suspect anyway).
func (v *verifier) checkChain(env *eventstore.Envelope) {
	c := v.chains[env.StreamID]
	if c == nil {
		c = &chain{}
		v.chains[env.StreamID] = c
	}
	defer func() { c.version, c.hash = env.Version, env.Hash }()
	if c.broken {
		return
	}
	if env.Version != c.version+1 {
		c.broken = true
		v.add(Finding{Kind: FindingVersionGap, Stream: env.StreamID, Version: env.Version, Position: env.Position,
			Expected: strconv.FormatUint(c.version+1, 10), Stored: strconv.FormatUint(env.Version, 10),
			Detail: fmt.Sprintf("version %d follows version %d", env.Version, c.version)})
		return
	}
	if want := eventstore.ChainHash(c.hash, env); !bytes.Equal(want, env.Hash) {
		c.broken = true
		v.add(Finding{Kind: FindingHashMismatch, Stream: env.StreamID, Version: env.Version, Position: env.Position,
			Type: env.Type, Expected: hex.EncodeToString(want), Stored: hex.EncodeToString(env.Hash),
			Detail: "the stored hash does not match the event and its predecessor: the event, its hash or an earlier event was altered"})
	}
}

// post derives the journal entry of a money event and adds it to the tenant's ledger.
func (v *verifier) post(env *eventstore.Envelope, tenant string, ev domain.Event) {
	entry, ok, err := domain.Postings(ev)
	if err != nil {
		v.add(Finding{Kind: FindingUnbalancedEntry, Tenant: tenant, Stream: env.StreamID, Version: env.Version,
			Position: env.Position, Type: env.Type, Detail: err.Error()})
		return
	}
	if !ok {
		return
	}
	v.money++
	l := v.ledgers[tenant]
	if l == nil {
		l = &domain.LedgerTotals{}
		v.ledgers[tenant] = l
	}
	l.Post(entry)
	if acc := v.accounts[env.StreamID]; acc != nil {
		acc.ledger.Post(entry)
	}
}

// fold applies an account event to its customer's state.
func (v *verifier) fold(env *eventstore.Envelope, tenant string, ev domain.Event) {
	acc := v.accounts[env.StreamID]
	if acc.failed {
		return
	}
	next, err := domain.ApplyAccount(acc.state, ev)
	if err != nil {
		acc.failed = true
		v.add(Finding{Kind: FindingFoldError, Tenant: tenant, Stream: env.StreamID, Version: env.Version,
			Position: env.Position, Type: env.Type, Detail: err.Error()})
		return
	}
	acc.state = next
}

func (v *verifier) failAccount(stream string) {
	if acc := v.accounts[stream]; acc != nil {
		acc.failed = true
	}
}

func (v *verifier) report(to eventstore.Position, start time.Time) *Report {
	v.checkBalances()
	trial := v.checkLedgers()
	if v.dropped > 0 {
		v.findings = append(v.findings, Finding{Kind: "truncated", Detail: fmt.Sprintf("%d more findings were not listed", v.dropped)})
	}
	took := time.Since(start)
	r := &Report{OK: len(v.findings) == 0, Head: to, Events: v.events, Streams: len(v.chains), MoneyEvents: v.money,
		Accounts: len(v.accounts), Started: start.UTC(), Seconds: took.Seconds(),
		FeedDigest: hex.EncodeToString(v.digest.Sum(nil)), TrialBalance: trial, Findings: v.findings,
		Checks: []string{"hash chains", "stream versions", "event decoding", "journal entries balance",
			"account folds", "customer balance = AR - credit", "ledger sums to zero per currency"}}
	if v.o.DensePositions {
		r.Checks = append(r.Checks, "dense global positions", "recorded-at order")
	}
	if took > 0 {
		r.EventsPerSecond = float64(v.events) / took.Seconds()
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	return r
}

// checkBalances compares each folded account's balance with its journal (AR - credit).
func (v *verifier) checkBalances() {
	streams := make([]string, 0, len(v.accounts))
	for s := range v.accounts {
		streams = append(streams, s)
	}
	sort.Strings(streams)
	for _, s := range streams {
		acc := v.accounts[s]
		if acc.failed || !acc.state.Customer.Registered() {
			continue
		}
		folded, err := acc.state.Balance()
		if err != nil {
			v.add(Finding{Kind: FindingFoldError, Tenant: acc.tenant, Stream: s, Detail: err.Error()})
			continue
		}
		journal := acc.ledger.CustomerBalance(acc.state.Customer.Currency)
		if !folded.Equal(journal) {
			v.add(Finding{Kind: FindingBalanceMismatch, Tenant: acc.tenant, Stream: s, Expected: folded.String(), Stored: journal.String(),
				Detail: fmt.Sprintf("the account's balance is %s but its journal (AR - customer credit) says %s", folded, journal)})
		}
	}
}

// checkLedgers checks each tenant's journal nets to zero and returns the trial balance.
func (v *verifier) checkLedgers() []LedgerLine {
	tenants := make([]string, 0, len(v.ledgers))
	for t := range v.ledgers {
		tenants = append(tenants, t)
	}
	sort.Strings(tenants)
	out := []LedgerLine{}
	for _, t := range tenants {
		l := v.ledgers[t]
		for _, c := range l.Currencies() {
			if net := l.Net(c); !net.IsZero() {
				v.add(Finding{Kind: FindingLedgerNotZero, Tenant: t, Detail: fmt.Sprintf("the journal nets to %s, not zero", net)})
			}
			out = append(out, trialLines(t, l, c)...)
		}
	}
	return out
}

// streamTenant returns the tenant and kind a stream id names (zero values if it names none).
func streamTenant(env *eventstore.Envelope) (string, domain.StreamKind) {
	tenant, kind, _, err := domain.ParseStream(env.StreamID)
	if err != nil {
		return env.Metadata.TenantID, domain.StreamKind{}
	}
	return tenant.String(), kind
}
