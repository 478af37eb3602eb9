package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// apiError is a non-2xx answer of the API a page called: its status becomes the page's.
type apiError struct {
	Status int
	Title  string
	Detail string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Title, e.Detail) }

// Fixed errors of the console itself.
var (
	errNotFound      = &apiError{Status: http.StatusNotFound, Title: "Not found", Detail: "There is no such page, or nothing with that id in your tenant."}
	errSignedOut     = &apiError{Status: http.StatusUnauthorized, Title: "Signed out", Detail: "Your session has ended: sign in again."}
	errForgedPost    = &apiError{Status: http.StatusForbidden, Title: "Refused", Detail: "This form did not come from a console page of this session: reload the page and try again."}
	errOperatorsOnly = &apiError{Status: http.StatusForbidden, Title: "Operators only", Detail: "This page needs an operator token (dotmac token --operator)."}
	errTenantsOnly   = &apiError{Status: http.StatusForbidden, Title: "Tenants only", Detail: "An operator token reads no tenant's data: sign in with a tenant token for this page."}
)

// recorder is the in-process answer of an API call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	// limit bounds the body kept (maxAPIBody); over is set once the answer passed it, and
	// nothing after it was kept.
	limit int
	over  bool
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// Write keeps at most maxAPIBody bytes of the answer: an answer over it fails the handler's
// write instead of growing the buffer.
func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.over || r.body.Len()+len(p) > r.limit {
		r.over = true
		return 0, errAnswerTooLarge
	}
	return r.body.Write(p)
}

// errAnswerTooLarge is what an API handler's write gets once its answer passed maxAPIBody.
var errAnswerTooLarge = errors.New("answer over the console's limit")

// maxAPIBody bounds what a page reads of one API answer, in bytes.
const maxAPIBody = 64 << 20

// do calls the API h in process as the signed-in user (their bearer token) and returns the
// answer; a non-2xx is an *apiError carrying the problem's title and detail.
func (v *view) do(r *http.Request, h http.Handler, method, path string, body any) (*recorder, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+v.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}, limit: maxAPIBody}
	h.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.over {
		return nil, fmt.Errorf("%s %s: answer over %d bytes", method, path, maxAPIBody)
	}
	if rec.status >= 300 {
		return rec, problemOf(rec)
	}
	return rec, nil
}

func problemOf(rec *recorder) *apiError {
	var p struct{ Title, Detail string }
	_ = json.Unmarshal(rec.body.Bytes(), &p)
	if p.Title == "" {
		p.Title = http.StatusText(rec.status)
	}
	return &apiError{Status: rec.status, Title: p.Title, Detail: p.Detail}
}

// get calls GET path on the query API and decodes the JSON answer into out.
func (v *view) get(r *http.Request, path string, out any) error {
	return v.call(r, v.c.cfg.Query, http.MethodGet, path, nil, out)
}

// call calls the API h and decodes the JSON answer into out (unless nil).
func (v *view) call(r *http.Request, h http.Handler, method, path string, body, out any) error {
	rec, err := v.do(r, h, method, path, body)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return nil
}

// page is a list endpoint's answer.
type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// maxPages bounds how many pages a page follows of one list (each of up to 500 items).
const maxPages = 20

// getAll follows a list's cursors, at most maxPages pages of 500, and reports whether the list
// was cut.
func getAll[T any](v *view, r *http.Request, path string) ([]T, bool, error) {
	var out []T
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	cursor := ""
	for range maxPages {
		p := path + sep + "limit=500"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var pg page[T]
		if err := v.get(r, p, &pg); err != nil {
			return nil, false, err
		}
		out = append(out, pg.Items...)
		if pg.NextCursor == nil {
			return out, false, nil
		}
		cursor = *pg.NextCursor
	}
	return out, true, nil
}

// asAPIError finds the API's answer in err.
func asAPIError(err error) (*apiError, bool) {
	var e *apiError
	ok := errors.As(err, &e)
	return e, ok
}
