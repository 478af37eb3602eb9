#!/usr/bin/env bash
# PostgreSQL's floor for a billing run: what the database alone can do per invoice, with no Go
# work at all. Each pgbench transaction is the minimum a billed customer costs the write side:
# take the tenant's next invoice number (one counter row, its own statement without waiting
# for the WAL flush, as commands/pgstore.Numbers does), then insert the invoice's two events
# (InvoiceCreated, InvoiceIssued: about 1 KB of JSON each) in one transaction into a table
# shaped like es_events. pgbench runs it with as many clients as a billing run
# has workers, for SECONDS, and prints transactions (invoices) per second beside pgbench's
# single-row insert with 16 clients, the baseline of `dotmac bench`.
#
#   scripts/billing-floor.sh postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable [SECONDS] [CLIENTS]
#
# The tables go into a schema billing_floor of that database, dropped at the end. Reading the
# customer's stream and services, the run stream's records and the projectors' writes come on
# top: a billing run cannot invoice faster than this on the same machine.
set -euo pipefail

url=${1:?usage: scripts/billing-floor.sh DATABASE_URL [SECONDS] [CLIENTS]}
seconds=${2:-10}
clients=${3:-8}
q() { PGOPTIONS="-c client_min_messages=warning" psql "$url" -AtqX -v ON_ERROR_STOP=1 -c "$1"; }

q "DROP SCHEMA IF EXISTS billing_floor CASCADE; CREATE SCHEMA billing_floor;
   CREATE TABLE billing_floor.events (position bigserial PRIMARY KEY, stream text NOT NULL, version bigint NOT NULL,
     id uuid NOT NULL UNIQUE, type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL, hash bytea NOT NULL,
     UNIQUE (stream, version));
   CREATE TABLE billing_floor.numbers (tenant text, year int, last bigint, PRIMARY KEY (tenant, year));
   CREATE TABLE billing_floor.single (id bigserial PRIMARY KEY, v int)"
trap 'q "DROP SCHEMA IF EXISTS billing_floor CASCADE" >/dev/null 2>&1' EXIT

dir=$(mktemp -d)
trap 'rm -rf "$dir"; q "DROP SCHEMA IF EXISTS billing_floor CASCADE" >/dev/null 2>&1' EXIT
payload=$(printf '"%0900d"' 0)
cat >"$dir/invoice.sql" <<SQL
\set c random(1, 1000000000)
SET synchronous_commit = off;
INSERT INTO billing_floor.numbers VALUES ('demo', 2026, 1) ON CONFLICT (tenant, year) DO UPDATE SET last = billing_floor.numbers.last + 1 RETURNING last;
SET synchronous_commit = on;
BEGIN;
INSERT INTO billing_floor.events (stream, version, id, type, data, metadata, hash) VALUES
  ('demo/customer-' || :c || '-' || :client_id, 1, gen_random_uuid(), 'InvoiceCreated', '{"lines": $payload}', '{"tenant": "demo"}', sha256(:c::text::bytea)),
  ('demo/customer-' || :c || '-' || :client_id, 2, gen_random_uuid(), 'InvoiceIssued', '{"number": $payload}', '{"tenant": "demo"}', sha256((:c + 1)::text::bytea));
COMMIT;
SQL
cat >"$dir/single.sql" <<'SQL'
INSERT INTO billing_floor.single (v) VALUES (1);
SQL
run() { pgbench -n -c "$2" -j 2 -T "$seconds" -f "$1" "$url" 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}'; }
single=$(run "$dir/single.sql" 16)
invoices=$(run "$dir/invoice.sql" "$clients")
echo "single-row insert, 16 clients:          $single tx/s (the baseline of dotmac bench)"
echo "invoice floor, $clients clients (number + 2 events): $invoices invoices/s"
