//! The ticket service: the generated API server (crate `tickets_api`, from
//! `openapi.yaml`) implemented on PostgreSQL.
//!
//! A request flows through [`http`] (limits, request ids, problem details)
//! into the generated server, which routes and parses it and calls [`api`],
//! which turns it into [`domain`] values and calls [`storage`].

pub mod api;
pub mod auth;
pub mod config;
pub mod domain;
pub mod healthcheck;
pub mod http;
pub mod metrics;
pub mod problem;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod tokens_cli;
