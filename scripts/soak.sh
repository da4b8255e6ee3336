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
replica_ports=() replica_pids=() replica_starts=() traffic_pid=
cleanup() {
    stop_release_server
    stop_started "$traffic_pid" "${replica_pids[@]}"
    wait
    stop_local_postgres
    rm -rf "$scratch"
}
trap cleanup EXIT
start_local_postgres "$scratch/pgdata"

sql() { "$POSTGRES_BIN_DIR/psql" -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }

# start_replica I: replica I on its port, with its defaults; a log file for
# each start. A pid is forgotten once its process is reaped, so that cleanup
# never signals a pid another process may have taken since.
start_replica() {
    local i=$1
    replica_starts[i]=$(( ${replica_starts[i]:-0} + 1 ))
    start_release_server_on "${replica_ports[i]}" "$scratch/replica-$i.${replica_starts[i]}.log"
    replica_pids[i]=$SERVER_PID
    SERVER_PID=
}

urls=()
for i in 0 1 2; do
    replica_ports[i]=$(free_port)
    start_replica "$i"
    urls+=("$SERVER_BASE")
done

restart_database() {
    as_db_owner "$POSTGRES_BIN_DIR/pg_ctl" --pgdata "$POSTGRES_DATA_DIR" --log "$POSTGRES_DATA_DIR/server.log" \
        --mode "$1" --wait restart >/dev/null || { tail -n 20 "$POSTGRES_DATA_DIR/server.log" >&2; die "PostgreSQL did not restart"; }
}

kill_replica() {
    kill -KILL "${replica_pids[$1]}"
    wait "${replica_pids[$1]}" 2>/dev/null || true
    replica_pids[$1]=
    start_replica "$1"
}

log "soak: ${duration} s of traffic on ${urls[*]}"
python3 scripts/lib/soak.py traffic --duration "$duration" --replicas "$(IFS=,; echo "${urls[*]}")" \
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
        kill_replica "$target"
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

# What the database holds. Holds and cancellations count where the schema
# has them: left + sold + held = allocation, a cancelled purchase not sold.
column() {
    [[ $(sql "SELECT count(*) FROM information_schema.columns WHERE table_name = '$1' AND column_name = '$2'") == 1 ]]
}
held=0 cancelled=false
column tickets held && held=held
column purchases cancelled_at && cancelled="cancelled_at IS NOT NULL"
sql "COPY (SELECT id, allocation, remaining, $held AS held FROM tickets) TO STDOUT WITH (FORMAT csv, HEADER)" \
    >"$scratch/tickets.csv"
sql "COPY (SELECT id, ticket_id, user_id, quantity, seq, $cancelled AS cancelled FROM purchases)
     TO STDOUT WITH (FORMAT csv, HEADER)" >"$scratch/purchases.csv"

# Every replica still up, and each stops cleanly on SIGTERM.
failed=()
for i in 0 1 2; do
    if kill -TERM "${replica_pids[i]}" 2>/dev/null; then
        wait "${replica_pids[i]}" || failed+=("replica $i exited $? on SIGTERM")
    else
        failed+=("replica $i exited by itself")
    fi
done
replica_pids=()
for file in "$scratch"/replica-*.log; do
    if grep -q panicked "$file"; then
        failed+=("a replica panicked: $(grep -m 1 panicked "$file")")
    fi
done
log "the replicas logged $(cat "$scratch"/replica-*.log | wc -l) warnings or errors"

python3 scripts/lib/soak.py report --observed "$scratch/observed.json" --faults "$faults_log" \
    --tickets "$scratch/tickets.csv" --purchases "$scratch/purchases.csv" "${failed[@]/#/--failed=}"
