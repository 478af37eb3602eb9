package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestAppendsWaitForTheDiskWhateverTheSession: an append commits with synchronous_commit on
// when its session has it off (a 2xx means the fact is durable), on both of the writer's
// paths (a stream it does not know: two round trips; one it knows: one); a session value that
// already waits for the local flush is left as it is. A trigger on the events' table records
// the value each insert ran under.
func TestAppendsWaitForTheDiskWhateverTheSession(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ session, want string }{
		{"off", "on"},
		{"on", "on"},
		{"local", "local"},
		{"remote_apply", "remote_apply"},
	} {
		t.Run(tc.session, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			url := pgtest.SchemaURL(t) + "&synchronous_commit=" + tc.session
			trips := &appendTrips{}
			s := storeOn(ctx, t, url, trips, postgres.Config{})

			conn, err := pgx.Connect(ctx, url)
			require.NoError(t, err)
			defer func() { _ = conn.Close(ctx) }()
			_, err = conn.Exec(ctx, `CREATE TABLE commit_settings (value text NOT NULL);
CREATE FUNCTION record_commit_setting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO commit_settings VALUES (current_setting('synchronous_commit'));
    RETURN NULL;
END $$;
CREATE TRIGGER record_commit_setting AFTER INSERT ON es_events
    FOR EACH STATEMENT EXECUTE FUNCTION record_commit_setting();`)
			require.NoError(t, err)

			_, err = s.Append(ctx, "acme/customer-1", eventstore.NoStream(), testEvent(1))
			require.NoError(t, err)
			require.Equal(t, int64(2), trips.batches.Load(), "an unknown stream: the lock's round trip, then the insert's")
			_, err = s.Append(ctx, "acme/customer-1", eventstore.Exact(1), testEvent(2))
			require.NoError(t, err)
			require.Equal(t, int64(3), trips.batches.Load(), "a known stream: one round trip")

			rows, err := conn.Query(ctx, `SELECT value FROM commit_settings`)
			require.NoError(t, err)
			seen, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			assert.Equal(t, []string{tc.want, tc.want}, seen, "the synchronous_commit each append's insert ran under")

			var session string
			require.NoError(t, conn.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&session))
			assert.Equal(t, tc.session, session, "the session's own value is untouched")
		})
	}
}
