# Sourced by the scripts that build on clients generated from openapi.yaml
# (contract-test.sh, the storefront): Node.js, pinned npm packages, and the
# pinned openapi-generator. Needs tools.sh sourced first.

# Node.js 20 or later, with npm.
ensure_node() {
    command -v node >/dev/null || die "Node.js 20 or later is required (with npm)"
    [[ $(node -p 'process.versions.node.split(".")[0]') -ge 20 ]] ||
        die "Node.js 20 or later is required, found $(node --version)"
}

# ensure_npm_packages DIR: DIR's packages as its package-lock.json pins them
# (npm ci), reinstalled only when the pins change; the stamp lives in
# node_modules so that deleting it forces a clean install.
ensure_npm_packages() {
    local dir=$1 stamp=$1/node_modules/.pins-installed
    if ! cat "$dir/package.json" "$dir/package-lock.json" | cmp -s - "$stamp" 2>/dev/null; then
        log "installing the npm packages of $dir (npm ci)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        cat "$dir/package.json" "$dir/package-lock.json" >"$stamp"
    fi
}

# generate_client GENERATOR DIR PROPERTIES: a client generated from the spec
# by the pinned openapi-generator (scripts/requirements.txt: the jar that
# generates the server) into DIR, its log beside it in DIR-generate.log.
generate_client() {
    ensure_python_tools
    ensure_debian_package java openjdk-17-jre-headless
    log "generating the $1 client into $2"
    rm -rf "$2"
    mkdir -p "$(dirname "$2")"
    openapi-generator-cli generate --input-spec "$repo_root/openapi.yaml" --generator-name "$1" \
        --output "$2" --additional-properties "$3" >"$2-generate.log" 2>&1 ||
        { cat "$2-generate.log" >&2; return 1; }
}
