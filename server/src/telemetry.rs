//! Logging: structured events through `tracing`, filtered by `RUST_LOG`
//! (default `info`), as JSON lines or, with `LOG_FORMAT=text`, as text.
//!
//! Lines are written to stderr by a thread of their own, through a buffer
//! flushed whenever no line waits: a request hands its line over and goes
//! on, and under load many lines leave in one write. Nothing is dropped: a
//! request waits if 128k lines are already waiting.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; events from the `log` crate (which the
/// generated server uses) are forwarded too. Lines still waiting are
/// written when the returned guard drops: keep it until the process ends.
#[must_use = "the log's last lines are written when the guard drops"]
pub fn init() -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("text")) {
        builder.init();
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init();
    }
    guard
}
