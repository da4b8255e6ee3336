#!/bin/bash
# A test fixture, never shipped: the entrypoint of the stand-in for the
# official postgres image, which scripts/lib/docker-engine.sh builds from
# Debian's postgresql-15 where no container registry can be reached. It keeps
# the part of the official image's contract that docker-compose.yml uses:
#   - POSTGRES_USER (default postgres), POSTGRES_PASSWORD (required) and
#     POSTGRES_DB (default POSTGRES_USER) set up a new cluster;
#   - data in $PGDATA (/var/lib/postgresql/data), reused when it has one;
#   - password (scram-sha-256) authentication over TCP from anywhere,
#     trust over the local socket (where pg_isready probes);
#   - the server runs as the postgres user;
#   - SIGTERM or SIGINT stops it with a fast shutdown, as the official image's
#     STOPSIGNAL SIGINT does (docker commit cannot set STOPSIGNAL, so the
#     signal is translated here). A smart shutdown would wait for every
#     pooled client connection to close.
set -euo pipefail

if [[ $(id -u) == 0 ]]; then
    install -d -o postgres -g postgres -m 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    POSTGRES_USER=${POSTGRES_USER:-postgres}
    POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
    initdb --pgdata "$PGDATA" --username "$POSTGRES_USER" \
        --pwfile <(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-local trust --auth-host scram-sha-256 --encoding UTF8 --locale C.UTF-8 >/dev/null
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    if [[ "$POSTGRES_DB" != postgres ]]; then
        printf 'CREATE DATABASE "%s";\n' "${POSTGRES_DB//\"/\"\"}" |
            postgres --single -D "$PGDATA" postgres >/dev/null
    fi
fi

"$@" &
server=$!
trap 'kill -INT "$server"' TERM INT
# A trapped signal ends `wait` early: wait again until the server is gone.
status=0
wait "$server" || status=$?
while kill -0 "$server" 2>/dev/null; do
    status=0
    wait "$server" || status=$?
done
exit "$status"
