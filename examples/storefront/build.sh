#!/usr/bin/env bash
# Builds the storefront into examples/storefront/dist: the TypeScript client
# generated from openapi.yaml by the project's pinned openapi-generator
# (ES modules, so the browser loads them with no bundler), the page's own
# code compiled with the pinned tsc, and the static files. Serve dist with
# serve.mjs (README.md in this directory says how).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/tools.sh"
source "$repo_root/scripts/lib/clients.sh"
cd "$repo_root"
storefront=examples/storefront

ensure_node
ensure_npm_packages "$storefront"
generate_client typescript-fetch "$storefront/build/client" \
    supportsES6=true,hideGenerationTimestamp=true,importFileExtension=.js
rm -rf "$storefront/dist"
"$storefront/node_modules/.bin/tsc" -p "$storefront"
cp "$storefront/index.html" "$storefront/style.css" "$storefront/dist/"
log "storefront built into $storefront/dist"
