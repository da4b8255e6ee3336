#!/usr/bin/env bash
# Benchmarks the server against PostgreSQL itself, in one run on one machine.
# Each workload goes through the server over HTTP (wrk), and its anchor sends
# the SQL the server runs for that request straight to the same database
# (pgbench -M prepared, bench/pgbench/*.sql), both at the same connections.
# The HTTP ceiling sends the same reads to nginx answering a fixed body.
# Checks the accounting after every workload, prints the table and writes
# latest.md, latest.json and bench.png (bench/report.py, bench/chart.py).
# Exits non-zero if an accounting check fails; a missed goal is in the table.
#
# The server runs as shipped: with deploy/server.env (the Dockerfile's and
# compose's environment, logging included), on a loopback port, with only
# RATE_LIMITS=off and AUTH_MODE=open added (the workloads send no
# credentials and would be refused past a client's limit). The table says so.
# The auth workloads measure the cost of credentials: their server requires
# them (OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_FILE in place of
# AUTH_MODE=open), and every purchase carries one of 10,000 buyers' RS256
# tokens.
#
#   scripts/bench.sh                    every closed-loop workload, 15 s each,
#                                       into bench/results
#   scripts/bench.sh --duration 30      longer runs
#   scripts/bench.sh --only hot,read    these workloads and their anchors only,
#                                       into bench/results/partial (git-ignored)
#   scripts/bench.sh --open-loop        also the open-loop workloads (about 8
#                                       minutes more): oha at fixed arrival
#                                       rates, and open-loop.png
#   scripts/bench.sh --server-env NAME=VALUE
#                                       the server with this on top of the
#                                       shipped environment (repeatable)
#   scripts/bench.sh --client-cpus 2,3  the load generators (wrk, oha, pgbench,
#                                       the health prober) on these CPUs, and
#                                       the server, PostgreSQL and nginx on
#                                       the others: on a machine with cores
#                                       to spare, so that the generators' CPU
#                                       and scheduling stay out of the figures
#   scripts/bench.sh --smoke            2 s a workload, into bench/results/smoke:
#                                       proves the script works (CI), the
#                                       open-loop path at a tiny rate included
#
# Workloads: hot (with the naive transaction as a reference row), keyed-hot,
# auth-hot and auth-keyed-hot (hot and keyed-hot with credentials required,
# each against a new server: every purchase by one of 10,000 buyers, each
# with an RS256 token of its own, taken in turn; 1,000 in a smoke run; the
# table sets them against hot and keyed-hot of the same run),
# limited-hot (a ticket with a per-buyer limit, a new buyer each purchase),
# checkout (hold, then confirm, on one ticket), spread, read, ceiling,
# memory, overload (1,024 connections on one ticket against a new server,
# as shipped, /healthz probed on a new connection every 100 ms
# during the rush), log-cost (hot, keyed-hot and read through the server as
# shipped and through a second one with RUST_LOG=off, on the same database,
# alternating, five rounds; the median of the rounds' ratios). With
# --open-loop: open-hot and open-read (a fixed arrival rate of 50% and 80%
# of the workload's closed-loop rate in this run, then 10% to 120% for the
# plot).
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$repo_root/scripts/lib/postgres.sh"
source "$repo_root/scripts/lib/server.sh"
cd "$repo_root"

workloads=(hot keyed-hot auth-hot auth-keyed-hot limited-hot checkout spread read ceiling memory overload log-cost open-hot open-read)
duration=15
connections=64
smoke=
only=
open_loop=
client_cpus=
extra_env=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --smoke) duration=2; smoke=1; open_loop=1 ;;
        --duration) duration=${2:?--duration needs SECONDS}; shift ;;
        --only) only=${2:?--only needs WORKLOAD[,WORKLOAD]}; shift ;;
        --open-loop) open_loop=1 ;;
        --client-cpus) client_cpus=${2:?--client-cpus needs a CPU list, as taskset takes it}; shift ;;
        --server-env)
            [[ ${2:-} == [A-Z]*=* ]] || die "--server-env needs NAME=VALUE"
            extra_env+=("$2"); shift ;;
        *) die "unknown argument $1 (use --smoke, --duration SECONDS, --only WORKLOAD[,WORKLOAD], --open-loop, --client-cpus LIST or --server-env NAME=VALUE)" ;;
    esac
    shift
