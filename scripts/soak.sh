#!/usr/bin/env bash
# Soak: mixed traffic with faults for a stated time, against a throwaway
# PostgreSQL and three tickets-server replicas on 127.0.0.1. The clients
# (scripts/lib/soak.py) buy with and without an Idempotency-Key over several
# tickets, one of which sells out, and follow each list of purchases by
# number; every 30 to 60 s the database restarts (fast or immediate, in
# turn) or one replica is killed with SIGKILL and started again on its
# port. At the end the database's rows are checked against every answer
# the clients saw, and one verdict line is printed; exits 1 on FAIL.
#
#   scripts/soak.sh                   10 minutes
#   scripts/soak.sh --duration 3600   an hour
#   scripts/soak.sh --smoke           30 s, a fault every 5 to 6 s: one of
#                                     each kind (CI)
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$repo_root/scripts/lib/postgres.sh"
source "$repo_root/scripts/lib/server.sh"
source "$repo_root/scripts/lib/replicas.sh"
cd "$repo_root"

duration=600
# Seconds between faults: gap_min, plus up to gap_spread at random.
gap_min=30 gap_spread=30
# No fault starts this close to the end, so that its recovery is seen.
quiet=20
while [[ $# -gt 0 ]]; do
    case $1 in
        --smoke) duration=30 gap_min=5 gap_spread=1 quiet=6 ;;
        --duration) duration=${2:?--duration needs SECONDS}; shift ;;
        *) die "unknown argument $1 (use --duration SECONDS or --smoke)" ;;
    esac
    shift
done
[[ $duration =~ ^[0-9]+$ ]] && (( duration >= 30 )) || die "--duration must be at least 30 seconds"

cargo build --release --locked -p tickets-server

scratch=$(mktemp -d)
traffic_pid=
cleanup() {
    stop_release_server
    stop_started "$traffic_pid" "${replica_pids[@]}"
    wait
    stop_local_postgres
    rm -rf "$scratch"
}
trap cleanup EXIT
start_local_postgres "$scratch/pgdata"

start_replicas "$scratch"

restart_database() {
    as_db_owner "$POSTGRES_BIN_DIR/pg_ctl" --pgdata "$POSTGRES_DATA_DIR" --log "$POSTGRES_DATA_DIR/server.log" \
        --mode "$1" --wait restart >/dev/null || { tail -n 20 "$POSTGRES_DATA_DIR/server.log" >&2; die "PostgreSQL did not restart"; }
}

log "soak: ${duration} s of traffic on $REPLICA_URLS"
python3 scripts/lib/soak.py traffic --duration "$duration" --replicas "$REPLICA_URLS" \
    --psql "$POSTGRES_BIN_DIR/psql" --out "$scratch/observed.json" &
traffic_pid=$!
traffic_started=$SECONDS

# Faults in turn until the quiet end; each is logged as "START END KIND
# TARGET", END being when what it stopped answers again.
faults_log="$scratch/faults.log"
: >"$faults_log"
kinds=(restart-fast kill restart-immediate kill)
end=$(( SECONDS + duration - quiet )) injected=0
while kill -0 "$traffic_pid" 2>/dev/null; do
    next=$(( SECONDS + gap_min + RANDOM % (gap_spread + 1) ))
    (( next <= end )) || break
    while (( SECONDS < next )) && kill -0 "$traffic_pid" 2>/dev/null; do
        sleep 1
    done
    kind=${kinds[injected % ${#kinds[@]}]}
    begun=$(date +%s.%N)
    if [[ $kind == kill ]]; then
        target=$(( RANDOM % 3 ))
        restart_replica "$target"
    else
        target=db
        restart_database "${kind#restart-}"
    fi
    printf '%s %s %s %s\n' "$begun" "$(date +%s.%N)" "$kind" "$target" >>"$faults_log"
    injected=$(( injected + 1 ))
    log "fault $injected at $(( SECONDS - traffic_started )) s: $kind ($target)"
done
status=0
wait "$traffic_pid" || status=$?
traffic_pid=
(( status == 0 )) || die "the clients failed (exit $status)"

save_books "$scratch" "$POSTGRES_BIN_DIR/psql"
stop_replicas

python3 scripts/lib/soak.py report --observed "$scratch/observed.json" --faults "$faults_log" \
    --tickets "$scratch/tickets.csv" --purchases "$scratch/purchases.csv" "${REPLICA_FAILURES[@]/#/--failed=}"
