#!/usr/bin/env bash
# The storefront (examples/storefront) in headless Chromium, end to end: a
# buyer signs in at the tests' OpenID provider, holds, confirms and cancels,
# and meets each refusal (contract/src/storefront-check.ts says what is
# checked, the database included). The page is served from one origin the
# server allows (CORS_ALLOWED_ORIGINS) and, to be refused, from another.
#
# Installs what it needs the first time (Debian's chromium, the npm packages
# of contract/ and examples/storefront/, the provider's). Builds the release
# binary and runs it on a free loopback port against a throwaway PostgreSQL
# of its own. Logs: examples/storefront/build/. The screenshot,
# docs/storefront-checkout.png, is rewritten only when the page looks
# different.
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$repo_root/scripts/lib/postgres.sh"
source "$repo_root/scripts/lib/server.sh"
source "$repo_root/scripts/lib/clients.sh"
cd "$repo_root"

build=examples/storefront/build
screenshot=docs/storefront-checkout.png
# The audience the server checks tokens for: the storefront's client id at
# the provider is another name, as at a real provider.
audience=tickets-api

ensure_debian_package chromium chromium
ensure_node
ensure_npm_packages contract
examples/storefront/build.sh
contract/node_modules/.bin/tsc -p contract/tsconfig.storefront.json

log "building the release binary"
cargo build --release --locked -p tickets-server

scratch=$(mktemp -d)
provider_pid='' allowed_pid='' disallowed_pid=''
cleanup() {
    stop_started "$allowed_pid" "$disallowed_pid"
    # The provider exits when its input closes.
    exec 7>&- 2>/dev/null || true
    stop_started "$provider_pid"
    stop_release_server
    stop_local_postgres
    cp "$scratch"/*.log "$build/" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT
start_local_postgres "$scratch/pgdata"

log "starting the OpenID provider"
mkfifo "$scratch/provider.in"
tests/oidc-provider/start.sh <"$scratch/provider.in" >"$scratch/provider.out" 2>"$scratch/provider.log" &
provider_pid=$!
exec 7>"$scratch/provider.in"
for _ in $(seq 1800); do
    grep -q '^OIDC_ISSUER=' "$scratch/provider.out" && break
    kill -0 "$provider_pid" 2>/dev/null || { cat "$scratch/provider.log" >&2; die "the OpenID provider did not start"; }
    sleep 0.1
done
issuer=$(sed -n 's/^OIDC_ISSUER=//p' "$scratch/provider.out")
[[ -n $issuer ]] || die "the OpenID provider did not start within 180 s"

# How the server learns who the buyer is, the one place to switch: `open`
# (the body's user_id, no credentials checked) or `oidc` (the buyer's token
# from the provider above, checked).
auth=oidc
case $auth in
    open) auth_settings=(AUTH_MODE=open) ;;
    oidc) auth_settings=(AUTH_MODE=required OIDC_ISSUER="$issuer" OIDC_AUDIENCE="$audience") ;;
esac

allowed_port=$(free_port)
disallowed_port=$(free_port)
storefront="http://127.0.0.1:$allowed_port"
# The limits low enough for the page to meet one: a buyer gets 8 holds at
# once, then one a minute. Holds may be as short as 1 s, to see one expire.
start_release_server "$scratch/server.log" "${auth_settings[@]}" \
    CORS_ALLOWED_ORIGINS="$storefront" RATE_LIMITS=on \
    RATE_LIMIT_BUYER_BURST=8 RATE_LIMIT_BUYER_PER_MINUTE=1 HOLD_TTL_MIN_SECS=1

# The organiser's token that puts the tickets on sale (ignored when open).
organiser_token=$(target/release/tickets-server tokens create --organiser "Storefront test" \
    --permissions create_tickets 2>"$scratch/tokens.log")

config=$(printf '{"api": "%s", "issuer": "%s", "clientId": "storefront", "audience": "%s", "audienceParameter": "aud", "ticket": 1}' \
    "$SERVER_BASE" "$issuer" "$audience")
node examples/storefront/serve.mjs examples/storefront/dist "$allowed_port" "$config" >"$scratch/storefront.log" 2>&1 &
allowed_pid=$!
node examples/storefront/serve.mjs examples/storefront/dist "$disallowed_port" "$config" >"$scratch/disallowed.log" 2>&1 &
disallowed_pid=$!
await_http "$storefront/config.json" "$scratch/storefront.log" "the storefront's server"
await_http "http://127.0.0.1:$disallowed_port/config.json" "$scratch/disallowed.log" "the second storefront server"

log "driving the storefront in headless Chromium"
API=$SERVER_BASE ISSUER=$issuer ORGANISER_TOKEN=$organiser_token \
    STOREFRONT=$storefront DISALLOWED="http://127.0.0.1:$disallowed_port" \
    SCREENSHOT="$build/storefront-checkout.png" \
    node contract/build/js/src/storefront-check.js
if cmp -s "$build/storefront-checkout.png" "$screenshot"; then
    echo "storefront: $screenshot unchanged"
else
    cp "$build/storefront-checkout.png" "$screenshot"
    echo "storefront: the page looks different: $screenshot rewritten, review and commit it"
fi
