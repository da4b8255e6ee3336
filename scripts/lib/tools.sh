# Sourced by the scripts: installs the pinned tools the project needs into
# .tools/ (git-ignored) the first time, and puts them on PATH.

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tools_dir="$repo_root/.tools"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# stop_started PID...: SIGTERM to each PID that is not empty. Callers pass
# only processes they started and have not reaped, and forget a pid once
# reaped: by then another process may have it.
stop_started() {
    local pid
    for pid in "$@"; do
        if [[ -n $pid ]]; then
            kill "$pid" 2>/dev/null || true
        fi
    done
}

# await_http URL LOG_FILE WHAT: waits up to 10 s for URL to answer; if it
# does not, shows LOG_FILE and fails saying that WHAT did not start.
await_http() {
    for _ in $(seq 100); do
        curl -sf "$1" >/dev/null 2>&1 && return
        sleep 0.1
    done
    cat "$2" >&2
    die "$3 did not start"
}

# install_python_requirements VENV REQUIREMENTS [PYTHON]: a virtualenv at
# VENV, made by PYTHON (default: python3 on PATH), with REQUIREMENTS
# installed; made afresh only when the requirements change. Prints
# nothing on stdout.
install_python_requirements() {
    local venv=$1 requirements=$2 python=${3:-python3}
    cmp -s "$requirements" "$venv/.requirements" 2>/dev/null && return
    log "installing Python tools into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$venv/.requirements"
}

# A virtualenv at .tools/NAME with REQUIREMENTS installed, put first on
# PATH.
ensure_python_venv() {
    install_python_requirements "$tools_dir/$1" "$2"
    export PATH="$tools_dir/$1/bin:$PATH"
}

# The scripts' Python tools (scripts/requirements.txt).
ensure_python_tools() {
    ensure_python_venv venv "$repo_root/scripts/requirements.txt"
}

# Java runs openapi-generator's jar.
ensure_java() {
    command -v java >/dev/null || die "java (17 or later) is required to run openapi-generator"
}

# A TCP port free on 127.0.0.1 at the time of asking.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Debian packages, installed when their command is missing (needs root).
ensure_debian_package() {
    local command=$1 package=$2
    command -v "$command" >/dev/null && return
    [[ $(id -u) -eq 0 ]] || die "$command is missing: install the Debian package $package"
    log "installing $package from the system's packages"
    if [[ -z "${apt_updated:-}" ]]; then
        apt-get update -qq >&2
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >&2
}

# oha, the open-loop load generator of scripts/bench.sh, pinned, from
# crates.io (its build needs a TLS backend even for plain HTTP). Its build
# takes many minutes on two cores, so it is kept per user, not per clone:
# every checkout on the machine shares the one build of this version.
oha_version=1.16.0
ensure_oha() {
    local root="${XDG_CACHE_HOME:-$HOME/.cache}/tickets-tools/oha-$oha_version"
    if [[ ! -x "$root/bin/oha" ]]; then
        log "installing oha $oha_version into $root (a few minutes, once)"
        cargo install --quiet --locked "oha@$oha_version" --root "$root" >&2
    fi
    export PATH="$root/bin:$PATH"
}
