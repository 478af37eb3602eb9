#!/usr/bin/env bash
# Stops the private PostgreSQL cluster dotmac starts under DIR (default var/postgres) when no
# server is found, if it is running. Run as root, pg_ctl runs as the data directory's owner
# (PostgreSQL refuses root), exactly as dotmac started it.
set -euo pipefail

data=$(realpath -m "${1:-var/postgres}/data")
if [[ ! -f $data/postmaster.pid ]]; then
	echo "no private PostgreSQL cluster running under $data"
	exit 0
fi

# The binaries of the cluster's own major version, else pg_config's, else the newest installed.
bindir=/usr/lib/postgresql/$(cat "$data/PG_VERSION")/bin
[[ -x $bindir/pg_ctl ]] || bindir=$(pg_config --bindir 2>/dev/null || true)
[[ -x $bindir/pg_ctl ]] || bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

as_owner=()
owner=$(stat -c %U "$data")
if [[ $(id -u) -eq 0 && $owner != root ]]; then
	as_owner=(runuser -u "$owner" --)
fi
cd / # the owner may not be able to enter the current directory
"${as_owner[@]}" "$bindir/pg_ctl" stop --pgdata="$data" --mode=fast --wait