done
for name in ${only//,/ }; do
    [[ " ${workloads[*]} " == *" $name "* ]] || die "unknown workload $name (one of: ${workloads[*]})"
done
# With --client-cpus: the CPUs left to the server, PostgreSQL and nginx.
server_cpus=
if [[ -n $client_cpus ]]; then
    server_cpus=$(python3 - "$client_cpus" <<'PY'
import os, sys
def cpus(text):
    named = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        named.update(range(int(first), int(last or first) + 1))
    return named
try:
    client = cpus(sys.argv[1])
except ValueError:
    sys.exit(f"error: --client-cpus {sys.argv[1]}: not a CPU list such as 1 or 2,3 or 4-7")
available = os.sched_getaffinity(0)
if not client <= available:
    sys.exit(f"error: --client-cpus {sys.argv[1]}: this process may use only CPUs {sorted(available)}")
left = sorted(available - client)
if not left:
    sys.exit(f"error: --client-cpus {sys.argv[1]} leaves no CPU for the server and PostgreSQL")
print(",".join(map(str, left)))
PY
    ) || exit 1
fi

selected() {
    if [[ $1 == open-* && -z $open_loop && -z $only ]]; then
        return 1
    fi
    [[ -z $only || ",$only," == *",$1,"* ]]
}

# The server as shipped, and what this run adds to it.
mapfile -t server_env < <(shipped_env)
server_env+=(RATE_LIMITS=off AUTH_MODE=open "${extra_env[@]}")
configuration="server environment: deploy/server.env ($(shipped_env | paste -sd ' ')) \
+ RATE_LIMITS=off AUTH_MODE=open${extra_env[*]:+ ${extra_env[*]}}, listening on 127.0.0.1"

# The auth workloads' server: the same, requiring credentials instead. Their
# buyers' tokens are made by an issuer that exists only in this run: the
# server reads its keys from a file and reaches no network.
auth_issuer=https://issuer.bench.invalid
auth_audience=tickets-bench
buyer_tokens=10000
[[ -z $smoke ]] || buyer_tokens=1000
if selected auth-hot || selected auth-keyed-hot; then
    configuration+="; auth workloads: the same with AUTH_MODE=required OIDC_ISSUER=$auth_issuer \
OIDC_AUDIENCE=$auth_audience OIDC_JWKS_FILE=(an RSA key's JWK Set) in place of AUTH_MODE=open, \
$buyer_tokens buyers' RS256 (2048-bit) tokens"
fi

# The overload's connections, one file descriptor each in wrk and in the
# server (its default MAX_CONNECTIONS).
overload_connections=1024
if selected overload && (( $(ulimit -n) < 4096 )); then
    ulimit -n 4096 || die "the overload workload needs 4,096 open files; the hard limit is $(ulimit -Hn)"
fi

# A smoke run proves the script works, and a partial run measures only some
# workloads: neither may replace the measurements.
if [[ -n $smoke ]]; then
    results=bench/results/smoke
elif [[ -n $only ]]; then
    results=bench/results/partial
else
    results=bench/results
fi
mkdir -p "$results"

ensure_debian_package wrk wrk
selected ceiling && ensure_debian_package nginx nginx-light
ensure_python_venv bench-venv bench/requirements.txt
if selected open-hot || selected open-read; then
    ensure_oha
fi
cargo build --release --locked -p tickets-server

# With --client-cpus, this script, and so the PostgreSQL, servers and nginx
# it starts from here on, runs on the CPUs left; each load generator runs
# on the CPUs named. The server's runtime sizes itself to the CPUs it has.
client=()
if [[ -n $client_cpus ]]; then
    taskset -p -c "$server_cpus" $$ >/dev/null
    client=(taskset -c "$client_cpus")
    configuration+="; load generators on CPUs $client_cpus, the server, PostgreSQL and nginx on CPUs $server_cpus"
    log "load generators on CPUs $client_cpus; the server, PostgreSQL and nginx on CPUs $server_cpus"
fi

# The HTTP ceiling's server: nginx on a free loopback port answering BODY to
# every request, one worker per core, no access log. Sets NGINX_BASE.
start_nginx() {
    local dir="$scratch/nginx" port
    port=$(free_port)
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<CONF
# One worker per core.
worker_processes auto;
pid $dir/nginx.pid;
daemon off;
events {
    worker_connections 1024;
}
http {
    access_log off;
    # The server keeps a keep-alive connection open for any number of
    # requests; nginx would close it after 1,000 by default.
    keepalive_requests 1000000000;
    # In the scratch folder, so that nginx starts for a user other than root.
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$port;
        default_type application/json;
        location / {
            return 200 '$1';
        }
    }
}
CONF
    nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" &
    NGINX_PID=$!
    NGINX_BASE="http://127.0.0.1:$port"
    await_http "$NGINX_BASE/" "$dir/error.log" nginx
}

