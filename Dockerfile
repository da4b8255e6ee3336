# The ticket service's image: dependencies cached in their own layer by
# cargo-chef, the release binary built with the same command CI runs, and a
# small runtime image with only that binary, run as a non-root user.
#
# No `# syntax=` line: BuildKit would first fetch that frontend image from a
# registry, and builds with none in reach (CI's) would fail at once. The
# built-in frontend has all this file uses.

FROM rust:1.95.0-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /app

# Only the manifests: this layer changes when dependencies do.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
# generated/ is a path dependency outside the workspace's members, so the
# recipe leaves it out, yet cook must build it. It changes only with
# openapi.yaml, so copying it whole keeps this layer cached as long as the
# dependencies and the spec stay the same.
COPY generated/ generated/
# The recipe carries Cargo.lock; the final build below is --locked.
RUN cargo chef cook --release --recipe-path recipe.json -p tickets-server
COPY . .
RUN cargo build --release --locked -p tickets-server

FROM debian:12.11-slim AS runtime
# A fixed numeric user, so orchestrators can check it is not root.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin tickets
COPY --from=builder /app/target/release/tickets-server /usr/local/bin/tickets-server
USER 10001
# deploy/server.env, line for line (scripts/check-deploy.sh checks it).
ENV LISTEN_ADDR=0.0.0.0:8080 \
    RUST_LOG=info
EXPOSE 8080
# The image has no curl: the binary probes its own /healthz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["tickets-server", "healthcheck"]
ENTRYPOINT ["tickets-server"]
