# Sourced by the scripts that need a running server: starts the release
# binary on a loopback port against DATABASE_URL, waits for /healthz, and
# sets SERVER_BASE (its URL) and SERVER_PID. Extra environment for the
# server can be given as arguments (NAME=value ...); without RUST_LOG among
# them, it logs at warn. Rate limits are off: every client of the scripts
# is one address, 127.0.0.1.
#
#   start_release_server LOG_FILE [NAME=value ...]          on a free port
#   start_release_server_on PORT LOG_FILE [NAME=value ...]  on PORT (a restart)
#   stop_release_server

# The server's environment as shipped (deploy/server.env), one NAME=value
# a line.
shipped_env() {
    grep -E '^[A-Z_][A-Z0-9_]*=' "$repo_root/deploy/server.env"
}

start_release_server() {
    local log_file=$1
    shift
    start_release_server_on "$(free_port)" "$log_file" "$@"
}

start_release_server_on() {
    local port=$1 log_file=$2
    shift 2
    SERVER_BASE="http://127.0.0.1:$port"
    # The address comes last: it wins over one in the arguments.
    # AUTH_MODE=open: the scripts' workloads send no credentials (bench,
    # soak, failover); an AUTH_MODE=... argument wins (contract, storefront).
    env RUST_LOG=warn RATE_LIMITS=off AUTH_MODE=open "$@" LISTEN_ADDR="127.0.0.1:$port" \
        "$repo_root/target/release/tickets-server" 2>"$log_file" &
    SERVER_PID=$!
    await_http "$SERVER_BASE/healthz" "$log_file" "the server"
}

stop_release_server() {
    if [[ -n "${SERVER_PID:-}" ]]; then
        kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=
    fi
    return 0
}
