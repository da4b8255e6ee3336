#!/usr/bin/env bash
# The container path on a real Docker engine (the host's, or one that
# scripts/lib/docker-engine.sh starts), from the committed files:
#   - builds the image; its runtime stage may add at most 20 MB to its base;
#   - starts PostgreSQL and one server and buys through it; the server runs
#     as uid 10001 with no capabilities on a read-only root filesystem;
#   - starts three replicas behind nginx and buys through them;
#   - restarts PostgreSQL under load, then kills a replica under load behind
#     nginx: afterwards the books balance, every 201 has its purchase row,
#     and the service answers again by itself;
#   - stops the stack: every server exits 0 on SIGTERM within its grace;
#   - takes it down and up again: the data is still there;
#   - starts the ha profile (etcd, three Patroni nodes in synchronous mode,
#     three replicas behind nginx), buys through it, kills the primary's
#     container under load (the machine lost: its Patroni dies with its
#     PostgreSQL, so the leader lock must expire first): purchases succeed
#     again within the lock's ttl and 10 s, every 201
#     has its row on the new primary, the books balance, no 5xx but 503;
#     the old primary rejoins as a standby and WAL archiving works.
# The stack is a compose project of its own (tickets-smoke) on free ports,
# removed with its volumes at the end. Exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$repo_root/scripts/lib/docker-engine.sh"
cd "$repo_root"

# The stack buys without credentials until the operations check them
# (docs/AUTH.md); compose passes this to the servers, it is no default.
export AUTH_MODE=open
# The profile in use (scale, then ha: their replicas share nginx's names).
profile=scale
compose() { docker compose --profile "$profile" "$@"; }
scratch=$(mktemp -d)
cleanup() {
    docker compose --profile scale --profile ha down --volumes --remove-orphans >/dev/null 2>&1 || true
    stop_docker_engine
    rm -rf "$scratch"
}
trap cleanup EXIT

start_docker_engine
ensure_compose
ensure_base_images
ensure_debian_package curl curl

# The smoke's buyers are all one address and mostly one buyer: its load
# would be refused by the rate limits (rate_limits.rs tests those).
export RATE_LIMITS=off
export COMPOSE_PROJECT_NAME=tickets-smoke COMPOSE_PROGRESS=quiet TICKETS_PORT TICKETS_SCALED_PORT TICKETS_HA_PORT
TICKETS_PORT=$(free_port)
TICKETS_SCALED_PORT=$(free_port)
until [[ "$TICKETS_SCALED_PORT" != "$TICKETS_PORT" ]]; do TICKETS_SCALED_PORT=$(free_port); done
TICKETS_HA_PORT=$(free_port)
until [[ "$TICKETS_HA_PORT" != "$TICKETS_PORT" && "$TICKETS_HA_PORT" != "$TICKETS_SCALED_PORT" ]]; do TICKETS_HA_PORT=$(free_port); done
server=http://127.0.0.1:$TICKETS_PORT
balancer=http://127.0.0.1:$TICKETS_SCALED_PORT
ha_balancer=http://127.0.0.1:$TICKETS_HA_PORT
user=406c1d05-bbb2-4e94-b183-7d208c2692e1

# Status of a request; the body goes to $body_file.
body_file=$scratch/body
request() {
    curl -s -o "$body_file" --max-time 10 -w '%{http_code}' -H 'content-type: application/json' "$@"
}
expect() {
    local want=$1 got
    shift
    got=$(request "$@")
    [[ "$got" == "$want" ]] || die "expected $want, got $got for $*: $(cat "$body_file")"
}
# create_ticket BASE ALLOCATION: prints the new ticket's id.
create_ticket() {
    expect 201 -X POST "$1/tickets" -d "{\"name\":\"smoke\",\"desc\":\"\",\"allocation\":$2}"
    sed -E 's/.*"id":([0-9]+).*/\1/' "$body_file"
}
# The service's database on the container that takes writes: postgres, or
# the ha profile's primary.
db_service=postgres
sql() { compose exec -T "$db_service" psql -X -q -tA -v ON_ERROR_STOP=1 -U tickets -d tickets "$@"; }

