#!/bin/bash
# Run once by the postgres image when it initialises the primary's data directory: let the
# replica (deploy/compose.yaml, postgres-replica) connect for streaming replication. Trust on
# the compose network, like the rest of this development setup; use a replication role with a
# password (scram-sha-256) and TLS anywhere else.
set -euo pipefail
echo "host replication all all trust" >>"$PGDATA/pg_hba.conf"
