package readapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the OpenAPI 3.1 document of this API, written by hand; a test holds it
// against the routes and validates real responses with it.
//
//go:embed openapi.yaml
var openAPIYAML []byte

var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("invariant: openapi.yaml: %w", err)
	}
	return json.MarshalIndent(doc, "", "  ")
})

// OpenAPI returns the OpenAPI document as JSON.
func OpenAPI() ([]byte, error) { return openAPIJSON() }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	doc, err := openAPIJSON()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(doc)
}
