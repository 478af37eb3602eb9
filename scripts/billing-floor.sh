#!/usr/bin/env bash
# PostgreSQL's floor for a billing run: what the database alone can do per invoice, with no Go
# work at all. Two shapes, each run by pgbench with as many clients as a billing run has
# workers, for SECONDS:
#
#  - per invoice: each transaction is the minimum a customer billed on its own costs the
#    write side: take the tenant's next invoice number (one counter row, its own statement
#    without waiting for the WAL flush, as commands/pgstore.Numbers does), then insert the
#    invoice's two events (InvoiceCreated, InvoiceIssued: about 1 KB of JSON each) in one
#    transaction into a table shaped like es_events.
#  - per group (what commands.billGroup does, GROUP customers at a time): one statement takes
#    the group's numbers, one reads the group's customers' streams (three events each, from
#    a table of SEED customers), and one transaction inserts the group's 2 x GROUP invoice
#    events and its GROUP BillingRunCustomerInvoiced records. Invoices/s is transactions/s
#    times GROUP.
#
# Both print beside pgbench's single-row insert with 16 clients, the baseline of `dotmac bench`.
#
#   scripts/billing-floor.sh postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable [SECONDS] [CLIENTS] [GROUP]
#
# The tables go into a schema billing_floor of that database, dropped at the end. The Go work
# (decoding and folding the accounts, deciding, encoding and hashing the events), the billing
# index and the projectors' writes of every invoice (invoices, balances, journal, ...) come on
# top: a billing run cannot invoice faster than the per-group figure on the same machine.
set -euo pipefail

url=${1:?usage: scripts/billing-floor.sh DATABASE_URL [SECONDS] [CLIENTS]}
seconds=${2:-10}
clients=${3:-8}
group=${4:-200}
seed=20000
q() { PGOPTIONS="-c client_min_messages=warning" psql "$url" -AtqX -v ON_ERROR_STOP=1 -c "$1"; }

q "DROP SCHEMA IF EXISTS billing_floor CASCADE; CREATE SCHEMA billing_floor;
   CREATE TABLE billing_floor.events (position bigserial PRIMARY KEY, stream text NOT NULL, version bigint NOT NULL,
     id uuid NOT NULL UNIQUE, type text NOT NULL, data json NOT NULL, metadata json NOT NULL, hash bytea NOT NULL,
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
q "INSERT INTO billing_floor.events (stream, version, id, type, data, metadata, hash)
   SELECT 'demo/seed-' || c, v, gen_random_uuid(), 'Seeded', json_build_object('x', repeat('0', 600)), '{\"tenant\": \"demo\"}', sha256((c * 3 + v)::text::bytea)
   FROM generate_series(0, $seed - 1) c, generate_series(1, 3) v; ANALYZE billing_floor.events"
cat >"$dir/group.sql" <<SQL
\set g random(1, 1000000000)
SET synchronous_commit = off;
INSERT INTO billing_floor.numbers VALUES ('demo', 2026, $group) ON CONFLICT (tenant, year) DO UPDATE SET last = billing_floor.numbers.last + $group RETURNING last;
SET synchronous_commit = on;
SELECT count(*), sum(octet_length(data::text)) FROM billing_floor.events
  WHERE stream = ANY (ARRAY(SELECT 'demo/seed-' || ((:g + i) % $seed) FROM generate_series(1, $group) i));
BEGIN;
INSERT INTO billing_floor.events (stream, version, id, type, data, metadata, hash)
  SELECT 'demo/customer-' || :g || '-' || :client_id || '-' || i, v, gen_random_uuid(), 'Invoice', '{"lines": $payload}', '{"tenant": "demo"}', sha256((:g + i * 2 + v)::text::bytea)
  FROM generate_series(1, $group) i, generate_series(1, 2) v;
INSERT INTO billing_floor.events (stream, version, id, type, data, metadata, hash)
  SELECT 'demo/run-' || :g || '-' || :client_id, i, gen_random_uuid(), 'BillingRunCustomerInvoiced', '{"customer_id": "0193f5a0-0000-7000-8000-000000000000"}', '{"tenant": "demo"}', sha256((:g - i)::text::bytea)
  FROM generate_series(1, $group) i;
COMMIT;
SQL
cat >"$dir/single.sql" <<'SQL'
INSERT INTO billing_floor.single (v) VALUES (1);
SQL
run() { pgbench -n -c "$2" -j 2 -T "$seconds" -f "$1" "$url" 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}'; }
single=$(run "$dir/single.sql" 16)
invoices=$(run "$dir/invoice.sql" "$clients")
groups=$(run "$dir/group.sql" "$clients")
echo "single-row insert, 16 clients:          $single tx/s (the baseline of dotmac bench)"
echo "invoice floor, $clients clients (number + 2 events): $invoices invoices/s"
echo "group floor, $clients clients x $group customers (numbers, read, 2 events + 1 record each): $((groups * group)) invoices/s ($groups groups/s)"
