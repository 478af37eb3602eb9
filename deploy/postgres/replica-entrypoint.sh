#!/bin/bash
# The replica's entrypoint (deploy/compose.yaml, postgres-replica): on an empty data directory,
# copy the primary with pg_basebackup (-R writes standby.signal and primary_conninfo, -C -S
# creates the replication slot, so the primary keeps the WAL the replica has not received),
# then run PostgreSQL as a hot standby.
set -euo pipefail
: "${PGDATA:=/var/lib/postgresql/data}"
if [[ ! -s $PGDATA/PG_VERSION ]]; then
	until pg_isready --quiet --host="$PRIMARY_HOST" --username=postgres; do sleep 1; done
	pg_basebackup --host="$PRIMARY_HOST" --username=postgres --pgdata="$PGDATA" \
		--write-recovery-conf --wal-method=stream --create-slot --slot="$REPLICATION_SLOT" --progress
	chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on -c hot_standby_feedback=on
