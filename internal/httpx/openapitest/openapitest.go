// Package openapitest holds an API's OpenAPI document to account in tests: the document is
// valid OpenAPI 3.1, documents exactly the routes a router serves, and allows every response
// the tests receive. The command API and the query API tests share it.
package openapitest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Paths is the document's operations by path and lower-case method, each a JSON object.
type Paths map[string]map[string]map[string]any

// Document is an API's OpenAPI document, loaded and validated once.
type Document struct {
	load   func() ([]byte, error)
	once   sync.Once
	raw    []byte
	router routers.Router
	err    error
}

// New returns the document load serves (the API's OpenAPI function).
func New(load func() ([]byte, error)) *Document { return &Document{load: load} }

func (d *Document) init() {
	if d.raw, d.err = d.load(); d.err != nil {
		return
	}
	doc, err := openapi3.NewLoader().LoadFromData(d.raw)
	if err != nil {
		d.err = err
		return
	}
	if d.err = doc.Validate(context.Background()); d.err != nil {
		return
	}
	d.router, d.err = gorillamux.NewRouter(doc)
}

// Router returns the document's router, failing t unless the document is valid OpenAPI.
func (d *Document) Router(t testing.TB) routers.Router {
	t.Helper()
	d.once.Do(d.init)
	require.NoError(t, d.err)
	return d.router
}

// ValidateResponse fails t unless the response (status, header, body) is one the document
// allows for req: a documented status, its headers and its body schema.
func (d *Document) ValidateResponse(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	route, params, err := d.Router(t).FindRoute(req)
	require.NoError(t, err, "%s %s is not in the OpenAPI document", req.Method, req.URL.Path)
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 status, Header: header, Options: opts,
	}
	in.SetBodyBytes(body)
	require.NoError(t, openapi3filter.ValidateResponse(context.Background(), in), "%s %s -> %d %s", req.Method, req.URL.Path, status, body)
}

// CheckRoutes fails t unless the document is valid OpenAPI 3.1 and documents exactly the
// operations r serves (method and path template; HEAD aside). It returns the operations, for
// checks of their ids and summaries.
func (d *Document) CheckRoutes(t testing.TB, r *mux.Router) Paths {
	t.Helper()
	d.Router(t)
	var served []string
	require.NoError(t, r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		require.NoError(t, err)
		methods, err := route.GetMethods()
		if errors.Is(err, mux.ErrMethodMismatch) || (err != nil && route.GetHandler() == nil) {
			return nil // a subrouter's prefix: its routes are walked on their own
		}
		require.NoError(t, err)
		for _, m := range methods {
			if m != http.MethodHead {
				served = append(served, m+" "+path)
			}
		}
		return nil
	}))
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   Paths  `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(d.raw, &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(served)
	slices.Sort(documented)
	assert.Equal(t, documented, served)
	return doc.Paths
}
