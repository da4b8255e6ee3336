#!/usr/bin/env bash
# The restore drill: restores the HA cluster's pgBackRest backup and
# archived WAL to a chosen moment into a fresh PostgreSQL (its own data
# directory and port on 127.0.0.1), checks the books there, compares with
# the live primary, and reports the restore time and what the restore lost.
# Runs as root against a cluster started by scripts/ha.sh up; the restored
# copy is removed at the end.
#
#   scripts/restore-drill.sh                    to now
#   scripts/restore-drill.sh --time 'TIMESTAMP' to that moment (any
#                                               PostgreSQL timestamptz)
#   scripts/restore-drill.sh --purchases N      first adds a ticket with N
#                                               purchases (made in SQL, books
#                                               kept), for a sized drill
#
# Steps: a full backup if there is none, the target moment, a WAL switch
# so that the segment holding it is archived, `pgbackrest restore
# --type=time`, start and promote, then the books check.
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
cd "$repo_root"

[[ $(id -u) -eq 0 ]] || die "scripts/restore-drill.sh must run as root"
target='' generate=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --time) target=${2:?--time needs a timestamp}; shift ;;
        --purchases) generate=${2:?--purchases needs N}; shift ;;
        *) die "unknown argument $1 (use --time TIMESTAMP or --purchases N)" ;;
    esac
    shift
done
[[ $generate =~ ^[0-9]+$ ]] && (( generate <= 10000000 )) || die "--purchases must be 0 to 10000000"

ha_dir=${TICKETS_HA_DIR:-/tmp/tickets-ha}
pg_bin=/usr/lib/postgresql/15/bin
url=$(scripts/ha.sh url)
[[ -f $ha_dir/pgbackrest.conf ]] || die "no cluster: run scripts/ha.sh up first"
sql() { "$pg_bin/psql" -X -q -tA -v ON_ERROR_STOP=1 "$1" -c "$2"; }

scratch=$(mktemp -d /tmp/restore-drill.XXXXXX)
restored=$scratch/data
cleanup() {
    local status=$?
    if (( status != 0 )) && [[ -f $scratch/server.log ]]; then
        tail -n 20 "$scratch/server.log" >&2
    fi
    if [[ -f $restored/postmaster.pid ]]; then
        runuser -u postgres -- "$pg_bin/pg_ctl" -D "$restored" -m immediate -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT
chown postgres "$scratch"

if (( generate > 0 )); then
    log "adding a ticket with $generate purchases"
    started=$SECONDS
    sql "$url" "
        WITH t AS (
            INSERT INTO tickets (name, description, allocation, remaining, last_purchase_seq)
            VALUES ('restore drill', 'made by scripts/restore-drill.sh', $generate, 0, $generate)
            RETURNING id)
        INSERT INTO purchases (id, ticket_id, user_id, quantity, seq)
        SELECT gen_random_uuid(), t.id, gen_random_uuid(), 1, n FROM t, generate_series(1, $generate) n" >/dev/null
    log "made in $(( SECONDS - started )) s"
fi

if ! runuser -u postgres -- pgbackrest --config="$ha_dir/pgbackrest.conf" --stanza=tickets info --output=json |
        grep -q '"type":"full"'; then
    log "no full backup yet: taking one"
    scripts/ha.sh backup full
    # The target must come after the backup's stop time, kept in seconds.
    sleep 2
fi

# To now: the purchases committed before the target are counted first, and
# the copy must hold at least those. To a given moment: nothing to compare.
expected=''
if [[ -z $target ]]; then
    expected=$(sql "$url" "SELECT count(*) FROM purchases")
    target=$(sql "$url" "SELECT now()")
fi
# Recovery knows it reached the target only from a commit after it: one
# (a transaction id taken and committed) follows the target.
sql "$url" "SELECT txid_current()" >/dev/null
# The target's WAL must be archived: switch to a new segment and wait for
# the archiver (bounded: 60 s).
switched=$(sql "$url" "SELECT pg_walfile_name(pg_current_wal_lsn()) FROM (SELECT pg_switch_wal()) s")
for _ in $(seq 120); do
    archived=$(sql "$url" "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
    [[ $archived > $switched || $archived == "$switched" ]] && break
    sleep 0.5
done
[[ $archived > $switched || $archived == "$switched" ]] || die "WAL segment $switched was not archived within 60 s"

log "restoring to $target"
restore_started=$(date +%s.%N)
runuser -u postgres -- pgbackrest --config="$ha_dir/pgbackrest.conf" --stanza=tickets \
    --pg1-path="$restored" --type=time --target="$target" --target-action=promote \
    --log-level-console=warn restore
port=$(free_port)
# The copy archives nothing (it would write into the cluster's archive)
# and listens only on 127.0.0.1.
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$restored" -l "$scratch/server.log" -t 600 -w \
    -o "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$scratch' -c archive_mode=off -c hot_standby=on" \
    start >/dev/null || { tail -n 30 "$scratch/server.log" >&2; die "the restored copy did not start"; }
copy="postgres://postgres@127.0.0.1:$port/tickets"
for _ in $(seq 1200); do
    [[ $(sql "$copy" "SELECT pg_is_in_recovery()" 2>/dev/null) == f ]] && break
    [[ -f $restored/postmaster.pid ]] || die "the restored copy stopped during recovery"
    sleep 0.5
done
[[ $(sql "$copy" "SELECT pg_is_in_recovery()") == f ]] || die "the restored copy did not finish recovery"
restore_seconds=$(python3 -c "import time; print(f'{time.time() - $restore_started:.1f}')")

# The books on the copy: left + sold + held = allocation, every ticket.
purchases=$(sql "$copy" "SELECT count(*) FROM purchases")
bad=$(sql "$copy" "
    SELECT count(*) FROM tickets t
      LEFT JOIN (SELECT ticket_id, sum(quantity) AS sold FROM purchases
                  WHERE cancelled_at IS NULL GROUP BY ticket_id) p ON p.ticket_id = t.id
     WHERE t.remaining + coalesce(p.sold, 0) + t.held <> t.allocation")
size=$(sql "$copy" "SELECT pg_size_pretty(pg_database_size('tickets'))")
lost=$(( ${expected:-0} > purchases ? ${expected:-0} - purchases : 0 ))
printf '| restored to | purchases | database | restore time | books errors | committed before the target, missing |\n'
printf '|---|---|---|---|---|---|\n'
printf '| %s | %s | %s | %s s | %s | %s |\n' "$target" "$purchases" "$size" "$restore_seconds" "$bad" "$lost"
if (( bad > 0 || lost != 0 )); then
    echo "restore-drill: FAIL ($bad tickets whose books do not add up, $lost purchases lost)"
    exit 1
fi
echo "restore-drill: PASS $purchases purchases restored to $target in $restore_seconds s, books add up, none lost"
