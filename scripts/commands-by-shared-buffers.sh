#!/usr/bin/env bash
# What the size of PostgreSQL's shared buffers does to the commands: runs `dotmac bench` PAIRS
# times alternately on the cluster at DATABASE_URL and on a private cluster started here with
# the same settings but shared_buffers=SIZE (initdb in a temporary directory, on this host's
# same disk and cores, stopped and removed at the end), and prints each run's figures, then the
# medians of each. Each run's ratio is to the pgbench baseline of its own cluster.
#
#   scripts/commands-by-shared-buffers.sh DATABASE_URL SIZE [PAIRS] [SCENARIOS] [-- BENCH FLAGS...]
#   scripts/commands-by-shared-buffers.sh postgres://postgres@127.0.0.1:5432/postgres 2GB 2 commands -- --events 1000000
#
# The settings copied from DATABASE_URL's cluster are those set in its configuration file that
# bear on the measurement (autovacuum, fsync, synchronous_commit, full_page_writes,
# max_wal_size, min_wal_size, checkpoint_timeout, max_connections, wal_buffers). Run as root,
# the private cluster runs as the postgres user (PostgreSQL refuses root). Needs jq, psql and
# PostgreSQL's server binaries (those of DATABASE_URL's major version when installed).
set -euo pipefail

usage="usage: scripts/commands-by-shared-buffers.sh DATABASE_URL SIZE [PAIRS] [SCENARIOS] [-- BENCH FLAGS...]"
url=${1:?$usage}
size=${2:?$usage}
shift 2
pairs=2
scenarios=commands
if (($#)) && [[ $1 != -- ]]; then pairs=$1; shift; fi
if (($#)) && [[ $1 != -- ]]; then scenarios=$1; shift; fi
if (($#)) && [[ $1 == -- ]]; then shift; fi
if ! [[ $pairs =~ ^[1-9][0-9]*$ ]]; then
	echo "commands-by-shared-buffers: PAIRS must be a positive whole number, not $pairs" >&2
	exit 2
fi
for tool in jq psql; do
	command -v "$tool" >/dev/null || { echo "commands-by-shared-buffers: needs $tool" >&2; exit 2; }
done
bin=${DOTMAC_BIN:-bin/dotmac}
[[ -x $bin ]] || { echo "commands-by-shared-buffers: $bin is not built (make build, or set DOTMAC_BIN)" >&2; exit 2; }

major=$(psql "$url" -Atc "SELECT current_setting('server_version_num')::int / 10000")
bindir=/usr/lib/postgresql/$major/bin
[[ -x $bindir/initdb ]] || bindir=$(pg_config --bindir)
settings=$(psql "$url" -AtF= -c "SELECT name, CASE WHEN unit = '8kB' AND setting <> '-1' THEN (setting::bigint * 8)::text || 'kB'
		WHEN unit IS NULL OR setting = '-1' THEN setting ELSE setting || unit END
	FROM pg_settings WHERE source = 'configuration file' AND name IN ('autovacuum', 'fsync', 'synchronous_commit',
	'full_page_writes', 'max_wal_size', 'min_wal_size', 'checkpoint_timeout', 'max_connections', 'wal_buffers')")

dir=$(mktemp -d)
chmod 755 "$dir"
data=$dir/data
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
	as_pg=(runuser -u postgres --)
	chown postgres "$dir"
fi
stop() {
	"${as_pg[@]}" "$bindir/pg_ctl" stop --pgdata="$data" --mode=fast --wait >/dev/null 2>&1 || true
	rm -rf "$data"
}
trap stop EXIT

echo "reports in $dir; private cluster on port $port with shared_buffers=$size"
"${as_pg[@]}" "$bindir/initdb" --pgdata="$data" --username=postgres --auth=trust >"$dir/initdb.log"
{
	echo "port = $port"
	echo "listen_addresses = '127.0.0.1'"
	echo "unix_socket_directories = '$dir'"
	echo "shared_buffers = '$size'"
	while IFS== read -r name value; do
		[[ -n $name ]] && echo "$name = '$value'"
	done <<<"$settings"
} >>"$data/postgresql.conf"
"${as_pg[@]}" "$bindir/pg_ctl" start --pgdata="$data" --wait --log="$dir/postgres.log" >/dev/null
private="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"

. "$(dirname "$0")/lib/bench-report.sh"

# Per run, beside bench_figures: PostgreSQL's CPU per command and the buffers it read from the
# OS and its backends wrote out themselves.
extra() {
	jq -r '.scenarios.commands as $c | [
		($c.cpu_per_command.postgres_us // "-" | tostring | .[0:6]),
		($c.work_per_command.buffer_accesses // "-" | tostring | .[0:6]),
		($c.work_per_command.buffer_reads // "-" | tostring | .[0:6]),
		($c.work_per_command.backend_writes // "-" | tostring | .[0:6])] | @tsv' "$1"
}

{
	printf '%s\tPostgreSQL us/cmd\tbuffers/cmd\tread/cmd\tbackend writes/cmd\n' "$(bench_header)"
	for ((i = 1; i <= pairs; i++)); do
		order=("host:$url" "sized:$private")
		((i % 2 == 0)) && order=("sized:$private" "host:$url")
		for entry in "${order[@]}"; do
			name=${entry%%:*} target=${entry#*:}
			line=$(bench_run commands-by-shared-buffers "$name" "$i" "$dir" "$bin" bench --database-url "$target" --scenario "$scenarios" "$@") || exit 1
			printf '%s\t%s\n' "$line" "$(extra "$dir/$name-$i.json")"
		done
	done
} | tee "$dir/runs.tsv" | column -t -s $'\t'

echo
bench_medians "$dir/runs.tsv" host | column -t -s $'\t'
