#!/usr/bin/env bash
# The Go CPU of a command, by part: reads a CPU profile of the server under commands
# (`dotmac bench --scenario commands --profile-dir DIR` writes DIR/commands.pprof) and assigns
# each sampled stack to the first part below one of its frames matches, then prints each
# part's share of the samples and, given the number of commands the profile covers, its
# microseconds per command.
#
#   scripts/cpu-breakdown.sh prof/commands.pprof [COMMANDS]
#
# Parts, first match wins: auth (JWT), idempotency (claim and completion), decide (domain,
# event encoding, apply), append (the event store's writer and its pgx round trips), each live
# projector (readmodel.<Name>), process managers, projections runtime (decode, checkpoints,
# transactions), the feed's subscribers (reading es_events, Watermill), HTTP and JSON (net/http, mux, API handlers, encoding/json), GC and scheduler,
# other. PostgreSQL's own CPU is not in a Go profile: scripts/commands-floor.sh measures it per command (its backends' /proc).
set -euo pipefail

prof=${1:?usage: scripts/cpu-breakdown.sh PROFILE [COMMANDS]}
commands=${2:-0}
go tool pprof -traces "$prof" 2>/dev/null | awk -v commands="$commands" '
function ms(v) {
	if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
	if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
	if (v ~ /s$/) { sub(/s$/, "", v); return v * 1000 }
	return v + 0
}
function classify(stack,   m) {
	if (stack ~ /internal\/auth\.|golang-jwt/) return "auth (JWT)"
	if (stack ~ /pgstore\.\(\*Keys\)|api\.requestHash|api\.\(\*API\)\.complete|api\.\(\*API\)\.claim/) return "idempotency"
	if (stack ~ /readmodel\.[A-Za-z]+\.Apply|readmodel\.\(\*[a-z]+Batch\)/) {
		if (match(stack, /readmodel\.[A-Z][A-Za-z]+\.Apply/)) return "projector " substr(stack, RSTART + 10, RLENGTH - 16)
		if (match(stack, /readmodel\.\(\*[a-z]+Batch\)/)) return "projector " substr(stack, RSTART + 12, RLENGTH - 18)
	}
	if (stack ~ /commands\/process\./) return "process managers"
	if (stack ~ /ledger\/projections/) return "projections runtime"
	if (stack ~ /eventstore\/watermill|eventstore\/consumer|watermill|pglisten/) return "feed (subscribers)"
	if (stack ~ /ledger\/domain\.|eventstore\/codec\.|commands\.decideOn|\)\.prepare/) return "decide"
	if (stack ~ /eventstore\/postgres\.|commands\.\(\*batch/) return "append (event store)"
	if (stack ~ /ledger\/commands/) return "commands other"
	if (stack ~ /net\/http|encoding\/json|gorilla\/mux|internal\/httpx/) return "HTTP and JSON"
	if (stack ~ /runtime\.gc|runtime\.bgsweep|runtime\.bgscavenge|runtime\.mcall|runtime\.schedule|runtime\.findRunnable|runtime\.park_m/) return "GC and scheduler"
	return "other"
}
/^-+\+/ { if (stack != "") { t = classify(stack); part[t] += val; total += val }; stack = ""; next }
/^ +[0-9.]+(ms|us|s) / { val = ms($1); stack = $2; next }
/^ +[^ ]/ { if (stack != "" || val > 0) stack = stack " " $1 }
END {
	if (stack != "") { t = classify(stack); part[t] += val; total += val }
	printf "%-28s %9s %7s", "part", "CPU ms", "share"
	if (commands > 0) printf " %12s", "us/command"
	printf "\n"
	n = asorti(part, names)
	for (i = 1; i <= n; i++) order[i] = names[i]
	# largest first
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (part[order[j]] > part[order[i]]) { x = order[i]; order[i] = order[j]; order[j] = x }
	for (i = 1; i <= n; i++) {
		p = order[i]
		printf "%-28s %9.0f %6.1f%%", p, part[p], 100 * part[p] / total
		if (commands > 0) printf " %12.0f", 1000 * part[p] / commands
		printf "\n"
	}
	printf "%-28s %9.0f %6.1f%%", "total", total, 100
	if (commands > 0) printf " %12.0f", 1000 * total / commands
	printf "\n"
}'
