#!/usr/bin/env bash
# Starts the auth tests' OpenID provider (provider.mjs) and prints
# OIDC_ISSUER=<url> when it is ready. Installs it from package-lock.json
# with npm ci on first use; concurrent first uses wait for one install.
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -f node_modules/.package-lock.json ]]; then
    exec 9>.install.lock
    flock 9
    if [[ ! -f node_modules/.package-lock.json ]]; then
        npm ci --no-audit --no-fund --loglevel=error >&2
    fi
    exec 9>&-
fi
exec node provider.mjs
