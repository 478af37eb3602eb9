package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// seeded returns a store holding a generated history of customers customers over months
// months, and its pool.
func seeded(t testing.TB, customers, months int) (*postgres.Store, *pgxpool.Pool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := pgtest.Pool(t, postgres.MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	evs, err := readmodeltest.Generate(domainsim.Config{Tenants: []domainsim.Tenant{{Name: "demo", Currency: "USD"}},
		Customers: customers, Months: months, Seed: 42, GraceDays: 14})
	require.NoError(t, err)
	_, err = readmodeltest.AppendTo(ctx, store, evs)
	require.NoError(t, err)
	return store, pool
}

func verify(t *testing.T, store eventstore.Store) *audit.Report {
	t.Helper()
	return verifyWith(t, store, audit.VerifyOptions{DensePositions: true})
}

func verifyWith(t *testing.T, store eventstore.Store, o audit.VerifyOptions) *audit.Report {
	t.Helper()
	r, err := audit.New(store).Verify(context.Background(), o)
	require.NoError(t, err)
	return r
}

func TestVerifyCleanHistory(t *testing.T) {
	t.Parallel()
	store, _ := seeded(t, 25, 6)
	r := verify(t, store)
	assert.True(t, r.OK, "findings: %v", r.Findings)
	assert.Empty(t, r.Findings)
	head, err := store.Head(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int(head), r.Events)
	assert.Nil(t, r.Accounts, "accounts are folded only in deep mode")
	deep := verifyWith(t, store, audit.VerifyOptions{DensePositions: true, Deep: true})
	assert.True(t, deep.OK, "findings: %v", deep.Findings)
	require.NotNil(t, deep.Accounts)
	assert.Equal(t, 25, *deep.Accounts)
	assert.Equal(t, []audit.NotChecked{{Check: "signed checkpoints", RunBy: "the signed checkpoints (the database, or an export with --export)"}},
		deep.NotChecked, "a deep verification without checkpoints leaves only them out")
	assert.Equal(t, r.TrialBalance, deep.TrialBalance)
	assert.NotEmpty(t, r.TrialBalance)
	assert.Len(t, r.FeedDigest, 64)
	assert.Equal(t, r.FeedDigest, verify(t, store).FeedDigest, "the digest is reproducible")

	// A store that can only read in feed order (KurrentDB) gets the same report.
	inOrder := verifyWith(t, feedOnly{store}, audit.VerifyOptions{DensePositions: true, Deep: true})
	assert.Equal(t, r.FeedDigest, inOrder.FeedDigest)
	assert.Equal(t, r.Events, inOrder.Events)
	assert.Equal(t, r.Streams, inOrder.Streams)
	assert.Equal(t, deep.Accounts, inOrder.Accounts)
	assert.Equal(t, r.TrialBalance, inOrder.TrialBalance)
	assert.Empty(t, inOrder.Findings)
}

// feedOnly hides the store's stream-order reads, as a KurrentDB store would.
type feedOnly struct{ eventstore.Store }

// tamper runs sql with the append-only triggers bypassed, as an attacker with superuser
// rights could.
func tamper(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, "SET LOCAL session_replication_role = replica")
	require.NoError(t, err)
	tag, err := tx.Exec(ctx, sql, args...)
	require.NoError(t, err)
	require.Positive(t, tag.RowsAffected(), "tampering changed nothing: %s", sql)
	require.NoError(t, tx.Commit(ctx))
}

// target picks the n-th PaymentRecorded event (not the last of its stream).
type target struct {
	position int64
	stream   string
	version  uint64
}

func pick(t *testing.T, pool *pgxpool.Pool, eventType string) target {
	t.Helper()
	var tg target
	var version int64
	err := pool.QueryRow(context.Background(), `
		SELECT e.position, e.stream_id, e.version FROM es_events e
		WHERE e.type = $1 AND EXISTS (SELECT 1 FROM es_events n WHERE n.stream_id = e.stream_id AND n.version = e.version + 1)
		ORDER BY e.position LIMIT 1 OFFSET 3`, eventType).Scan(&tg.position, &tg.stream, &version)
	require.NoError(t, err)
	tg.version = uint64(version) //nolint:gosec // positive
	return tg
}

