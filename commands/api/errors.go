package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/internal/pgerr"
)

// retryAfterUnavailable is the Retry-After of a 503.
const retryAfterUnavailable = 2 * time.Second

// problemFor is the one table that turns the errors of rt's command (requested by hr) into
// problems (besides the *httpx.Problem values the request checks return, and the 401/403 of
// package auth). Anything it does not know is a 500, logged with the request id.
func problemFor(rt route, hr *http.Request) httpx.Mapper {
	return func(err error) (*httpx.Problem, bool) {
		var conflict *commands.ConflictError
		switch {
		case errors.Is(err, commands.ErrUndecodable):
			return undecodable(hr, err), true
		case errors.Is(err, domain.ErrInvariant):
			return nil, false // broken history or a bug: 500
		case errors.Is(err, commands.ErrKeyReused):
			return &httpx.Problem{Type: "/problems/idempotency-key-reused", Title: "Idempotency key reused", Status: http.StatusUnprocessableEntity,
				Detail: "this Idempotency-Key was used with another request (method, path or body); use a new key for a new request"}, true
		case errors.Is(err, commands.ErrKeyInProgress):
			return &httpx.Problem{Type: "/problems/idempotency-key-in-progress", Title: "Request in progress", Status: http.StatusConflict,
				Detail: "a request with this Idempotency-Key is still running; retry later to get its response", RetryAfter: time.Second}, true
		case errors.As(err, &conflict):
			return &httpx.Problem{Type: "/problems/conflict", Title: "Version conflict", Status: http.StatusConflict, Detail: conflict.Error(),
				Extensions: map[string]any{"stream_version": conflict.Actual, "expected_version": conflict.Expected}}, true
		case errors.Is(err, domain.ErrNotFound):
			return notFound(err), true
		case errors.Is(err, domain.ErrInvalid):
			return invalid(rt, err), true
		case errors.Is(err, domain.ErrRejected):
			return rejected(rt, err), true
		case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
			return unavailable(err), true
		}
		return nil, false
	}
}

// unavailable is the 503 of an outage, saying which kind (package pgerr sorts them) without
// revealing the database's own words; every kind can be retried with the same key.
func unavailable(err error) *httpx.Problem {
	const retry = "; retry with the same Idempotency-Key"
	kind := pgerr.Of(err)
	var detail string
	switch kind {
	case pgerr.ReadOnly:
		detail = "the database is read-only (a standby, or writes are switched off), so nothing was written"
	case pgerr.OutOfResources:
		detail = "the database is out of resources (disk, memory or connections)"
	case pgerr.Contention:
		detail = "the database was busy with conflicting work"
	case pgerr.Cancelled:
		detail = "the command did not finish in time"
	default:
		detail = "the event store is unavailable"
	}
	p := httpx.Unavailable(detail+retry, retryAfterUnavailable)
	p.Extensions = map[string]any{"cause": kind.String()}
	return p
}

// undecodable is the 503 of a command on a stream holding an event this binary cannot decode:
// nothing is written, and nothing of the event is told (its stream, version or data); the
// error is logged under the error id the answer carries.
func undecodable(hr *http.Request, err error) *httpx.Problem {
	id := httpx.Opaque(hr, "command on a stream with an undecodable event", err)
	p := httpx.Unavailable("a stored event this command depends on cannot be read, so nothing was written; "+
		"operators find the cause under error id "+id, retryAfterUnavailable)
	p.Extensions = map[string]any{"error_id": id}
	return p
}

func notFound(err error) *httpx.Problem {
	p := httpx.NotFound(err.Error())
	var nf *domain.NotFoundError
	if errors.As(err, &nf) {
		p.Extensions = map[string]any{"entity": nf.Entity, "id": nf.ID}
	}
	return p
}

// invalid is a 400 naming the field the domain refused, in the endpoint's JSON terms.
func invalid(rt route, err error) *httpx.Problem {
	var iv *domain.InvalidValueError
	if !errors.As(err, &iv) {
		return httpx.BadRequest(err.Error())
	}
	return httpx.BadRequest("1 invalid field(s)", httpx.FieldError{Field: fieldName(rt, iv.Field), Reason: reasonOf(iv)})
}

// fieldName turns a domain field name ("billing address") into the endpoint's JSON name.
func fieldName(rt route, domainField string) string {
	if alias, ok := rt.aliases[domainField]; ok {
		return alias
	}
	return strings.ReplaceAll(strings.ToLower(domainField), " ", "_")
}

// rejected is a 422 carrying the typed domain error's fields as problem extensions, e.g.
// {"rule": "refund-exceeds-payment", "payment": "…", "requested": {…}, "refundable": {…}}; a
// field the error names (a date not allowed) is given in the endpoint's JSON terms.
func rejected(rt route, err error) *httpx.Problem {
	p := &httpx.Problem{Type: "/problems/rule", Title: "Domain rule broken", Status: http.StatusUnprocessableEntity, Detail: err.Error()}
	for e := err; e != nil; e = errors.Unwrap(e) {
		v := reflect.ValueOf(e)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct || v.Elem().Type().PkgPath() != domainPkg {
			continue
		}
		name := strings.TrimSuffix(v.Elem().Type().Name(), "Error")
		p.Type, p.Title = "/problems/"+kebab(name, '-'), sentence(name)
		p.Extensions = details(v.Elem(), strings.SplitN(kebab(name, '_'), "_", 2)[0])
		p.Extensions["rule"] = kebab(name, '_')
		if f, ok := p.Extensions["field"].(string); ok {
			p.Extensions["field"] = fieldName(rt, f)
		}
		break
	}
	return p
}

var domainPkg = reflect.TypeFor[domain.NotFoundError]().PkgPath()

// problemMembers are the members every problem has; a detail of the same name is prefixed.
var problemMembers = map[string]bool{"type": true, "title": true, "status": true, "detail": true, "instance": true, "errors": true, "rule": true}

// details maps the exported fields of a domain error to JSON-ready values; a field named like a
// problem member is prefixed ("status" of InvoiceNotOpenError is "invoice_status").
func details(v reflect.Value, prefix string) map[string]any {
	out := map[string]any{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		val := v.Field(i).Interface()
		if _, ok := val.(json.Marshaler); !ok {
			if s, ok := val.(fmt.Stringer); ok {
				val = s.String()
			}
		}
		key := kebab(f.Name, '_')
		if problemMembers[key] {
			key = prefix + "_" + key
		}
		out[key] = val
	}
	return out
}

// kebab turns "RefundExceedsPayment" into "refund-exceeds-payment" (sep '-'), and "InvoiceID"
// into "invoice_id" (sep '_').
func kebab(s string, sep rune) string {
	var b strings.Builder
	prev := rune(0)
	for _, r := range s {
		if unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev)) {
			b.WriteRune(sep)
		}
		b.WriteRune(unicode.ToLower(r))
		prev = r
	}
	return b.String()
}

// sentence turns "RefundExceedsPayment" into "Refund exceeds payment".
func sentence(s string) string {
	k := kebab(s, ' ')
	if k == "" {
		return k
	}
	return strings.ToUpper(k[:1]) + k[1:]
}
