#!/usr/bin/env bash
# Event-store benchmarks beside their baseline, in one run on the same PostgreSQL:
#   1. pgbench: single-row INSERT transactions, 16 clients, for BASELINE_SECONDS (default 10),
#      in a scratch database (the physical limit one transaction per event reaches);
#   2. go test -bench for append (64 appenders x 1 event, 100 events per append) and ReadAll;
#   3. the ratio of append events/s to pgbench tx/s.
# Uses TEST_DATABASE_URL / DATABASE_URL's server, else 127.0.0.1:5432 as postgres.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BASELINE_SECONDS:-10}
benchtime=${BENCHTIME:-5s}
url=${TEST_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
pgbench=$(command -v pgbench || ls -d /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n 1 || true)
scratch="dotmac_bench_baseline_$$"

baseline_tps=""
if [[ -n $pgbench && -x $pgbench ]]; then
	psql "$url" -qXc "CREATE DATABASE $scratch" >/dev/null
	trap 'psql "$url" -qXc "DROP DATABASE IF EXISTS $scratch" >/dev/null' EXIT
	scratch_url=$(sed -E "s#/[^/?]*(\?|$)#/$scratch\1#" <<<"$url")
	psql "$scratch_url" -qXc "CREATE TABLE t (id bigserial PRIMARY KEY, v text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
	echo "INSERT INTO t (v) VALUES ('x');" >"/tmp/$scratch.sql"
	echo "==> baseline: pgbench single-row insert transactions, 16 clients, ${seconds}s"
	out=$("$pgbench" -n -c 16 -j 2 -T "$seconds" -f "/tmp/$scratch.sql" "$scratch_url" 2>&1)
	rm -f "/tmp/$scratch.sql"
	baseline_tps=$(grep -oE 'tps = [0-9.]+' <<<"$out" | head -n 1 | cut -d' ' -f3)
	echo "    $baseline_tps tx/s"
else
	echo "==> baseline skipped: pgbench is not installed (dotmac bench reproduces it with pgx)"
fi

echo "==> go test -bench (benchtime $benchtime)"
results=$(go test -run '^$' -bench 'Append|ReadAll' -benchtime "$benchtime" ./eventstore/postgres/ | tee /dev/stderr)
append=$(awk '/^BenchmarkAppend64x1/ { for (i = 1; i <= NF; i++) if ($(i+1) == "events/s") print $i }' <<<"$results")
if [[ -n $baseline_tps && -n $append ]]; then
	awk -v a="$append" -v b="$baseline_tps" 'BEGIN { printf "==> append 64x1: %.0f events/s = %.2f x pgbench single-row insert tx/s (%.0f)\n", a, a / b, b }'
fi
