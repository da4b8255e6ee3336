//! Logging: structured events through `tracing`, filtered by `RUST_LOG`
//! (default `info`), as JSON lines or, with `LOG_FORMAT=text`, as text.
//!
//! At `info`, the level shipped, a request writes a line only when it is an
//! error (any answer of 400 or more), slow or sampled (`http::access_log`);
//! `debug` writes a line for every request. Every line logged while a
//! request is served carries its `request_id`, taken from [`REQUEST_ID`]
//! when the line is written: a span per request cost more (its fields are
//! formatted when it opens, logged or not) than all the other logging at
//! `info` together.
//!
//! Lines are written to stderr by a thread of their own, through a buffer
//! flushed whenever no line waits: a request hands its line over and goes
//! on, and under load many lines leave in one write. Nothing is dropped: a
//! request waits if 128k lines are already waiting.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

tokio::task_local! {
    /// The id of the request the running task serves.
    pub static REQUEST_ID: String;
}

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
        builder
            .event_format(WithRequestId {
                inner: tracing_subscriber::fmt::format(),
                json: false,
            })
            .init();
    } else {
        builder
            .fmt_fields(JsonFields::new())
            .event_format(WithRequestId {
                inner: tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false),
                json: true,
            })
            .init();
    }
    guard
}

/// A line format that adds the id of the request being served, if any.
struct WithRequestId<F> {
    inner: F,
    json: bool,
}

impl<S, N, F> FormatEvent<S, N> for WithRequestId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Ok(request_id) = REQUEST_ID.try_with(Clone::clone) else {
            return self.inner.format_event(ctx, writer, event);
        };
        if !self.json {
            write!(writer, "request_id={request_id} ")?;
            return self.inner.format_event(ctx, writer, event);
        }
        // The JSON object's first member, before the line's own.
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let members = line.strip_prefix('{').ok_or(fmt::Error)?;
        let request_id = serde_json::to_string(&request_id).map_err(|_| fmt::Error)?;
        write!(writer, "{{\"request_id\":{request_id},{members}")
    }
}
