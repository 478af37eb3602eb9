package webhooks

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/internal/pgerr"
)

// Paths of the webhook routes.
const (
	PathEndpoints  = "/v1/webhooks/endpoints"
	PathEndpoint   = PathEndpoints + "/{endpoint_id}"
	PathDeliveries = PathEndpoint + "/deliveries"
	PathRedeliver  = PathDeliveries + "/{delivery_id}/redeliver"
)

// Route is one webhook route, for the APIs' documentation tests.
type Route struct {
	Method, Path, Permission, Operation string
}

// CommandRoutes lists the routes MountCommands serves (all POST, all with an
// Idempotency-Key).
func CommandRoutes() []Route {
	return []Route{
		{http.MethodPost, PathEndpoints, auth.WebhooksWrite, "registerWebhookEndpoint"},
		{http.MethodPost, PathEndpoint + "/settings", auth.WebhooksWrite, "updateWebhookEndpoint"},
		{http.MethodPost, PathEndpoint + "/enable", auth.WebhooksWrite, "enableWebhookEndpoint"},
		{http.MethodPost, PathEndpoint + "/disable", auth.WebhooksWrite, "disableWebhookEndpoint"},
		{http.MethodPost, PathEndpoint + "/rotate-secret", auth.WebhooksWrite, "rotateWebhookSecret"},
		{http.MethodPost, PathEndpoint + "/replay", auth.WebhooksWrite, "replayWebhookEndpoint"},
		{http.MethodPost, PathRedeliver, auth.WebhooksWrite, "redeliverWebhook"},
	}
}

// QueryRoutes lists the routes MountQueries serves (all GET).
func QueryRoutes() []Route {
	return []Route{
		{http.MethodGet, PathEndpoints, auth.WebhooksRead, "listWebhookEndpoints"},
		{http.MethodGet, PathEndpoint, auth.WebhooksRead, "getWebhookEndpoint"},
		{http.MethodGet, PathDeliveries, auth.WebhooksRead, "listWebhookDeliveries"},
	}
}

// MountCommands adds the command API's webhook routes to r, behind key's authentication.
func (s *Service) MountCommands(r *mux.Router, key *auth.Key) {
	handlers := map[string]func(w http.ResponseWriter, r *http.Request, c *call) error{
		"registerWebhookEndpoint": s.register, "updateWebhookEndpoint": s.update,
		"enableWebhookEndpoint": s.setEnabled(true), "disableWebhookEndpoint": s.setEnabled(false),
		"rotateWebhookSecret": s.rotate, "replayWebhookEndpoint": s.replayHTTP, "redeliverWebhook": s.redeliver,
	}
	for _, rt := range CommandRoutes() {
		r.Handle(rt.Path, key.Authenticate(auth.Require(rt.Permission, s.handle(handlers[rt.Operation], true)))).Methods(rt.Method)
	}
}

// MountQueries adds the query API's webhook routes to r, behind key's authentication.
func (s *Service) MountQueries(r *mux.Router, key *auth.Key) {
	handlers := map[string]func(w http.ResponseWriter, r *http.Request, c *call) error{
		"listWebhookEndpoints": s.list, "getWebhookEndpoint": s.get, "listWebhookDeliveries": s.deliveries,
	}
	for _, rt := range QueryRoutes() {
		r.Handle(rt.Path, key.Authenticate(auth.Require(rt.Permission, s.handle(handlers[rt.Operation], false)))).Methods(rt.Method)
	}
}

// call is one authenticated request.
type call struct {
	tenant   string
	key      string // Idempotency-Key (POST)
	endpoint uuid.UUID
	body     []byte
}

var idempotencyKeyPattern = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// outageRetry is the Retry-After of a 503 answered during a database outage.
const outageRetry = 2 * time.Second

// bodyLimit bounds a request body.
const bodyLimit = 64 << 10

// handle reads the tenant, the Idempotency-Key and body (post) and the path's endpoint id,
// runs f, and maps its error to a problem.
func (s *Service) handle(f func(w http.ResponseWriter, r *http.Request, c *call) error, post bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.prepare(w, r, post, f); err != nil {
			httpx.WriteError(w, r, err, problemFor)
		}
	})
}