stop_nginx() {
    if [[ -n "${NGINX_PID:-}" ]]; then
        kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
        NGINX_PID=
    fi
    return 0
}

scratch=$(mktemp -d)
probe_pid= quiet_pid= open_server_pid=
cleanup() {
    stop_started "$probe_pid" "$quiet_pid" "$open_server_pid"
    stop_nginx
    stop_release_server
    stop_local_postgres
    rm -rf "$scratch"
}
trap cleanup EXIT
start_local_postgres "$scratch/pgdata"

auth_env=("${server_env[@]}" AUTH_MODE=required OIDC_ISSUER="$auth_issuer" OIDC_AUDIENCE="$auth_audience"
          OIDC_JWKS_FILE="$scratch/jwks.json")
if selected auth-hot || selected auth-keyed-hot; then
    log "auth: an RSA key and $buyer_tokens buyers' RS256 tokens valid 6 hours (bench/buyer_tokens.py)"
    python3 bench/buyer_tokens.py "$scratch" "$auth_issuer" "$auth_audience" "$buyer_tokens" 6
fi

sql() { "$POSTGRES_BIN_DIR/psql" -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"; }

server_log="$scratch/server.log"
start_release_server "$server_log" "${server_env[@]}"

# Tickets for each side, so each side's accounting stands alone. Their
# allocations are large enough never to sell out during a run.
new_tickets() {
    sql "WITH t AS (INSERT INTO tickets (name, description, allocation, remaining)
         SELECT 'bench', '', 1000000000, 1000000000 FROM generate_series(1, $1) RETURNING id)
         SELECT min(id) || ' ' || max(id) FROM t"
}
read -r hot_server _ <<<"$(new_tickets 1)"
read -r keyed_server _ <<<"$(new_tickets 1)"
read -r hot_anchor _ <<<"$(new_tickets 1)"
read -r naive_anchor _ <<<"$(new_tickets 1)"
read -r limited_server _ <<<"$(new_tickets 1)"
sql "UPDATE tickets SET max_per_user = 4 WHERE id = $limited_server"
read -r checkout_server _ <<<"$(new_tickets 1)"
read -r checkout_anchor _ <<<"$(new_tickets 1)"
read -r spread_server_first spread_server_last <<<"$(new_tickets 1000)"
read -r spread_anchor_first spread_anchor_last <<<"$(new_tickets 1000)"
read -r overload_server _ <<<"$(new_tickets 1)"

