#!/usr/bin/env bash
# A highly available PostgreSQL on this machine: Patroni 3.3.11 runs a
# primary and two standbys (127.0.0.1, ports 25431-25433) with synchronous
# replication in strict mode, an etcd 3.4 holds the leader lock, and every
# node archives its WAL into one pgBackRest repository. docs/HA.md says why
# and how to operate it.
#
#   scripts/ha.sh up          (root) installs what is missing, starts the
#                             cluster, waits until it takes protected writes
#                             and prints the DATABASE_URL servers should use
#   scripts/ha.sh primary     the current primary postmaster's pid
#   scripts/ha.sh down        stops everything and removes the data
#
# With the cluster, up starts a watcher of the standbys (watch_standbys
# below): it re-clones a standby that a failover left behind for good.
#
# And for drills and operators:
#   scripts/ha.sh url | status | switchover
#   scripts/ha.sh leader      the node holding the leader lock (node1..3)
#   scripts/ha.sh reclones    how many standbys the watcher has re-cloned
#   scripts/ha.sh isolate | heal   cut the primary off from etcd and the
#                                  standbys (iptables), and undo it
#   scripts/ha.sh freeze | thaw [NODE]   stop every process of the primary's
#                                  node (SIGSTOP), as a machine that hangs,
#                                  and let it (or every node) run again
#   scripts/ha.sh backup [full|diff|incr]   a pgBackRest backup
#
# Each node runs as the 'postgres' user with a group of its own (pgha1..3),
# so that iptables can tell the nodes' traffic apart on one loopback
# address. Only 127.0.0.1 is ever used. TICKETS_HA_DIR moves the data
# (default /tmp/tickets-ha).
set -euo pipefail
source "$(dirname "$(readlink -f "$0")")/lib/tools.sh"

ha_dir=${TICKETS_HA_DIR:-/tmp/tickets-ha}
scope=tickets
stanza=tickets
pg_ports=(25431 25432 25433)
rest_ports=(28431 28432 28433)
etcd_client_port=22379
etcd_peer_port=22380
pg_bin=/usr/lib/postgresql/15/bin
# Patroni from PyPI, pinned, in a virtualenv of the system's Python outside
# the clone, so that the nodes' user (postgres) can run it wherever the
# clone (or a Python of root's own) lives.
patroni_requirements=$repo_root/deploy/ha/patroni-requirements.txt
patroni_venv=/opt/tickets-ha/patroni
patroni=$patroni_venv/bin/patroni
patronictl=$patroni_venv/bin/patronictl
etcd_endpoint=http://127.0.0.1:$etcd_client_port
# iptables rules carry this comment, so that heal and down remove exactly
# the rules isolate added.
rule_tag=tickets-ha-isolation

require_root() { [[ $(id -u) -eq 0 ]] || die "scripts/ha.sh $1 must run as root"; }

database_url() {
    local hosts=() port
    for port in "${pg_ports[@]}"; do hosts+=("127.0.0.1:$port"); done
    local IFS=,
    # target_session_attrs=read-write: a connection skips standbys and a
    # demoted primary. connect_timeout bounds the wait on a node that does
    # not answer (frozen or cut off), so the next host is tried.
    printf 'postgres://postgres@%s/tickets?target_session_attrs=read-write&connect_timeout=2\n' "${hosts[*]}"
}

