//! The generated `Api` trait, implemented: each operation parses the
//! request's values into domain values (once, here), calls storage and
//! answers with the operation's response, made by `answers`.

mod access;
mod docs;
mod holds;
mod orders;
mod purchases;
mod tickets;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use swagger::{ApiError as GeneratedApiError, ByteArray, Has};
use tickets_api::{
    Api, CancelPurchaseResponse, ConfirmHoldResponse, CreateHoldResponse,
    CreateTicketLegacyResponse, CreateTicketResponse, GetDocsAssetResponse, GetDocsResponse,
    GetHoldResponse, GetMetricsResponse, GetOpenapiJsonResponse, GetOpenapiYamlResponse,
    GetPurchaseResponse, GetTicketResponse, HealthCheckResponse, ListPurchasesResponse,
    LivenessCheckResponse, PurchaseTicketsResponse, ReleaseHoldResponse, models,
};

use crate::answers::{ApiError, problem};
use crate::auth::Caller;
use crate::domain::orders::{Action, Actor, Order, SERVER};
use crate::domain::{HoldLifetimes, InvalidField, TicketId, field};
use crate::idempotency::IdempotencyKey;
use crate::metrics::Metrics;
use crate::storage::{
    self, Coalescer, CoalescerSettings, DatabaseState, Liveness, OrderBatches, Pool, StorageError,
    TicketReads,
};

/// The most orders one batch decides. Large enough that an on-sale at a
/// thousand connections is a few batches deep; small enough that a batch's
/// statement stays well under a millisecond of planning and locking.
const ORDER_BATCH: usize = 512;

/// The most ticket reads one statement answers.
const READ_BATCH: usize = 1024;

/// The fewest requests for which a batch starts while another of its kind
/// runs. Fewer wait for the running one to end and go in the next, larger
/// batch: measured with scripts/bench.sh on 2 cores, reads went from 27,000/s
/// to 40,000/s and spread purchases from 7,000/s to 11,000/s, because the
/// database's cost is mostly per statement, not per row.
const PARALLEL_BATCH: usize = 16;

/// A health check answers from the database's last answer when it is this
/// recent, rather than asking again: during a rush the probe is answered at
/// once instead of queueing behind the buyers.
const HEALTH_RECENT: Duration = Duration::from_secs(1);

/// What the API needs to know of the configuration.
#[derive(Debug, Clone, Copy)]
pub struct ApiSettings {
    /// How long an idempotency key's answer is kept.
    pub idempotency_key_ttl: Duration,
    /// How long a request waits for a database connection.
    pub connect_timeout: Duration,
    /// How long a batch waits for the database's answer.
    pub answer_timeout: Duration,
    /// The most requests of one kind waiting for the database.
    pub queue_depth: usize,
    /// The pool's size, which the batches running at once share.
    pub pool_size: u32,
    /// How long holds last.
    pub hold_lifetimes: HoldLifetimes,
}

/// The service's implementation of the API.
#[derive(Debug, Clone)]
pub struct TicketsApi {
    pool: Pool,
    liveness: Arc<Liveness>,
    orders: Arc<Coalescer<OrderBatches>>,
    reads: Arc<Coalescer<TicketReads>>,
    metrics: Arc<Metrics>,
    idempotency_key_ttl: Duration,
    hold_lifetimes: HoldLifetimes,
    answer_timeout: Duration,
}

impl TicketsApi {
    pub fn new(pool: Pool, metrics: Arc<Metrics>, settings: ApiSettings) -> Self {
        let pool_size = settings.pool_size as usize;
        let liveness = Arc::new(Liveness::default());
        let queue = |max_batch, max_in_flight| CoalescerSettings {
            max_batch,
            max_in_flight,
            min_parallel_batch: PARALLEL_BATCH,
            max_waiting: settings.queue_depth,
            connect_timeout: settings.connect_timeout,
            answer_timeout: settings.answer_timeout,
        };
        // Half the pool for order batches, a quarter for reads: the rest
        // serves creation, paging and health checks.
        let orders = Coalescer::start(
            OrderBatches {
                key_ttl: settings.idempotency_key_ttl,
            },
            pool.clone(),
            queue(ORDER_BATCH, (pool_size / 2).max(1)),
            metrics.queue("orders", &liveness),
        );
        let reads = Coalescer::start(
            TicketReads,
            pool.clone(),
            queue(READ_BATCH, (pool_size / 4).max(1)),
            metrics.queue("ticket_reads", &liveness),
        );
        Self {
            pool,
            liveness,
            orders: Arc::new(orders),
            reads: Arc::new(reads),
            metrics,
            idempotency_key_ttl: settings.idempotency_key_ttl,
            hold_lifetimes: settings.hold_lifetimes,
            answer_timeout: settings.answer_timeout,
        }
    }

