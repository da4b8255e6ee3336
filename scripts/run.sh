#!/usr/bin/env bash
# Builds and runs the service on LISTEN_ADDR (default 0.0.0.0:8080).
#
# With DATABASE_URL unset it starts a local PostgreSQL of its own (installing
# it from the system's packages if absent), keeping its data in
# .tools/pgdata between runs. Stop with Ctrl-C: the server finishes requests
# in flight, then the database stops too.
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$repo_root/scripts/lib/postgres.sh"
cd "$repo_root"

cargo build --release --locked -p tickets-server

if [[ -z "${DATABASE_URL:-}" ]]; then
    trap stop_local_postgres EXIT
    start_local_postgres "$tools_dir/pgdata"
fi

# A local run asks for no credentials: until the operations check them,
# AUTH_MODE=open is the one mode the server starts in (docs/AUTH.md). It
# warns at start.
export AUTH_MODE="${AUTH_MODE:-open}"
log "serving on ${LISTEN_ADDR:-0.0.0.0:8080} (AUTH_MODE=$AUTH_MODE)"
target/release/tickets-server &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true' INT TERM
# The first wait returns when a signal arrives; the second for the exit.
wait "$server" || wait "$server"
