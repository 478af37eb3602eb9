#!/usr/bin/env bash
# How low the distinct customers' p99 at 64 clients can go on this host by making the read
# models cheaper: runs `dotmac bench --scenario commands` PAIRS times for each of two servers,
# alternating (the product first in odd pairs, second in even ones), and prints every run's
# figures, then the medians:
#
#   product  the server as it is;
#   paused   the same binary with its live projections paced to one batch a minute
#            (DOTMAC_PROJECTION_BATCH_INTERVAL=60s). Their last batch began when they caught up
#            with the generated history, before the server's warm-up, so they write nothing
#            while the commands are measured. Everything else runs as in the product: HTTP,
#            auth, decide, the append with its idempotency keys, the process managers, and the
#            load generator.
#
# The paused server is an upper bound on anything done to the read models: no trim of theirs
# can make the product faster than not writing them at all. If the paused server's p99 sits at
# the target, meeting the target with the read models written needs the command path itself to
# get cheaper, or a faster host.
#
#   scripts/commands-p99-bound.sh [PAIRS] [-- BENCH FLAGS...]
#   scripts/commands-p99-bound.sh 4 -- --database-url postgres://postgres@127.0.0.1:5432/postgres
#
# Bench flags default to --events 10000 --duration 10s. Keep --duration well under a minute, or
# the paused projections run a batch inside the measurement. The script checks this: a paused
# run in which the bench saw a projection catch up with the head is reported as not paused.
# Set DOTMAC_BINARY to bench another binary (default bin/dotmac). Needs jq. The JSON reports
# stay in a temporary directory whose path is printed.
set -euo pipefail

pairs=3
if (($#)) && [[ $1 != -- ]]; then pairs=$1; shift; fi
if (($#)) && [[ $1 == -- ]]; then shift; fi
if ! [[ $pairs =~ ^[1-9][0-9]*$ ]]; then
	echo "commands-p99-bound: PAIRS must be a positive whole number, not $pairs" >&2
	exit 2
fi
(($#)) || set -- --events 10000 --duration 10s
for a in "$@"; do
	if [[ $a == --scenario || $a == --scenario=* ]]; then
		echo "commands-p99-bound: runs the commands scenario only; leave --scenario out of the bench flags" >&2
		exit 2
	fi
done
command -v jq >/dev/null || { echo "commands-p99-bound: needs jq" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${DOTMAC_BINARY:-$root/bin/dotmac}
if [[ ! -x $bin ]]; then
	echo "commands-p99-bound: $bin is not an executable dotmac binary (make build, or set DOTMAC_BINARY)" >&2
	exit 2
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

dir=$(mktemp -d)
echo "reports in $dir"
# The paused server: the same binary under a variable. The bench passes its environment on to
# the server it starts, and the harness itself runs no live projection.
printf '#!/bin/sh\nDOTMAC_PROJECTION_BATCH_INTERVAL=60s exec %q "$@"\n' "$bin" >"$dir/paused"
chmod +x "$dir/paused"

. "$root/scripts/lib/bench-report.sh"

{
	bench_header
	for ((i = 1; i <= pairs; i++)); do
		order=("product:$bin" "paused:$dir/paused")
		((i % 2 == 0)) && order=("paused:$dir/paused" "product:$bin")
		for entry in "${order[@]}"; do
			name=${entry%%:*} exe=${entry#*:}
			bench_run commands-p99-bound "$name" "$i" "$dir" "$exe" bench --scenario commands "$@" || exit 1
			if [[ $name == paused ]] && (($(jq '.scenarios.lag.samples // 0' "$dir/paused-$i.json") > 0)); then
				echo "commands-p99-bound: paused run $i was not paused (a projection caught up during the measurement); shorten --duration" >&2
				exit 1
			fi
		done
	done
} | tee "$dir/runs.tsv" | cut -f1-10 | column -t -s $'\t'

echo
bench_medians "$dir/runs.tsv" product | head -10 | column -t -s $'\t'
awk -F'\t' 'NR > 1 && $1 == "paused" { n++; if ($5 <= 50) k++ } END {
	printf "\npaused: p99 at or below 50 ms in %d of %d runs: ", k, n
	print (k * 2 > n ? "the command path alone meets the target on this host" : "even with the read models writing nothing, the target is not met on this host")
}' "$dir/runs.tsv"
