#!/usr/bin/env bash
# The live heap of the server a running `dotmac bench` started: waits for the bench's `dotmac
# serve` process, then for its /readyz, then WAIT seconds more (the catch-up, the warm-up and
# part of the measured phase), and saves COUNT heap profiles, each taken right after a forced
# collection (so inuse_space is what is live), a few seconds apart, into DIR. Start it beside
# the bench:
#
#   bin/dotmac bench --scenario commands --events 1000000 --duration 40s &
#   scripts/bench-heap.sh /tmp/heap 45 3
#   go tool pprof -sample_index=inuse_space -top bin/dotmac /tmp/heap/heap-1.pprof
#
# The bench runs its server with pprof on its admin listener (DOTMAC_PPROF, DOTMAC_ADMIN_ADDR),
# which this reads from the process's environment: run it as the bench's user or root.
# A forced collection stops the server for some milliseconds: the commands measured while it
# runs carry that.
set -euo pipefail

dir=${1:?usage: scripts/bench-heap.sh DIR [WAIT_SECONDS] [COUNT]}
wait=${2:-45}
count=${3:-3}
for n in "$wait" "$count"; do
	if ! [[ $n =~ ^[0-9]+$ ]]; then
		echo "bench-heap: WAIT_SECONDS and COUNT are whole numbers, not $n" >&2
		exit 2
	fi
done
mkdir -p "$dir"

deadline=$((SECONDS + 1800))
pid=
until pid=$(pgrep -f -n 'dotmac serve'); do
	if ((SECONDS > deadline)); then
		echo "bench-heap: no dotmac serve process within 30 minutes" >&2
		exit 1
	fi
	sleep 1
done
admin=
for _ in $(seq 30); do
	admin=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^DOTMAC_ADMIN_ADDR=//p' | tail -n 1)
	[[ -n $admin ]] && break
	sleep 1
done
if [[ -z $admin ]]; then
	echo "bench-heap: process $pid has no DOTMAC_ADMIN_ADDR in its environment (not a bench's server?)" >&2
	exit 1
fi
echo "bench-heap: server $pid, admin listener $admin"
until [[ $(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$admin/readyz" || true) == 200 ]]; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "bench-heap: the server exited before it was ready" >&2
		exit 1
	fi
	sleep 1
done
echo "bench-heap: ready at $(date -u +%T); profiles in ${wait}s"
sleep "$wait"
for i in $(seq "$count"); do
	curl -sf -m 60 -o "$dir/heap-$i.pprof" "http://$admin/debug/pprof/heap?gc=1"
	echo "bench-heap: $dir/heap-$i.pprof at $(date -u +%T)"
	if ((i < count)); then sleep 4; fi
done
