package api

import (
	_ "embed"

	"github.com/dotmac/ledger/internal/httpx"
)

// openAPIYAML is the OpenAPI 3.1 document of this API, written by hand; a test holds it
// against the routes and validates real responses with it.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPI serves the document as JSON at /openapi.json.
var openAPI = httpx.NewOpenAPIDocument(openAPIYAML)

// OpenAPI returns the OpenAPI document as JSON.
func OpenAPI() ([]byte, error) { return openAPI.JSON() }
