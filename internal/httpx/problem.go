// Package httpx holds the HTTP plumbing both APIs share: RFC 9457 problem details, request
// ids and logging, panic recovery, body limits, health endpoints and graceful serving.
package httpx

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dotmac/ledger/internal/pgerr"
)

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem details object. Type is a URI naming the kind of problem
// (relative to the API's problem base, e.g. "/problems/validation").
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
	// Extensions are extra members (RFC 9457 §3.2), such as the ids and amounts of a domain
	// rule that was broken. They are written at the top level of the object.
	Extensions map[string]any `json:"-"`
	// RetryAfter, when positive, is sent as the Retry-After header.
	RetryAfter time.Duration `json:"-"`
	// Headers are extra response headers (WWW-Authenticate, ...).
	Headers map[string]string `json:"-"`
}

// FieldError names one invalid field of a request and what is wrong with it.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error makes *Problem usable as an error inside handlers.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
	}
	return fmt.Sprintf("%d %s", p.Status, p.Title)
}

// MarshalJSON writes the standard members and the extensions side by side.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	base, err := json.Marshal(plain(p))
	if err != nil || len(p.Extensions) == 0 {
		return base, err
	}
	ext, err := json.Marshal(p.Extensions)
	if err != nil {
		return nil, err
	}
	if len(ext) <= 2 {
		return base, nil
	}
	out := make([]byte, 0, len(base)+len(ext))
	out = append(out, base[:len(base)-1]...)
	out = append(out, ',')
	return append(out, ext[1:]...), nil
}

// WriteProblem writes p as the response.
func WriteProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.Path
	}
	h := w.Header()
	for k, v := range p.Headers {
		h.Set(k, v)
	}
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((p.RetryAfter+time.Second-1)/time.Second)))
	}
	h.Set("Content-Type", ProblemContentType)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// Common problems.

// BadRequest is a 400 naming every invalid field.
func BadRequest(detail string, fields ...FieldError) *Problem {
	return &Problem{Type: "/problems/validation", Title: "Request is invalid", Status: http.StatusBadRequest, Detail: detail, Errors: fields}
}

// Unauthorized is a 401 with a bearer challenge.
func Unauthorized(detail string) *Problem {
	return &Problem{Type: "/problems/unauthorized", Title: "Authentication required", Status: http.StatusUnauthorized, Detail: detail,
		Headers: map[string]string{"WWW-Authenticate": `Bearer realm="dotmac"`}}
}

// Forbidden is a 403 naming the missing permission.
func Forbidden(permission string) *Problem {
	return &Problem{Type: "/problems/forbidden", Title: "Permission missing", Status: http.StatusForbidden,
		Detail: "this token lacks the permission " + permission, Extensions: map[string]any{"permission": permission}}
}

// NotFound is a 404.
func NotFound(detail string) *Problem {
	return &Problem{Type: "/problems/not-found", Title: "Not found", Status: http.StatusNotFound, Detail: detail}
}

// TooLarge is a 413.
func TooLarge(limit int64) *Problem {
	return &Problem{Type: "/problems/too-large", Title: "Request body too large", Status: http.StatusRequestEntityTooLarge,
		Detail: fmt.Sprintf("the body limit is %d bytes", limit), Extensions: map[string]any{"limit_bytes": limit}}
}

// Unavailable is a 503 with Retry-After.
func Unavailable(detail string, retry time.Duration) *Problem {
	return &Problem{Type: "/problems/unavailable", Title: "Service unavailable", Status: http.StatusServiceUnavailable, Detail: detail, RetryAfter: retry}
}

// Internal is a 500 that reveals nothing but the request id.
func Internal(requestID string) *Problem {
	return &Problem{Type: "/problems/internal", Title: "Internal error", Status: http.StatusInternalServerError,
		Detail: "the error was logged with request id " + requestID}
}

// Mapper turns an error into a problem, or reports that it does not know the error.
type Mapper func(error) (*Problem, bool)

// WriteError maps err through mappers (first match wins), then through the problems this
// package knows; anything else is logged and answered 500. It is the one place an API turns
// errors into HTTP.
func WriteError(w http.ResponseWriter, r *http.Request, err error, mappers ...Mapper) {
	var p *Problem
	if errors.As(err, &p) {
		WriteProblem(w, r, p)
		return
	}
	for _, m := range mappers {
		if p, ok := m(err); ok {
			WriteProblem(w, r, p)
			return
		}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		WriteProblem(w, r, TooLarge(mbe.Limit))
		return
	}
	if p, ok := databaseUnavailable(r, err); ok {
		WriteProblem(w, r, p)
		return
	}
	info := InfoFrom(r.Context())
	LoggerFrom(r.Context()).Error().Err(err).Msg("unhandled error")
	WriteProblem(w, r, Internal(info.RequestID))
}

// OutageRetryAfter is the Retry-After of a 503 answering a database outage.
const OutageRetryAfter = 5 * time.Second

// databaseUnavailable answers an error of the database being unreachable, read-only, out of
// resources or busy (package pgerr sorts them) with a 503 naming the kind, not the database's
// own words, which are logged.
func databaseUnavailable(r *http.Request, err error) (*Problem, bool) {
	kind := pgerr.Of(err)
	if !kind.Retryable() {
		return nil, false
	}
	LoggerFrom(r.Context()).Warn().Err(err).Str("cause", kind.String()).Msg("database unavailable: answered 503")
	p := Unavailable("the database is unavailable ("+kind.String()+"); retry shortly", OutageRetryAfter)
	p.Extensions = map[string]any{"cause": kind.String()}
	return p, true
}

// ErrorID names err for operators without revealing it: the same error gets the same id (a
// hash of its text), so the id an answer carries finds the log lines holding the details.
func ErrorID(err error) string {
	sum := sha256.Sum256([]byte(err.Error()))
	return "err-" + hex.EncodeToString(sum[:8])
}

// Opaque logs err with its ErrorID on the request's logger and returns the id. Use it where
// err may carry another tenant's data (the event a projection stalled on): the answer gives
// the id, never err's text.
func Opaque(r *http.Request, msg string, err error) string {
	id := ErrorID(err)
	LoggerFrom(r.Context()).Error().Err(err).Str("error_id", id).Msg(msg)
	return id
}
