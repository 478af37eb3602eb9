package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestOutageCodesAnswer503OnEveryStep: every SQLSTATE that means the database is out for a while
// (read-only, out of resources, connection trouble) or busy (contention), raised by the real
// server on the idempotency claim, on the append or on the key recorded with it, answers 503 with Retry-After and names the
// cause; a permanent error stays a 500.
func TestOutageCodesAnswer503OnEveryStep(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		outageCodesAnswer503(t, newEnv(t))
	})
}

func outageCodesAnswer503(t *testing.T, e *env) {
	tok := e.token("acme")
	causes := map[string]string{
		"25006": "read-only", "53100": "out-of-resources", "53200": "out-of-resources", "53300": "out-of-resources",
		"58030": "out-of-resources", "08006": "connection", "57P01": "connection",
		"40001": "contention", "40P01": "contention", "55P03": "contention", "57014": "contention",
	}
	tables := []string{"es_events", "es_append_keys"} // the key goes with the events
	if e.claims {
		tables = []string{"cmd_idempotency", "es_events"}
	}
	for _, table := range tables {
		for code, cause := range causes {
			failInserts(t, e, table, code)
			r := e.post(tok, "/v1/customers", customerBody())
			require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s on %s: %s", code, table, r.Body)
			retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
			require.NoError(t, err, "%s on %s", code, table)
			assert.Positive(t, retry, "%s on %s", code, table)
			assert.Equal(t, cause, r.JSON(t)["cause"], "%s on %s", code, table)
		}
		failInserts(t, e, table, "42501")
		e.validate = false // the document lists no 500
		assert.Equal(t, http.StatusInternalServerError, e.post(tok, "/v1/customers", customerBody()).Status, "42501 on %s", table)
		e.validate = true
		_, err := e.pool.Exec(context.Background(), "DROP TRIGGER fail ON "+table)
		require.NoError(t, err)
	}
	e.must(http.StatusCreated, tok, "/v1/customers", customerBody())
}

// failInserts makes every insert into table raise code.
func failInserts(t *testing.T, e *env, table, code string) {
	t.Helper()
	ctx := context.Background()
	_, err := e.pool.Exec(ctx, fmt.Sprintf(`CREATE OR REPLACE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'injected %s' USING ERRCODE = '%s'; END $$`, code, code))
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, "CREATE OR REPLACE TRIGGER fail BEFORE INSERT ON "+table+" FOR EACH ROW EXECUTE FUNCTION fail()")
	require.NoError(t, err)
}

// TestReadOnlyDatabaseAnswers503: while the database refuses writes, a command answers 503 with
// Retry-After saying the database is read-only; once it accepts writes the same request runs.
func TestReadOnlyDatabaseAnswers503(t *testing.T) {
	t.Parallel()
	url := pgtest.DatabaseURL(t)
	e := newEnvOn(t, pgtest.PoolOn(t, url, postgres.MigrationSet(), pgstore.MigrationSet()))
	tok := e.token("acme")
	e.must(http.StatusCreated, tok, "/v1/customers", customerBody())

	pgtest.SetReadOnly(t, url, true)
	e.pool.Reset() // the sessions were ended; new ones are read-only
	key := uuid.NewString()
	r := e.must(http.StatusServiceUnavailable, tok, "/v1/customers", customerBody(), api.HeaderIdempotencyKey, key)
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	assert.Equal(t, "read-only", r.JSON(t)["cause"])

	pgtest.SetReadOnly(t, url, false)
	e.pool.Reset()
	e.must(http.StatusCreated, tok, "/v1/customers", customerBody(), api.HeaderIdempotencyKey, key)
}
