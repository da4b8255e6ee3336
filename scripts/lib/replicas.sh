# Sourced by the fault scripts (soak.sh, failover.sh), after server.sh: three
# tickets-server replicas on 127.0.0.1 against DATABASE_URL, and the end of a
# run, which both check the same way. A pid is forgotten once its process is
# reaped, so that cleanup never signals a pid another process may have
# taken since.
#
#   start_replicas DIR   replicas 0, 1 and 2 on free ports, logging into
#                        DIR/replica-I.N.log (N: the Ith replica's Nth
#                        start); sets replica_pids and REPLICA_URLS (comma
#                        separated, as soak.py takes them)
#   restart_replica I    SIGKILL of replica I, then a new one on its port
#   stop_replicas        SIGTERM to each replica; REPLICA_FAILURES lists
#                        one that had exited already, exited non-zero, or
#                        panicked at any time
#   save_books DIR PSQL  what the database holds, for soak.py report:
#                        DIR/tickets.csv and DIR/purchases.csv

replica_ports=() replica_pids=() replica_starts=()

start_replica() {
    local i=$1
    replica_starts[i]=$(( ${replica_starts[i]:-0} + 1 ))
    start_release_server_on "${replica_ports[i]}" "$replica_dir/replica-$i.${replica_starts[i]}.log"
    replica_pids[i]=$SERVER_PID
    SERVER_PID=
}

start_replicas() {
    replica_dir=$1
    local i urls=()
    for i in 0 1 2; do
        replica_ports[i]=$(free_port)
        start_replica "$i"
        urls+=("$SERVER_BASE")
    done
    REPLICA_URLS=$(IFS=,; echo "${urls[*]}")
}

restart_replica() {
    kill -KILL "${replica_pids[$1]}"
    wait "${replica_pids[$1]}" 2>/dev/null || true
    replica_pids[$1]=
    start_replica "$1"
}

stop_replicas() {
    local i file
    REPLICA_FAILURES=()
    for i in "${!replica_pids[@]}"; do
        if kill -TERM "${replica_pids[i]}" 2>/dev/null; then
            wait "${replica_pids[i]}" || REPLICA_FAILURES+=("replica $i exited $? on SIGTERM")
        else
            REPLICA_FAILURES+=("replica $i exited by itself")
        fi
    done
    replica_pids=()
    for file in "$replica_dir"/replica-*.log; do
        if grep -q panicked "$file"; then
            REPLICA_FAILURES+=("a replica panicked: $(grep -m 1 panicked "$file")")
        fi
    done
    log "the replicas logged $(cat "$replica_dir"/replica-*.log | wc -l) warnings or errors"
}

# Holds and cancellations count where the schema has them (a run against an
# older release's schema): left + sold + held = allocation, a cancelled
# purchase not sold.
save_books() {
    local dir=$1 psql=$2 held=0 cancelled=false
    books_sql() { timeout 30 "$psql" -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }
    has_column() {
        [[ $(books_sql "SELECT count(*) FROM information_schema.columns
                        WHERE table_name = '$1' AND column_name = '$2'") == 1 ]]
    }
    has_column tickets held && held=held
    has_column purchases cancelled_at && cancelled="cancelled_at IS NOT NULL"
    books_sql "COPY (SELECT id, allocation, remaining, $held AS held FROM tickets)
               TO STDOUT WITH (FORMAT csv, HEADER)" >"$dir/tickets.csv"
    books_sql "COPY (SELECT id, ticket_id, user_id, quantity, seq, $cancelled AS cancelled FROM purchases)
               TO STDOUT WITH (FORMAT csv, HEADER)" >"$dir/purchases.csv"
}
