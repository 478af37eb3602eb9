package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutageCodesAnswer503OnEveryStep: every SQLSTATE that means the database is out for a while
// (read-only, out of resources, connection trouble) or busy (contention), raised by the real
// server on the idempotency claim or on the append, answers 503 with Retry-After and names the
// cause; a permanent error stays a 500.
func TestOutageCodesAnswer503OnEveryStep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	causes := map[string]string{
		"25006": "read-only", "53100": "out-of-resources", "53200": "out-of-resources", "53300": "out-of-resources",
		"58030": "out-of-resources", "08006": "connection", "57P01": "connection",
		"40001": "contention", "40P01": "contention", "55P03": "contention", "57014": "contention",
	}
	for _, table := range []string{"cmd_idempotency", "es_events"} {
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
