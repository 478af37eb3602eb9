// Package deploycheck validates everything under deploy/, the Dockerfile and .dockerignore
// with the real parsers of each format, offline: kustomize (sigs.k8s.io/kustomize/api/krusty)
// builds the Kubernetes overlays and every object is decoded strictly into its Kubernetes Go
// type (k8s.io/api, the Prometheus Operator's ServiceMonitor), compose-go loads
// deploy/compose.yaml against the compose specification's schema, Prometheus's rulefmt and
// PromQL parser read the alert rules and the dashboard's queries, and BuildKit's Dockerfile
// parser reads the Dockerfile. `make validate-deploy` runs its tests (`make check` too).
//
// It is a module of its own so that these heavy dependencies stay out of the binary's go.mod
// and out of the linters' tools/go.mod.
package deploycheck
