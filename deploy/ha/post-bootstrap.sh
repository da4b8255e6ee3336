#!/bin/bash
# Run by Patroni once, on the node that bootstraps the cluster, after initdb
# and before the other nodes clone it (bootstrap.post_bootstrap); $1 is a
# connection string for the superuser. Makes what scripts/ha.sh makes by
# hand: the service's database, here with a role of its own that owns it
# (TICKETS_DB_PASSWORD), and pgBackRest's stanza, without which every
# archive-push fails and WAL piles up on the primary.
set -euo pipefail
: "${TICKETS_DB_PASSWORD:?TICKETS_DB_PASSWORD must be set}"
psql -X -q -v ON_ERROR_STOP=1 -v password="$TICKETS_DB_PASSWORD" "$1" <<'SQL'
CREATE ROLE tickets LOGIN PASSWORD :'password';
CREATE DATABASE tickets OWNER tickets;
SQL
pgbackrest --stanza=tickets stanza-create
