#!/usr/bin/env bash
# Builds the storefront into examples/storefront/dist: the TypeScript client
# generated from openapi.yaml by the project's pinned openapi-generator
# (ES modules, so the browser loads them with no bundler), the page's own
# code compiled with the pinned tsc, and the static files. Serve dist with
# serve.mjs (README.md in this directory says how).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/tools.sh"
source "$repo_root/scripts/lib/clients.sh"
cd "$repo_root/examples/storefront"

ensure_node
ensure_npm_packages .
generate_client typescript-fetch build/client \
    supportsES6=true,hideGenerationTimestamp=true,importFileExtension=.js
rm -rf dist
node_modules/.bin/tsc -p .
cp index.html style.css dist/
log "storefront built into examples/storefront/dist"
