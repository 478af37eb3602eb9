package httpx_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/httpx"
)

// An error no mapper knows is a 500, unless it is the database being unavailable: then a 503
// naming the kind, with Retry-After, and never the database's own words.
func TestWriteErrorAnswersOutagesWith503(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		status int
		cause  string
	}{
		{fmt.Errorf("list customers: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}), 503, "connection"},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), 503, "connection"},
		{&pgconn.PgError{Code: "53100", Message: "could not extend file: No space left on device"}, 503, "out-of-resources"},
		{&pgconn.PgError{Code: "40001"}, 503, "contention"},
		{&pgconn.PgError{Code: "42P01", Message: "relation does not exist"}, 500, ""},
		{errors.New("a bug"), 500, ""},
	} {
		w := httptest.NewRecorder()
		httpx.WriteError(w, httptest.NewRequest(http.MethodGet, "/v1/x", nil), tc.err)
		require.Equal(t, tc.status, w.Code, "%v", tc.err)
		if tc.status == 503 {
			require.Equal(t, "5", w.Header().Get("Retry-After"))
			require.Contains(t, w.Body.String(), `"cause":"`+tc.cause+`"`)
			var pg *pgconn.PgError
			if errors.As(tc.err, &pg) && pg.Message != "" {
				require.NotContains(t, w.Body.String(), pg.Message, "the database's words stay in the log")
			}
		}
	}
}
