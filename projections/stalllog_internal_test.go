package projections

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// commitTxFake is a pgx.Tx whose Commit answers err (the other methods are not used).
type commitTxFake struct {
	pgx.Tx
	err error
}

func (f *commitTxFake) Commit(context.Context) error   { return f.err }
func (f *commitTxFake) Rollback(context.Context) error { return nil }

// TestStallsLoggedOnlyAfterCommit: a stall recorded in a transaction whose commit fails is never
// logged (its error id exists in no table); one whose commit succeeds is logged once; a rolled
// back transaction's stalls are forgotten.
func TestStallsLoggedOnlyAfterCommit(t *testing.T) {
	var buf bytes.Buffer
	r := &Runtime{log: zerolog.New(&buf)}
	ctx := context.Background()

	failed := &commitTxFake{err: errors.New("connection reset")}
	r.stallLogs.add(failed, []TenantStall{{Projection: "p", Tenant: "acme", ErrorID: "err-lost"}})
	require.Error(t, r.commitTx(ctx, failed))
	assert.Empty(t, buf.String(), "a failed commit logs no stall")

	rolled := &commitTxFake{}
	r.stallLogs.add(rolled, []TenantStall{{Projection: "p", Tenant: "acme", ErrorID: "err-rolled"}})
	r.rollbackTx(ctx, rolled)
	assert.Empty(t, buf.String(), "a rolled back transaction logs no stall")

	ok := &commitTxFake{}
	r.stallLogs.add(ok, []TenantStall{{Projection: "p", Tenant: "acme", ErrorID: "err-kept"}})
	require.NoError(t, r.commitTx(ctx, ok))
	assert.Contains(t, buf.String(), "err-kept")
	assert.NotContains(t, buf.String(), "err-lost")
	assert.NotContains(t, buf.String(), "err-rolled")
	assert.Empty(t, r.stallLogs.m, "nothing left behind")
}
