#!/usr/bin/env bash
# Checks that the server does what openapi.yaml says, as its users see it:
#   1. lint: the spec passes Redocly's linter (contract/redocly.yaml says
#      which rules, and why);
#   2. spectral: and Spectral's OpenAPI rules (contract/.spectral.yaml);
#   3. schemathesis: generated valid and invalid requests to every operation,
#      every answer checked against the spec with every check schemathesis
#      has (contract/schemathesis.toml): once in deterministic mode, then in
#      random mode once per fixed seed (CONTRACT_SEEDS="SEED ..." for others);
#   4. typescript client: a client generated from the spec by the pinned
#      openapi-generator compiles with tsc and drives the server
#      (contract/src/drive-client.ts);
#   5. python client: the same generator's Python client, installed over
#      pinned dependencies, drives the server (contract/src/drive_client.py);
#   6. docs page: /docs in headless Chromium works with no internet and shows
#      every operation (contract/src/docs-check.ts); its screenshot is
#      docs/api-reference.png, rewritten only when the page looks different.
#
# The server requires credentials (AUTH_MODE=required): buyers' tokens come
# from the development OpenID provider (tests/oidc-provider), started here,
# and an organiser token with every permission from `tickets-server tokens
# create`. The checks get them as ORGANISER_TOKEN and BUYER_TOKEN.
#
# Installs what it needs the first time (Python tools into .tools/, npm
# packages into contract/node_modules, Debian's chromium) and again only when
# the pins change. Builds the release binary, runs it on a free loopback port
# against a throwaway PostgreSQL of its own, runs every check even after one
# fails, and exits non-zero if any failed. Logs and reports: contract/build/.
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$repo_root/scripts/lib/postgres.sh"
source "$repo_root/scripts/lib/server.sh"
source "$repo_root/scripts/lib/clients.sh"
source "$repo_root/scripts/lib/oidc.sh"
cd "$repo_root"

build=contract/build
screenshot=docs/api-reference.png

# --- tools ------------------------------------------------------------------

# openapi-generator from scripts/requirements.txt: the same pinned jar that
# generates the server, so the client is generated from the spec the same way.
ensure_python_tools
ensure_python_venv contract-venv contract/requirements.txt
ensure_python_venv python-client-venv contract/python-client/requirements.txt
ensure_debian_package java openjdk-17-jre-headless
ensure_debian_package chromium chromium
ensure_node
ensure_npm_packages contract
bin=contract/node_modules/.bin

# No usage data or update checks from the linter: nothing leaves the machine.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
# Hypothesis keeps its caches with the run's other files, not in the repo.
export HYPOTHESIS_STORAGE_DIRECTORY=$repo_root/$build/hypothesis

# --- the server ---------------------------------------------------------------

log "building the release binary"
cargo build --release --locked -p tickets-server

rm -rf "$build"
mkdir -p "$build"
scratch=$(mktemp -d)
cleanup() {
    stop_release_server
    stop_dev_oidc_provider
    stop_local_postgres
    [[ -f "$scratch/server.log" ]] && cp "$scratch/server.log" "$build/server.log"
    [[ -f "$scratch/oidc.log" ]] && cp "$scratch/oidc.log" "$build/oidc-provider.log"
    rm -rf "$scratch"
}
trap cleanup EXIT
# Always a database of its own: the checks create tickets and buy them, which
# has no place in a database someone else set DATABASE_URL to.
start_local_postgres "$scratch/pgdata"
start_dev_oidc_provider "$scratch/oidc.log"
export OIDC_AUDIENCE=tickets-api
start_release_server "$scratch/server.log" AUTH_MODE=required
base=$SERVER_BASE
# An organiser who may do everything, and a buyer, alice.
ORGANISER_TOKEN=$(dev_organiser_token "Contract checks")
BUYER_TOKEN=$(dev_buyer_token alice)
export ORGANISER_TOKEN BUYER_TOKEN

# --- the checks ---------------------------------------------------------------

lint() {
    "$bin/redocly" lint --config contract/redocly.yaml openapi.yaml --format=stylish
}

spectral() {
    "$bin/spectral" lint --ruleset contract/.spectral.yaml --fail-severity=hint openapi.yaml
}

# Random mode's seeds: fixed, so each run sends the same requests as the last
# and a failure seen once is seen again. About 2,000 test cases a seed.
# CONTRACT_SEEDS="SEED ..." runs others, to look further than the fixed ones
# as a client's own run would (a failure names its seed, to rerun it).
read -r -a random_seeds <<<"${CONTRACT_SEEDS:-1 2 3 4 5}"
random_max_examples=75

# run_schemathesis AS JUNIT_REPORT [ARGS...]: every check, as a client would
# run it, with credentials (contract/schemathesis.toml sends each operation
# the token of the first security scheme it lists that has one). AS is
# "organiser": the organiser's token on every operation, so purchases and
# holds are the box office's, for the buyer the body names; or "buyer":
# alice's token wherever the spec lets a buyer call, the organiser's where
# only an organiser may (creating tickets, the metrics).
run_schemathesis() {
    local as=$1 report=$2 buyer_scheme=$BUYER_TOKEN
    shift 2
    [[ $as == organiser ]] && buyer_scheme=$ORGANISER_TOKEN
    echo "schemathesis as the $as"
    SCHEMATHESIS_BUYER_TOKEN=$buyer_scheme "$tools_dir/contract-venv/bin/st" \
        --config-file contract/schemathesis.toml \
        run openapi.yaml --url "$base" --checks all --no-color \
        --report junit --report-junit-path "$report" "$@"
}

