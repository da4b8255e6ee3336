//! The ticket service: the generated API server (crate `tickets_api`, from
//! `openapi.yaml`) implemented on PostgreSQL.
//!
//! A request flows down, each layer importing only those below it:
//! - [`http`]: the edge (limits, request ids, problem details for what the
//!   generated server refuses), then the generated server, which routes
//!   and parses the request;
//! - [`api`]: the generated `Api` trait, implemented: parses each value into
//!   its [`domain`] type and calls [`storage`];
//! - [`storage`]: how the books are kept (PostgreSQL, batches, statements);
//! - [`idempotency`]: keys, fingerprints, and the answers kept under keys;
//! - [`answers`]: outcomes and refusals as responses and problem details;
//! - [`domain`]: the values and the box office's rules ([`domain::orders`]).
//!
//! Beside them: [`config`], [`startup`], [`telemetry`], [`metrics`].

pub mod answers;
pub mod api;
pub mod auth;
pub mod config;
pub mod domain;
pub mod healthcheck;
pub mod http;
pub mod idempotency;
pub mod metrics;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod tokens_cli;
