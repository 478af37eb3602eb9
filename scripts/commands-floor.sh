#!/usr/bin/env bash
# The CPU floor of a command on this host: runs `dotmac bench --scenario commands,commands_hot`
# and, for each load phase, prints the CPU one command cost every process involved (the server
# under test, PostgreSQL's backends serving the scratch database, the load generator: read from
# /proc/PID/stat before and after the phase) and the rate the host's cores allow at that cost
# if they did nothing else, beside the targets of issue 21. PostgreSQL's WAL writer and
# checkpointer, and backends that exited during the phase, are left out: the CPU is a lower
# bound, the ceiling an upper bound at that cost. A target above its ceiling is out of reach
# on this host unless the cost per command comes down; part of it is per batch or per second
# (pollers, each live projection's transaction), so it falls somewhat as the rate rises: a
# phase measured far below its target overstates the cost at the target.
#
#   scripts/commands-floor.sh postgres://postgres@127.0.0.1:5432/postgres [SECONDS] [BINARY]
#
# Then, per phase, what one command asked for (dotmac bench's work_per_command: commits, rows
# written, buffers, WAL, the server's allocations), which moves far less than the CPU between runs.
#
# PostgreSQL must run on this host (its backends' /proc is read). Needs jq.
set -euo pipefail

url=${1:?usage: scripts/commands-floor.sh DATABASE_URL [SECONDS] [BINARY]}
seconds=${2:-10}
bin=${3:-bin/dotmac}
json=$(mktemp)
trap 'rm -f "$json"' EXIT

"$bin" bench --scenario commands,commands_hot --events 10000 --duration "${seconds}s" \
	--database-url "$url" --json "$json" >/dev/null 2>&1
jq -r '
	def row(name; target):
		"\(name)\t\(.commands_per_s | floor)/s p99 \(.p99_ms | floor) ms\t" +
		(if .cpu_per_command then
			"\(.cpu_per_command.server_us | floor) + \(.cpu_per_command.postgres_us | floor) + \(.cpu_per_command.load_generator_us | floor) = \(.cpu_per_command.total_us | floor) us\t<= \(.cpu_per_command.ceiling_per_s | floor)/s\t\(target)\t" +
			(if .cpu_per_command.ceiling_per_s < target then "above the ceiling at this cost" else "within the ceiling" end)
		else "no CPU figures (PostgreSQL not local?)" end);
	"baseline: \(.baseline.single_row_insert_tx_per_s | floor) single-row insert tx/s; target of commands = 0.25 of it",
	"phase\tmeasured\tCPU per command: server + PostgreSQL + load\tceiling (\(.machine.cpus) cores)\ttarget/s\tverdict",
	(.baseline.single_row_insert_tx_per_s as $b | .scenarios.commands | row("commands, \(.clients) clients, distinct customers"; ($b * 0.25 | floor))),
	(.scenarios.commands_hot[] | row("commands_hot, \(.clients) clients, one customer"; 1000))
' "$json" | column -t -s $'\t'
# What each command asked for: counts that hold from run to run where the CPU does not.
echo
jq -r '
	def work(name):
		name as $n |
		if .work_per_command then
			(.work_per_command | "\($n)\t\(.commits * 100 | round / 100)\t\(.rows_written * 10 | round / 10)\t\(.buffer_accesses | round)\t\(.wal_records * 10 | round / 10)\t\(.wal_bytes / 1024 * 100 | round / 100)\t\(.server_allocated_bytes / 1024 * 10 | round / 10)")
		else "\($n)\tno work figures" end;
	"phase\tcommits\trows written\tbuffers\tWAL records\tWAL KB\tserver KB allocated",
	(.scenarios.commands | work("commands, \(.clients) clients")),
	(.scenarios.commands_hot[] | work("commands_hot, \(.clients) clients"))
' "$json" | column -t -s $'\t'