# Every ticket: what is left, what is held and what was bought (and not
# cancelled) make what was allocated; what is held is what its holds hold.
# One pass over purchases and holds: a subquery per ticket took over five
# minutes on the 2.6 million purchases of a five-round log-cost run.
books_balance() {
    [[ $(sql "SELECT count(*) FROM tickets t
               LEFT JOIN (SELECT ticket_id, sum(quantity) AS sold FROM purchases
                          WHERE cancelled_at IS NULL GROUP BY ticket_id) p ON p.ticket_id = t.id
               LEFT JOIN (SELECT ticket_id, sum(quantity) AS held FROM holds
                          WHERE status = 'held' GROUP BY ticket_id) h ON h.ticket_id = t.id
               WHERE t.remaining + t.held + COALESCE(p.sold, 0) <> t.allocation
                  OR t.held <> COALESCE(h.held, 0)") == 0 ]]
}

# Purchase rows of the tickets FIRST..LAST and idempotency keys stored, read
# in one snapshot: "PURCHASES KEYS".
counts() {
    sql "SELECT (SELECT count(*) FROM purchases WHERE ticket_id BETWEEN $1 AND $2)
         || ' ' || (SELECT count(*) FROM idempotency_keys)"
}

# Waits until the database has run no statement for a moment, so that what
# wrk left in flight at its stop has finished before anything is counted.
quiesce() {
    local quiet=0
    for _ in $(seq 100); do
        if [[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'
                     AND pid <> pg_backend_pid() AND state <> 'idle'") == 0 ]]; then
            (( ++quiet < 3 )) || break
        else
            quiet=0
        fi
        sleep 0.1
    done
    (( quiet == 3 )) ||
        die "10 s after the load stopped, the database still ran statements or held transactions open"
}

# Quiesces, then checkpoints and vacuums, so that the database's catching up
# after one measurement (a checkpoint of its WAL, an autovacuum of the rows
# it wrote) does not land in the next one. Without it, a workload's p99
# depended on what ran before it: spread purchases' p99 was 51 ms after the
# other workloads and 10 ms run alone.
settle() {
    quiesce
    sql "CHECKPOINT"
    sql "VACUUM (ANALYZE)"
}

# wrk URL MODE FIRST LAST CONNECTIONS [KEY_PREFIX]: prints wrk's JSON line.
# MODE checkout runs bench/wrk/checkout.lua, every other bench/wrk/tickets.lua.
load() {
    local output="$scratch/wrk.log" script=(bench/wrk/tickets.lua "$1" -- "${@:2:3}" "${@:6}")
    [[ $2 == checkout ]] && script=(bench/wrk/checkout.lua "$1" -- "${@:3:2}")
    if ! "${client[@]}" wrk --threads 2 --connections "$5" --duration "${duration}s" --timeout 10s \
        --script "${script[@]}" >"$output" 2>&1; then
        cat "$output" >&2
        curl -sf "$SERVER_BASE/healthz" >/dev/null || log "the server does not answer; the end of its log:"
        tail -n 20 "$server_log" >&2
        die "wrk failed against $1"
    fi
    tail -n 1 "$output"
}

json_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# CPU time used so far, in clock ticks: "SERVER POSTGRES", the server's and
# that of every PostgreSQL process (the postmaster, its children now, and
# those it has reaped), from /proc.
cpu_ticks() {
    python3 - "$SERVER_PID" "$(head -n 1 "$POSTGRES_DATA_DIR/postmaster.pid")" <<'PY'
import os, sys

def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        # The fields after the command, which may hold spaces, in brackets.
        return f.read().rsplit(")", 1)[1].split()

server, postmaster = sys.argv[1:]
# utime, stime, cutime, cstime are fields 14 to 17: 11 to 14 after the command.
used = lambda fields, n: sum(int(x) for x in fields[11:11 + n])
total = used(stat(postmaster), 4)
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fields = stat(pid)
    except OSError:
        continue
    if fields[1] == postmaster:
        total += used(fields, 2)
print(used(stat(server), 2), total)
PY
}
clock_ticks=$(getconf CLK_TCK)

# The last measurement through the server, for record: wrk's figures, the
# successful requests among them, the verdict of its accounting, the CPU
# time the server and PostgreSQL spent on it (milliseconds, from the start
# of the load to the end of what was in flight) and the bytes the server
# logged meanwhile.
measured= successes= accounting= cpu= log_bytes=

# load_measured ARGS...: load ARGS into $measured, with its CPU time and log.
load_measured() {
    local server_before postgres_before server_after postgres_after log_before
    log_before=$(stat -c %s "$server_log")
    read -r server_before postgres_before <<<"$(cpu_ticks)"
    measured=$(load "$@")
    quiesce
    read -r server_after postgres_after <<<"$(cpu_ticks)"
    log_bytes=$(( $(stat -c %s "$server_log") - log_before ))
    cpu="{\"server_ms\": $(( (server_after - server_before) * 1000 / clock_ticks )), \
\"postgres_ms\": $(( (postgres_after - postgres_before) * 1000 / clock_ticks ))}"
    settle
}

# measure_purchases NAME MODE FIRST LAST CONNECTIONS [KEY_PREFIX]: a purchase
# workload through the server, with its accounting: every 201 has its row,
# and at most the requests still in flight when wrk stopped (which it does
# not count) have rows without a counted 201. Keyed purchases store exactly
# one key per purchase row.
measure_purchases() {
    local name=$1 mode=$2 first=$3 last=$4 clients=$5 rows_before keys_before rows keys
    read -r rows_before keys_before <<<"$(counts "$first" "$last")"
    log "$name: server, $clients connections, ${duration}s"
    load_measured "$SERVER_BASE" "$mode" "$first" "$last" "$clients" "${@:6}"
    read -r rows keys <<<"$(counts "$first" "$last")"
    rows=$(( rows - rows_before )) keys=$(( keys - keys_before ))
    successes=$(( $(json_field "$measured" requests) - $(json_field "$measured" non_2xx) ))
    accounting=PASS
    # Every buyer's token is good: a refusal means the comparison with
    # AUTH_MODE=open measures something else.
    if [[ $mode == *token-purchase ]] && (( $(json_field "$measured" non_2xx) > 0 )); then
        accounting=FAIL
        log "$name: FAILED: $(json_field "$measured" non_2xx) of $(json_field "$measured" requests) answered other than 2xx"
    fi
    if (( rows < successes || rows > successes + clients )); then
        accounting=FAIL
        log "$name: accounting FAILED: $successes successful purchases, $rows purchase rows"
    fi
    if [[ $mode == keyed-* ]] && (( keys != rows )); then
        accounting=FAIL
        log "$name: accounting FAILED: $rows purchase rows, $keys idempotency keys stored"
    fi
}

# measure_checkouts TICKET: holds confirmed through the server, one ticket,
# with their accounting: every confirmation answered 201 has its purchase
# (made from a hold), and at most the requests in flight when wrk stopped
# have one without. Its successes are the confirmations.
measure_checkouts() {
    local ticket=$1 confirmed made
    confirmed_purchases() { sql "SELECT count(*) FROM purchases WHERE ticket_id = $ticket AND hold_id IS NOT NULL"; }
    made=$(confirmed_purchases)
    log "checkout: server, $connections connections, ${duration}s"
    load_measured "$SERVER_BASE" checkout "$ticket" "$ticket" "$connections"
    made=$(( $(confirmed_purchases) - made ))
    successes=$(json_field "$measured" confirmed)
    accounting=PASS
    if (( made < successes || made > successes + connections )); then
        accounting=FAIL
        log "checkout: accounting FAILED: $successes confirmations answered 201, $made purchases from holds"
    fi
}

# Reads through the server: every one answered 2xx.
measure_reads() {
    log "read: server, $connections connections, ${duration}s"
    load_measured "$SERVER_BASE" read "$spread_server_first" "$spread_server_last" "$connections"
    successes=$(( $(json_field "$measured" requests) - $(json_field "$measured" non_2xx) ))
    accounting=PASS
    (( successes == $(json_field "$measured" requests) )) ||
        { accounting=FAIL; log "read: FAILED: $successes of $(json_field "$measured" requests) answered 2xx"; }
}

# anchor SCRIPT FIRST LAST: pgbench -M prepared runs bench/pgbench/SCRIPT.sql
# on the tickets FIRST..LAST at the same connections as the server had;
# prints its transactions per second. An anchor shared by workloads runs once.
anchor() {
    local script=$1 rate="$scratch/anchor-$1-$2-$3" output="$scratch/pgbench-$1.log"
    if [[ ! -f $rate ]]; then
        log "anchor: pgbench -M prepared $script.sql, $connections connections, ${duration}s"
        "${client[@]}" "$POSTGRES_BIN_DIR/pgbench" --no-vacuum --protocol prepared --client "$connections" --jobs 2 \
            --time "$duration" --define first="$2" --define last="$3" --file "bench/pgbench/$script.sql" \
            "$DATABASE_URL" >"$output" 2>&1 || { cat "$output" >&2; die "pgbench $script.sql failed"; }
        sed -nE 's/^tps = ([0-9.]+) .*/\1/p' "$output" >"$rate"
        [[ -s $rate ]] || { cat "$output" >&2; die "pgbench $script.sql printed no rate"; }
        settle >&2
    fi
    cat "$rate"
}

rows_file="$scratch/rows.jsonl"
# record WORKLOAD ANCHOR_NAME ANCHOR_RATE [FIELDS]: the last measurement and
# its anchor as a row for report.py, with FIELDS (JSON members) if given.
# Its accounting fails too if the books do not balance after the anchor ran.
record() {
    books_balance || { accounting=FAIL; log "$1: accounting FAILED: the books do not balance"; }
    printf '{"workload": "%s", "server": %s, "successes": %d, "cpu": %s, "log_bytes": %d, "anchor": {"name": "%s", "rate": %s}, "accounting": "%s"%s}\n' \
        "$1" "$measured" "$successes" "$cpu" "$log_bytes" "$2" "$3" "$accounting" "${4:+, $4}" >>"$rows_file"
}

# measure_auth_purchases NAME MODE [KEY_PREFIX]: a purchase workload (MODE
# token-purchase or keyed-token-purchase) through a new server that requires
# credentials, on a ticket its organiser created through it with a token of
# theirs. A new server for each workload, so that each one's buyers' tokens
# are new to it: every one of them pays its signature check once in the
# measurement. Sets auth_buyers: "TOKENS BUYERS", the tokens sent in turn
# and the buyers whose purchases were made.
measure_auth_purchases() {
    local name=$1 mode=$2 open_base=$SERVER_BASE open_log=$server_log organiser ticket refused
    open_server_pid=$SERVER_PID
    server_log="$scratch/$name-server.log"
    start_release_server "$server_log" "${auth_env[@]}"
    organiser=$(target/release/tickets-server tokens create --organiser "bench $name" \
        --permissions create_tickets 2>/dev/null) || die "$name: tickets-server tokens create failed"
    ticket=$(curl -sf -X POST "$SERVER_BASE/tickets" -H "Authorization: Bearer $organiser" \
        -H 'Content-Type: application/json' -d '{"name": "bench", "desc": "", "allocation": 1000000000}' |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])') ||
        die "$name: the organiser's token could not create a ticket"
    refused=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$SERVER_BASE/tickets/$ticket/purchases" \
        -H 'Content-Type: application/json' -d '{"quantity": 1}')
    [[ $refused == 401 ]] || die "$name: a purchase without credentials answered $refused, not 401"
    measure_purchases "$name" "$mode" "$ticket" "$ticket" "$connections" "${@:3}" "$scratch/tokens.txt"
    auth_buyers="$buyer_tokens $(sql "SELECT count(DISTINCT user_id) FROM purchases WHERE ticket_id = $ticket")"
    stop_release_server
    SERVER_PID=$open_server_pid SERVER_BASE=$open_base server_log=$open_log
    open_server_pid=
}

# The fields of an auth workload's row: its tokens and buyers.
auth_fields() {
    local tokens buyers
    read -r tokens buyers <<<"$auth_buyers"
    printf '"tokens": %d, "buyers": %d' "$tokens" "$buyers"
}

# Each auth workload runs right after its twin with AUTH_MODE=open, the
# anchors before them: on a shared machine, the load of a minute later
# would otherwise fall on one side of their ratio only.
if selected auth-hot; then
    anchor purchase "$hot_anchor" "$hot_anchor" >/dev/null
    selected hot && anchor naive-purchase "$naive_anchor" "$naive_anchor" >/dev/null
fi

if selected hot; then
    measure_purchases hot purchase "$hot_server" "$hot_server" "$connections"
    hot_measured=$measured
    record hot purchase-one "$(anchor purchase "$hot_anchor" "$hot_anchor")"
    record hot-naive naive-one "$(anchor naive-purchase "$naive_anchor" "$naive_anchor")"
fi

if selected auth-hot; then
    measure_auth_purchases auth-hot token-purchase
    record auth-hot purchase-one "$(anchor purchase "$hot_anchor" "$hot_anchor")" "$(auth_fields)"
fi

if selected keyed-hot; then
    measure_purchases keyed-hot keyed-purchase "$keyed_server" "$keyed_server" "$connections" \
        "bench-$(cat /proc/sys/kernel/random/uuid)"
    record keyed-hot purchase-one "$(anchor purchase "$hot_anchor" "$hot_anchor")"
fi

if selected auth-keyed-hot; then
    measure_auth_purchases auth-keyed-hot keyed-token-purchase "bench-$(cat /proc/sys/kernel/random/uuid)"
    record auth-keyed-hot purchase-one "$(anchor purchase "$hot_anchor" "$hot_anchor")" "$(auth_fields)"
fi

if selected limited-hot; then
    measure_purchases limited-hot new-buyer-purchase "$limited_server" "$limited_server" "$connections"
    record limited-hot purchase-one "$(anchor purchase "$hot_anchor" "$hot_anchor")"
fi

if selected checkout; then
    measure_checkouts "$checkout_server"
    record checkout checkout-one "$(anchor checkout "$checkout_anchor" "$checkout_anchor")"
fi

if selected spread; then
    measure_purchases spread purchase "$spread_server_first" "$spread_server_last" "$connections"
    record spread purchase-spread "$(anchor purchase "$spread_anchor_first" "$spread_anchor_last")"
fi

# The ceiling compares the server's reads with nginx's: it takes the read
# workload's measurement.
if selected read || selected ceiling; then
    measure_reads
    read_measured=$measured
    selected read && record read read "$(anchor read "$spread_server_first" "$spread_server_last")"
fi

if selected ceiling; then
    ticket=$(curl -sf "$SERVER_BASE/tickets/$spread_server_first")
    start_nginx "$ticket"
    log "ceiling: nginx answering ${#ticket} bytes, $connections connections, ${duration}s"
    nginx_stats=$(load "$NGINX_BASE" read "$spread_server_first" "$spread_server_last" "$connections")
    stop_nginx
    (( $(json_field "$nginx_stats" non_2xx) == 0 )) || die "nginx answered errors: $nginx_stats"
    record ceiling nginx "$(( $(json_field "$nginx_stats" requests) * 1000000 / $(json_field "$nginx_stats" duration_us) ))"
fi

# log-cost: the shipped server against a second one with RUST_LOG=off, on
# the same database and tickets, in alternating order (the machine may be
# shared: a slower minute falls on both sides), five rounds of each
# workload; one round in a smoke run.
if selected log-cost; then
    shipped_pid=$SERVER_PID shipped_base=$SERVER_BASE shipped_log=$server_log
    start_release_server "$scratch/quiet-server.log" "${server_env[@]}" RUST_LOG=off
    quiet_pid=$SERVER_PID quiet_base=$SERVER_BASE
    SERVER_PID=$shipped_pid SERVER_BASE=$shipped_base
    rounds=5
    [[ -z $smoke ]] || rounds=1
    log_cost_file="$scratch/log-cost.jsonl"
    : >"$log_cost_file"
    for round in $(seq "$rounds"); do
        sides=(shipped off)
        (( round % 2 )) || sides=(off shipped)
        for workload in hot keyed-hot read; do
            for side in "${sides[@]}"; do
                base=$shipped_base
                [[ $side == off ]] && base=$quiet_base
                before=$(stat -c %s "$shipped_log")
                log "log-cost: $workload, round $round, RUST_LOG ${side/shipped/as shipped}, ${duration}s"
                case $workload in
                    hot) stats=$(load "$base" purchase "$hot_server" "$hot_server" "$connections") ;;
                    keyed-hot) stats=$(load "$base" keyed-purchase "$keyed_server" "$keyed_server" "$connections" \
                        "bench-$(cat /proc/sys/kernel/random/uuid)") ;;
                    read) stats=$(load "$base" read "$spread_server_first" "$spread_server_last" "$connections") ;;
                esac
                quiesce
                printf '{"workload": "%s", "round": %d, "side": "%s", "server": %s, "log_bytes": %d}\n' \
                    "$workload" "$round" "$side" "$stats" "$(( $(stat -c %s "$shipped_log") - before ))" \
                    >>"$log_cost_file"
                settle
            done
        done
    done
    stop_started "$quiet_pid"
    wait "$quiet_pid" 2>/dev/null || true
    quiet_pid=
    books_balance || die "log-cost: the books do not balance"
    printf '{"workload": "log-cost", "runs": [%s]}\n' "$(paste -sd , "$log_cost_file")" >>"$rows_file"
fi

# open_loop NAME CLOSED_RATE MODE FIRST LAST: oha at fixed arrival rates
# (10% to 120% of CLOSED_RATE, the workload's closed-loop rate in this run;
# in a smoke run, one tiny rate), its latency corrected for coordinated
# omission: a request is timed from when it was due, not from when a
# connection was free to send it. Appends one row for report.py.
open_loop() {
    local name=$1 closed=$2 mode=$3 first=$4 last=$5 shares=(10 20 30 40 50 60 70 80 90 100 110 120)
    local points="$scratch/$name.jsonl" share rate target=() output="$scratch/oha.json"
    [[ -z $smoke ]] || shares=(0)
    case $mode in
        purchase) target=(-m POST -T application/json -d '{"quantity":1,"user_id":"406c1d05-bbb2-4e94-b183-7d208c2692e1"}'
                          "$SERVER_BASE/tickets/$first/purchases") ;;
        read) seq "$first" "$last" | sed "s|^|$SERVER_BASE/tickets/|" >"$scratch/read-urls"
              target=(--urls-from-file "$scratch/read-urls") ;;
    esac
    : >"$points"
    for share in "${shares[@]}"; do
        rate=$(( closed * share / 100 ))
        (( rate > 0 )) || rate=20
        log "$name: oha at $rate requests/s ($share% of $closed/s closed-loop), $connections connections, ${duration}s"
        "${client[@]}" oha --no-tui --output-format json --latency-correction --no-color -q "$rate" -z "${duration}s" -w \
            -c "$connections" "${target[@]}" >"$output" 2>"$scratch/oha.log" ||
            { cat "$scratch/oha.log" >&2; die "oha failed against $SERVER_BASE"; }
        python3 - "$output" "$share" "$rate" >>"$points" <<'PY'
