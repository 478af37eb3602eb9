#!/usr/bin/env bash
# Compares two builds' servers under `dotmac bench` on a host whose speed moves from minute to
# minute: runs the same scenarios PAIRS times, alternating the builds (BASE first in odd pairs,
# NEW first in even ones, so that a host slowing or speeding up within a pair favours neither),
# and prints each run's figures, then the medians of each build and NEW's median over BASE's.
# Every figure is read from the bench's JSON report; rates are also given as ratios to the
# pgbench baseline of their own run, the only figure comparable across runs.
#
#   scripts/compare-builds.sh BASE_BINARY NEW_BINARY [PAIRS] [SCENARIOS] [-- BENCH FLAGS...]
#   scripts/compare-builds.sh /tmp/base bin/dotmac 5 commands,commands_hot -- --events 10000 --duration 10s
#
# Each binary runs its own harness and server (the harness is part of the build compared:
# use --server-binary within one run to compare servers alone). Needs jq; the bench's flags
# (--database-url and the rest) pass through. The JSON reports stay in a temporary directory
# whose path is printed.
set -euo pipefail

base=${1:?usage: scripts/compare-builds.sh BASE_BINARY NEW_BINARY [PAIRS] [SCENARIOS] [-- BENCH FLAGS...]}
new=${2:?usage: scripts/compare-builds.sh BASE_BINARY NEW_BINARY [PAIRS] [SCENARIOS] [-- BENCH FLAGS...]}
shift 2
pairs=3
scenarios=commands,commands_hot
if (($#)) && [[ $1 != -- ]]; then pairs=$1; shift; fi
if (($#)) && [[ $1 != -- ]]; then scenarios=$1; shift; fi
if (($#)) && [[ $1 == -- ]]; then shift; fi
if ! [[ $pairs =~ ^[1-9][0-9]*$ ]]; then
	echo "compare-builds: PAIRS must be a positive whole number, not $pairs" >&2
	exit 2
fi
for b in "$base" "$new"; do
	if [[ ! -x $b ]]; then
		echo "compare-builds: $b is not an executable dotmac binary" >&2
		exit 2
	fi
done
command -v jq >/dev/null || { echo "compare-builds: needs jq" >&2; exit 2; }

dir=$(mktemp -d)
echo "reports in $dir"

. "$(dirname "$0")/lib/bench-report.sh"

{
	bench_header
	for ((i = 1; i <= pairs; i++)); do
		order=("base:$base" "new:$new")
		((i % 2 == 0)) && order=("new:$new" "base:$base")
		for entry in "${order[@]}"; do
			name=${entry%%:*} bin=${entry#*:}
			bench_run compare-builds "$name" "$i" "$dir" "$bin" bench --scenario "$scenarios" "$@" || exit 1
		done
	done
} | tee "$dir/runs.tsv" | column -t -s $'\t'

# The medians of each column by build, and new over base.
echo
bench_medians "$dir/runs.tsv" base | column -t -s $'\t'