func (s *Service) prepare(w http.ResponseWriter, r *http.Request, post bool, f func(w http.ResponseWriter, r *http.Request, c *call) error) error {
	p, _ := auth.From(r.Context())
	c := &call{tenant: p.Tenant}
	if raw, ok := mux.Vars(r)["endpoint_id"]; ok {
		id, err := uuid.Parse(raw)
		if err != nil {
			return ErrNotFound
		}
		c.endpoint = id
	}
	if post {
		c.key = r.Header.Get("Idempotency-Key")
		if !idempotencyKeyPattern.MatchString(c.key) {
			return httpx.BadRequest("every POST needs an Idempotency-Key header (1 to 255 visible ASCII characters, e.g. a UUID)",
				httpx.FieldError{Field: "Idempotency-Key", Reason: "missing or malformed"})
		}
		c.body = []byte("{}")
		if r.ContentLength != 0 {
			var raw json.RawMessage
			if err := httpx.DecodeJSON(w, r, bodyLimit, &raw); err != nil {
				return err
			}
			c.body = raw
		}
	}
	return f(w, r, c)
}

// problemFor maps the package's errors to problems.
func problemFor(err error) (*httpx.Problem, bool) {
	var fe fieldErr
	switch {
	case errors.Is(err, ErrNotFound):
		return httpx.NotFound("no such webhook endpoint or delivery"), true
	case errors.Is(err, ErrKeyReused):
		return &httpx.Problem{Type: "/problems/idempotency-key-reused", Title: "Idempotency key reused", Status: http.StatusUnprocessableEntity,
			Detail: "this Idempotency-Key was used with another request"}, true
	case errors.Is(err, ErrInFlight):
		return &httpx.Problem{Type: "/problems/conflict", Title: "Delivery in flight", Status: http.StatusConflict,
			Detail: "the delivery is being attempted; redeliver it once the attempt is logged"}, true
	case errors.As(err, &fe):
		return httpx.BadRequest(fe.err.Error(), httpx.FieldError{Field: fe.field, Reason: fe.err.Error()}), true
	}
	if kind := pgerr.Of(err); kind.Retryable() {
		p := httpx.Unavailable("the database is unavailable; retry with the same Idempotency-Key", outageRetry)
		p.Extensions = map[string]any{"cause": kind.String()}
		return p, true
	}
	return nil, false
}

// fieldErr is an invalid field of a request.
type fieldErr struct {
	field string
	err   error
}

func (e fieldErr) Error() string { return e.field + ": " + e.err.Error() }
func (e fieldErr) Unwrap() error { return e.err }

// endpointBody is an endpoint as the APIs show it; Secret only in the answers to a
// registration and a rotation.
type endpointBody struct {
	ID              string   `json:"id"`
	URL             string   `json:"url"`
	Description     string   `json:"description"`
	EventTypes      []string `json:"event_types"`
	Enabled         bool     `json:"enabled"`
	FromPosition    uint64   `json:"from_position"`
	CreatedAt       string   `json:"created_at"`
	UpdatedAt       string   `json:"updated_at"`
	SecretRotatedAt *string  `json:"secret_rotated_at"`
	Failures        int      `json:"consecutive_failures"`
	PausedUntil     *string  `json:"paused_until"`
	Secret          string   `json:"secret,omitempty"`
}

func bodyOf(e Endpoint, secret string) endpointBody {
	types := e.EventTypes
	if types == nil {
		types = []string{}
	}
	return endpointBody{ID: e.ID.String(), URL: e.URL, Description: e.Description, EventTypes: types, Enabled: e.Enabled,
		FromPosition: uint64(e.FromPosition), CreatedAt: instant(e.CreatedAt), UpdatedAt: instant(e.UpdatedAt),
		SecretRotatedAt: instantOrNil(e.SecretRotatedAt), Failures: e.Failures, PausedUntil: instantOrNil(e.PausedUntil), Secret: secret}
}

func instant(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func instantOrNil(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := instant(*t)
	return &s
}
