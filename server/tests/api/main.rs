//! API tests: the real server on 127.0.0.1:0 against a real PostgreSQL, a
//! fresh database per test. `DATABASE_URL` names a server where the tests
//! may create databases; `scripts/test.sh` starts one.

mod access_log;
mod auth_cost;
mod auth_oidc;
mod auth_startup;
mod auth_tokens;
mod bad_input;
mod batches;
mod cancellations;
mod chaos_proxy;
mod checkout_faults;
mod commit_order;
mod concurrency;
mod configuration;
mod cors;
mod docs;
mod explain;
mod faults;
mod health;
mod helpers;
mod hold_clock;
mod holds;
mod http_semantics;
mod idempotency;
mod limits;
mod metrics;
mod model;
mod oidc_provider;
mod overload;
mod owasp;
mod process;
mod purchase_records;
mod purchases;
mod rate_limits;
mod raw_http;
mod replicas;
mod restart;
mod rules;
mod shutdown;
mod tickets;
