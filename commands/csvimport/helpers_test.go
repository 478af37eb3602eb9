package csvimport_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/csvimport"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// importDay is when the tests import: June 25, 2026 (the examples' opening balances are as
// of May 31, and June is billed after the import).
var importDay = time.Date(2026, 6, 25, 10, 0, 0, 0, time.UTC)

func clock() time.Time { return importDay }

// exampleDir holds the worked import of docs/billing-calendar.md.
const exampleDir = "../../docs/examples/import"

// ledger is a fresh event store (own schema) and the handlers and import config over it.
type ledger struct {
	t      *testing.T
	store  *postgres.Store
	h      *commands.Handlers
	cfg    csvimport.Config
	tenant domain.TenantID
}

func newLedger(t *testing.T) *ledger {
	t.Helper()
	pool := pgtest.Pool(t, postgres.MigrationSet(), pgstore.MigrationSet())
	store, err := postgres.Open(context.Background(), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	tenant, err := domain.ParseTenantID("examples")
	require.NoError(t, err)
	numbers, index := pgstore.NewNumbers(pool, pgstore.Options{}), pgstore.NewIndex(pool, store)
	h, err := commands.New(commands.Config{Store: store, Numbers: numbers, Index: index, Now: clock})
	require.NoError(t, err)
	return &ledger{t: t, store: store, h: h, tenant: tenant,
		cfg: csvimport.Config{Store: store, Numbers: numbers, Index: index, Tenant: tenant, Now: clock}}
}

// exampleFiles opens the worked import's files.
func exampleFiles(t *testing.T) csvimport.Files {
	t.Helper()
	open := func(name string) *csvimport.File {
		data, err := os.ReadFile(filepath.Join(exampleDir, name))
		require.NoError(t, err)
		return &csvimport.File{Name: name, Data: strings.NewReader(string(data))}
	}
	return csvimport.Files{Plans: open("plans.csv"), Customers: open("customers.csv"), Services: open("services.csv"),
		OpeningBalances: open("opening-balances.csv")}
}

// text is a file of the given content.
func text(name string, lines ...string) *csvimport.File {
	return &csvimport.File{Name: name, Data: strings.NewReader(strings.Join(lines, "\n") + "\n")}
}

func (l *ledger) run(files csvimport.Files, dry bool) csvimport.Summary {
	l.t.Helper()
	cfg := l.cfg
	cfg.DryRun = dry
	sum, err := csvimport.Run(context.Background(), cfg, files)
	require.NoError(l.t, err)
	return sum
}

func (l *ledger) account(external string) domain.AccountState {
	l.t.Helper()
	id, err := csvimport.CustomerID(l.tenant, external)
	require.NoError(l.t, err)
	a, _, err := l.h.Account(context.Background(), l.tenant, id)
	require.NoError(l.t, err)
	return a
}

func (l *ledger) balance(external string) string {
	l.t.Helper()
	b, err := l.account(external).Balance()
	require.NoError(l.t, err)
	return b.AmountString()
}

func (l *ledger) service(external string) domain.ServiceState {
	l.t.Helper()
	id, err := csvimport.ServiceID(l.tenant, external)
	require.NoError(l.t, err)
	s, _, err := l.h.Service(context.Background(), l.tenant, id)
	require.NoError(l.t, err)
	return s
}

func (l *ledger) head() uint64 {
	l.t.Helper()
	h, err := l.store.Head(context.Background())
	require.NoError(l.t, err)
	return uint64(h)
}

func (l *ledger) bill(period string) commands.BillingRunResult {
	l.t.Helper()
	p, err := domain.ParsePeriod(period)
	require.NoError(l.t, err)
	res, err := l.h.RunBilling(context.Background(), commands.Meta{Tenant: l.tenant, Actor: "test"}, commands.RunBilling{Period: p, DueDays: 14})
	require.NoError(l.t, err)
	return res
}
