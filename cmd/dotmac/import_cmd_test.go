package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/csvimport"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/pgtest"
)

// exampleImport holds the worked import of docs/billing-calendar.md.
const exampleImport = "../../docs/examples/import"

// runCLI runs dotmac with args in this process and returns its output and exit status.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root, _ := newRoot()
	var out bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.ExecuteContext(context.Background())
	var ec exitCoder
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ec):
		return out.String(), ec.ExitCode()
	}
	return out.String() + err.Error(), 1
}

func importArgs(t *testing.T, dbURL string, extra ...string) []string {
	t.Helper()
	return append([]string{"import", "--database-url", dbURL, "--data-dir", t.TempDir(), "--log-level", "warn",
		"--tenant", "examples"}, extra...)
}

func exampleFileArgs() []string {
	return []string{"--plans", filepath.Join(exampleImport, "plans.csv"), "--customers", filepath.Join(exampleImport, "customers.csv"),
		"--services", filepath.Join(exampleImport, "services.csv"), "--opening-balances", filepath.Join(exampleImport, "opening-balances.csv")}
}

// exampleOutput is what the worked import prints (docs/billing-calendar.md shows it).
const exampleOutput = `FILE                    ROWS   CREATED   UNCHANGED   REJECTED
plans.csv                  4         4           0          0
customers.csv              3         3           0          0
services.csv               5         5           0          0
opening-balances.csv       3         2           1          0
events appended: 19
`

// TestImportCommand runs the worked import: a dry run, the import, and a re-import that
// appends nothing, each exiting 0.
//
// Not parallel: logging.New sets zerolog's globals, which another command run at once would race.
func TestImportCommand(t *testing.T) { //nolint:paralleltest // see above

	dbURL := pgtest.SchemaURL(t)
	out, code := runCLI(t, importArgs(t, dbURL, append(exampleFileArgs(), "--dry-run")...)...)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "events appended: 19 (dry run: nothing was recorded)")

	out, code = runCLI(t, importArgs(t, dbURL, exampleFileArgs()...)...)
	assert.Equal(t, 0, code, out)
	assert.Equal(t, exampleOutput, out)

	out, code = runCLI(t, importArgs(t, dbURL, exampleFileArgs()...)...)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "opening-balances.csv       3         0           3          0\nevents appended: 0\n")

	// The opening balance is dated May 31, though recorded today: as-of goes by business date.
	tenant, err := domain.ParseTenantID("examples")
	require.NoError(t, err)
	ada, err := csvimport.CustomerID(tenant, "C-1001")
	require.NoError(t, err)
	auditArgs := []string{"audit", "as-of", "--database-url", dbURL, "--data-dir", t.TempDir(), "--log-level", "warn",
		"--tenant", "examples", "--customer", ada.String(), "--date", "2026-05-31"}
	out, code = runCLI(t, auditArgs...)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "balance 120.50 USD")
	assert.Contains(t, out, "balance by business date: the journal entries dated up to 2026-05-31, whenever recorded")
	out, code = runCLI(t, append(auditArgs, "--json")...)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, `"balance_by": "business_date"`)
}

// TestImportCommandRejects exits 2 and writes the rejected rows to --report; an unreadable
// file or no file at all exits 1.
func TestImportCommandRejects(t *testing.T) { //nolint:paralleltest // as TestImportCommand

	dbURL := pgtest.SchemaURL(t)
	dir := t.TempDir()
	services := filepath.Join(dir, "services.csv")
	require.NoError(t, os.WriteFile(services, []byte(
		"external_id,customer_external_id,plan_code,start_date,install_address\n"+
			"S-1,C-1001,fibre_1g,2026-05-01,1 Way\n"), 0o600))
	report := filepath.Join(dir, "rejected.csv")
	out, code := runCLI(t, importArgs(t, dbURL, "--customers", filepath.Join(exampleImport, "customers.csv"),
		"--services", services, "--report", report)...)
	assert.Equal(t, 2, code, out)
	want := "services.csv line 2, column plan_code: unknown plan fibre_1g: not in the plans file, nor defined in the ledger"
	assert.Contains(t, out, "rejected rows:\n  "+want+"\n")
	data, err := os.ReadFile(report) // #nosec G304 -- the test's file
	require.NoError(t, err)
	assert.Equal(t, "file,line,column,reason\nservices.csv,2,plan_code,\"unknown plan fibre_1g: not in the plans file, nor defined in the ledger\"\n",
		string(data))

	broken := filepath.Join(dir, "customers.csv")
	require.NoError(t, os.WriteFile(broken, []byte("external_id,name,shoe_size\n"), 0o600))
	out, code = runCLI(t, importArgs(t, dbURL, "--customers", broken)...)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, `customers.csv line 1: unknown column "shoe_size"`)

	out, code = runCLI(t, importArgs(t, dbURL)...)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "nothing to import")
}
