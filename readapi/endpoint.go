package readapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/projections"
)

// Query parameters and headers every endpoint understands.
const (
	paramLimit       = "limit"
	paramCursor      = "cursor"
	paramMinPosition = "min_position"
	paramWait        = "wait"
	headerMinPos     = "X-Min-Position"
	headerPosition   = "X-Ledger-Position"
)

// request is one validated call of an endpoint.
type request struct {
	api    *API
	rt     *route
	http   *http.Request
	tenant string
	// errs collects the invalid parameters; ready reports them all at once.
	errs []httpx.FieldError
	// limit and after (the sort key of the last row of the previous page, nil for the first
	// page) page a list.
	limit int
	after []string
	// minPos is the position the caller must see; wait bounds waiting for it.
	minPos eventstore.Position
	wait   time.Duration
	// position is the checkpoint of rt.projection the answer reflects (set by ready).
	position eventstore.Position
}

// endpoint wraps rt's serve: it validates the common parameters, lets serve validate its own
// and wait (ready), then writes the answer with its ETag and position, or a 304.
func (a *API) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		p, _ := auth.From(hr.Context())
		r := &request{api: a, rt: &rt, http: hr, tenant: p.Tenant, limit: DefaultLimit, wait: a.cfg.Wait}
		r.parseCommon()
		v, err := rt.serve(hr.Context(), r)
		if err != nil {
			r.writeError(w, err)
			return
		}
		r.write(w, v)
	})
}

// parseCommon validates limit, cursor, min_position, wait and refuses unknown parameters.
func (r *request) parseCommon() {
	q := r.http.URL.Query()
	for name := range q {
		known := slices.Contains(r.rt.params, name) || name == paramMinPosition || name == paramWait ||
			(r.rt.list && (name == paramLimit || name == paramCursor))
		if !known {
			r.fail(name, "unknown query parameter for "+r.rt.path)
		}
	}
	if s := q.Get(paramLimit); s != "" && r.rt.list {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			r.fail(paramLimit, fmt.Sprintf("want an integer from 1 to %d", MaxLimit))
		} else {
			r.limit = n
		}
	}
	r.parsePosition(q.Get(paramMinPosition), r.http.Header.Get(headerMinPos))
	if s := q.Get(paramWait); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > r.api.cfg.MaxWait {
			r.fail(paramWait, fmt.Sprintf("want a duration such as 2s or 500ms, at most %s", r.api.cfg.MaxWait))
		} else {
			r.wait = d
		}
	}
	if s := q.Get(paramCursor); s != "" && r.rt.list {
		key, err := decodeCursor(s, r.fingerprint())
		if err != nil {
			r.fail(paramCursor, err.Error())
		}
		r.after = key
	}
}

// parsePosition reads min_position from the query or the X-Min-Position header (the query
// wins; both present and different is an error).
func (r *request) parsePosition(query, header string) {
	parse := func(field, s string) (eventstore.Position, bool) {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 63)
		if err != nil {
			r.fail(field, "want a non-negative integer: a position from a command's response")
			return 0, false
		}
		return eventstore.Position(n), true
	}
	switch {
	case query != "" && header != "" && strings.TrimSpace(query) != strings.TrimSpace(header):
		r.fail(paramMinPosition, "differs from the "+headerMinPos+" header; send one")
	case query != "":
		r.minPos, _ = parse(paramMinPosition, query)
	case header != "":
		r.minPos, _ = parse(headerMinPos, header)
	}
}

// fail records an invalid parameter.
func (r *request) fail(field, reason string) {
	r.errs = append(r.errs, httpx.FieldError{Field: field, Reason: reason})
}

