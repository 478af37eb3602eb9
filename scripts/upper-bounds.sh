#!/usr/bin/env bash
# What the command path would gain if one of its parts cost nothing (or cost what a planned
# design would): builds HEAD with scripts/upper-bounds.patch applied in a temporary worktree,
# then runs `dotmac bench --scenario commands` for each variant in turn, ROUNDS times, each
# round starting with the next variant (so that a host slowing or speeding up favours none),
# and prints every run's figures, the medians of each variant and each one's median over the
# first variant's (product's by default). The patch only reads environment variables; it is never applied to the product.
#
#   scripts/upper-bounds.sh [ROUNDS] [VARIANTS] [-- BENCH FLAGS...]
#   scripts/upper-bounds.sh 4 product,no-keys,no-read-models -- --events 10000 --duration 10s
#
# Variants (comma-separated; default all):
#   product         the build as it is (the patch applied, no variable set)
#   no-keys         the appends record no idempotency key (unsafe: an upper bound)
#   no-flush-wait   appends commit without waiting for the WAL flush (unsafe: an upper bound)
#   no-dunning      the process managers' dunning group reacts to nothing
#   no-read-models  the live projections paced to one batch a minute, so they write nothing
#                   while the commands are measured (no patch needed; see
#                   scripts/commands-p99-bound.sh, which checks that they did not)
#
# Bench flags default to --events 10000 --duration 10s; a --scenario among them replaces
# commands (-- --scenario commands_hot --events 10000 --duration 10s: the busy customer). Needs jq and git. The reports stay in a
# temporary directory whose path is printed. When the patch no longer applies to HEAD, refresh
# it (git apply --3way, then git diff > scripts/upper-bounds.patch in the worktree).
set -euo pipefail

rounds=3
variants=product,no-keys,no-flush-wait,no-dunning,no-read-models
if (($#)) && [[ $1 != -- ]]; then rounds=$1; shift; fi
if (($#)) && [[ $1 != -- ]]; then variants=$1; shift; fi
if (($#)) && [[ $1 == -- ]]; then shift; fi
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
	echo "upper-bounds: ROUNDS must be a positive whole number, not $rounds" >&2
	exit 2
fi
(($#)) || set -- --events 10000 --duration 10s
command -v jq >/dev/null || { echo "upper-bounds: needs jq" >&2; exit 2; }

# envOf VARIANT: the environment the variant's server runs with.
envOf() {
	case $1 in
	product) echo "" ;;
	no-keys) echo "DOTMAC_UPPER_BOUND_NOKEYS=1" ;;
	no-flush-wait) echo "DOTMAC_UPPER_BOUND_NOSYNC=1" ;;
	no-dunning) echo "DOTMAC_UPPER_BOUND_NODUNNING=1" ;;
	no-read-models) echo "DOTMAC_PROJECTION_BATCH_INTERVAL=60s" ;;
	*) return 1 ;;
	esac
}
IFS=, read -r -a names <<<"$variants"
for v in "${names[@]}"; do
	if ! envOf "$v" >/dev/null; then
		echo "upper-bounds: unknown variant $v (product, no-keys, no-flush-wait, no-dunning, no-read-models)" >&2
		exit 2
	fi
done

root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
echo "reports in $dir"
src="$dir/src"
cleanup() { git -C "$root" worktree remove --force "$src" 2>/dev/null || true; }
trap cleanup EXIT
git -C "$root" worktree add --quiet --detach "$src" HEAD
if ! git -C "$src" apply "$root/scripts/upper-bounds.patch"; then
	echo "upper-bounds: scripts/upper-bounds.patch no longer applies to HEAD: refresh it (see the header)" >&2
	exit 1
fi
echo "building HEAD with the patch"
(cd "$src" && go build -o "$dir/dotmac" ./cmd/dotmac)
cleanup

. "$root/scripts/lib/bench-report.sh"

{
	bench_header
	n=${#names[@]}
	for ((r = 0; r < rounds; r++)); do
		for ((i = 0; i < n; i++)); do
			v=${names[(r + i) % n]}
			# shellcheck disable=SC2046 # the variant's variables, one word each
			bench_run upper-bounds "$v" $((r + 1)) "$dir" env $(envOf "$v") "$dir/dotmac" bench --scenario commands "$@" || exit 1
		done
	done
} | tee "$dir/runs.tsv" | column -t -s $'\t'

echo
bench_medians "$dir/runs.tsv" "${names[0]}" | column -t -s $'\t'