import json, sys
path, share, rate = sys.argv[1:]
with open(path) as f:
    result = json.load(f)
p = result["latencyPercentiles"]
codes = result["statusCodeDistribution"]
ms = lambda seconds: round((seconds or 0) * 1000, 3)
print(json.dumps({
    "share": int(share), "offered": int(rate), "achieved": result["summary"]["requestsPerSec"],
    "requests": sum(codes.values()), "non_2xx": sum(n for code, n in codes.items() if not code.startswith("2")),
    "errors": sum(result.get("errorDistribution", {}).values()),
    "p50_ms": ms(p["p50"]), "p99_ms": ms(p["p99"]), "p99_9_ms": ms(p["p99.9"]),
    "max_ms": ms(result["summary"]["slowest"]),
}))
PY
        settle
    done
    printf '{"workload": "%s", "closed_loop_rate": %d, "connections": %d, "points": [%s]}\n' \
        "$name" "$closed" "$connections" "$(paste -sd , "$points")" >>"$rows_file"
}

# The closed-loop rate to take shares of: the workload's in this run, or,
# when it was not measured (--only open-hot), measured now.
closed_rate() {
    if [[ -z ${1:-} ]]; then
        load_measured "$SERVER_BASE" "${@:2}" >&2
    fi
    python3 -c 'import json, sys; m = json.loads(sys.argv[1]); print(int((m["requests"] - m["non_2xx"]) * 1e6 / m["duration_us"]))' \
        "${1:-$measured}"
}