// firstFinding returns the first finding about stream.
func firstFinding(r *audit.Report, stream string) (audit.Finding, bool) {
	for _, f := range r.Findings {
		if f.Stream == stream {
			return f, true
		}
	}
	return audit.Finding{}, false
}

// TestVerifyReportsWhatItDidNotCheck: without --deep the report has no account count (no zero
// for what was not counted) and names each check left out with the flag that runs it.
func TestVerifyReportsWhatItDidNotCheck(t *testing.T) {
	t.Parallel()
	store, _ := seeded(t, 3, 2)
	r := verifyWith(t, store, audit.VerifyOptions{Tenant: "demo"})
	raw, err := json.Marshal(r)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.NotContains(t, m, "accounts")
	assert.Contains(t, r.NotChecked, audit.NotChecked{Check: "account folds", RunBy: "--deep"})
	assert.Contains(t, r.NotChecked, audit.NotChecked{Check: "dense global positions", RunBy: "the PostgreSQL backend, without --tenant"})
	assert.NotContains(t, r.Checks, "account folds")
}

func TestVerifyCatchesTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tamper  func(t *testing.T, pool *pgxpool.Pool, tg target)
		kind    string
		version func(tg target) uint64
	}{
		{"changed amount", func(t *testing.T, pool *pgxpool.Pool, tg target) {
			tamper(t, pool, `UPDATE es_events SET data = regexp_replace(data::text, '"amount":"([0-9]+)\.', '"amount":"1\1.')::json WHERE position = $1`, tg.position)
		}, audit.FindingHashMismatch, func(tg target) uint64 { return tg.version }},
		{"deleted event", func(t *testing.T, pool *pgxpool.Pool, tg target) {
			tamper(t, pool, `DELETE FROM es_events WHERE position = $1`, tg.position)
		}, audit.FindingVersionGap, func(tg target) uint64 { return tg.version + 1 }},
		{"two events swapped", func(t *testing.T, pool *pgxpool.Pool, tg target) {
			tamper(t, pool, `UPDATE es_events e SET type = o.type, data = o.data, metadata = o.metadata, event_id = gen_random_uuid()
				FROM es_events o WHERE e.stream_id = $1 AND o.stream_id = $1
				AND ((e.version = $2 AND o.version = $2 + 1) OR (e.version = $2 + 1 AND o.version = $2))`, tg.stream, int64(tg.version)) //nolint:gosec // small
		}, audit.FindingHashMismatch, func(tg target) uint64 { return tg.version }},
		{"changed hash", func(t *testing.T, pool *pgxpool.Pool, tg target) {
			tamper(t, pool, `UPDATE es_events SET hash = sha256('forged'::bytea) WHERE position = $1`, tg.position)
		}, audit.FindingHashMismatch, func(tg target) uint64 { return tg.version }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, pool := seeded(t, 12, 4)
			tg := pick(t, pool, "PaymentRecorded")
			tc.tamper(t, pool, tg)
			for _, st := range []eventstore.Store{store, feedOnly{store}} {
				for _, deep := range []bool{false, true} {
					r := verifyWith(t, st, audit.VerifyOptions{DensePositions: true, Deep: deep})
					checkTamperFound(t, r, tg, tc.kind, tc.version(tg))
				}
			}
		})
	}
}

func checkTamperFound(t *testing.T, r *audit.Report, tg target, kind string, version uint64) {
	t.Helper()
	require.False(t, r.OK)
	f, ok := firstFinding(r, tg.stream)
	require.True(t, ok, "no finding names stream %s: %v", tg.stream, r.Findings)
	assert.Equal(t, kind, f.Kind, f.String())
	assert.Equal(t, version, f.Version, f.String())
	for _, other := range r.Findings {
		if other.Stream != "" && other.Stream != tg.stream {
			t.Errorf("a finding names an untouched stream: %s", other)
		}
	}
	t.Log(fmt.Sprint(r.Findings))
}

func jsonField(t *testing.T, data []byte, field string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	s, _ := m[field].(string)
	return s
}
