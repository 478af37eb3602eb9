package webhooks_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/integration/webhooks"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx/openapitest"
	"github.com/dotmac/ledger/readapi"
)

var (
	commandDoc = openapitest.New(api.OpenAPI)
	queryDoc   = openapitest.New(readapi.OpenAPI)
	testKey    = func() *auth.Key {
		k, err := auth.HS256([]byte("0123456789abcdef0123456789abcdef-webhooks"))
		if err != nil {
			panic(err)
		}
		return k
	}()
)

// client calls the webhook routes of both APIs as a tenant, and checks every answer
// against the API's OpenAPI document.
type client struct {
	t      testing.TB
	h      http.Handler
	tenant string
}

func (e *env) client(t testing.TB, tenant string) *client {
	r := mux.NewRouter()
	e.svc.MountCommands(r, testKey)
	e.svc.MountQueries(r, testKey)
	return &client{t: t, h: r, tenant: tenant}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), "%s", a.body)
	return m
}

func (c *client) do(method, path, key string, body any) answer {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, path, rd)
	tok, err := testKey.Mint(auth.Principal{Subject: "tester", Tenant: c.tenant, Permissions: []string{auth.All}}, time.Now(), time.Hour)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	a := answer{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	doc := queryDoc
	if method == http.MethodPost {
		doc = commandDoc
	}
	doc.ValidateResponse(c.t, req, a.status, a.header, a.body)
	return a
}

func (c *client) post(path string, body any) answer {
	c.t.Helper()
	return c.do(http.MethodPost, path, uuid.NewString(), body)
}

func (c *client) get(path string) answer {
	c.t.Helper()
	return c.do(http.MethodGet, path, "", nil)
}

// Registration answers the secret once; a retry with the same key answers the same
// endpoint and secret, another body with that key is 422; the query API never shows the
// secret; lists page with a cursor.
func TestRegisterThenListWithoutTheSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	c := e.client(t, "acme")
	body := map[string]any{"url": "http://127.0.0.1:9/hook", "event_types": []string{"billing.*", "customers.customer_registered"},
		"description": "ERP"}
	first := c.do(http.MethodPost, "/v1/webhooks/endpoints", "key-1", body)
	require.Equal(t, http.StatusCreated, first.status, "%s", first.body)
	ep := first.json(t)
	secret, _ := ep["secret"].(string)
	id, _ := ep["id"].(string)
	assert.True(t, strings.HasPrefix(secret, "whsec_"))
	assert.Equal(t, "/v1/webhooks/endpoints/"+id, first.header.Get("Location"))

	again := c.do(http.MethodPost, "/v1/webhooks/endpoints", "key-1", body)
	require.Equal(t, http.StatusCreated, again.status)
	assert.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	assert.Equal(t, ep["id"], again.json(t)["id"])
	assert.Equal(t, secret, again.json(t)["secret"])
	body["description"] = "other"
	assert.Equal(t, http.StatusUnprocessableEntity, c.do(http.MethodPost, "/v1/webhooks/endpoints", "key-1", body).status)

	got := c.get("/v1/webhooks/endpoints/" + id)
	require.Equal(t, http.StatusOK, got.status)
	assert.NotContains(t, string(got.body), "whsec_")
	assert.Equal(t, []any{"billing.*", "customers.customer_registered"}, got.json(t)["event_types"])

	for i := range 2 {
		require.Equal(t, http.StatusCreated, c.post("/v1/webhooks/endpoints", map[string]any{"url": "http://127.0.0.1:9/" + string(rune('a'+i))}).status)
	}
	p1 := c.get("/v1/webhooks/endpoints?limit=2")
	require.Equal(t, http.StatusOK, p1.status)
	assert.NotContains(t, string(p1.body), "whsec_")
	items, _ := p1.json(t)["items"].([]any)
	require.Len(t, items, 2)
	cursor, _ := p1.json(t)["next_cursor"].(string)
	require.NotEmpty(t, cursor)
	p2 := c.get("/v1/webhooks/endpoints?limit=2&cursor=" + cursor)
	items2, _ := p2.json(t)["items"].([]any)
	require.Len(t, items2, 1)
	assert.Nil(t, p2.json(t)["next_cursor"])
	assert.Equal(t, http.StatusBadRequest, c.get("/v1/webhooks/endpoints?cursor=x"+cursor).status)
	assert.Equal(t, http.StatusBadRequest, c.get("/v1/webhooks/endpoints?colour=red").status)
}