    /// Gives back the tickets of holds that expired: up to `tickets` tickets'
    /// worth, through the batches (so under each ticket's lock, in turn with
    /// its orders). A ticket's expired holds count as free as soon as they
    /// expire; this only brings the books' counts up to date. Returns how
    /// many tickets it went through.
    pub async fn give_back_expired_holds(&self, tickets: i32) -> Result<usize, StorageError> {
        // Bounded like a batch, so a database that stopped answering does
        // not stop the sweeps for good: the connection is then dropped.
        let due = tokio::time::timeout(
            self.answer_timeout,
            storage::holds::tickets_with_expired_holds(&self.pool, tickets),
        )
        .await
        .map_err(|_elapsed| StorageError::unanswered())??;
        let count = due.len();
        for ticket in due {
            let order = Order {
                ticket,
                action: Action::Reclaim,
                key: None,
                by: Actor::AnyBuyer,
                made_by: SERVER.into(),
            };
            self.orders.submit(order).await?;
        }
        Ok(count)
    }
}

impl From<StorageError> for ApiError {
    /// A storage failure as the client sees it: the database unavailable or
    /// overloaded (503), or a bug (500). The cause is logged here, with the
    /// request's span; the client gets no internal text.
    fn from(error: StorageError) -> Self {
        if error.is_overloaded() {
            tracing::warn!("request refused: its queue is full");
            Self::Overloaded
        } else if error.is_unavailable() {
            tracing::warn!(error = %error, cause = ?error, "database unavailable");
            Self::Unavailable
        } else {
            tracing::error!(error = %error, cause = ?error, "request failed");
            Self::Unexpected
        }
    }
}

