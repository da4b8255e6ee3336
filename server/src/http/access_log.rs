//! The access log: one line per request worth reading, not one per request.
//!
//! A line for every request cost 27% of the hot purchase rate at `info`
//! (about 300 bytes a request), so a request is logged at `info` or above
//! only if an operator will look for it: every answer of 400 or more (a
//! client reporting an error quotes its `X-Request-Id`), every slow one, and
//! a sample of the rest. Every other request is logged at `debug`. Counts and
//! latencies of all requests are in `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hyper::{Method, StatusCode};
use tracing::Level;

/// Which requests the access log writes at `info` or above.
#[derive(Debug)]
pub struct AccessLog {
    /// Requests that take longer are logged at `warn`.
    slow: Duration,
    /// One successful request in this many is logged at `info`; 0: none.
    sample_every: u64,
    /// Requests seen, for the sample.
    seen: AtomicU64,
}

/// What the access log's settings are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccessLogSettings {
    /// `LOG_SLOW_REQUEST_MS`.
    pub slow: Duration,
    /// `ACCESS_LOG_SAMPLE`: the share of other requests logged at `info`.
    pub sample: f64,
}

impl AccessLog {
    pub fn new(settings: AccessLogSettings) -> Self {
        // A counter rather than a random draw: cheap, and a share of 0.001
        // logs exactly every thousandth request.
        let sample_every = if settings.sample > 0.0 {
            // In range: the share is from 0 to 1, so this is 1 or more.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let every = (1.0 / settings.sample).round() as u64;
            every
        } else {
            0
        };
        Self {
            slow: settings.slow,
            sample_every,
            seen: AtomicU64::new(0),
        }
    }

    /// The level a request's line is written at.
    fn level(&self, status: StatusCode, elapsed: Duration) -> Level {
        if status.is_server_error() {
            Level::ERROR
        } else if elapsed > self.slow {
            Level::WARN
        } else if status.is_client_error() || self.sampled() {
            Level::INFO
        } else {
            Level::DEBUG
        }
    }

    fn sampled(&self) -> bool {
        self.sample_every != 0
            && self
                .seen
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(self.sample_every)
    }

    /// Logs a request's answer (its id is added from the task serving it).
    pub fn record(&self, method: &Method, path: &str, status: StatusCode, elapsed: Duration) {
        let level = self.level(status, elapsed);
        let method = method.as_str();
        let status = status.as_u16();
        let elapsed_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        // `event!` takes its level as a constant.
        macro_rules! line {
            ($level:expr) => {
                tracing::event!($level, method, path, status, elapsed_us, "request handled")
            };
        }
        match level {
            Level::ERROR => line!(Level::ERROR),
            Level::WARN => line!(Level::WARN),
            Level::INFO => line!(Level::INFO),
            _ => line!(Level::DEBUG),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const FAST: Duration = Duration::from_millis(1);
    const SLOW: Duration = Duration::from_millis(300);

    fn log(sample: f64) -> AccessLog {
        AccessLog::new(AccessLogSettings {
            slow: Duration::from_millis(250),
            sample,
        })
    }

    #[rstest]
    #[case::server_error(StatusCode::SERVICE_UNAVAILABLE, FAST, Level::ERROR)]
    #[case::slow_server_error(StatusCode::INTERNAL_SERVER_ERROR, SLOW, Level::ERROR)]
    #[case::slow_success(StatusCode::CREATED, SLOW, Level::WARN)]
    #[case::slow_client_error(StatusCode::CONFLICT, SLOW, Level::WARN)]
    #[case::client_error(StatusCode::CONFLICT, FAST, Level::INFO)]
    #[case::not_found(StatusCode::NOT_FOUND, FAST, Level::INFO)]
    #[case::fast_success(StatusCode::CREATED, FAST, Level::DEBUG)]
    fn a_request_is_logged_at_the_level_its_answer_earns(
        #[case] status: StatusCode,
        #[case] elapsed: Duration,
        #[case] level: Level,
    ) {
        assert_eq!(log(0.0).level(status, elapsed), level);
    }

    #[test]
    fn one_success_in_every_so_many_is_sampled() {
        let log = log(0.01);
        let sampled = (0..1000)
            .filter(|_| log.level(StatusCode::OK, FAST) == Level::INFO)
            .count();
        assert_eq!(sampled, 10);
    }

    #[test]
    fn a_share_of_one_samples_every_success() {
        let log = log(1.0);
        assert!((0..10).all(|_| log.level(StatusCode::OK, FAST) == Level::INFO));
    }

    #[test]
    fn errors_do_not_use_up_the_sample() {
        let log = log(0.5);
        assert_eq!(log.level(StatusCode::CONFLICT, FAST), Level::INFO);
        assert_eq!(log.level(StatusCode::OK, FAST), Level::INFO);
        assert_eq!(log.level(StatusCode::OK, FAST), Level::DEBUG);
    }
}