# Create, read, buy, over-buy, then 50 concurrent buyers for 20 tickets.
exercise() {
    local base=$1 id sold
    log "exercising $base"
    id=$(create_ticket "$base" 3)
    expect 200 "$base/tickets/$id"
    expect 201 -X POST "$base/tickets/$id/purchases" -d "{\"quantity\":2,\"user_id\":\"$user\"}"
    expect 409 -X POST "$base/tickets/$id/purchases" -d "{\"quantity\":2,\"user_id\":\"$user\"}"
    grep -q '"remaining":1' "$body_file" || die "the 409 does not say 1 is left: $(cat "$body_file")"

    id=$(create_ticket "$base" 20)
    sold=$(seq 50 | xargs -P 50 -I{} curl -s -o /dev/null --max-time 10 -w '%{http_code}\n' \
        -H 'content-type: application/json' -X POST "$base/tickets/$id/purchases" \
        -d "{\"quantity\":1,\"user_id\":\"$user\"}" | grep -c '^201$' || true)
    [[ "$sold" == 20 ]] || die "50 buyers for 20 tickets bought $sold"
    expect 200 "$base/tickets/$id"
    grep -q '"allocation":0' "$body_file" || die "tickets left after selling out: $(cat "$body_file")"
}

# The server's confinement, as the engine applied it and as seen inside.
check_confinement() {
    local container
    container=$(compose ps -q server)
    [[ $(docker inspect --format '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}}' "$container") == "true [ALL]" ]] ||
        die "the server's container is not read-only with every capability dropped"
    [[ $(docker exec "$container" id -u) == 10001 ]] || die "the server does not run as uid 10001"
    docker exec "$container" grep -qE '^CapEff:\s+0+$' /proc/1/status || die "the server has capabilities"
    # Even root, which owns /, cannot write to it.
    if docker exec --user 0 "$container" touch /probe 2>"$scratch/write.err"; then
        die "the server's root filesystem is writable"
    fi
    grep -q 'Read-only file system' "$scratch/write.err" || die "writing to / failed otherwise: $(cat "$scratch/write.err")"
}

# Buyers under load: four a base, each buying 1 to 3 of a scarce or a
# plentiful ticket until the deadline, one request at a time, writing
# "status location" for each answer.
start_load() {
    local deadline=$((EPOCHSECONDS + $1)) base
    shift
    load_pids=()
    for base in "$@"; do
        for _ in 1 2 3 4; do
            buyer "$base" "$deadline" >>"$scratch/answers" &
            load_pids+=($!)
        done
    done
}
buyer() {
    local base=$1 deadline=$2 ticket
    while ((EPOCHSECONDS < deadline)); do
        ticket=${load_tickets[RANDOM % 2]}
        curl -s -o /dev/null --max-time 10 -w '%{http_code} %header{location}\n' \
            -H 'content-type: application/json' -X POST "$base/tickets/$ticket/purchases" \
            -d "{\"quantity\":$((RANDOM % 3 + 1)),\"user_id\":\"$user\"}" || true
    done
}

# Purchases through BASE until ten in a row are answered 201 or 409, within
# a minute.
wait_for_purchases() {
    local base=$1 in_a_row=0 deadline=$((EPOCHSECONDS + 60)) status
    while ((in_a_row < 10)); do
        ((EPOCHSECONDS < deadline)) || die "$base does not sell again a minute after the fault (last answer $status)"
        status=$(request -X POST "$base/tickets/${load_tickets[RANDOM % 2]}/purchases" \
            -d "{\"quantity\":1,\"user_id\":\"$user\"}")
        if [[ "$status" == 201 || "$status" == 409 ]]; then
            in_a_row=$((in_a_row + 1))
        else
            in_a_row=0
            sleep 0.2
        fi
    done
}

