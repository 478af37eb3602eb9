// Package webhooks delivers the ledger's integration events (package integration) to the
// HTTPS endpoints tenants register, signed per the Standard Webhooks specification.
//
// # Endpoints are a command-side table, not events
//
// An endpoint is delivery configuration with a secret, not a fact of the ledger: nothing in
// the ledger's history depends on it, auditors do not replay it, and its secret must be
// replaceable and never copied into the append-only, hash-chained, exported event log. So
// endpoints live in a table of their own (webhook_endpoints, MigrationSet), written by the
// command API (POST /v1/webhooks/endpoints...) and read by the query API, like the command
// side's idempotency keys and invoice numbers. A registration is idempotent by its
// Idempotency-Key (stored with the row); the secret is shown in the answer to the
// registration and to a rotation, never by the query API.
//
// # Delivery
//
// A feed consumer (eventstore/consumer, named integration.webhooks, under its lease) fans
// every event into an outbox, webhook_deliveries: one row per event and enabled endpoint of
// the event's tenant whose filter lets the event through and that was registered before the
// event, in the same transaction as the consumer's checkpoint, so a crash neither loses nor
// duplicates one. The payload is the CloudEvents JSON the brokers receive, stored as the exact
// bytes that are signed.
//
// A dispatcher (Run, in every process that runs it) claims due deliveries in short
// transactions serialized by an advisory lock, at most PerEndpoint in flight per endpoint
// across every process and Workers per process, and POSTs each with the headers webhook-id
// (the event id, the same on every attempt), webhook-timestamp and webhook-signature
// ("v1," and the base64 HMAC-SHA256 of "<id>.<timestamp>.<body>" under the endpoint's key).
// A 2xx delivers it; anything else (another status, a redirect, a timeout, a refused
// address) is a failed attempt, retried after an exponential backoff with jitter until the
// delivery is MaxAge old (a day), when it is marked failed. Each attempt is logged
// (webhook_attempts). Order per endpoint is not kept; a slow or failing endpoint holds at
// most PerEndpoint workers for at most Timeout each, so other endpoints and tenants go on.
// Disabled endpoints get no new deliveries and their pending ones wait.
//
// Only https URLs whose every address is public are accepted (Guard), at registration and
// again at every connection (the dialer's Control sees the address actually dialled, so DNS
// rebinding does not reach a private address); development and tests allow http and
// loopback with Guard.AllowLoopback.
package webhooks

import (
	"embed"

	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationSet is the webhooks' schema (endpoints, deliveries, attempts), for
// internal/migrate; the fan-out's checkpoint is in the feed consumers' table.
func MigrationSet() migrate.Set {
	s := migrate.Embedded("webhooks", "webhook_schema_migrations", migrationFiles)
	s.Requires = []migrate.Set{consumer.MigrationSet()}
	return s
}