# The cluster's own software at the versions bookworm ships (and
# deploy/ha/Dockerfile pins), Patroni aside (install_patroni); the tools
# around it as the system has them.
install_packages() {
    local missing=()
    command -v etcd >/dev/null || missing+=(etcd-server=3.4.23-4+b4)
    command -v etcdctl >/dev/null || missing+=(etcd-client=3.4.23-4+b4)
    command -v pgbackrest >/dev/null || missing+=(pgbackrest=2.45-1)
    command -v iptables >/dev/null || missing+=(iptables)
    [[ -x $pg_bin/postgres ]] || missing+=(postgresql-15)
    command -v curl >/dev/null || missing+=(curl)
    /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
    if (( ${#missing[@]} )); then
        log "installing ${missing[*]}"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
    # Debian's packages start nothing here (no systemd), but a machine
    # with systemd would run a second etcd on the default ports: harmless,
    # as this cluster uses its own ports and data.
    install_patroni
}

# The system's Python, which the nodes' user can run; readable by it.
install_patroni() {
    install_python_requirements "$patroni_venv" "$patroni_requirements" /usr/bin/python3
    chmod -R a+rX "$(dirname "$patroni_venv")"
}

etcd_get() {
    ETCDCTL_API=3 etcdctl --endpoints="$etcd_endpoint" --dial-timeout=2s --command-timeout=2s \
        get --print-value-only "$1" 2>/dev/null
}

# The name of the node holding the leader lock (node1..3), or nothing.
leader_name() {
    etcd_get "/service/$scope/leader"
}

node_index() { printf '%s\n' $(( ${1#node} - 1 )); }

# The pid in a node's postmaster.pid, if that process is alive.
postmaster_pid() {
    local pid_file="$ha_dir/node$(( $1 + 1 ))/data/postmaster.pid" pid
    [[ -f $pid_file ]] || return 1
    pid=$(head -n 1 "$pid_file")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    printf '%s\n' "$pid"
}

write_configs() {
    mkdir -p "$ha_dir/log" "$ha_dir/backrest" "$ha_dir/spool"
    cat >"$ha_dir/pgbackrest.conf" <<EOF
[global]
repo1-path=$ha_dir/backrest
repo1-retention-full=2
log-path=$ha_dir/log
lock-path=$ha_dir/spool
spool-path=$ha_dir/spool
start-fast=y
log-level-console=warn
log-level-file=info
compress-type=lz4

[$stanza]
pg1-path=$ha_dir/node1/data
pg1-port=${pg_ports[0]}
pg1-socket-path=$ha_dir/node1
pg1-user=postgres
EOF
    local i
    for i in 0 1 2; do
        local name=node$(( i + 1 )) node_dir=$ha_dir/node$(( i + 1 ))
        mkdir -p "$node_dir"
        cat >"$node_dir/patroni.yml" <<EOF
scope: $scope
name: $name
log:
  level: INFO
  dir: $node_dir
restapi:
  listen: 127.0.0.1:${rest_ports[i]}
  connect_address: 127.0.0.1:${rest_ports[i]}
etcd3:
  hosts: 127.0.0.1:$etcd_client_port
bootstrap:
  dcs:
    # A leader that stops renewing its lock (dead or cut off) loses it
    # after ttl; loop_wait + 2 * retry_timeout must stay within ttl, and
    # Patroni raises a ttl under 20 to 20 (up refuses that: see
    # refuse_adjusted_settings).
    ttl: 20
    loop_wait: 2
    retry_timeout: 5
    # A primary whose postgres dies is not restarted in place: the
    # synchronous standby takes over at once.
    primary_start_timeout: 0
    # Only the synchronous standby may be promoted, and with no standby
    # to confirm them, commits wait rather than go unprotected.
    synchronous_mode: true
    synchronous_mode_strict: true
    synchronous_node_count: 1
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      remove_data_directory_on_rewind_failure: true
      remove_data_directory_on_diverged_timelines: true
      use_slots: true
      parameters:
        max_connections: 300
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        archive_mode: 'on'
        archive_timeout: 60
        # A standby that follows a new primary before that primary made
        # its slot is refused once; it tries again after this, not after
        # the default 5 s, and commits wait on it meanwhile.
        wal_retrieve_retry_interval: 1s
  initdb:
    - encoding: UTF8
    - no-locale
    - data-checksums
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${pg_ports[i]}
  connect_address: 127.0.0.1:${pg_ports[i]}
  data_dir: $node_dir/data
  bin_dir: $pg_bin
  pgpass: $node_dir/pgpass
  # A standby clones the leader after an immediate checkpoint: a spread
  # one paces its writes over minutes (checkpoint_completion_target).
  basebackup:
    - checkpoint: fast
  authentication:
    superuser:
      username: postgres
      password: postgres
    replication:
      username: replicator
      password: replicator
    rewind:
      username: postgres
      password: postgres
  parameters:
    unix_socket_directories: '$node_dir'
    archive_command: 'pgbackrest --config=$ha_dir/pgbackrest.conf --stanza=$stanza --pg1-path=$node_dir/data archive-push %p'
    restore_command: 'pgbackrest --config=$ha_dir/pgbackrest.conf --stanza=$stanza --pg1-path=$node_dir/data archive-get %f "%p"'
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
EOF
    done
    chown -R postgres:postgres "$ha_dir"
    chmod 700 "$ha_dir"/node*
}

start_etcd() {
    if curl -sf --max-time 2 "$etcd_endpoint/health" >/dev/null 2>&1; then return; fi
    log "starting etcd on 127.0.0.1:$etcd_client_port"
    setsid etcd --name ha --data-dir "$ha_dir/etcd" \
        --listen-client-urls "$etcd_endpoint" --advertise-client-urls "$etcd_endpoint" \
        --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
        --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
        --initial-cluster "ha=http://127.0.0.1:$etcd_peer_port" \
        --listen-metrics-urls "http://127.0.0.1:$(( etcd_client_port + 2 ))" \
        >>"$ha_dir/log/etcd.log" 2>&1 </dev/null &
    echo $! >"$ha_dir/etcd.pid"
    for _ in $(seq 100); do
        curl -sf --max-time 2 "$etcd_endpoint/health" >/dev/null 2>&1 && return
        sleep 0.1
    done
    tail -n 20 "$ha_dir/log/etcd.log" >&2
    die "etcd did not start"
}

start_node() {
    local i=$1 node_dir=$ha_dir/node$(( $1 + 1 ))
    if [[ -f $node_dir/patroni.pid ]] && kill -0 "$(cat "$node_dir/patroni.pid")" 2>/dev/null; then
        return
    fi
    getent group "pgha$(( i + 1 ))" >/dev/null || groupadd --system "pgha$(( i + 1 ))"
    setsid runuser -u postgres -g "pgha$(( i + 1 ))" -- "$patroni" "$node_dir/patroni.yml" \
        >>"$node_dir/patroni.out" 2>&1 </dev/null &
    echo $! >"$node_dir/patroni.pid"
}

# Patroni 3.0.2 decides whether a standby must be rewound once, when the
# leader changes, from the WAL the standby has replayed by then. An
# asynchronous standby can hold WAL the synchronous one never received (the
# old primary's unacknowledged tail); if it had not replayed that WAL yet,
# it passes the check, replays it, and then cannot follow the new timeline,
# which forked before it: PostgreSQL retries forever and Patroni does not
# look again. This watcher re-clones a standby that stays on an older
# timeline than the leader's for 30 s (a healthy one follows within
# seconds), so that the cluster is whole again for the next failure.
# Each re-clone is logged in log/watcher.log.
watch_standbys() {
    local -A behind_since=()
    local member timeline leader_timeline
    while sleep 5; do
        while read -r member timeline leader_timeline; do
            if (( timeline >= leader_timeline )); then
                unset "behind_since[$member]"
            elif [[ -z ${behind_since[$member]:-} ]]; then
                behind_since[$member]=$SECONDS
            elif (( SECONDS - behind_since[$member] >= 30 )); then
                log "$(date -u +%FT%TZ) $member on timeline $timeline, the leader on $leader_timeline for 30 s: re-cloning it"
                runuser -u postgres -- "$patronictl" -c "$ha_dir/node1/patroni.yml" reinit --force "$scope" "$member" ||
                    log "the re-clone of $member could not start; trying again"
                unset "behind_since[$member]"
            fi
        done < <(runuser -u postgres -- "$patronictl" -c "$ha_dir/node1/patroni.yml" list --format json 2>/dev/null |
            python3 -c 'import json, sys
members = json.load(sys.stdin)
leader = next((m for m in members if m.get("Role") == "Leader" and m.get("State") == "running"), None)
for m in members:
    if leader and m is not leader and m.get("State") in ("running", "streaming") and "TL" in m and "TL" in leader:
        print(m["Member"], m["TL"], leader["TL"])' 2>/dev/null || true)
    done
}

start_watcher() {
    if [[ -f $ha_dir/watcher.pid ]] && kill -0 "$(cat "$ha_dir/watcher.pid")" 2>/dev/null; then
        return
    fi
    setsid "$(readlink -f "$0")" watch >>"$ha_dir/log/watcher.log" 2>&1 </dev/null &
    echo $! >"$ha_dir/watcher.pid"
}

psql_node() {
    local port=$1; shift
    timeout 5 "$pg_bin/psql" -X -q -tA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"
}

# The last lines each node logged, and dies with MESSAGE: for failures
# of up, whose caller (failover.sh, CI) removes the cluster and its logs.
die_with_logs() {
    local node_dir
    for node_dir in "$ha_dir"/node*; do
        printf -- '--- %s, the last lines of patroni.log and patroni.out\n' "${node_dir##*/}" >&2
        tail -n 8 "$node_dir/patroni.log" >&2 2>/dev/null || true
        grep -v 'archive\|HINT\|FileMissingError\|repo1:\|ERROR: \[103\]' "$node_dir/patroni.out" 2>/dev/null | tail -n 8 >&2 || true
    done
    die "$1"
}

# Patroni quietly raises a setting below its limits (a ttl under 20 to
# 20): the cluster would then not run what write_configs and docs/HA.md
# say, and every wait derived from them would be wrong.
refuse_adjusted_settings() {
    local adjusted
    adjusted=$(grep -h -i -m 1 'adjusting' "$ha_dir"/node*/patroni.log 2>/dev/null | head -n 1 || true)
    [[ -z $adjusted ]] || die_with_logs "Patroni changed a configured setting: ${adjusted#*: }"
}

# Waits (bounded) until the leader takes a commit its synchronous standby
# confirmed, and both standbys stream (scripts/lib/standbys.sql).
await_protected_writes() {
    local leader port
    for _ in $(seq 180); do
        leader=$(leader_name || true)
        if [[ -n $leader ]]; then
            port=${pg_ports[$(node_index "$leader")]}
            if [[ $(psql_node "$port" -d postgres -f "$repo_root/scripts/lib/standbys.sql" 2>/dev/null) == "2 1" ]] &&
                psql_node "$port" -d postgres -c "SELECT txid_current()" >/dev/null 2>&1; then
                printf '%s\n' "$port"
                return
            fi
        fi
        sleep 1
    done
    die_with_logs "the cluster did not take protected writes within 180 s"
}

pgbackrest_primary() {
    local leader i
    leader=$(leader_name) || die "no primary"
    i=$(node_index "$leader")
    runuser -u postgres -- pgbackrest --config="$ha_dir/pgbackrest.conf" --stanza="$stanza" \
        --pg1-path="$ha_dir/node$(( i + 1 ))/data" --pg1-port="${pg_ports[i]}" \
        --pg1-socket-path="$ha_dir/node$(( i + 1 ))" "$@"
}

up() {
    require_root up
    install_packages
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    mkdir -p "$ha_dir"
    [[ -f $ha_dir/node1/patroni.yml ]] || write_configs
    start_etcd
    local i port
    for i in 0 1 2; do start_node "$i"; done
    port=$(await_protected_writes)
    refuse_adjusted_settings
    # Its commit waits for the synchronous standby: bounded, but not by
    # psql_node's 5 s.
    if [[ $(psql_node "$port" -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'tickets'") != 1 ]]; then
        timeout 60 "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
            -c "CREATE DATABASE tickets" >/dev/null ||
            die_with_logs "the primary (port $port) did not create the database tickets within 60 s"
    fi
    if [[ ! -f $ha_dir/backrest/backup/$stanza/backup.info ]]; then
        pgbackrest_primary stanza-create >&2 || die "pgBackRest could not create its stanza"
    fi
    start_watcher
    database_url
}

# Stops what this script started: Patroni (which stops its postgres), then
# any postmaster left, then etcd. Bounded waits.
down() {
    require_root down
    heal_rules
    thaw
    local i pid_file pid
    if [[ -f $ha_dir/watcher.pid ]]; then
        kill -TERM "$(cat "$ha_dir/watcher.pid")" 2>/dev/null || true
    fi
    # Patroni is found by its node's group: the pid file holds its
    # launcher (runuser), which does not pass every signal on (after a
    # freeze it stops itself with its child), and a Patroni left running
    # would start postgres in the next cluster's directory.
    for i in 0 1 2; do
        pkill -TERM -G "pgha$(( i + 1 ))" -f 'bin/patroni ' 2>/dev/null || true
        pid_file=$ha_dir/node$(( i + 1 ))/patroni.pid
        [[ -f $pid_file ]] && kill -TERM "$(cat "$pid_file")" 2>/dev/null || true
    done
    for i in 0 1 2; do
        for _ in $(seq 100); do
            pgrep -G "pgha$(( i + 1 ))" -f 'bin/patroni ' >/dev/null 2>&1 || break
            sleep 0.1
        done
        pkill -KILL -G "pgha$(( i + 1 ))" -f 'bin/patroni ' 2>/dev/null || true
        pid_file=$ha_dir/node$(( i + 1 ))/patroni.pid
        [[ -f $pid_file ]] && kill -KILL "$(cat "$pid_file")" 2>/dev/null || true
    done
    for i in 0 1 2; do
        if pid=$(postmaster_pid "$i"); then
            kill -CONT "$pid" 2>/dev/null || true
            runuser -u postgres -- "$pg_bin/pg_ctl" -D "$ha_dir/node$(( i + 1 ))/data" -m immediate -t 10 stop >/dev/null 2>&1 ||
                kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    if [[ -f $ha_dir/etcd.pid ]]; then
        pid=$(cat "$ha_dir/etcd.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$ha_dir"
}

primary() {
    local leader i pid
    # Bounded: during a failover there is briefly no primary.
    for _ in $(seq 60); do
        leader=$(leader_name || true)
        if [[ -n $leader ]]; then
            i=$(node_index "$leader")
            if pid=$(postmaster_pid "$i"); then
                printf '%s\n' "$pid"
                return
            fi
        fi
        sleep 0.5
    done
    die "no primary within 30 s"
}

status() {
    "$patronictl" -c "$ha_dir/node1/patroni.yml" list
}

switchover() {
    local leader candidate
    leader=$(leader_name) || die "no primary"
    candidate=$(etcd_get "/service/$scope/sync" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("sync_standby") or "")')
    [[ -n $candidate ]] || die "no synchronous standby to switch over to"
    runuser -u postgres -- "$patronictl" -c "$ha_dir/node1/patroni.yml" switchover --force \
        --leader "$leader" --candidate "$candidate" >&2
}

iptables_rule() {
    iptables "$1" OUTPUT -o lo -p tcp -m owner --gid-owner "$2" --dport "$3" \
        -m comment --comment "$rule_tag" -j DROP
}

# Cuts the primary off from etcd and from the standbys; clients still reach
# it. Its Patroni then cannot renew the leader lock and demotes it, and the
# synchronous standby is promoted once the lock expires.
isolate() {
    require_root isolate
    local leader i j
    leader=$(leader_name) || die "no primary"
    i=$(node_index "$leader")
    iptables_rule -A "pgha$(( i + 1 ))" "$etcd_client_port"
    for j in 0 1 2; do
        (( j == i )) && continue
        iptables_rule -A "pgha$(( j + 1 ))" "${pg_ports[i]}"
        iptables_rule -A "pgha$(( j + 1 ))" "${rest_ports[i]}"
        iptables_rule -A "pgha$(( i + 1 ))" "${pg_ports[j]}"
        iptables_rule -A "pgha$(( i + 1 ))" "${rest_ports[j]}"
    done
    printf '%s\n' "$leader"
}

heal_rules() {
    command -v iptables >/dev/null || return 0
    local rule
    # Bounded: isolate adds at most 9 rules per call.
    for _ in $(seq 200); do
        rule=$(iptables -S OUTPUT 2>/dev/null | grep -m 1 -- "--comment $rule_tag") || return 0
        # shellcheck disable=SC2086
        iptables ${rule/-A OUTPUT/-D OUTPUT}
    done
}

heal() {
    require_root heal
    heal_rules
}

# Freezes the primary's node, as a machine that hangs: SIGSTOP to every
# process of its group (its Patroni and its postgres). Its connections
# stay open and answer nothing, and its Patroni stops renewing the leader
# lock, so the synchronous standby is promoted once the lock expires.
# Prints the node's name.
freeze() {
    require_root freeze
    local leader
    leader=$(leader_name) || die "no primary"
    [[ -n $leader ]] || die "no primary"
    pkill -STOP -G "pgha${leader#node}" || die "no process of $leader to freeze"
    printf '%s\n' "$leader"
}

# Thaws NODE (or every node): its Patroni finds the lock gone and demotes
# its postgres to follow the new primary.
thaw() {
    require_root thaw
    local node pid_file
    for node in ${1:-node1 node2 node3}; do
        pkill -CONT -G "pgha${node#node}" 2>/dev/null || true
        # Its Patroni's launcher stopped itself when Patroni stopped.
        pid_file=$ha_dir/$node/patroni.pid
        [[ -f $pid_file ]] && kill -CONT "$(cat "$pid_file")" 2>/dev/null || true
    done
}

# How many standbys the watcher has re-cloned since the cluster was made.
reclones() {
    if [[ -f $ha_dir/log/watcher.log ]]; then
        grep -c 're-cloning' "$ha_dir/log/watcher.log" || true
    else
        echo 0
    fi
}

backup() {
    require_root backup
    pgbackrest_primary --type="${1:-full}" backup >&2
}

case ${1:-} in
    up) up ;;
    primary) primary ;;
    down) down ;;
    url) database_url ;;
    leader) leader_name || true ;;
    reclones) reclones ;;
    status) status ;;
    switchover) switchover ;;
    isolate) isolate ;;
    heal) heal ;;
    freeze) freeze ;;
    thaw) thaw "${2:-}" ;;
    backup) backup "${2:-full}" ;;
    watch) watch_standbys ;;
    *) die "usage: scripts/ha.sh up|primary|down|url|status|leader|reclones|switchover|isolate|heal|freeze|thaw [NODE]|backup [full|diff|incr]" ;;
esac