// Invalid registrations are 400 naming the field.
func TestRegistrationValidates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, webhooks0())
	c := e.client(t, "acme")
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"http in production":   {map[string]any{"url": "http://example.com/hook"}, "url"},
		"loopback":             {map[string]any{"url": "https://127.0.0.1/hook"}, "url"},
		"private":              {map[string]any{"url": "https://10.1.2.3/hook"}, "url"},
		"metadata service":     {map[string]any{"url": "https://169.254.169.254/latest"}, "url"},
		"unknown event type":   {map[string]any{"url": "https://93.184.215.14/hook", "event_types": []string{"billing.nothing"}}, "event_types"},
		"bad secret":           {map[string]any{"url": "https://93.184.215.14/hook", "secret": "hunter2"}, "secret"},
		"short secret":         {map[string]any{"url": "https://93.184.215.14/hook", "secret": "whsec_c2hvcnQ="}, "secret"},
		"user info in the URL": {map[string]any{"url": "https://u:p@93.184.215.14/hook"}, "url"},
	} {
		t.Run(name, func(t *testing.T) {
			a := c.post("/v1/webhooks/endpoints", tc.body)
			require.Equal(t, http.StatusBadRequest, a.status, "%s", a.body)
			errs, _ := a.json(t)["errors"].([]any)
			require.Len(t, errs, 1)
			first, _ := errs[0].(map[string]any)
			assert.Equal(t, tc.field, first["field"])
		})
	}
	ok := c.post("/v1/webhooks/endpoints", map[string]any{"url": "https://93.184.215.14/hook",
		"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	require.Equal(t, http.StatusCreated, ok.status, "%s", ok.body)
	assert.Equal(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ok.json(t)["secret"])
}

// webhooks0 is testConfig with production URL rules.
func webhooks0() webhooks.Config {
	cfg := testConfig()
	cfg.Guard.AllowLoopback = false
	return cfg
}

// Another tenant's endpoint is 404 on every route, and never listed.
func TestAnotherTenantsEndpointIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	rc := newReceiver(t, always(http.StatusOK))
	ep, _ := e.register(t, "acme", rc.srv.URL)
	e.run(t)
	eventID, _ := e.registerCustomer(t, "acme")
	require.Eventually(t, func() bool { return rc.oks() == 1 }, waitFor, tick)
	d, ok := e.delivery(t, ep, eventID)
	require.True(t, ok)

	acme, globex := e.client(t, "acme"), e.client(t, "globex")
	base := "/v1/webhooks/endpoints/" + ep.ID.String()
	require.Equal(t, http.StatusOK, acme.get(base).status)
	for _, a := range []answer{
		globex.get(base), globex.get(base + "/deliveries"),
		globex.post(base+"/settings", map[string]any{"description": "mine"}), globex.post(base+"/disable", nil),
		globex.post(base+"/enable", nil), globex.post(base+"/rotate-secret", nil),
		globex.post(base+"/replay", map[string]any{"from_position": 0}),
		globex.post(base+"/deliveries/"+d.ID.String()+"/redeliver", nil),
	} {
		assert.Equal(t, http.StatusNotFound, a.status, "%s", a.body)
	}
	items, _ := globex.get("/v1/webhooks/endpoints").json(t)["items"].([]any)
	assert.Empty(t, items)
	got := acme.get(base)
	assert.Equal(t, true, got.json(t)["enabled"], "globex changed nothing")
	assert.Equal(t, "", got.json(t)["description"])
}
