#!/usr/bin/env bash
# Builds and runs the service on LISTEN_ADDR (default 0.0.0.0:8080), with
# credentials required, and prints an organiser token and a buyer token to
# try it with (also written to .tools/dev-tokens.env).
#
# With DATABASE_URL unset it starts a local PostgreSQL of its own (installing
# it from the system's packages if absent), keeping its data in
# .tools/pgdata between runs. With OIDC_ISSUER unset it starts the
# development OpenID provider (tests/oidc-provider, on 127.0.0.1:8090 or
# OIDC_DEV_PORT), which gives a token to anyone who asks: for trying the
# service on this machine only. AUTH_MODE=open runs without credentials.
# Stop with Ctrl-C: the server finishes requests in flight, then the rest
# stops too.
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$repo_root/scripts/lib/postgres.sh"
source "$repo_root/scripts/lib/clients.sh"
source "$repo_root/scripts/lib/oidc.sh"
cd "$repo_root"

cargo build --release --locked -p tickets-server
server_bin="$repo_root/target/release/tickets-server"

cleanup() {
    stop_dev_oidc_provider
    if [[ -n "${started_postgres:-}" ]]; then stop_local_postgres; fi
}
trap cleanup EXIT

if [[ -z "${DATABASE_URL:-}" ]]; then
    start_local_postgres "$tools_dir/pgdata"
    started_postgres=1
fi

tokens_file="$tools_dir/dev-tokens.env"
if [[ "${AUTH_MODE:-}" != open && -z "${OIDC_ISSUER:-}" ]]; then
    ensure_node
    start_dev_oidc_provider "$tools_dir/oidc-dev.out" "${OIDC_DEV_PORT:-8090}"
    export OIDC_AUDIENCE="${OIDC_AUDIENCE:-tickets-api}"
    # An organiser who may do everything, and a buyer, alice.
    organiser=$(dev_organiser_token "Local organiser")
    buyer=$(dev_buyer_token alice)
    printf 'ORGANISER_TOKEN=%s\nBUYER_TOKEN=%s\n' "$organiser" "$buyer" >"$tokens_file"
    chmod 600 "$tokens_file"
    log "development tokens (also in $tokens_file; the buyer's lasts a day):"
    cat "$tokens_file"
    log "another buyer: curl -s $OIDC_ISSUER/token -d 'grant_type=password&username=bob&aud=$OIDC_AUDIENCE'"
fi

log "serving on ${LISTEN_ADDR:-0.0.0.0:8080} (AUTH_MODE=${AUTH_MODE:-required})"
"$server_bin" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null || true' INT TERM
# The first wait returns when a signal arrives; the second for the exit.
wait "$server" || wait "$server"
