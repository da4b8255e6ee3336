#!/usr/bin/env bash
# Failover under load: the HA cluster of scripts/ha.sh (a primary, two
# synchronous-mode standbys), three tickets-server replicas on 127.0.0.1,
# and the soak's clients (scripts/lib/soak.py: keyed and unkeyed buyers,
# holds and their confirmations, readers). Faults in turn, each once the
# cluster is whole again:
#   primary-kill     SIGKILL of the primary's postmaster
#   switchover       a controlled switchover to the synchronous standby
#   primary-isolate  the primary cut off from etcd and from the standbys
#                    (iptables on its node's traffic; clients still reach
#                    it), healed once a standby has been promoted
#   primary-freeze   every process of the primary's node stopped
#                    (SIGSTOP), as a machine that hangs; thawed 30 s after a
#                    standby has been promoted, so that the servers must
#                    serve from the new primary while it still hangs
# At the end, every answer the clients saw is checked against the rows on
# the last primary (each 201 there exactly once, nothing oversold, the
# books add up, no 500s), and the unavailability and 503s of each fault are
# reported; exits 1 on FAIL. Runs as root (iptables, the cluster). Brings
# the cluster down at the end: it owns ha.sh's ports while it runs.
#
#   scripts/failover.sh              24 faults (6 of each kind)
#   scripts/failover.sh --faults N   N faults
#   scripts/failover.sh --smoke      one fault of each kind (CI)
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$repo_root/scripts/lib/server.sh"
source "$repo_root/scripts/lib/replicas.sh"
cd "$repo_root"

[[ $(id -u) -eq 0 ]] || die "scripts/failover.sh must run as root (the cluster, iptables)"
faults=24
# Seconds of traffic before the first fault and after the last.
lead_in=10 tail_out=15
while [[ $# -gt 0 ]]; do
    case $1 in
        --smoke) faults=4 ;;
        --faults) faults=${2:?--faults needs N}; shift ;;
        *) die "unknown argument $1 (use --faults N or --smoke)" ;;
    esac
    shift
done
[[ $faults =~ ^[0-9]+$ ]] && (( faults >= 1 && faults <= 200 )) || die "--faults must be 1 to 200"

cargo build --release --locked -p tickets-server

scratch=$(mktemp -d)
traffic_pid=
cleanup() {
    stop_started "$traffic_pid" "${replica_pids[@]}"
    wait
    scripts/ha.sh down >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT

DATABASE_URL=$(scripts/ha.sh up)
export DATABASE_URL
pg_bin=/usr/lib/postgresql/15/bin
sql() { timeout 10 "$pg_bin/psql" -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }

start_replicas "$scratch"

leader() { scripts/ha.sh leader; }

# Until a primary other than OLD takes a commit its synchronous standby
# confirmed (bounded: 60 s).
await_new_primary() {
    local old=$1 now
    for _ in $(seq 300); do
        now=$(leader)
        if [[ -n $now && $now != "$old" ]] && sql "SELECT txid_current()" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    die "no new primary took writes within 60 s of the fault"
}

# Until the primary streams to both standbys, one synchronous (bounded:
# 120 s; scripts/lib/standbys.sql), so that the next fault finds a standby
# to promote.
await_whole_cluster() {
    local state
    for _ in $(seq 240); do
        state=$(sql "$(<scripts/lib/standbys.sql)" 2>/dev/null || true)
        [[ $state == "2 1" ]] && return 0
        sleep 0.5
    done
    scripts/ha.sh status >&2 || true
    die "the cluster was not whole again within 120 s"
}

# A fault every period seconds at most; the traffic lasts long enough for
# all of them (an isolation takes the longest: the lock's ttl, 20 s; a
# switchover and the old primary's rejoining can take 45 s), with 5 s a
# fault to spare, and each freeze (every fourth fault) the time the node
# stays frozen after the promotion.
period=30
frozen_for=30
duration=$(( lead_in + faults * (period + 5) + (faults + 3) / 4 * frozen_for + tail_out ))
log "failover: $faults faults under ${duration} s of traffic on $REPLICA_URLS"
python3 scripts/lib/soak.py traffic --duration "$duration" --replicas "$REPLICA_URLS" \
    --psql "$pg_bin/psql" --out "$scratch/observed.json" --holds 0.15 &
traffic_pid=$!
traffic_started=$SECONDS

faults_log="$scratch/faults.log"
: >"$faults_log"
kinds=(primary-kill switchover primary-isolate primary-freeze)
sleep "$lead_in"
for (( injected = 0; injected < faults; injected++ )); do
    kill -0 "$traffic_pid" 2>/dev/null || break
    fault_started=$SECONDS
    kind=${kinds[injected % ${#kinds[@]}]}
    old=$(leader)
    begun=$(date +%s.%N)
    case $kind in
        primary-kill) kill -KILL "$(scripts/ha.sh primary)" ;;
        switchover) scripts/ha.sh switchover >/dev/null 2>&1 || die "the switchover failed" ;;
        primary-isolate) scripts/ha.sh isolate >/dev/null ;;
        primary-freeze) scripts/ha.sh freeze >/dev/null ;;
    esac
    await_new_primary "$old"
    printf '%s %s %s db\n' "$begun" "$(date +%s.%N)" "$kind" >>"$faults_log"
    [[ $kind == primary-isolate ]] && scripts/ha.sh heal
    if [[ $kind == primary-freeze ]]; then
        sleep "$frozen_for"
        scripts/ha.sh thaw "$old"
    fi
    log "fault $(( injected + 1 )) at $(( SECONDS - traffic_started )) s: $kind ($old -> $(leader))"
    await_whole_cluster
    # The rest of the period in traffic without a fault.
    while (( SECONDS < fault_started + period )) && kill -0 "$traffic_pid" 2>/dev/null; do sleep 1; done
done
status=0
wait "$traffic_pid" || status=$?
traffic_pid=
(( status == 0 )) || die "the clients failed (exit $status)"
(( injected == faults )) || die "only $injected of $faults faults ran before the traffic ended"
log "standbys re-cloned by ha.sh's watcher after a failover left them on an old timeline: $(scripts/ha.sh reclones)"

save_books "$scratch" "$pg_bin/psql"
stop_replicas

# The replicas keep answering 503 for a few seconds after the database
# takes writes again (their batches resume, their pools reconnect): grace.
python3 scripts/lib/soak.py report --observed "$scratch/observed.json" --faults "$faults_log" \
    --tickets "$scratch/tickets.csv" --purchases "$scratch/purchases.csv" --grace 10 \
    "${REPLICA_FAILURES[@]/#/--failed=}"
