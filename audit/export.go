package audit

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// ManifestFile describes one exported file.
type ManifestFile struct {
	Name   string `json:"name"`
	Rows   int    `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// AccountTotal is the sum of an account's journal lines in a currency.
type AccountTotal struct {
	Account  int    `json:"account"`
	Name     string `json:"name"`
	Currency string `json:"currency"`
	Debit    string `json:"debit"`
	Credit   string `json:"credit"`
}

// Manifest describes an export so that the export itself can be checked.
type Manifest struct {
	Tenant        string              `json:"tenant"`
	Period        string              `json:"period"`
	Head          eventstore.Position `json:"head"`
	GeneratedAt   time.Time           `json:"generated_at"`
	Files         []ManifestFile      `json:"files"`
	JournalTotals []AccountTotal      `json:"journal_totals"`
	Invoices      map[string]string   `json:"invoice_totals"` // currency -> sum of totals
	Payments      map[string]string   `json:"payment_totals"` // currency -> sum of amounts
	// SignedCheckpoints is how many signed checkpoints checkpoints.jsonl holds: those whose
	// spans hold the events (events.jsonl) the rows come from (see VerifyExport).
	SignedCheckpoints int `json:"signed_checkpoints"`
}

// ManifestName is the manifest's file name inside an export directory.
const ManifestName = "manifest.json"

// exportSet holds the rows of one export, in feed order.
type exportSet struct {
	journal, invoices, payments [][]string
	totals                      map[[2]string]*[2]decimal.Decimal // (account, currency) -> debit, credit
	invoiceSums, paymentSums    map[string]decimal.Decimal
	poster                      domain.Poster // dates the entries (settlements split by date)
}

func newExportSet() *exportSet {
	return &exportSet{totals: map[[2]string]*[2]decimal.Decimal{}, invoiceSums: map[string]decimal.Decimal{}, paymentSums: map[string]decimal.Decimal{}}
}

var (
	journalHeader = []string{"entry_id", "position", "date", "customer_id", "memo", "account", "account_name", "currency", "debit", "credit"}
	invoiceHeader = []string{"invoice_id", "number", "customer_id", "issue_date", "due_date", "period", "currency", "net_total", "tax_total", "total", "credit_applied", "position"}
	paymentHeader = []string{"payment_id", "customer_id", "received_at", "method", "external_reference", "currency", "amount", "allocated", "unapplied", "position"}
)

// exportFileMode is the mode of every file of an export, and exportDirMode of its directory:
// exports hold customer data, so they are the owner's alone.
const (
	exportFileMode os.FileMode = 0o600
	exportDirMode  os.FileMode = 0o700
)

// NothingToExportError: the tenant has no events at all (TenantHasEvents false: a mistyped
// tenant, most likely), or none of its journal lines, invoices or payments fall in the period.
// Export returns it before creating the directory. It matches ErrNoHistory.
type NothingToExportError struct {
	Tenant          string
	Period          string
	TenantHasEvents bool
}

func (e *NothingToExportError) Error() string {
	if !e.TenantHasEvents {
		return fmt.Sprintf("nothing to export: tenant %q has no events at all (is the tenant id right?)", e.Tenant)
	}
	return fmt.Sprintf("nothing to export: tenant %q has no journal lines, invoices or payments in %s", e.Tenant, e.Period)
}

// Is makes errors.Is(err, ErrNoHistory) true.
func (e *NothingToExportError) Is(target error) bool { return target == ErrNoHistory }

// Export writes the journal lines dated in period, the invoices issued in it and the payments
// received in it — replayed from the event store, not the read models — to dir as CSV and JSON
// Lines, with a manifest of row counts, sums per account and currency, and each file's SHA-256.
// Every file is 0600. With nothing to export it writes nothing and returns a
// *NothingToExportError.
func (a *Auditor) Export(ctx context.Context, tenant domain.TenantID, period domain.Period, dir string) (*Manifest, error) {
	head, err := a.store.Head(ctx)
	if err != nil {
		return nil, err
	}
	set := newExportSet()
	tenantEvents := 0
	prov := newProvenance()
	err = a.scan(ctx, 0, head, forJournal, func(p *page) error {
		for i := range p.envs {
			if t, _ := streamTenant(&p.envs[i]); t != tenant.String() {
				continue
			}
			tenantEvents++
			if p.errs[i] != nil {
				return p.errs[i]
			}
			rows := set.rows()
			if err := set.add(&p.envs[i], p.evs[i], period); err != nil {
				return err
			}
			prov.see(&p.envs[i], set.rows() != rows)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if len(set.journal)+len(set.invoices)+len(set.payments) == 0 {
		return nil, &NothingToExportError{Tenant: tenant.String(), Period: period.String(), TenantHasEvents: tenantEvents > 0}
	}
	if err := os.MkdirAll(dir, exportDirMode); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	m := &Manifest{Tenant: tenant.String(), Period: period.String(), Head: head, GeneratedAt: time.Now().UTC(),
		JournalTotals: set.accountTotals(), Invoices: decimalStrings(set.invoiceSums), Payments: decimalStrings(set.paymentSums)}
	for _, f := range []struct {
		name   string
		header []string
		rows   [][]string
	}{{"journal", journalHeader, set.journal}, {"invoices", invoiceHeader, set.invoices}, {"payments", paymentHeader, set.payments}} {
		files, err := writeTable(dir, f.name, f.header, f.rows)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", f.name, err)
		}
		m.Files = append(m.Files, files...)
	}
	proof, n, err := a.writeProof(ctx, dir, prov)
	if err != nil {
		return nil, fmt.Errorf("export signed checkpoints: %w", err)
	}
	m.Files, m.SignedCheckpoints = append(m.Files, proof...), n
	return m, writeManifest(dir, m)
}

// rows is how many rows the set holds.
func (s *exportSet) rows() int { return len(s.journal) + len(s.invoices) + len(s.payments) }

func (s *exportSet) add(env *eventstore.Envelope, ev domain.Event, period domain.Period) error {
	pos := fmt.Sprint(env.Position)
	if issued, ok := ev.(domain.InvoiceIssued); ok {
		ev = issued.InvoiceIssuedHead
	}
	switch e := ev.(type) {
	case domain.InvoiceIssuedHead:
		if period.Contains(e.IssueDate) {
			s.invoices = append(s.invoices, []string{e.InvoiceID.String(), e.Number, e.CustomerID.String(), e.IssueDate.String(),
				e.DueDate.String(), e.Period.String(), e.Currency.Code(), e.NetTotal.AmountString(), e.TaxTotal.AmountString(),
				e.Total.AmountString(), e.CreditApplied.AmountString(), pos})
			s.invoiceSums[e.Currency.Code()] = s.invoiceSums[e.Currency.Code()].Add(e.Total.Amount())
		}
	case domain.PaymentRecorded:
		if period.Contains(domain.DateOf(e.ReceivedAt)) {
			allocated := e.Amount.Amount().Sub(e.Unapplied.Amount())
			s.payments = append(s.payments, []string{e.PaymentID.String(), e.CustomerID.String(), e.ReceivedAt.UTC().Format(time.RFC3339),
				e.Method.String(), e.ExternalReference, e.Amount.Currency().Code(), e.Amount.AmountString(),
				allocated.StringFixed(e.Amount.Currency().MinorUnits()), e.Unapplied.AmountString(), pos})
			c := e.Amount.Currency().Code()
			s.paymentSums[c] = s.paymentSums[c].Add(e.Amount.Amount())
		}
	}
	entries, err := s.poster.Post(ev)
	if err != nil {
		return fmt.Errorf("position %d: %w", env.Position, err)
	}
	for _, entry := range entries {
		if period.Contains(entry.Date()) {
			s.post(env, entry)
		}
	}
	return nil
}

func (s *exportSet) post(env *eventstore.Envelope, entry domain.JournalEntry) {
	for _, l := range entry.Lines() {
		c := l.Amount.Currency()
		debit, credit := domain.Zero(c).AmountString(), domain.Zero(c).AmountString()
		key := [2]string{fmt.Sprint(int(l.Account)), c.Code()}
		t := s.totals[key]
		if t == nil {
			t = &[2]decimal.Decimal{}
			s.totals[key] = t
		}
		if l.Side == domain.SideDebit {
			debit, t[0] = l.Amount.AmountString(), t[0].Add(l.Amount.Amount())
		} else {
			credit, t[1] = l.Amount.AmountString(), t[1].Add(l.Amount.Amount())
		}
		s.journal = append(s.journal, []string{env.ID.String(), fmt.Sprint(env.Position), entry.Date().String(), entry.Customer().String(),
			entry.Memo(), fmt.Sprint(int(l.Account)), l.Account.Name(), c.Code(), debit, credit})
	}
}

func (s *exportSet) accountTotals() []AccountTotal {
	out := make([]AccountTotal, 0, len(s.totals))
	for k, t := range s.totals {
		var code int
		_, _ = fmt.Sscan(k[0], &code)
		c, _ := domain.ParseCurrency(k[1])
		out = append(out, AccountTotal{Account: code, Name: domain.AccountCode(code).Name(), Currency: k[1],
			Debit: t[0].StringFixed(c.MinorUnits()), Credit: t[1].StringFixed(c.MinorUnits())})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Currency != out[j].Currency {
			return out[i].Currency < out[j].Currency
		}
		return out[i].Account < out[j].Account
	})
	return out
}

func decimalStrings(m map[string]decimal.Decimal) map[string]string {
	out := make(map[string]string, len(m))
	for c, v := range m {
		cur, _ := domain.ParseCurrency(c)
		out[c] = v.StringFixed(cur.MinorUnits())
	}
	return out
}

// writeTable writes name.csv and name.jsonl (one object per row, keyed by the header).
func writeTable(dir, name string, header []string, rows [][]string) ([]ManifestFile, error) {
	csvFile, err := writeFile(filepath.Join(dir, name+".csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		if err := cw.WriteAll(rows); err != nil {
			return err
		}
		return cw.Error()
	})
	if err != nil {
		return nil, err
	}
	jsonFile, err := writeFile(filepath.Join(dir, name+".jsonl"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, r := range rows {
			obj := make(map[string]string, len(header))
			for i, h := range header {
				obj[h] = r[i]
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	csvFile.Rows, jsonFile.Rows = len(rows), len(rows)
	return []ManifestFile{csvFile, jsonFile}, nil
}

// writeFile writes path through fill, hashing what it writes.
func writeFile(path string, fill func(io.Writer) error) (ManifestFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, exportFileMode) // #nosec G304 -- the operator chooses the export directory
	if err != nil {
		return ManifestFile{}, err
	}
	if err := f.Chmod(exportFileMode); err != nil { // a file of an earlier export keeps its mode on O_TRUNC
		_ = f.Close()
		return ManifestFile{}, err
	}
	h := sha256.New()
	counter := &countingWriter{w: io.MultiWriter(f, h)}
	bw := bufio.NewWriter(counter)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return ManifestFile{Name: filepath.Base(path), Bytes: counter.n, SHA256: hex.EncodeToString(h.Sum(nil))}, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ManifestName), append(b, '\n'), exportFileMode)
}

// CheckExport re-reads an export directory and returns one line per discrepancy between the
// files and the manifest: a file missing, its size, hash or row count different, or the
// journal's sums per account and currency not those the manifest states.
func CheckExport(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName)) // #nosec G304 -- the operator chooses the directory
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	var problems []string
	for _, f := range m.Files {
		problems = append(problems, checkFile(dir, f)...)
	}
	sums, sumErr := journalSums(filepath.Join(dir, "journal.csv"))
	if sumErr != nil { // an unreadable journal is a finding about the export, not a failure to check it
		return append(problems, "journal.csv: "+sumErr.Error()), nil //nolint:nilerr // reported as a finding
	}
	for _, t := range m.JournalTotals {
		got := sums[[2]string{fmt.Sprint(t.Account), t.Currency}]
		if got[0].String() != mustDecimal(t.Debit).String() || got[1].String() != mustDecimal(t.Credit).String() {
			problems = append(problems, fmt.Sprintf("journal.csv: account %d %s sums to debit %s credit %s, the manifest says %s / %s",
				t.Account, t.Currency, got[0], got[1], t.Debit, t.Credit))
		}
	}
	return problems, nil
}

func checkFile(dir string, f ManifestFile) []string {
	b, err := os.ReadFile(filepath.Join(dir, f.Name)) // #nosec G304 -- names come from the manifest inside dir
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", f.Name, err)}
	}
	var problems []string
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(b)) != f.Bytes {
		problems = append(problems, fmt.Sprintf("%s: SHA-256 or size differs from the manifest: the file was changed", f.Name))
	}
	rows := 0
	for _, c := range b {
		if c == '\n' {
			rows++
		}
	}
	if filepath.Ext(f.Name) == ".csv" {
		rows-- // header
	}
	if rows != f.Rows {
		problems = append(problems, fmt.Sprintf("%s: %d rows, the manifest says %d", f.Name, rows, f.Rows))
	}
	return problems
}

func journalSums(path string) (map[[2]string][2]decimal.Decimal, error) {
	f, err := os.Open(path) // #nosec G304 -- inside the export directory
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	if _, err := r.Read(); err != nil {
		return nil, err
	}
	sums := map[[2]string][2]decimal.Decimal{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return sums, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) != len(journalHeader) {
			return nil, fmt.Errorf("a row has %d fields, want %d", len(rec), len(journalHeader))
		}
		k := [2]string{rec[5], rec[7]}
		s := sums[k]
		s[0], s[1] = s[0].Add(mustDecimal(rec[8])), s[1].Add(mustDecimal(rec[9]))
		sums[k] = s
	}
}

func mustDecimal(s string) decimal.Decimal {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.NewFromInt(-1) // never equal to a real sum: reported as a mismatch
	}
	return d
}