# The same requests every run, whatever the seed; as the organiser.
schemathesis() {
    run_schemathesis organiser "$build/schemathesis-junit.xml" --generation-deterministic
}

# schemathesis_seed INDEX SEED: as the buyer for even indexes, else as the
# organiser.
schemathesis_seed() {
    run_schemathesis "$( (($1 % 2 == 0)) && echo buyer || echo organiser)" \
        "$build/schemathesis-seed-$2-junit.xml" --seed "$2" --max-examples "$random_max_examples"
}

typescript_client() {
    generate_client typescript-fetch "$build/client" supportsES6=true,hideGenerationTimestamp=true
    log "compiling it with the driver (tsc $("$bin/tsc" --version | cut -d' ' -f2))"
    "$bin/tsc" -p contract/tsconfig.json
    node "$build/js/src/drive-client.js" "$base"
}

python_client() {
    generate_client python "$build/python-client" \
        packageName=tickets_client,projectName=tickets-client,hideGenerationTimestamp=true
    # Over the pinned dependencies, not the ranges the generated package asks for.
    "$tools_dir/python-client-venv/bin/pip" install --quiet --disable-pip-version-check \
        --no-deps --no-build-isolation "./$build/python-client"
    "$tools_dir/python-client-venv/bin/python" contract/src/drive_client.py "$base"
}

docs_page() {
    "$bin/tsc" -p contract/tsconfig.docs.json
    node "$build/js/src/docs-check.js" "$base" openapi.yaml "$build/api-reference.png"
    if cmp -s "$build/api-reference.png" "$screenshot"; then
        echo "docs page: $screenshot unchanged"
    else
        cp "$build/api-reference.png" "$screenshot"
        echo "docs page: the page looks different: $screenshot rewritten, review and commit it"
    fi
}

names=() results=() seconds=()
# run_check NAME [COMMAND ARGS...]: runs COMMAND (by default the function
# named after NAME) with errexit on inside it (an `if` would switch it off),
# its output shown and kept in $build/NAME.log, and records how it went.
run_check() {
    local name=$1 start=$SECONDS status
    shift
    [[ $# -gt 0 ]] || set -- "${name//-/_}"
    log "contract check $((${#names[@]} + 1)): $name"
    set +e
    (set -eo pipefail; "$@" 2>&1 | tee "$build/$name.log")
    status=$?
    set -e
    names+=("$name")
    results+=("$([[ $status -eq 0 ]] && echo PASS || echo FAIL)")
    seconds+=($((SECONDS - start)))
}

run_check lint
run_check spectral
run_check schemathesis
for i in "${!random_seeds[@]}"; do
    run_check "schemathesis-seed-${random_seeds[$i]}" schemathesis_seed "$i" "${random_seeds[$i]}"
done
run_check typescript-client
run_check python-client
run_check docs-page

# --- summary ------------------------------------------------------------------

# One line on what each check saw, from its log.
detail() {
    local log=$build/$1.log ignored failures
    case $1 in
        lint)
            if grep -q 'API description is valid' "$log"; then
                ignored=$(grep -oE '^[0-9]+ problems? (is|are) explicitly ignored' "$log" | grep -oE '^[0-9]+' || true)
                echo "openapi.yaml valid${ignored:+ ($ignored known problems ignored)}"
            else
                grep -oE 'failed with .*' "$log" | tail -n 1
            fi ;;
        spectral)
            grep -oE '(No results with a severity of .*|[0-9]+ problems? \(.*\))' "$log" | tail -n 1 ;;
        schemathesis*)
            # The failures by kind, from the run's closing summary.
            failures=$(grep -oE 'ST[0-9]+ [^:]+: [0-9]+$' "$log" | paste -sd ';' | sed 's/;/; /g' || true)
            echo "$(grep -oE '^schemathesis as the [a-z]+' "$log" | cut -d' ' -f3-):" \
                "$(grep -oE 'Tested: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+') operations," \
                "$(grep -oE '[0-9]+ covered / [0-9]+ selected' "$log" | tail -n 1 | sed 's| / | of |') links," \
                "test cases: $(grep -oE '[0-9]+ generated, .*' "$log" | tail -n 1)${failures:+ ($failures)}" ;;
        typescript-client) grep -oE '(typed client: .*|MISMATCH: .*)' "$log" | tail -n 1 ;;
        python-client)
            if grep -q 'MISMATCH: ' "$log"; then
                echo "$(grep -c 'MISMATCH: ' "$log") steps failed, first: $(grep -oE 'MISMATCH: .*' "$log" | head -n 1)"
            else
                grep -oE 'python client: .*' "$log" | tail -n 1
            fi ;;
        docs-page)
            echo "$(grep -oE '[0-9]+ operations shown, [0-9]+ in' "$log" | sed 's/ in$/ in the spec/');" \
                "$(grep -oE 'docs/api-reference.png (unchanged|rewritten)' "$log")" ;;
    esac
}

failed=0
echo
echo "contract checks against $base (logs in $build/):"
for i in "${!names[@]}"; do
    printf '  %-4s  %-21s %4ss  %s\n' "${results[$i]}" "${names[$i]}" "${seconds[$i]}" \
        "$(detail "${names[$i]}" 2>/dev/null || true)"
    [[ ${results[$i]} == PASS ]] || failed=$((failed + 1))
done
echo "contract: $((${#names[@]} - failed)) passed, $failed failed"
[[ $failed -eq 0 ]] || { echo "server log: $build/server.log" >&2; exit 1; }
