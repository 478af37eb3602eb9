package csvimport

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// importActor is the actor recorded in the metadata of every event an import appends.
const importActor = "dotmac import"

// root is the source of every import command id: a UUIDv7 of 2020-01-01T00:00:00Z (so ids
// derived from it carry that timestamp, whatever day the import runs) and fixed bits.
var root = func() uuid.UUID {
	var u uuid.UUID
	sum := sha256.Sum256([]byte("dotmac import"))
	copy(u[6:], sum[:10])
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()))
	copy(u[:6], ms[2:])
	u[6] = 0x70 | (u[6] & 0x0f)
	u[8] = 0x80 | (u[8] & 0x3f)
	return u
}()

// CommandID is the id of the command an import runs for step of the row of kind ("plan",
// "customer", "service", "opening balance") with external id (a plan code for plans, the
// customer's external id for opening balances) in tenant.
func CommandID(tenant domain.TenantID, kind, external, step string) uuid.UUID {
	return commands.DeriveUUID(root, tenant.String(), kind, external, step)
}

// CustomerID is the id the import gives the customer with external id in tenant.
func CustomerID(tenant domain.TenantID, external string) (domain.CustomerID, error) {
	return commands.CustomerIDFor(CommandID(tenant, "customer", external, "register"))
}

// ServiceID is the id the import gives the service with external id in tenant.
func ServiceID(tenant domain.TenantID, external string) (domain.ServiceID, error) {
	return commands.ServiceIDFor(CommandID(tenant, "service", external, "provision"))
}

// File is one CSV file to import: its name (for messages) and content.
type File struct {
	Name string
	Data io.Reader
}

// Files are the files of one import; any of them may be nil.
type Files struct {
	Plans, Customers, Services, OpeningBalances *File
}

// Config configures an import. Store, Numbers and Index are those the command handlers use
// (see commands.Config); Tenant is required.
type Config struct {
	Store   eventstore.Store
	Numbers commands.InvoiceNumbers
	Index   commands.BillingIndex
	Tenant  domain.TenantID
	// Now is the clock (default time.Now).
	Now func() time.Time
	// DryRun runs everything over a store that keeps appends in memory: nothing is recorded.
	DryRun bool
	// Progress, if set, is called after each row with the rows done and the rows in all files.
	Progress func(done, total int)
}

// FileSummary is what became of a file's rows.
type FileSummary struct {
	File      string `json:"file"`
	Rows      int    `json:"rows"`
	Created   int    `json:"created"`
	Unchanged int    `json:"unchanged"`
	Rejected  int    `json:"rejected"`
}

// Summary is what an import did.
type Summary struct {
	DryRun bool          `json:"dry_run"`
	Files  []FileSummary `json:"files"`
	// Events is how many events were appended (in a dry run: would have been).
	Events     int64       `json:"events_appended"`
	Rejections []Rejection `json:"rejections"`
}

// Rejected reports whether any row was rejected.
func (s Summary) Rejected() bool { return len(s.Rejections) > 0 }

