//! Logging: structured events through `tracing`, filtered by `RUST_LOG`
//! (default `info`), as JSON lines or, with `LOG_FORMAT=text`, as text.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Events from the `log` crate (which the
/// generated server uses) are forwarded too.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
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
}
