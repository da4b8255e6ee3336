# Sourced by the scripts: a PostgreSQL server of the project's own, for
# running the service or its tests on a machine without one.
#
#   start_local_postgres DATA_DIR   initialises DATA_DIR if new, starts a server
#                                   on a free 127.0.0.1 port, and exports
#                                   DATABASE_URL
#   stop_local_postgres             stops it; callers call it from their EXIT
#                                   trap (this file sets no trap, so it never
#                                   replaces theirs)

# PostgreSQL's own binaries (initdb, pg_ctl), installed from the system's
# packages when absent.
postgres_bin_dir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [[ -z "$dir" ]]; then
        [[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed: install the 'postgresql' package"
        log "installing PostgreSQL from the system's packages"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
        dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    printf '%s\n' "$dir"
}

# Runs a command as the database's owner: initdb refuses root, so as root
# the server runs as the 'postgres' user.
as_db_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_local_postgres() {
    local data_dir=$1 bin port
    bin=$(postgres_bin_dir)
    port=$(free_port)
    mkdir -p "$data_dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres "$data_dir"
        # The 'postgres' user must be able to reach the folder.
        chmod o+x "$(dirname "$data_dir")"
    fi
    chmod 700 "$data_dir"
    if [[ ! -f "$data_dir/PG_VERSION" ]]; then
        log "initialising a PostgreSQL cluster in $data_dir"
        as_db_owner "$bin/initdb" --pgdata "$data_dir" --username postgres \
            --auth trust --encoding UTF8 --no-locale >/dev/null
    fi
    log "starting PostgreSQL on 127.0.0.1:$port"
    as_db_owner "$bin/pg_ctl" --pgdata "$data_dir" --log "$data_dir/server.log" --wait \
        --options "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' -c max_connections=300" \
        start >/dev/null || { cat "$data_dir/server.log" >&2; die "PostgreSQL did not start"; }
    POSTGRES_DATA_DIR=$data_dir
    POSTGRES_BIN_DIR=$bin
    "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "SELECT 1 FROM pg_database WHERE datname = 'tickets'" -tA | grep -q 1 ||
        "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres tickets
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/tickets"
}

stop_local_postgres() {
    if [[ -n "${POSTGRES_DATA_DIR:-}" ]]; then
        as_db_owner "$POSTGRES_BIN_DIR/pg_ctl" --pgdata "$POSTGRES_DATA_DIR" --mode fast stop >/dev/null 2>&1 || true
        POSTGRES_DATA_DIR=
    fi
}