// ready ends validation: it returns a 400 listing every invalid parameter, or waits until
// the endpoint's projection has reached min_position (at least pos too, when given) and
// records the checkpoint the answer will reflect.
func (r *request) ready(ctx context.Context, pos ...eventstore.Position) error {
	if len(r.errs) > 0 {
		slices.SortStableFunc(r.errs, func(a, b httpx.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return httpx.BadRequest("some query parameters are invalid", r.errs...)
	}
	want := r.minPos
	for _, p := range pos {
		want = max(want, p)
	}
	reached, err := r.waitFor(ctx, r.rt.projection, want)
	r.position = reached
	return err
}

// waitFor waits, at most r.wait, until projection has reached want, and returns the checkpoint
// reached; a 504 when it has not in time, a 503 when it cannot answer.
func (r *request) waitFor(ctx context.Context, projection string, want eventstore.Position) (eventstore.Position, error) {
	wctx, cancel := context.WithTimeout(ctx, r.wait)
	defer cancel()
	reached, err := r.api.cfg.Positions.WaitForTenant(wctx, projection, r.tenant, want)
	switch {
	case err == nil:
		return reached, nil
	case ctx.Err() != nil:
		return reached, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return reached, notCaughtUp(projection, want, reached, r.wait)
	}
	return reached, unavailable(r.http, projection, reached, err)
}

// notCaughtUp is the 504 of a min_position not reached in time.
func notCaughtUp(projection string, want, reached eventstore.Position, waited time.Duration) *httpx.Problem {
	p := &httpx.Problem{Type: "/problems/not-caught-up", Title: "Projection has not reached the position",
		Status: http.StatusGatewayTimeout, RetryAfter: time.Second,
		Detail: fmt.Sprintf("the %s read model reached position %d, not %d, within %s; retry, or wait longer with ?wait=",
			projection, reached, want, waited),
		Extensions: map[string]any{"projection": projection, "position": reached, "min_position": want},
		Headers:    map[string]string{headerPosition: strconv.FormatUint(uint64(reached), 10)}}
	return p
}

// unavailable is the 503 of a projection that cannot answer for the tenant: it stopped applying
// the tenant's events (a tenant stall, whose error id operators find in the projection's
// status), or it is stalled or not built. The error is never sent: it is logged under the error
// id the answer carries.
func unavailable(hr *http.Request, projection string, reached eventstore.Position, err error) *httpx.Problem {
	var id string
	var ts *projections.TenantStalledError
	if errors.As(err, &ts) {
		id = ts.ErrorID
		httpx.LoggerFrom(hr.Context()).Warn().Str("projection", projection).Str("error_id", id).
			Msg("read model stalled for this tenant: answered 503")
	} else {
		id = httpx.Opaque(hr, "read model "+projection+" cannot answer", err)
	}
	p := httpx.Unavailable(fmt.Sprintf("the %s read model cannot answer now; operators find the cause under error id %s", projection, id), 5*time.Second)
	p.Extensions = map[string]any{"projection": projection, "position": reached, "error_id": id}
	return p
}

// writeError answers err: a *httpx.Problem as is, anything else as a 500 (logged).
func (r *request) writeError(w http.ResponseWriter, err error) {
	if errors.Is(err, context.Canceled) && r.http.Context().Err() != nil {
		return // the client went away
	}
	httpx.WriteError(w, r.http, err)
}

// write sends v as JSON with a strong ETag over the body, or 304 when If-None-Match names
// that ETag. Both carry X-Ledger-Position.
func (r *request) write(w http.ResponseWriter, v any) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		httpx.WriteError(w, r.http, fmt.Errorf("encode %s: %w", r.rt.op, err))
		return
	}
	sum := sha256.Sum256(body.Bytes())
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set(headerPosition, strconv.FormatUint(uint64(r.position), 10))
	h.Set("Cache-Control", "private, no-cache")
	h.Set("Vary", "Authorization")
	if matchesETag(r.http.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(body.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body.Bytes())
}

// matchesETag applies If-None-Match's weak comparison (RFC 9110 13.1.2): "*" or any listed
// tag equal to etag once a W/ prefix is dropped.
func matchesETag(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}

// vars returns the path variable name.
func (r *request) vars(name string) string { return mux.Vars(r.http)[name] }

// notFound is the 404 of an id the tenant does not have.
func notFound(what, id string) *httpx.Problem {
	return httpx.NotFound(fmt.Sprintf("no %s %s", what, id))
}
