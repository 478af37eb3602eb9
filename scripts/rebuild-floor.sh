#!/usr/bin/env bash
# PostgreSQL's share of a rebuild of invoices, balances and journal, with no Go work at all:
# copies the rows of their live builds into fresh tables with the same primary keys
# (INSERT ... SELECT, one table after another in one backend), then builds the same secondary
# indexes, and prints both times. Their sum is the CPU PostgreSQL needs to write the read
# models of that history however the rows are produced; on two cores a rebuild cannot take
# less than half of it.
#
#   scripts/rebuild-floor.sh postgres://postgres@127.0.0.1:5432/DB?sslmode=disable
#
# DB must hold live builds of the three projections (a `dotmac bench --keep` scratch database,
# or a server's). The copies go into a schema rebuild_floor, dropped at the end.
set -euo pipefail

url=${1:?usage: scripts/rebuild-floor.sh DATABASE_URL}
q() { PGOPTIONS="-c client_min_messages=warning" psql "$url" -AtqX -v ON_ERROR_STOP=1 -c "$1"; }

builds=$(q "SELECT string_agg(live_build, ' ') FROM projection_registry WHERE name IN ('invoices', 'balances', 'journal')")
if [[ -z $builds ]]; then
	echo "rebuild-floor: no live builds of invoices, balances and journal in $url" >&2
	exit 1
fi
q "DROP SCHEMA IF EXISTS rebuild_floor CASCADE; CREATE SCHEMA rebuild_floor"
trap 'q "DROP SCHEMA IF EXISTS rebuild_floor CASCADE" >/dev/null 2>&1' EXIT

start=$(date +%s.%N)
rows=0
for b in $builds; do
	for t in $(q "SELECT tablename FROM pg_tables WHERE schemaname = '$b'"); do
		pk=$(q "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '\"$b\".$t'::regclass AND contype = 'p'")
		q "CREATE TABLE rebuild_floor.$t (LIKE \"$b\".$t INCLUDING DEFAULTS); ALTER TABLE rebuild_floor.$t ADD $pk"
		q "INSERT INTO rebuild_floor.$t SELECT * FROM \"$b\".$t" >/dev/null
		rows=$((rows + $(q "SELECT count(*) FROM rebuild_floor.$t")))
	done
done
mid=$(date +%s.%N)
for b in $builds; do
	q "SELECT indexdef FROM pg_indexes WHERE schemaname = '$b' AND indexname NOT LIKE '%pkey'" |
		sed "s/ ON \"\?$b\"\?\./ ON rebuild_floor./" |
		while read -r ix; do q "$ix"; done
done
end=$(date +%s.%N)
events=$(q "SELECT coalesce(max(position), 0) FROM es_events")
awk -v s="$start" -v m="$mid" -v e="$end" -v rows="$rows" -v events="$events" 'BEGIN {
	printf "%d read-model rows for %d events: rows and primary keys %.1f s, secondary indexes %.1f s, total %.1f s of one backend\n", rows, events, m - s, e - m, e - s
}'
