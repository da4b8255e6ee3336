#!/usr/bin/env bash
# Copies Swagger UI's assets, at the version pinned in
# server/assets/swagger-ui/package-lock.json, next to it, where the server
# embeds them at build time (GET /docs must work with no internet).
#
#   scripts/vendor-swagger-ui.sh           refresh the vendored files
#   scripts/vendor-swagger-ui.sh --check   fail if they differ from the pinned package
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
assets="$repo_root/server/assets/swagger-ui"
files=(swagger-ui-bundle.js swagger-ui.css LICENSE)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$assets/package.json" "$assets/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

for file in "${files[@]}"; do
    if [[ "${1:-}" == "--check" ]]; then
        cmp -s "$work/node_modules/swagger-ui-dist/$file" "$assets/$file" ||
            die "server/assets/swagger-ui/$file differs from the pinned package: run scripts/vendor-swagger-ui.sh"
    else
        cp "$work/node_modules/swagger-ui-dist/$file" "$assets/$file"
    fi
done
log "Swagger UI assets match the pinned package"