if selected open-hot; then
    open_loop open-hot "$(closed_rate "${hot_measured:-}" purchase "$hot_server" "$hot_server" "$connections")" \
        purchase "$hot_server" "$hot_server"
fi

if selected open-read; then
    open_loop open-read "$(closed_rate "${read_measured:-}" read "$spread_server_first" "$spread_server_last" "$connections")" \
        read "$spread_server_first" "$spread_server_last"
fi

if selected memory; then
    measure_purchases memory purchase "$spread_server_first" "$spread_server_last" 256
    books_balance || { accounting=FAIL; log "memory: accounting FAILED: the books do not balance"; }
    printf '{"workload": "memory", "server": %s, "successes": %d, "peak_rss_kib": %d, "accounting": "%s"}\n' \
        "$measured" "$successes" "$(sed -nE 's/^VmHWM:\s+([0-9]+) kB/\1/p' "/proc/$SERVER_PID/status")" \
        "$accounting" >>"$rows_file"
fi

# The overload's server is a new one, as shipped, so that its peak RSS is the
# rush's alone; /healthz is probed on a new connection every 100 ms
# meanwhile, as a load balancer would. The allocation never runs out, so
# every answer but a 201 is a 503.
if selected overload; then
    stop_release_server
    server_log="$scratch/overload-server.log"
    start_release_server "$server_log" "${server_env[@]}"
    "${client[@]}" python3 bench/healthz_probe.py "$SERVER_BASE" "$duration" >"$scratch/healthz.json" &
    probe_pid=$!
    measure_purchases overload purchase "$overload_server" "$overload_server" "$overload_connections"
    wait "$probe_pid"
    probe_pid=
    books_balance || { accounting=FAIL; log "overload: accounting FAILED: the books do not balance"; }
    printf '{"workload": "overload", "server": %s, "successes": %d, "peak_rss_kib": %d, "healthz": %s, "accounting": "%s"}\n' \
        "$measured" "$successes" "$(sed -nE 's/^VmHWM:\s+([0-9]+) kB/\1/p' "/proc/$SERVER_PID/status")" \
        "$(cat "$scratch/healthz.json")" "$accounting" >>"$rows_file"
