package httpx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"
)

// OpenAPIDocument serves a hand-written OpenAPI document (YAML) as JSON at /openapi.json.
type OpenAPIDocument struct {
	json func() ([]byte, error)
}

// NewOpenAPIDocument converts doc (YAML) to JSON on first use, keeping the order of its
// members ("openapi" first, paths in the order written).
func NewOpenAPIDocument(doc []byte) *OpenAPIDocument {
	return &OpenAPIDocument{json: sync.OnceValues(func() ([]byte, error) {
		var n yaml.Node
		if err := yaml.Unmarshal(doc, &n); err != nil {
			return nil, fmt.Errorf("invariant: openapi document: %w", err)
		}
		var buf bytes.Buffer
		if err := writeYAMLAsJSON(&buf, &n); err != nil {
			return nil, fmt.Errorf("invariant: openapi document: %w", err)
		}
		var out bytes.Buffer
		if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
			return nil, err
		}
		return out.Bytes(), nil
	})}
}

// JSON returns the document as JSON.
func (d *OpenAPIDocument) JSON() ([]byte, error) { return d.json() }

// ServeHTTP answers with the document (no authentication: it describes the API).
func (d *OpenAPIDocument) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	doc, err := d.json()
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(doc)
}

// writeYAMLAsJSON writes a YAML node as JSON, keeping the order of mapping keys.
func writeYAMLAsJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		return writeYAMLAsJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return writeYAMLAsJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			key, err := json.Marshal(n.Content[i].Value)
			if err != nil {
				return err
			}
			buf.Write(key)
			buf.WriteByte(':')
			if err := writeYAMLAsJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeYAMLAsJSON(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	buf.Write(b)
	return err
}