// Run imports files into cfg.Tenant. Every file is read first: an unreadable one (a
// *FileError, wrapping ErrUnreadable) stops the import before anything is recorded. Then plans,
// customers, services and opening balances are recorded in that order, row by row; a row the
// rules refuse is rejected (Summary.Rejections) and the import goes on. Any other error (the
// store unavailable) stops it and is returned with the summary so far.
func Run(ctx context.Context, cfg Config, files Files) (Summary, error) {
	if cfg.Tenant.IsZero() {
		return Summary{}, errors.New("csvimport: Config.Tenant is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	in, err := readAll(files)
	if err != nil {
		return Summary{}, err
	}
	im, err := newImporter(cfg)
	if err != nil {
		return Summary{}, err
	}
	im.total = in.rows()
	err = im.run(ctx, in)
	im.sum.Events = im.store.appended.Load()
	return im.sum, err
}

// input is every file read, before anything is recorded.
type input struct {
	plans, customers, services, openings fileRows
}

type fileRows struct {
	name    string
	present bool
	rows    []Row
}

func (in input) rows() int {
	return len(in.plans.rows) + len(in.customers.rows) + len(in.services.rows) + len(in.openings.rows)
}

func readAll(files Files) (input, error) {
	var in input
	for _, f := range []struct {
		file *File
		cols Columns
		dst  *fileRows
	}{
		{files.Plans, PlanColumns, &in.plans}, {files.Customers, CustomerColumns, &in.customers},
		{files.Services, ServiceColumns, &in.services}, {files.OpeningBalances, OpeningBalanceColumns, &in.openings},
	} {
		if f.file == nil {
			continue
		}
		rows, err := Read(f.file.Name, f.file.Data, f.cols)
		if err != nil {
			return input{}, err
		}
		*f.dst = fileRows{name: f.file.Name, present: true, rows: rows}
	}
	return in, nil
}

// importer records the rows of one import.
type importer struct {
	cfg         Config
	h           *commands.Handlers
	store       *countingStore
	sum         Summary
	done, total int
	// planFile and customerFile say, per plan code and customer external id named in those
	// files, whether its row was imported (true) or rejected (false).
	planFile, customerFile map[string]bool
	// plansName and customersName are the names of those files ("" when not given).
	plansName, customersName string
}

func newImporter(cfg Config) (*importer, error) {
	store, numbers, index := cfg.Store, cfg.Numbers, cfg.Index
	if cfg.DryRun {
		dry := newDryStore(cfg.Store, cfg.Now)
		store, numbers, index = dry, &dryNumbers{base: cfg.Numbers}, dryIndex{BillingIndex: cfg.Index, store: dry}
	}
	counting := &countingStore{Store: store}
	h, err := commands.New(commands.Config{Store: counting, Numbers: numbers, Index: index, Now: cfg.Now, CacheStreams: -1})
	if err != nil {
		return nil, err
	}
	return &importer{cfg: cfg, h: h, store: counting, sum: Summary{DryRun: cfg.DryRun},
		planFile: map[string]bool{}, customerFile: map[string]bool{}}, nil
}

func (im *importer) run(ctx context.Context, in input) error {
	steps := []struct {
		f   fileRows
		run func(context.Context, *fileRows) error
	}{{in.plans, im.plans}, {in.customers, im.customers}, {in.services, im.services}, {in.openings, im.openings}}
	for _, s := range steps {
		if !s.f.present {
			continue
		}
		im.sum.Files = append(im.sum.Files, FileSummary{File: s.f.name, Rows: len(s.f.rows)})
		if err := s.run(ctx, &s.f); err != nil {
			return err
		}
	}
	return nil
}

// meta is the Meta of step of the row of kind with external id.
func (im *importer) meta(kind, external, step string) commands.Meta {
	return commands.Meta{Tenant: im.cfg.Tenant, Actor: importActor, CommandID: CommandID(im.cfg.Tenant, kind, external, step),
		Recovering: true, CorrelationID: CommandID(im.cfg.Tenant, kind, external, "").String()}
}

// outcome records what became of the row at line of the current file: rejected with err (a
// *rowErr, or a domain error mapped through fields), else created when events were appended
// since before, else unchanged. An error that is no rejection is returned.
func (im *importer) outcome(line int, before int64, err error, fields map[string]string) error {
	fs := &im.sum.Files[len(im.sum.Files)-1]
	im.done++
	if im.cfg.Progress != nil {
		im.cfg.Progress(im.done, im.total)
	}
	if err != nil {
		rej, ok := rejection(err, fields)
		if !ok {
			return fmt.Errorf("%s line %d: %w", fs.File, line, err)
		}
		rej.File, rej.Line = fs.File, line
		im.sum.Rejections = append(im.sum.Rejections, rej)
		fs.Rejected++
		return nil
	}
	if im.store.appended.Load() > before {
		fs.Created++
	} else {
		fs.Unchanged++
	}
	return nil
}

// rejection turns a refusal into a Rejection naming the column at fault; any other error
// (the store failing, an invariant) is not one.
func rejection(err error, fields map[string]string) (Rejection, bool) {
	var re *rowErr
	if errors.As(err, &re) {
		return Rejection{Column: re.column, Reason: re.reason}, true
	}
	if !refusal(err) {
		return Rejection{}, false
	}
	var iv *domain.InvalidValueError
	var dn *domain.DateNotAllowedError
	var cm *domain.CurrencyMismatchError
	switch {
	case errors.As(err, &iv):
		return Rejection{Column: fields[iv.Field], Reason: err.Error()}, true
	case errors.As(err, &dn):
		return Rejection{Column: fields[dn.Field], Reason: fmt.Sprintf("%s %s %s", dn.Field, dn.Date, dn.Reason)}, true
	case errors.As(err, &cm):
		return Rejection{Column: fields["currency"], Reason: err.Error()}, true
	}
	return Rejection{Reason: err.Error()}, true
}

// refusal reports whether err is the domain refusing a command (not an invariant broken).
func refusal(err error) bool {
	if errors.Is(err, domain.ErrInvariant) {
		return false
	}
	return errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrRejected)
}

// duplicates returns the values of column col that more than one row has.
func duplicates(rows []Row, col string) map[string]bool {
	seen, dup := map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		if v := r.Get(col); v != "" {
			dup[v], seen[v] = seen[v], true
		}
	}
	return dup
}
