#!/usr/bin/env bash
# Runs every check and test: formatting, lints, the spec and generated/,
# the release build and the deployment files, the image and the compose
# stack on a real Docker engine, the test suites against a real PostgreSQL,
# the contract checks, the storefront in a browser, and short runs of the
# benchmark, the soak and the failover test on the HA cluster.
#
# With DATABASE_URL unset it starts a throwaway PostgreSQL of its own
# (installing it from the system's packages if absent) and removes it after.
# With DATABASE_URL set, the tests create (and drop) their databases there.
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$repo_root/scripts/lib/postgres.sh"
cd "$repo_root"
# A step that fails without a message of its own (a `timeout`, say) still
# names itself at the end of the log.
trap 'status=$?; printf "error: the tests stopped at \`%s\` (exit %d)\n" "$BASH_COMMAND" "$status" >&2' ERR

# Each step's line says when it began, in minutes and seconds from the
# start, so that the log shows where the suite's time goes.
step() { log "[$(( SECONDS / 60 ))m$(printf '%02d' $(( SECONDS % 60 )))s] $*"; }

step "checking formatting"
cargo fmt --all -- --check

step "linting"
cargo clippy --locked -p tickets-server --all-targets -- -D warnings

step "validating openapi.yaml and checking generated/ against it"
ensure_python_tools
openapi-generator-cli validate --input-spec openapi.yaml >/dev/null
scripts/generate.sh --check
scripts/vendor-swagger-ui.sh --check

step "building the release binary (the build the Dockerfile runs)"
cargo build --release --locked -p tickets-server

step "checking the deployment files"
scripts/check-deploy.sh

step "the image and the compose stack on a Docker engine"
scripts/docker-smoke.sh

if [[ -z "${DATABASE_URL:-}" ]]; then
    scratch=$(mktemp -d)
    trap 'stop_local_postgres; rm -rf "$scratch"' EXIT
    start_local_postgres "$scratch/pgdata"
fi

# In release mode: the tests then share the release build's dependencies
# instead of compiling them all a third time.
step "running the tests"
test_log=$(mktemp)
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --release --locked -p tickets-server --no-fail-fast 2>&1 | tee "$test_log"
    passed=$(sed -nE 's/.* ([0-9]+) tests? run: ([0-9]+) passed.*/\2/p' "$test_log" | tail -n 1)
else
    cargo test --release --locked -p tickets-server --no-fail-fast 2>&1 | tee "$test_log"
    passed=$(sed -nE 's/^test result: ok\. ([0-9]+) passed.*/\1/p' "$test_log" | awk '{ sum += $1 } END { print sum + 0 }')
fi
rm -f "$test_log"

step "checking the server against its contract"
scripts/contract-test.sh

step "a storefront checkout in headless Chromium, from another origin"
scripts/storefront-test.sh

step "a short run of the benchmark, to prove it works (not a measurement)"
scripts/bench.sh --smoke

step "a short soak: three replicas, a database restart of each kind and a kill in 30 s"
scripts/soak.sh --smoke

step "a short failover run: the HA cluster, three replicas, a kill, a switchover, a cut-off and a frozen primary"
scripts/failover.sh --smoke

step "done"
# One closing line for whoever reads the end of the log.
echo "tests: ${passed:-0} passed, 0 failed"