/// A parameter (path, query or header) as a domain value, or the 400 naming it.
fn parameter<T, V>(name: &'static str, raw: V) -> Result<T, ApiError>
where
    T: TryFrom<V, Error = String>,
{
    field(name, raw).map_err(|invalid| ApiError::InvalidRequest(vec![problem::parameter(&invalid)]))
}

/// The 400 for parameter `name`, which must be as `reason` says.
fn invalid_parameter(name: &'static str, reason: String) -> ApiError {
    ApiError::InvalidRequest(vec![problem::parameter(&InvalidField {
        field: name,
        reason,
    })])
}

/// The body as a domain value, or the 400 listing every invalid field.
fn body<T, M>(model: M) -> Result<T, ApiError>
where
    T: TryFrom<M, Error = Vec<InvalidField>>,
{
    T::try_from(model).map_err(|invalid| ApiError::InvalidRequest(problem::body_fields(invalid)))
}

fn ticket_id(raw: u64) -> Result<TicketId, ApiError> {
    parameter("id", raw)
}

fn idempotency_key(raw: Option<String>) -> Result<Option<IdempotencyKey>, ApiError> {
    raw.map(|raw| parameter("Idempotency-Key", raw)).transpose()
}

/// Who calls, as the edge put it in the request's context.
fn caller<C: Has<Caller>>(context: &C) -> &Caller {
    Has::<Caller>::get(context)
}

#[async_trait]
impl<C: Has<Caller> + Send + Sync> Api<C> for TicketsApi {
    async fn health_check(&self, _context: &C) -> Result<HealthCheckResponse, GeneratedApiError> {
        if self.liveness.answered_within(HEALTH_RECENT) {
            return Ok(HealthCheckResponse::Healthy(models::Health::new(
                models::HealthStatus::Ok,
            )));
        }
        Ok(match storage::database_state(&self.pool).await {
            DatabaseState::Writable => {
                self.liveness.answered();
                HealthCheckResponse::Healthy(models::Health::new(models::HealthStatus::Ok))
            }
            DatabaseState::Standby => {
                tracing::warn!("health check: the database is a read-only standby");
                HealthCheckResponse::Unavailable(problem::standby())
            }
            DatabaseState::Down(error) => {
                tracing::warn!(error = %error, cause = ?error, "health check: database unreachable");
                HealthCheckResponse::Unavailable(problem::unavailable())
            }
        })
    }

    async fn liveness_check(
        &self,
        _context: &C,
    ) -> Result<LivenessCheckResponse, GeneratedApiError> {
        Ok(LivenessCheckResponse::Alive(models::Health::new(
            models::HealthStatus::Ok,
        )))
    }

    async fn get_metrics(&self, context: &C) -> Result<GetMetricsResponse, GeneratedApiError> {
        Ok(match access::metrics_reader(caller(context)) {
            Ok(()) => GetMetricsResponse::Metrics(ByteArray(self.metrics.render(&self.pool))),
            Err(error) => GetMetricsResponse::Forbidden(error.into_problem()),
        })
    }

    async fn create_ticket(
        &self,
        ticket_create: models::TicketCreate,
        idempotency_key: Option<String>,
        context: &C,
    ) -> Result<CreateTicketResponse, GeneratedApiError> {
        Ok(self
            .create(caller(context), ticket_create, idempotency_key)
            .await)
    }

    async fn create_ticket_legacy(
        &self,
        ticket_create: models::TicketCreate,
        idempotency_key: Option<String>,
        context: &C,
    ) -> Result<CreateTicketLegacyResponse, GeneratedApiError> {
        Ok(self
            .create(caller(context), ticket_create, idempotency_key)
            .await)
    }

    async fn get_ticket(
        &self,
        id: u64,
        _context: &C,
    ) -> Result<GetTicketResponse, GeneratedApiError> {
        Ok(match self.get(id).await {
            Ok(ticket) => GetTicketResponse::Found(ticket),
            Err(error) => error.into(),
        })
    }

    async fn purchase_tickets(
        &self,
        id: u64,
        purchase_create: models::PurchaseCreate,
        idempotency_key: Option<String>,
        context: &C,
    ) -> Result<PurchaseTicketsResponse, GeneratedApiError> {
        Ok(self
            .purchase(caller(context), id, purchase_create, idempotency_key)
            .await)
    }

    async fn cancel_purchase(
        &self,
        id: u64,
        purchase_id: uuid::Uuid,
        idempotency_key: Option<String>,
        context: &C,
    ) -> Result<CancelPurchaseResponse, GeneratedApiError> {
        Ok(self
            .cancel(caller(context), id, purchase_id, idempotency_key)
            .await)
    }

    async fn create_hold(
        &self,
        id: u64,
        hold_create: models::HoldCreate,
        idempotency_key: Option<String>,
        context: &C,
    ) -> Result<CreateHoldResponse, GeneratedApiError> {
        Ok(self
            .hold(caller(context), id, hold_create, idempotency_key)
            .await)
    }

    async fn confirm_hold(
        &self,
        id: u64,
        hold_id: uuid::Uuid,
        idempotency_key: Option<String>,
        context: &C,
    ) -> Result<ConfirmHoldResponse, GeneratedApiError> {
        Ok(self
            .confirm(caller(context), id, hold_id, idempotency_key)
            .await)
    }

    async fn release_hold(
        &self,
        id: u64,
        hold_id: uuid::Uuid,
        idempotency_key: Option<String>,
        context: &C,
    ) -> Result<ReleaseHoldResponse, GeneratedApiError> {
        Ok(self
            .release(caller(context), id, hold_id, idempotency_key)
            .await)
    }

    async fn get_hold(
        &self,
        id: u64,
        hold_id: uuid::Uuid,
        context: &C,
    ) -> Result<GetHoldResponse, GeneratedApiError> {
        Ok(
            match self.get_hold_record(caller(context), id, hold_id).await {
                Ok(hold) => GetHoldResponse::Found(hold),
                Err(error) => error.into(),
            },
        )
    }

    async fn list_purchases(
        &self,
        id: u64,
        limit: Option<u32>,
        cursor: Option<String>,
        context: &C,
    ) -> Result<ListPurchasesResponse, GeneratedApiError> {
        Ok(match self.list(caller(context), id, limit, cursor).await {
            Ok(page) => ListPurchasesResponse::Page(page),
            Err(error) => error.into(),
        })
    }

    async fn get_purchase(
        &self,
        id: u64,
        purchase_id: uuid::Uuid,
        context: &C,
    ) -> Result<GetPurchaseResponse, GeneratedApiError> {
        Ok(
            match self
                .get_purchase_record(caller(context), id, purchase_id)
                .await
            {
                Ok(purchase) => GetPurchaseResponse::Found(purchase),
                Err(error) => error.into(),
            },
        )
    }

    async fn get_openapi_yaml(
        &self,
        _context: &C,
    ) -> Result<GetOpenapiYamlResponse, GeneratedApiError> {
        Ok(GetOpenapiYamlResponse::Document(ByteArray(
            docs::OPENAPI_YAML.as_bytes().to_vec(),
        )))
    }

    async fn get_openapi_json(
        &self,
        _context: &C,
    ) -> Result<GetOpenapiJsonResponse, GeneratedApiError> {
        Ok(GetOpenapiJsonResponse::Document(docs::OPENAPI_JSON.clone()))
    }

    async fn get_docs(&self, _context: &C) -> Result<GetDocsResponse, GeneratedApiError> {
        Ok(GetDocsResponse::Page(ByteArray(
            docs::DOCS_PAGE.as_bytes().to_vec(),
        )))
    }

    async fn get_docs_asset(
        &self,
        file: models::GetDocsAssetFileParameter,
        _context: &C,
    ) -> Result<GetDocsAssetResponse, GeneratedApiError> {
        let body = ByteArray(docs::asset(file).as_bytes().to_vec());
        Ok(GetDocsAssetResponse::Asset(match file {
            models::GetDocsAssetFileParameter::SwaggerUiBundleJs => swagger::OneOf2::A(body),
            models::GetDocsAssetFileParameter::SwaggerUiCss => swagger::OneOf2::B(body),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickets_api::GetTicketResponse;

    #[test]
    fn a_lost_pool_is_a_503_without_internal_text() {
        let error = StorageError::Unavailable("connection refused to 10.0.0.1".into());
        let problem = ApiError::from(error).into_problem();
        assert_eq!(problem.status, 503);
        assert!(!problem.detail.contains("10.0.0.1"));
    }

    #[test]
    fn a_failed_query_is_a_500_without_internal_text() {
        let error = StorageError::Query(diesel::result::Error::NotFound);
        let response = GetTicketResponse::from(ApiError::from(error));
        let GetTicketResponse::InternalError(problem) = response else {
            panic!("expected a 500, got {response:?}");
        };
        assert_eq!(problem.detail, "The server could not complete the request");
    }
}
