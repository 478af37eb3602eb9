package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dotmac/ledger/internal/pgtest"
)

// TestBillingRunCommand bills the worked import's June: three customers invoiced, and running
// it again reports the completed run and creates nothing.
//
// Not parallel: logging.New sets zerolog's globals, which another command run at once would race.
func TestBillingRunCommand(t *testing.T) { //nolint:paralleltest // see above
	dbURL := pgtest.SchemaURL(t)
	out, code := runCLI(t, importArgs(t, dbURL, exampleFileArgs()...)...)
	assert.Equal(t, 0, code, out)

	args := []string{"billing", "run", "--database-url", dbURL, "--data-dir", t.TempDir(), "--log-level", "warn",
		"--tenant", "examples", "--period", "2026-06"}
	out, code = runCLI(t, args...)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "billing run 2026-06 of examples: completed, 3 customers invoiced, 0 skipped\n")

	out, code = runCLI(t, args...)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "completed, 3 customers invoiced, 0 skipped (nothing new: the run was complete already)")

	out, code = runCLI(t, append(args[:len(args)-1], "2026-13")...)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "--period")
}
