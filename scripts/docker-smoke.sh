#!/usr/bin/env bash
# On a host with a Docker engine: builds the image, brings the compose stack
# up, buys tickets through it (one server, then three replicas behind
# nginx), and tears it down. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'docker-smoke: %s\n' "$*" >&2; exit 1; }

if ! docker info >/dev/null 2>&1; then
    printf 'docker-smoke: no Docker engine is reachable (docker info failed); this check needs one\n' >&2
    exit 2
fi
command -v curl >/dev/null || die "curl is required"

compose() { docker compose --profile scale "$@"; }
trap 'compose down --volumes --remove-orphans >/dev/null 2>&1 || true' EXIT

# Status of a request; the body goes to $body_file.
body_file=$(mktemp)
request() {
    curl -s -o "$body_file" -w '%{http_code}' -H 'content-type: application/json' "$@"
}
expect() {
    local want=$1; shift
    local got
    got=$(request "$@")
    [[ "$got" == "$want" ]] || die "expected $want, got $got for $*: $(cat "$body_file")"
}

# Create, read, buy, over-buy, then 50 concurrent buyers for 20 tickets.
exercise() {
    local base=$1 id
    log "exercising $base"
    expect 201 -X POST "$base/tickets" -d '{"name":"smoke","desc":"","allocation":3}'
    id=$(sed -E 's/.*"id":([0-9]+).*/\1/' "$body_file")
    expect 200 "$base/tickets/$id"
    expect 201 -X POST "$base/tickets/$id/purchases" -d '{"quantity":2,"user_id":"406c1d05-bbb2-4e94-b183-7d208c2692e1"}'
    expect 409 -X POST "$base/tickets/$id/purchases" -d '{"quantity":2,"user_id":"406c1d05-bbb2-4e94-b183-7d208c2692e1"}'
    grep -q '"remaining":1' "$body_file" || die "the 409 does not say 1 is left: $(cat "$body_file")"

    expect 201 -X POST "$base/tickets" -d '{"name":"rush","desc":"","allocation":20}'
    id=$(sed -E 's/.*"id":([0-9]+).*/\1/' "$body_file")
    local sold
    sold=$(seq 50 | xargs -P 50 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H 'content-type: application/json' \
        -X POST "$base/tickets/$id/purchases" -d '{"quantity":1,"user_id":"406c1d05-bbb2-4e94-b183-7d208c2692e1"}' |
        grep -c '^201$' || true)
    [[ "$sold" == 20 ]] || die "50 buyers for 20 tickets bought $sold"
    expect 200 "$base/tickets/$id"
    grep -q '"allocation":0' "$body_file" || die "tickets left after selling out: $(cat "$body_file")"
}

log "building and starting the stack"
docker compose up --build --detach --wait
exercise http://127.0.0.1:8080

log "starting three replicas behind nginx"
compose up --build --detach --wait
exercise http://127.0.0.1:8081

log "docker smoke test passed"
