# Sourced by the scripts that run the server with credentials on this
# machine: the development OpenID provider (tests/oidc-provider, which gives
# a token to anyone who asks) and tokens to call the server with. Needs
# Node.js 20 (ensure_node) for the provider, and tools.sh sourced first.
#
#   start_dev_oidc_provider LOG_FILE [PORT]   on PORT (default a free one);
#                                             exports OIDC_ISSUER
#   stop_dev_oidc_provider
#   dev_buyer_token USERNAME                  a buyer's token for
#                                             OIDC_AUDIENCE, valid a day
#   dev_organiser_token NAME                  an organiser token with every
#                                             permission (DATABASE_URL's)

start_dev_oidc_provider() {
    local log_file=$1 port=${2:-0} stdin
    # The provider exits when its standard input closes. This shell holds
    # the writing end of a FIFO as that input, so the provider never
    # outlives the script, whatever ends it.
    stdin=$(mktemp -u "${TMPDIR:-/tmp}/oidc-stdin.XXXXXX")
    mkfifo "$stdin"
    PORT="$port" "$repo_root/tests/oidc-provider/start.sh" >"$log_file" <"$stdin" &
    OIDC_PROVIDER_PID=$!
    exec {OIDC_PROVIDER_STDIN}>"$stdin"
    rm -f "$stdin"
    # The first start installs the provider with npm ci: allow a minute.
    for _ in $(seq 600); do
        grep -q '^OIDC_ISSUER=' "$log_file" 2>/dev/null && break
        kill -0 "$OIDC_PROVIDER_PID" 2>/dev/null ||
            { cat "$log_file" >&2; die "the development OpenID provider did not start"; }
        sleep 0.1
    done
    OIDC_ISSUER=$(sed -n 's/^OIDC_ISSUER=//p' "$log_file")
    [[ -n $OIDC_ISSUER ]] || die "the development OpenID provider did not start within a minute"
    export OIDC_ISSUER
}

stop_dev_oidc_provider() {
    if [[ -n "${OIDC_PROVIDER_STDIN:-}" ]]; then
        exec {OIDC_PROVIDER_STDIN}>&-
        OIDC_PROVIDER_STDIN=
    fi
    if [[ -n "${OIDC_PROVIDER_PID:-}" ]]; then
        kill "$OIDC_PROVIDER_PID" 2>/dev/null || true
        wait "$OIDC_PROVIDER_PID" 2>/dev/null || true
        OIDC_PROVIDER_PID=
    fi
    return 0
}

dev_buyer_token() {
    curl -fsS "$OIDC_ISSUER/token" \
        -d "grant_type=password&username=$1&aud=$OIDC_AUDIENCE&expires_in=86400" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

dev_organiser_token() {
    "$repo_root/target/release/tickets-server" tokens create --organiser "$1" \
        --permissions create_tickets,read_orders,change_orders,sell_for_buyer,read_metrics
}