fi

# The servers log as shipped (info): their warnings and errors are shown.
for server_log in "$scratch"/*server.log; do
    problems=$(grep -cE '"level":"(WARN|ERROR)"' "$server_log" || true)
    if (( problems > 0 )); then
        log "$(basename "$server_log" .log) logged $problems warnings or errors; the first:"
        grep -m 5 -E '"level":"(WARN|ERROR)"' "$server_log" >&2
    fi
done

machine="$(nproc --all) cores, $(sed -nE 's/^model name\s*: (.*)/\1/p' /proc/cpuinfo | head -n 1), \
$(( $(sed -nE 's/^MemTotal:\s+([0-9]+) kB/\1/p' /proc/meminfo) / 1048576 )) GiB, \
$("$POSTGRES_BIN_DIR/postgres" --version), $connections connections, ${duration} s a workload"

python3 - "$rows_file" "$machine" "$configuration" "$results/measurements.json" <<'PY'
import json, sys
rows, machine, configuration, out = sys.argv[1:]
with open(rows) as f, open(out, "w") as o:
    json.dump({"machine": machine, "configuration": configuration,
               "workloads": [json.loads(line) for line in f]}, o, indent=2)
PY

status=0
python3 bench/report.py "$results" || status=$?
python "$repo_root/bench/chart.py" "$results/latest.json" "$results"
log "charts in $results"
exit "$status"
