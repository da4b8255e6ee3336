//! The service's Prometheus metrics, one registry per server.

use std::sync::Arc;

use std::sync::atomic::Ordering;

use crate::storage::{CoalescerMetrics, Liveness, POOL_EVENTS, Pool};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// What `GET /metrics` reports.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests answered, by route template, method and status.
    pub requests: IntCounterVec,
    /// Time to answer, by route template.
    pub request_seconds: HistogramVec,
    /// Tickets created.
    pub tickets_created: IntCounter,
    /// Purchases that succeeded (replays of idempotent ones not counted).
    pub purchases: IntCounter,
    /// Tickets sold by those purchases.
    pub tickets_sold: IntCounter,
    /// Purchases and holds refused because too few tickets were left.
    pub sold_out_rejections: IntCounter,
    /// Purchases and holds refused because of a ticket's limit.
    pub limit_rejections: IntCounter,
    /// Holds made and released, by event (`held`, `released`).
    pub holds: IntCounterVec,
    /// Purchases cancelled.
    pub cancellations: IntCounter,
    /// Requests refused by a rate limit, by limit (`per-address`, `per-buyer`).
    pub rate_limited: IntCounterVec,
    /// Requests refused for their credentials (401), by reason: `missing`,
    /// `organiser-token` or the buyer token's refusal.
    pub auth_refused: IntCounterVec,
    /// Requests per batch, by queue (purchases, ticket reads).
    batch_size: HistogramVec,
    /// Requests waiting for a batch, by queue.
    queue_waiting: IntGaugeVec,
    /// Requests refused because their queue was full, by queue.
    queue_refused: IntCounterVec,
    pool_connections: IntGauge,
    pool_idle_connections: IntGauge,
    pool_events: PoolEventCounters,
}

/// The pool's reconnections and failovers, as counters.
#[derive(Debug, Clone)]
struct PoolEventCounters {
    /// Connections the pool opened: the first ones and every reconnection.
    connections_opened: IntCounter,
    /// Connections dropped because their server refused a write as a
    /// standby.
    refused_writes: IntCounter,
    /// Connections dropped because they came back with a statement
    /// unanswered.
    unanswered_discards: IntCounter,
    /// Connections dropped because another showed their server had stopped
    /// answering.
    stale_discards: IntCounter,
    /// Times a new connection found another writable server than before.
    primary_changes: IntCounter,
}

impl PoolEventCounters {
    fn new() -> Self {
        Self {
            connections_opened: IntCounter::new(
                "db_pool_connections_opened_total",
                "Database connections opened, reconnections included",
            )
            .expect("valid metric"),
            refused_writes: IntCounter::new(
                "db_pool_read_only_discards_total",
                "Connections dropped because their server refused a write as read-only",
            )
            .expect("valid metric"),
            unanswered_discards: IntCounter::new(
                "db_pool_unanswered_discards_total",
                "Connections dropped because a statement on them was given up before the database answered",
            )
            .expect("valid metric"),
            stale_discards: IntCounter::new(
                "db_pool_stale_discards_total",
                "Connections dropped because, after they opened, another went unanswered past the statement timeout",
            )
            .expect("valid metric"),
            primary_changes: IntCounter::new(
                "db_primary_changes_total",
                "Times a new connection found another writable server (failover, switchover or restart)",
            )
            .expect("valid metric"),
        }
    }

    /// The counters catch up with the pool's atomics.
    fn update(&self) {
        for (counter, total) in [
            (&self.connections_opened, &POOL_EVENTS.connections_opened),
            (&self.refused_writes, &POOL_EVENTS.refused_writes),
            (&self.unanswered_discards, &POOL_EVENTS.unanswered_discards),
            (&self.stale_discards, &POOL_EVENTS.stale_discards),
            (&self.primary_changes, &POOL_EVENTS.primary_changes),
        ] {
            counter.inc_by(total.load(Ordering::Relaxed).saturating_sub(counter.get()));
        }
    }
}

