package projections

import (
	_ "embed"

	"github.com/dotmac/ledger/internal/httpx"
)

//go:embed openapi.yaml
var adminOpenAPIYAML []byte

// AdminOpenAPI is the admin API's OpenAPI document (openapi.yaml: the projection admin routes
// Routes mounts, and what else the admin listener serves), served as JSON at /openapi.json of
// the admin listener.
var AdminOpenAPI = httpx.NewOpenAPIDocument(adminOpenAPIYAML)