# After a fault under load (FAULT names it): the answers given during it
# were among ANSWERS (a pattern: 201|409|...), each BASE sells again, for
# every ticket what is left plus what was bought is the allocation, and
# every 201 has its row (one: the id is the key).
check_after_fault() {
    local fault=$1 answers=$2 base missing
    shift 2
    wait "${load_pids[@]}"
    log "$fault: answers under load: $(cut -d ' ' -f 1 "$scratch/answers" | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')"
    if grep -qvE "^($answers) " "$scratch/answers"; then
        die "$fault: answers other than ${answers//|/, } under load"
    fi
    grep -q '^201 ' "$scratch/answers" || die "$fault: nothing was bought under load"
    for base in "$@"; do
        wait_for_purchases "$base"
    done
    [[ $(sql -c "SELECT count(*) FROM tickets t WHERE t.remaining + COALESCE(
        (SELECT sum(quantity) FROM purchases p WHERE p.ticket_id = t.id), 0) <> t.allocation") == 0 ]] ||
        die "$fault: what is left plus what was bought is not the allocation"
    missing=$({
        printf 'CREATE TEMP TABLE answered (id uuid);\nCOPY answered FROM STDIN;\n'
        sed -nE 's|^201 .*/purchases/([0-9a-f-]+).*|\1|p' "$scratch/answers"
        printf '\\.\nSELECT count(*) FROM answered WHERE id NOT IN (SELECT id FROM purchases);\n'
    } | sql)
    [[ "$missing" == 0 ]] || die "$fault: $missing purchases answered 201 have no row"
    rm "$scratch/answers"
}

started=$SECONDS
image=$(compose_image tickets-server)
runtime_base=$(dockerfile_stage_base runtime)
log "building $image (build log: $scratch/build.log)"
docker compose --progress plain build server >"$scratch/build.log" 2>&1 ||
    { tail -n 40 "$scratch/build.log" >&2; die "the image does not build"; }
log "built in $((SECONDS - started)) s"

size_of() { docker image inspect --format '{{.Size}}' "$1"; }
added=$(($(size_of "$image") - $(size_of "$runtime_base")))
log "$image: $(size_of "$image") bytes, $added over its base $runtime_base"
((added <= 20000000)) || die "the runtime stage adds $added bytes to its base: more than 20 MB"

log "starting PostgreSQL and one server"
docker compose up --detach --wait
exercise "$server"
check_confinement

log "starting three replicas behind nginx"
compose up --detach --wait
exercise "$balancer"

load_tickets=("$(create_ticket "$server" 300)" "$(create_ticket "$server" 1000000)")

log "restarting PostgreSQL under load, through the server and nginx"
start_load 12 "$server" "$balancer"
sleep 3
compose restart postgres
# 503 while the database is away.
check_after_fault "restarting PostgreSQL" '201|409|503' "$server" "$balancer"

log "killing replica-2 under load behind nginx"
start_load 10 "$balancer"
sleep 3
killed=$(compose ps -q replica-2)
docker kill "$killed" >/dev/null
# 502 from nginx for a request in flight in the replica killed.
check_after_fault "killing replica-2" '201|409|502|503' "$balancer"
# docker kill counts as a stop by hand, which unless-stopped respects.
log "replica-2 is $(docker inspect --format '{{.State.Status}}' "$killed"); nginx routes around it"

kept=$(create_ticket "$server" 7)
servers=$(compose ps -q server replica-1 replica-3)
log "stopping the stack"
stopping=$SECONDS
compose stop
log "stopped in $((SECONDS - stopping)) s"
for container in $servers; do
    name=$(docker inspect --format '{{.Name}}' "$container")
    docker logs "$container" 2>&1 | grep 'SIGTERM received' >/dev/null || die "$name was not stopped with SIGTERM"
    code=$(docker inspect --format '{{.State.ExitCode}}' "$container")
    [[ "$code" == 0 ]] || die "$name exited $code on SIGTERM, not 0 (137: killed when its grace ran out)"
done

log "down and up again: the data is kept"
compose down
docker compose up --detach --wait
expect 200 "$server/tickets/$kept"
grep -q '"allocation":7' "$body_file" || die "ticket $kept did not survive down and up: $(cat "$body_file")"

# The ha profile (docs/HA.md). Patroni's view names the leader; its
# PostgreSQL says how many standbys stream to it and how many of them
# synchronously (scripts/lib/standbys.sql). Prints the leader's name once
# STANDBYS or more stream and one is synchronous, asking Patroni on FROM;
# bounded.
await_protected_leader() {
    local from=$1 standbys=$2 deadline=$((EPOCHSECONDS + 120)) leader streaming sync
    while ((EPOCHSECONDS < deadline)); do
        leader=$(compose exec -T "$from" patronictl -c /etc/patroni.yml list --format json 2>/dev/null |
            python3 -c 'import json, sys
print(next((m["Member"] for m in json.load(sys.stdin) if m["Role"] == "Leader" and m["State"] == "running"), ""))' ||
            true)
        if [[ -n "$leader" ]] && read -r streaming sync < <(compose exec -T "$leader" psql -X -q -tA -U postgres -d postgres \
            <scripts/lib/standbys.sql 2>/dev/null) && ((streaming >= standbys && sync == 1)); then
            echo "$leader"
            return
        fi
        sleep 1
    done
    compose exec -T "$from" patronictl -c /etc/patroni.yml list >&2 || true
    die "no leader with $standbys streaming standbys, one synchronous, within 2 minutes"
}

# Purchases of the plentiful ticket through BASE, one at a time, until one
# is answered 201 (bounded: a minute); their answers join the load's.
# Prints the seconds from KILLED_AT (an EPOCHREALTIME) to that 201.
first_sale_since() {
    local base=$1 killed_at=$2 deadline=$((EPOCHSECONDS + 60)) answer
    while ((EPOCHSECONDS < deadline)); do
        answer=$(curl -s -o /dev/null --max-time 10 -w '%{http_code} %header{location}' \
            -H 'content-type: application/json' -X POST "$base/tickets/${load_tickets[1]}/purchases" \
            -d "{\"quantity\":1,\"user_id\":\"$user\"}" || true)
        echo "$answer" >>"$scratch/answers"
        if [[ "$answer" == "201 "* ]]; then
            awk -v from="$killed_at" -v to="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", to - from }'
            return
        fi
        sleep 0.1
    done
    die "no purchase through $base succeeded within a minute of the kill"
}

log "the ha profile: building its database image (build log: $scratch/build-ha.log)"
profile=ha
ha_started=$SECONDS
compose --progress plain build pg-1 >"$scratch/build-ha.log" 2>&1 ||
    { tail -n 40 "$scratch/build-ha.log" >&2; die "the ha profile's database image does not build"; }
log "built in $((SECONDS - ha_started)) s"

log "starting etcd, three Patroni nodes and three replicas behind nginx"
starting=$SECONDS
compose up --detach --wait --wait-timeout 180 || {
    compose ps --all >&2
    compose logs --tail 30 etcd pg-1 pg-2 pg-3 ha-replica-1 >&2
    die "the ha profile did not come up healthy within 3 minutes"
}
leader=$(await_protected_leader pg-1 2)
log "$leader leads, two standbys stream, one synchronously: $((SECONDS - starting)) s after up"
# Patroni quietly raises a setting below its limits (a ttl under 20 to
# 20): the bounds below are read from deploy/ha/patroni.yml.
adjusted=$(compose logs pg-1 pg-2 pg-3 2>&1 | grep -i -m 1 'adjusting' || true)
[[ -z $adjusted ]] || die "Patroni changed a setting of deploy/ha/patroni.yml: $adjusted"
db_service=$leader
exercise "$ha_balancer"

load_tickets=("$(create_ticket "$ha_balancer" 300)" "$(create_ticket "$ha_balancer" 1000000)")
log "killing the primary's container ($leader) under load through nginx"
start_load 30 "$ha_balancer"
sleep 3
killed=$(compose ps -q "$leader")
docker kill "$killed" >/dev/null
killed_at=$EPOCHREALTIME
back=$(first_sale_since "$ha_balancer" "$killed_at")
log "purchases succeed again $back s after the kill"
survivor=$(compose ps --services --status running | grep -m 1 -E '^pg-[0-9]$')
new_leader=$(await_protected_leader "$survivor" 1)
[[ "$new_leader" != "$leader" ]] || die "$leader still leads after its container was killed"
log "$new_leader leads, with the remaining standby synchronous"
db_service=$new_leader
# Only 503 while no primary takes writes: no 5xx else, no request left
# unanswered.
check_after_fault "killing the primary $leader" '201|409|503' "$ha_balancer"
# The lock's ttl (deploy/ha/patroni.yml), then a promotion and the
# servers' reconnection.
ttl=$(sed -nE 's/^\s+ttl: ([0-9]+)$/\1/p' deploy/ha/patroni.yml)
[[ -n "$ttl" ]] || die "cannot read the leader lock's ttl from deploy/ha/patroni.yml"
awk -v back="$back" -v bound=$((ttl + 10)) 'BEGIN { exit !(back < bound) }' ||
    die "purchases succeeded again only $back s after the primary's container was killed, not within $((ttl + 10)) s"
log "the lock's ttl is $ttl s: a lost machine is noticed only when it expires"

log "restarting $leader: it rejoins as a standby"
rejoining=$SECONDS
docker start "$killed" >/dev/null
rejoined=$(await_protected_leader "$new_leader" 2)
[[ "$rejoined" == "$new_leader" ]] || die "the leader changed to $rejoined while $leader rejoined"
log "$leader streams again $((SECONDS - rejoining)) s after its restart"
compose exec -T "$new_leader" pgbackrest --stanza=tickets check ||
    die "pgBackRest's check fails on the new primary: WAL is not archived"

compose down --volumes
log "the ha profile passed in $((SECONDS - ha_started)) s"

log "docker smoke test passed in $((SECONDS - started)) s (engine and base images before that)"