impl Metrics {
    /// # Panics
    ///
    /// Never: the metrics' names, labels and buckets are constants, checked
    /// by the unit test below.
    pub fn new() -> Self {
        let registry = Registry::new();
        let metrics = Self {
            requests: IntCounterVec::new(
                Opts::new("http_requests_total", "Requests answered"),
                &["route", "method", "status"],
            )
            .expect("valid metric"),
            request_seconds: HistogramVec::new(
                HistogramOpts::new("http_request_duration_seconds", "Time to answer a request")
                    .buckets(vec![
                        0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0,
                        5.0,
                    ]),
                &["route"],
            )
            .expect("valid metric"),
            tickets_created: IntCounter::new("tickets_created_total", "Tickets created")
                .expect("valid metric"),
            purchases: IntCounter::new("tickets_purchases_total", "Purchases made")
                .expect("valid metric"),
            tickets_sold: IntCounter::new("tickets_sold_total", "Tickets sold")
                .expect("valid metric"),
            sold_out_rejections: IntCounter::new(
                "tickets_sold_out_rejections_total",
                "Purchases refused because too few tickets were left",
            )
            .expect("valid metric"),
            limit_rejections: IntCounter::new(
                "tickets_limit_rejections_total",
                "Purchases and holds refused because of a ticket's limit",
            )
            .expect("valid metric"),
            holds: counter_vec(
                "tickets_holds_total",
                "Holds made and released, by event",
                "event",
            ),
            cancellations: IntCounter::new("tickets_cancellations_total", "Purchases cancelled")
                .expect("valid metric"),
            rate_limited: counter_vec(
                "http_rate_limited_total",
                "Requests refused by a rate limit, by limit",
                "limit",
            ),
            auth_refused: counter_vec(
                "http_auth_refused_total",
                "Requests refused for their credentials, by reason",
                "reason",
            ),
            batch_size: HistogramVec::new(
                HistogramOpts::new("tickets_batch_size", "Requests run per batch, by queue")
                    .buckets(vec![
                        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
                    ]),
                &["queue"],
            )
            .expect("valid metric"),
            queue_waiting: IntGaugeVec::new(
                Opts::new(
                    "tickets_queue_waiting",
                    "Requests waiting for a batch, by queue",
                ),
                &["queue"],
            )
            .expect("valid metric"),
            queue_refused: counter_vec(
                "tickets_queue_refused_total",
                "Requests refused at once because their queue was full, by queue",
                "queue",
            ),
            pool_connections: IntGauge::new("db_pool_connections", "Database connections open")
                .expect("valid metric"),
            pool_idle_connections: IntGauge::new(
                "db_pool_idle_connections",
                "Database connections open and idle",
            )
            .expect("valid metric"),
            pool_events: PoolEventCounters::new(),
            registry,
        };
        metrics.register_all();
        metrics
    }

    /// Registers every metric in the server's registry.
    fn register_all(&self) {
        for collector in [
            Box::new(self.requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(self.request_seconds.clone()),
            Box::new(self.tickets_created.clone()),
            Box::new(self.purchases.clone()),
            Box::new(self.tickets_sold.clone()),
            Box::new(self.sold_out_rejections.clone()),
            Box::new(self.limit_rejections.clone()),
            Box::new(self.holds.clone()),
            Box::new(self.cancellations.clone()),
            Box::new(self.rate_limited.clone()),
            Box::new(self.auth_refused.clone()),
            Box::new(self.batch_size.clone()),
            Box::new(self.queue_waiting.clone()),
            Box::new(self.queue_refused.clone()),
            Box::new(self.pool_connections.clone()),
            Box::new(self.pool_idle_connections.clone()),
            Box::new(self.pool_events.connections_opened.clone()),
            Box::new(self.pool_events.refused_writes.clone()),
            Box::new(self.pool_events.unanswered_discards.clone()),
            Box::new(self.pool_events.stale_discards.clone()),
            Box::new(self.pool_events.primary_changes.clone()),
        ] {
            self.registry
                .register(collector)
                .expect("each metric registered once");
        }
    }

    /// The metrics in Prometheus' text format, with the pool's current state.
    /// The metrics of the queue named `queue`, which notes in `liveness`
    /// when the database answers it.
    pub fn queue(&self, queue: &str, liveness: &Arc<Liveness>) -> CoalescerMetrics {
        CoalescerMetrics {
            batch_size: self.batch_size.with_label_values(&[queue]),
            waiting: self.queue_waiting.with_label_values(&[queue]),
            refused: self.queue_refused.with_label_values(&[queue]),
            liveness: Arc::clone(liveness),
        }
    }

    /// The metrics in Prometheus' text format (UTF-8).
    pub fn render(&self, pool: &Pool) -> Vec<u8> {
        let state = pool.state();
        self.pool_connections.set(i64::from(state.connections));
        self.pool_idle_connections
            .set(i64::from(state.idle_connections));
        self.pool_events.update();
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for counters and histograms.
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// A counter with one label; its name and help are constants, so it is valid.
fn counter_vec(name: &str, help: &str, label: &str) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric")
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rendered_metrics_carry_counts_and_labels() {
        let metrics = Metrics::new();
        metrics
            .requests
            .with_label_values(&["/tickets/{id}", "GET", "200"])
            .inc();
        metrics.tickets_sold.inc_by(3);
        let pool = crate::storage::build_pool(
            "postgres://nowhere.invalid/db",
            crate::storage::PoolSettings {
                max_size: 1,
                connect_timeout: std::time::Duration::from_secs(1),
                statement_timeout: std::time::Duration::from_secs(1),
            },
        );
        let text = String::from_utf8(metrics.render(&pool)).expect("UTF-8");
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/tickets/{id}",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("tickets_sold_total 3"));
        assert!(text.contains("db_pool_connections 0"));
        assert!(text.contains("db_primary_changes_total"));
        assert!(text.contains("db_pool_read_only_discards_total"));
        assert!(text.contains("db_pool_unanswered_discards_total"));
        assert!(text.contains("db_pool_stale_discards_total"));
    }
}
