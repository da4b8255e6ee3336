#!/usr/bin/env bash
# Checks that the server does what openapi.yaml says, as its users see it:
#   1. the spec passes its linter (contract/redocly.yaml says which rules);
#   2. schemathesis sends generated valid and invalid requests to every
#      operation and checks every answer against the spec;
#   3. a TypeScript client generated from the spec by the pinned
#      openapi-generator compiles and drives the server;
#   4. the /docs page works in headless Chromium with no internet and shows
#      every operation; its screenshot goes to contract/build/ (copy it to
#      docs/api-reference.png when the page changes).
# With DATABASE_URL unset it starts a throwaway PostgreSQL of its own.
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$repo_root/scripts/lib/postgres.sh"
source "$repo_root/scripts/lib/server.sh"
cd "$repo_root"

ensure_python_tools
ensure_debian_package chromium chromium
if ! cmp -s contract/package-lock.json contract/node_modules/.installed-lock 2>/dev/null; then
    log "installing the contract checks' npm packages"
    (cd contract && npm ci --no-audit --no-fund --loglevel=error)
    cp contract/package-lock.json contract/node_modules/.installed-lock
fi

log "1/4 linting openapi.yaml"
(cd contract && npx --no-install redocly lint ../openapi.yaml --config redocly.yaml --format=summary)

cargo build --release --locked -p tickets-server
scratch=$(mktemp -d)
cleanup() {
    stop_release_server
    stop_local_postgres
    rm -rf "$scratch"
}
trap cleanup EXIT
[[ -n "${DATABASE_URL:-}" ]] || start_local_postgres "$scratch/pgdata"

start_release_server "$scratch/server.log"
base=$SERVER_BASE

log "2/4 schemathesis against $base"
# Deterministic generation: the same requests every run. 60 examples an
# operation in each phase: about a thousand requests in all.
st run openapi.yaml --url "$base" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection \
    --max-examples 60 --generation-deterministic --request-timeout 10 \
    --no-color --warnings off

log "3/4 the generated TypeScript client"
rm -rf contract/build
openapi-generator-cli generate --input-spec openapi.yaml --generator-name typescript-fetch \
    --output contract/build/client \
    --additional-properties supportsES6=true,hideGenerationTimestamp=true >"$scratch/tsgen.log" 2>&1 ||
    { cat "$scratch/tsgen.log" >&2; die "generating the TypeScript client failed"; }
(cd contract && npx --no-install tsc -p . && node build/js/src/drive-client.js "$base")

log "4/4 the docs page in headless Chromium"
(cd contract && node src/docs-check.mjs "$base" build/api-reference.png)

log "the server keeps the contract"
