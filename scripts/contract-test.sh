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
    stop_local_postgres
    [[ -f "$scratch/server.log" ]] && cp "$scratch/server.log" "$build/server.log"
    rm -rf "$scratch"
}
trap cleanup EXIT
# Always a database of its own: the checks create tickets and buy them, which
# has no place in a database someone else set DATABASE_URL to.
start_local_postgres "$scratch/pgdata"
start_release_server "$scratch/server.log"
base=$SERVER_BASE

# --- the checks ---------------------------------------------------------------

lint() {
    "$bin/redocly" lint --config contract/redocly.yaml openapi.yaml --format=stylish
}

spectral() {
    "$bin/spectral" lint --ruleset contract/.spectral.yaml --fail-severity=hint openapi.yaml
}

# Random mode's seeds: fixed, so each run sends the same requests as the last
# and a failure seen once is seen again. About 1,000 test cases a seed.
# CONTRACT_SEEDS="SEED ..." runs others, to look further than the fixed ones
# as a client's own run would (a failure names its seed, to rerun it).
read -r -a random_seeds <<<"${CONTRACT_SEEDS:-1 2 3 4 5}"
random_max_examples=75

# run_schemathesis JUNIT_REPORT [ARGS...]: every check, as a client would run it.
run_schemathesis() {
    local report=$1
    shift
    "$tools_dir/contract-venv/bin/st" --config-file contract/schemathesis.toml \
        run openapi.yaml --url "$base" --checks all --no-color \
        --report junit --report-junit-path "$report" "$@"
}

# The same requests every run, whatever the seed.
schemathesis() {
    run_schemathesis "$build/schemathesis-junit.xml" --generation-deterministic
}

schemathesis_seed() {
    run_schemathesis "$build/schemathesis-seed-$1-junit.xml" --seed "$1" --max-examples "$random_max_examples"
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
for seed in "${random_seeds[@]}"; do
    run_check "schemathesis-seed-$seed" schemathesis_seed "$seed"
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
            echo "$(grep -oE 'Tested: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+') operations," \
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
