#!/usr/bin/env bash
# Benchmarks the server against PostgreSQL itself, in one run on one machine:
# each workload through the server over HTTP (wrk), then the same SQL
# straight to the same database (pgbench) as the baseline. Prints the table,
# writes bench/results/{latest.md,latest.json,bench.png}, and checks the
# accounting after every workload.
#
#   scripts/bench.sh                  15 s a workload
#   scripts/bench.sh --duration 30    longer runs
#   scripts/bench.sh --smoke          2 s a workload, into bench/results/smoke:
#                                     proves the script works (CI)
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$repo_root/scripts/lib/postgres.sh"
source "$repo_root/scripts/lib/server.sh"
cd "$repo_root"

duration=15
connections=64
smoke=
while [[ $# -gt 0 ]]; do
    case $1 in
        --smoke) duration=2; smoke=1 ;;
        --duration) duration=$2; shift ;;
        *) die "unknown argument $1 (use --smoke or --duration SECONDS)" ;;
    esac
    shift
done
# A smoke run proves the script works; it must not replace the measurements.
results=bench/results${smoke:+/smoke}
mkdir -p "$results"

ensure_debian_package wrk wrk
ensure_python_venv bench-venv bench/requirements.txt
cargo build --release --locked -p tickets-server

scratch=$(mktemp -d)
cleanup() {
    stop_release_server
    stop_local_postgres
    rm -rf "$scratch"
}
trap cleanup EXIT
start_local_postgres "$scratch/pgdata"

sql() { "$POSTGRES_BIN_DIR/psql" -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }

start_release_server "$scratch/server.log" DATABASE_POOL_SIZE="${DATABASE_POOL_SIZE:-16}"
base=$SERVER_BASE

# Tickets for each side, so each side's accounting stands alone. Their
# allocations are large enough never to sell out during a run.
new_tickets() {
    sql "WITH t AS (INSERT INTO tickets (name, description, allocation, remaining)
         SELECT 'bench', '', 1000000000, 1000000000 FROM generate_series(1, $1) RETURNING id)
         SELECT min(id) || ' ' || max(id) FROM t"
}
read -r hot_server _ <<<"$(new_tickets 1)"
read -r hot_baseline _ <<<"$(new_tickets 1)"
read -r spread_server_first spread_server_last <<<"$(new_tickets 1000)"
read -r spread_baseline_first spread_baseline_last <<<"$(new_tickets 1000)"

purchases_between() { sql "SELECT count(*) FROM purchases WHERE ticket_id BETWEEN $1 AND $2"; }

# Every ticket: what is left plus what was bought is what was allocated.
books_balance() {
    [[ $(sql "SELECT count(*) FROM tickets t WHERE t.remaining + COALESCE(
        (SELECT sum(quantity) FROM purchases p WHERE p.ticket_id = t.id), 0) <> t.allocation") == 0 ]]
}

# wrk MODE FIRST LAST CONNECTIONS SECONDS: prints wrk's JSON line.
load() {
    wrk --threads 2 --connections "$4" --duration "$5s" --timeout 10s \
        --script bench/wrk/tickets.lua "$base" -- "$1" "$2" "$3" | tail -n 1
}

# pgbench SCRIPT FIRST LAST: prints transactions per second.
baseline() {
    "$POSTGRES_BIN_DIR/pgbench" --no-vacuum --client "$connections" --jobs 2 --time "$duration" \
        --define first="$2" --define last="$3" --file "bench/pgbench/$1" "$DATABASE_URL" 2>/dev/null |
        sed -nE 's/^tps = ([0-9.]+) .*/\1/p'
}

json_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# A purchase workload through the server, with its accounting: every 201 has
# its row, and at most the requests still in flight when wrk stopped (which
# it does not count) have rows without a counted 201.
measure_purchases() {
    local name=$1 first=$2 last=$3 before after stats successes rows verdict
    before=$(purchases_between "$first" "$last")
    log "$name: server, $connections connections, ${duration}s"
    stats=$(load purchase "$first" "$last" "$connections" "$duration")
    after=$(purchases_between "$first" "$last")
    successes=$(( $(json_field "$stats" requests) - $(json_field "$stats" non_2xx) ))
    rows=$(( after - before ))
    verdict=PASS
    if (( rows < successes || rows > successes + connections )) || ! books_balance; then
        verdict=FAIL
        log "$name: accounting FAILED: $successes successful purchases, $rows purchase rows"
    fi
    printf '{"stats": %s, "successes": %d, "accounting": "%s"}' "$stats" "$successes" "$verdict"
}

hot=$(measure_purchases hot "$hot_server" "$hot_server")
log "hot: pgbench baseline"
hot_tps=$(baseline naive-purchase.sql "$hot_baseline" "$hot_baseline")
books_balance || hot=${hot/\"PASS\"/\"FAIL\"}

spread=$(measure_purchases spread "$spread_server_first" "$spread_server_last")
log "spread: pgbench baseline"
spread_tps=$(baseline naive-purchase.sql "$spread_baseline_first" "$spread_baseline_last")
books_balance || spread=${spread/\"PASS\"/\"FAIL\"}

log "read: server, $connections connections, ${duration}s"
read_stats=$(load read "$spread_server_first" "$spread_server_last" "$connections" "$duration")
log "read: pgbench baseline"
read_tps=$(baseline read.sql "$spread_server_first" "$spread_server_last")
read_accounting=PASS
[[ $(json_field "$read_stats" non_2xx) == 0 ]] && books_balance || read_accounting=FAIL

log "memory: server at 256 connections"
load purchase "$spread_server_first" "$spread_server_last" 256 "$duration" >/dev/null
peak_rss_kib=$(sed -nE 's/^VmHWM:\s+([0-9]+) kB/\1/p' "/proc/$SERVER_PID/status")
memory_accounting=PASS
books_balance || memory_accounting=FAIL

machine="$(nproc) cores, $(sed -nE 's/^model name\s*: (.*)/\1/p' /proc/cpuinfo | head -n 1), \
$(( $(sed -nE 's/^MemTotal:\s+([0-9]+) kB/\1/p' /proc/meminfo) / 1048576 )) GiB, \
$("$POSTGRES_BIN_DIR/postgres" --version), ${duration} s a workload"

python3 - "$results/measurements.json" <<PY
import json, sys
def server(run, rate_key="successes"):
    stats = run["stats"] if "stats" in run else run
    seconds = stats["duration_us"] / 1e6
    count = run[rate_key] if rate_key in run else stats["requests"] - stats["non_2xx"]
    return {"rate": count / seconds, "p50_ms": stats["p50_ms"], "p99_ms": stats["p99_ms"]}
hot, spread, read = json.loads('''$hot'''), json.loads('''$spread'''), json.loads('''$read_stats''')
json.dump({
    "hot": {"server": server(hot), "baseline": {"tps": float("$hot_tps" or 0)}, "accounting": hot["accounting"]},
    "spread": {"server": server(spread), "baseline": {"tps": float("$spread_tps" or 0)}, "accounting": spread["accounting"]},
    "read": {"server": server(read), "baseline": {"tps": float("$read_tps" or 0)}, "accounting": "$read_accounting"},
    "memory": {"peak_rss_mib": $peak_rss_kib / 1024, "accounting": "$memory_accounting"},
}, open(sys.argv[1], "w"), indent=2)
PY

status=0
python3 bench/report.py "$results" "$machine" || status=$?
python "$repo_root/bench/chart.py" "$results/latest.json" "$results/bench.png"
log "chart: $results/bench.png"
exit "$status"
