package audit

import (
	"fmt"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// Finding kinds. Each names one way history or a read model can be wrong.
const (
	FindingHashMismatch     = "hash_mismatch"     // an event's stored hash is not SHA-256(previous hash || event)
	FindingVersionGap       = "version_gap"       // a stream skips a version (an event was deleted) or repeats one
	FindingPositionGap      = "position_gap"      // the dense global feed skips positions (an event was deleted)
	FindingRecordedAtOrder  = "recorded_at_order" // recorded-at goes back in time along the feed (events reordered)
	FindingDecodeError      = "decode_error"      // a stored payload is not a valid event of its type and version
	FindingUnbalancedEntry  = "unbalanced_entry"  // a money event whose journal entry does not balance
	FindingFoldError        = "fold_error"        // an account stream whose events break the domain's invariants
	FindingBalanceMismatch  = "balance_mismatch"  // a customer's balance from the journal differs from the account's
	FindingLedgerNotZero    = "ledger_not_zero"   // a tenant's journal does not sum to zero in a currency
	FindingProjectionDrift  = "projection_drift"  // a read-model row differs from a fresh fold of the same events
	FindingProjectionBehind = "projection_behind" // a projection could not be compared (stalled or far behind)
)

// FindingCreditBesideOpen is an account holding customer credit while invoices are open, which
// only earlier versions wrote (an account credit note that settled nothing): dunning chases
// money the customer does not owe. ApplyCustomerCredit (POST /v1/customers/{id}/apply-credit)
// settles it. Listed by a deep verification.
const FindingCreditBesideOpen = "credit_beside_open_invoices"

// FindingNegativeByDate is a customer whose AR or customer credit, summed from the journal
// entries dated up to some day (as domain.Poster dates them), is negative on that day: a
// settlement dated before the invoice it settles or the credit it uses. Listed by a deep
// verification.
const FindingNegativeByDate = "negative_by_date"

// Finding is one problem verification found.
type Finding struct {
	Kind     string              `json:"kind"`
	Tenant   string              `json:"tenant,omitempty"`
	Stream   string              `json:"stream,omitempty"`
	Version  uint64              `json:"version,omitempty"`
	Position eventstore.Position `json:"position,omitempty"`
	Type     string              `json:"type,omitempty"`
	Expected string              `json:"expected,omitempty"`
	Stored   string              `json:"stored,omitempty"`
	Detail   string              `json:"detail"`
}

func (f Finding) String() string {
	s := f.Kind
	if f.Stream != "" {
		s += fmt.Sprintf(" stream %s version %d", f.Stream, f.Version)
	}
	if f.Position != 0 {
		s += fmt.Sprintf(" at position %d", f.Position)
	}
	return s + ": " + f.Detail
}

// LedgerLine is one row of a trial balance: the signed sum (debits minus credits) of an
// account in a currency.
type LedgerLine struct {
	Tenant   string `json:"tenant"`
	Account  int    `json:"account"`
	Name     string `json:"name"`
	Currency string `json:"currency"`
	Debit    string `json:"debit"`
	Credit   string `json:"credit"`
	Balance  string `json:"balance"`
}

// Report is the outcome of Verify.
type Report struct {
	OK          bool                `json:"ok"`
	Head        eventstore.Position `json:"head"`
	Events      int                 `json:"events"`
	Streams     int                 `json:"streams"`
	MoneyEvents int                 `json:"money_events"`
	// Accounts is the number of customer accounts folded: set only when they were (Deep).
	Accounts        *int      `json:"accounts,omitempty"`
	Started         time.Time `json:"started_at"`
	Seconds         float64   `json:"seconds"`
	EventsPerSecond float64   `json:"events_per_second"`
	// FeedDigest is SHA-256 over every verified event hash in feed order: keep it with the
	// report; a later `verify --to <head>` must reproduce it if nothing was rewritten.
	FeedDigest string   `json:"feed_digest"`
	Checks     []string `json:"checks"`
	// NotChecked names each check that did not run, and what runs it.
	NotChecked   []NotChecked `json:"not_checked"`
	TrialBalance []LedgerLine `json:"trial_balance"`
	// Checkpoints says what the signed checkpoints covered, when they were checked.
	Checkpoints *CheckpointSummary `json:"checkpoints,omitempty"`
	Findings    []Finding          `json:"findings"`
	// Drift holds the read-model comparisons (CheckDrift), when they were run; their
	// findings are in Findings too.
	Drift []DriftReport `json:"drift,omitempty"`
}

// NotChecked is a check a verify run left out, and the flag (or condition) that runs it.
type NotChecked struct {
	Check string `json:"check"`
	RunBy string `json:"run_by"`
}

func (n NotChecked) String() string { return n.Check + " (" + n.RunBy + ")" }

// SkipDrift records that the read models were not compared with a fresh fold.
func (r *Report) SkipDrift() {
	r.NotChecked = append(r.NotChecked, NotChecked{Check: checkDrift, RunBy: "without --skip-drift"})
}

// checkDrift names the read-model comparison in Checks and NotChecked.
const checkDrift = "read models equal a fresh fold (drift)"

// AddDrift adds drift reports and their findings to r.
func (r *Report) AddDrift(reports []DriftReport) {
	r.Drift = append(r.Drift, reports...)
	for _, d := range reports {
		r.Findings = append(r.Findings, d.Findings...)
	}
	r.OK = len(r.Findings) == 0
	r.Checks = append(r.Checks, checkDrift)
}

// trialLines returns one trial-balance line per account of the chart with a non-zero
// balance in c: the balance on its debit side (positive) or credit side.
func trialLines(tenant string, l *domain.LedgerTotals, c domain.Currency) []LedgerLine {
	var out []LedgerLine
	for _, acct := range domain.ChartOfAccounts() {
		b := l.Balance(acct, c)
		if b.IsZero() {
			continue
		}
		zero := domain.Zero(c).AmountString()
		line := LedgerLine{Tenant: tenant, Account: int(acct), Name: acct.Name(), Currency: c.Code(),
			Debit: zero, Credit: zero, Balance: b.AmountString()}
		if b.IsNegative() {
			line.Credit = b.Neg().AmountString()
		} else {
			line.Debit = b.AmountString()
		}
		out = append(out, line)
	}
	return out
}
