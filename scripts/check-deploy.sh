#!/usr/bin/env bash
# Checks the deployment files as files, offline:
#   - the Dockerfile passes hadolint;
#   - docker-compose.yml validates against the Compose specification's schema;
#   - the load balancer's configuration passes `nginx -t`;
#   - the Dockerfile builds with the very command CI builds with;
#   - the Kubernetes manifests validate against Kubernetes' schemas;
#   - checkov finds nothing in the Dockerfile, the compose file and the
#     manifests that is not fixed or skipped with its reason in place.
# scripts/docker-smoke.sh runs the image and the compose stack on an engine.
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
source "$repo_root/scripts/lib/server.sh"
cd "$repo_root"
ensure_python_tools
ensure_python_venv deploy-venv scripts/deploy-requirements.txt

log "hadolint Dockerfile"
hadolint --failure-threshold info Dockerfile

log "docker-compose.yml against the Compose specification"
check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

log "nginx -t deploy/nginx.conf"
ensure_debian_package nginx nginx-light
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The replicas' names resolve only inside the compose network; nginx
# resolves upstream hosts when it loads its configuration, so the copy under
# test points them at loopback. Nothing else is changed.
sed -E 's/server replica-([0-9]+):8080/server 127.0.0.1:808\1/' deploy/nginx.conf >"$scratch/nginx.conf"
grep -q 'server replica-1:8080' deploy/nginx.conf || die "deploy/nginx.conf no longer names the replicas as expected"
nginx -t -q -c "$scratch/nginx.conf" -p "$scratch" -g "error_log $scratch/error.log;"

log "the Dockerfile builds as CI does"
build_command='cargo build --release --locked -p tickets-server'
grep -qF "RUN $build_command" Dockerfile || die "the Dockerfile does not run '$build_command', the build CI checks"
grep -qF "$build_command" scripts/test.sh || die "scripts/test.sh does not run '$build_command'"

log "the Dockerfile's environment is deploy/server.env"
# The runtime stage's ENV instructions (continuation lines joined) against
# the file's NAME=value lines, both sorted.
dockerfile_env=$(sed -n '/^FROM .* AS runtime/,$p' Dockerfile | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' |
    sed -nE 's/^ENV[[:space:]]+//p' | tr -s ' ' '\n' | sort)
[[ -n $dockerfile_env && $dockerfile_env == "$(shipped_env | sort)" ]] ||
    die "the Dockerfile's ENV lines ($(echo "$dockerfile_env" | paste -sd " ")) and deploy/server.env ($(shipped_env | paste -sd " ")) differ: change both"
grep -q '^  env_file: deploy/server.env$' docker-compose.yml || die "docker-compose.yml does not read deploy/server.env"

log "the Kubernetes manifests against Kubernetes' schemas"
kubernetes-validate --strict --quiet deploy/kubernetes/*.yaml deploy/kubernetes/example/*.yaml

# checkov has no compose checks; its secrets scan covers the compose file.
log "checkov on the Dockerfile, docker-compose.yml and deploy/kubernetes"
CKV_SKIP_PACKAGE_UPDATE_CHECK=true checkov --quiet --compact --skip-download \
    --framework dockerfile kubernetes secrets \
    -f Dockerfile -f docker-compose.yml -d deploy/kubernetes

log "deployment files pass"
