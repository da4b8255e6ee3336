#!/usr/bin/env bash
# Generates the rust-server crate from openapi.yaml with the pinned
# openapi-generator (scripts/requirements.txt).
#
#   scripts/generate.sh           regenerate generated/ in place
#   scripts/generate.sh --check   fail if generated/ differs from what the spec gives
set -euo pipefail
source "$(dirname "$0")/lib/tools.sh"
ensure_python_tools
ensure_java

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cp "$repo_root/openapi-generator/ignore" "$out/.openapi-generator-ignore"
# The generator reads the spec without the headers the HTTP edge sets on
# every answer (see scripts/lib/spec_for_generator.py).
spec=$(mktemp --suffix=.yaml)
trap 'rm -rf "$out" "$spec"' EXIT
python3 "$repo_root/scripts/lib/spec_for_generator.py" "$repo_root/openapi.yaml" "$spec"
openapi-generator-cli generate \
    --config "$repo_root/openapi-generator/config.yaml" \
    --template-dir "$repo_root/openapi-generator/templates" \
    --input-spec "$spec" \
    --output "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; rm -f "$out.log"; die "openapi-generator failed"; }
rm -f "$out.log"
cp "$repo_root/openapi-generator/rustfmt.toml" "$out/rustfmt.toml"

if [[ "${1:-}" == "--check" ]]; then
    if ! diff -r "$repo_root/generated" "$out"; then
        die "generated/ is stale: run scripts/generate.sh and commit the result"
    fi
    log "generated/ matches openapi.yaml"
else
    rm -rf "$repo_root/generated"
    cp -r "$out" "$repo_root/generated"
    chmod 755 "$repo_root/generated"
    log "generated/ regenerated from openapi.yaml"
fi
