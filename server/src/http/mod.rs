//! The HTTP edge around the generated server: it enforces the body limit and
//! the JSON content type, the rate limits and the CORS protocol, bounds how
//! long a request waits on the database, gives each request an id and a log
//! span, and turns every error the generated server answers in its own
//! format into problem details, so clients only ever see the spec's bodies.

mod access_log;
mod client_address;
mod connection;
mod context;
mod cors;
mod protocol_errors;
mod rate_limit;
mod rejection;
mod route;

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER, WARNING,
    WWW_AUTHENTICATE,
};
use hyper::service::Service as _;
use hyper::{Method, Request, Response, StatusCode};
use tickets_api::models;

pub use access_log::{AccessLog, AccessLogSettings};
pub use client_address::TrustedProxies;
pub use connection::{ConnectionSettings, Keep, serve as serve_connection};
pub use context::RequestContext;
pub use cors::AllowedOrigins;
pub use protocol_errors::ProtocolErrorRewrite;
use rate_limit::{Limiter, RateLimits, Verdict};
pub use rate_limit::{Rate, RateLimitSettings};
use route::Route;

use crate::answers::problem::{self, ProblemKind};
use crate::api::TicketsApi;
use crate::auth::{AuthRefusal, Authenticator, Caller};
use crate::metrics::Metrics;
use crate::telemetry;

/// The largest request body accepted; larger ones get 413. Every valid body
/// fits with room to spare: the largest, a ticket with every string at its
/// longest and every character `\u`-escaped, is about 26,500 bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What a 503 tells clients to wait before retrying, in seconds.
const RETRY_AFTER_SECONDS: &str = "1";

/// The header that carries a request's id, taken from the client or made here.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub type Body = BoxBody<Bytes, Infallible>;

type GeneratedService = tickets_api::server::Service<TicketsApi, RequestContext>;

/// What the edge enforces, from the configuration.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// How long a client gets to send a request's body.
    pub body_read_timeout: Duration,
    /// How long a request may wait on the database, all told; the time
    /// its client takes to send the body does not count.
    pub database_deadline: Duration,
    /// The origins whose pages may call the API.
    pub cors: AllowedOrigins,
    /// The proxies whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
    /// The rate limits, unless turned off.
    pub rate_limits: Option<RateLimitSettings>,
    /// Checks credentials; `None` with `AUTH_MODE=open`.
    pub authenticator: Option<Arc<Authenticator>>,
}

/// Serves one request through the generated server.
#[derive(Clone)]
pub struct Edge {
    generated: GeneratedService,
    metrics: Arc<Metrics>,
    body_read_timeout: Duration,
    database_deadline: Duration,
    cors: AllowedOrigins,
    trusted_proxies: TrustedProxies,
    rate_limits: Option<Arc<RateLimits>>,
    authenticator: Option<Arc<Authenticator>>,
    access_log: Arc<AccessLog>,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge").finish_non_exhaustive()
    }
}

impl Edge {
    pub fn new(
        api: TicketsApi,
        metrics: Arc<Metrics>,
        settings: EdgeSettings,
        access_log: AccessLog,
    ) -> Self {
        Self {
            generated: GeneratedService::new(api, false),
            metrics,
            body_read_timeout: settings.body_read_timeout,
            database_deadline: settings.database_deadline,
            cors: settings.cors,
            trusted_proxies: settings.trusted_proxies,
            rate_limits: settings
                .rate_limits
                .map(|limits| Arc::new(RateLimits::new(limits))),
            authenticator: settings.authenticator,
            access_log: Arc::new(access_log),
        }
    }

    /// Serves `request`, which came over a connection from `peer`.
    pub async fn handle(&self, request: Request<Incoming>, peer: IpAddr) -> Response<Body> {
        let request_id = request_id(request.headers());
        let origin = request.headers().get(hyper::header::ORIGIN).cloned();
        // The request moves into the generated server; the edge keeps its
        // path (and the route parsed from it) for errors and metrics.
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let id = request_id.clone();
        let served = async move {
            let route = Route::of(&path);
            let started = Instant::now();
            let mut response = self.respond(request, route, peer, &request_id).await;
            self.cors.decorate(origin.as_ref(), response.headers_mut());
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(REQUEST_ID, value);
            }
            if response.status() == StatusCode::SERVICE_UNAVAILABLE {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
            }
            let elapsed = started.elapsed();
            self.metrics
                .requests
                .with_label_values(&[
                    route.template(),
                    method_label(&method),
                    response.status().as_str(),
                ])
                .inc();
            self.metrics
                .request_seconds
                .with_label_values(&[route.template()])
                .observe(elapsed.as_secs_f64());
            self.access_log
                .record(&method, &path, response.status(), elapsed);
            response
        };
        telemetry::REQUEST_ID.scope(id, served).await
    }

    async fn respond(
        &self,
        request: Request<Incoming>,
        route: Route<'_>,
        peer: IpAddr,
        request_id: &str,
    ) -> Response<Body> {
        // From here on, what waits on the database (the credentials, the
        // operation) has a deadline; the client's sending of the body is
        // added to it, as that wait is the client's.
        let mut deadline = tokio::time::Instant::now() + self.database_deadline;
        let (mut parts, body) = request.into_parts();
        if let Some(limits) = &self.rate_limits {
            let client = self.trusted_proxies.client_address(peer, &parts.headers);
            if let Some(refused) = self.refused(&limits.address, &client) {
                return refused;
            }
        }
        // The generated server routes exactly what it was given, with dots
        // in its patterns unescaped: the edge decides which routes exist.
        if route == Route::Other {
            return problem_response(&ProblemKind::NotFound.with_detail("No such route"));
        }
        if parts.method == Method::OPTIONS && AllowedOrigins::is_preflight(&parts.headers) {
            return self.preflight(&parts.headers, route);
        }
        // HEAD is GET without the body, which hyper leaves out because the
        // request it read was HEAD.
        if parts.method == Method::HEAD && route.answers_get() {
            parts.method = Method::GET;
        }
        let caller = if route.needs_credentials(&parts.method) {
            match self.by(deadline, self.caller(&parts.headers)).await {
                Ok(Ok(caller)) => caller,
                Ok(Err(refused)) | Err(refused) => return refused,
            }
        } else {
            Caller::Anonymous
        };
        if parts.method == Method::POST && route.takes_json_body() && !is_json(&parts.headers) {
            return problem_response(
                &ProblemKind::UnsupportedMediaType
                    .with_detail("The request body must be application/json"),
            );
        }
        let query = parts.uri.query().map(str::to_owned);
        let method = parts.method.clone();
        let reading = Instant::now();
        let body = match read_body(&parts.headers, body, self.body_read_timeout).await {
            Ok(body) => body,
            Err(problem) => return problem_response(&problem),
        };
        deadline += reading.elapsed();

        if let Some(limits) = &self.rate_limits
            && route.is_buyers_order(&parts.method)
            && let Some(buyer) = buyer(&caller, &body)
            && let Some(refused) = self.refused(&limits.buyer, &buyer)
        {
            return refused;
        }

        let request = Request::from_parts(parts, Full::new(body.clone()));
        let context = RequestContext::new(request_id.to_owned(), caller);
        let mut response = match self
            .by(deadline, self.generated.call((request, context)))
            .await
        {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                tracing::error!(error = %error, "the generated server failed");
                return problem_response(&problem::internal());
            }
            Err(given_up) => return given_up,
        };
        // The generated server echoes the request id as X-Span-ID; the API
        // documents X-Request-Id, set by the caller of this function. It
        // also lists ignored body members in a Warning header, which the API
        // does not document (Warning is obsolete: RFC 9111).
        response.headers_mut().remove("x-span-id");
        response.headers_mut().remove(WARNING);
        let is_error = response.status().is_client_error() || response.status().is_server_error();
        if is_error && !is_problem(response.headers()) {
            return rejection_response(route, &method, query.as_deref(), &body, response.status());
        }
        response
    }
}

impl Edge {
    /// Runs `work` until `deadline`, or gives it up: a database that stopped
    /// answering (frozen, or behind a network that drops packets) would
    /// keep it waiting for good. Giving up drops the work, and with it any
    /// connection it has a statement in flight on (`storage::pool` drops
    /// such a connection rather than reuse it). What was sent may still
    /// happen, as after a lost connection: the 503 says no more than that.
    async fn by<T>(
        &self,
        deadline: tokio::time::Instant,
        work: impl Future<Output = T>,
    ) -> Result<T, Response<Body>> {
        tokio::time::timeout_at(deadline, work)
            .await
            .map_err(|_elapsed| {
                tracing::warn!(
                    deadline_ms = self.database_deadline.as_millis(),
                    "a request was given up: the database did not answer within its deadline"
                );
                problem_response(&problem::unavailable())
            })
    }

    /// Who the request's `Authorization` speaks for, or the 401 (503 when
    /// credentials cannot be checked now) that answers it.
    async fn caller(&self, headers: &HeaderMap) -> Result<Caller, Response<Body>> {
        let Some(authenticator) = &self.authenticator else {
            return Ok(Caller::Open);
        };
        // A header that is not visible ASCII is no token.
        let authorization = headers
            .get(hyper::header::AUTHORIZATION)
            .map(|value| value.to_str().unwrap_or_default());
        match authenticator.authenticate(authorization).await {
            Ok(principal) => Ok(principal.into()),
            Err(refusal) => Err(self.unauthenticated(&refusal)),
        }
    }

    fn unauthenticated(&self, refusal: &AuthRefusal) -> Response<Body> {
        if refusal.is_unavailable() {
            tracing::warn!(error = %refusal, "credentials could not be checked");
            return problem_response(
                &ProblemKind::Unavailable
                    .with_detail("Credentials cannot be checked now; try again later"),
            );
        }
        self.metrics
            .auth_refused
            .with_label_values(&[refusal.label()])
            .inc();
        let (detail, challenge) = match refusal {
            AuthRefusal::Missing => (
                "This operation needs a bearer token in the Authorization header".to_owned(),
                "Bearer realm=\"tickets\"",
            ),
            refusal => (
                format!("The bearer token was refused: {refusal}"),
                "Bearer realm=\"tickets\", error=\"invalid_token\"",
            ),
        };
        let mut response = problem_response(&ProblemKind::Unauthenticated.with_detail(detail));
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        response
    }

    /// The 429 for a request past `limit` for `key`, if it is.
    fn refused<K: std::hash::Hash + Eq + Clone>(
        &self,
        limit: &Limiter<K>,
        key: &K,
    ) -> Option<Response<Body>> {
        let Verdict::Refused { retry_after } = limit.check(key, Instant::now()) else {
            return None;
        };
        self.metrics
            .rate_limited
            .with_label_values(&[limit.name])
            .inc();
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let whose = if limit.name == "per-buyer" {
            "this buyer's purchases, holds and confirmations"
        } else {
            "requests from this address"
        };
        let mut response = problem_response(&ProblemKind::TooManyRequests.with_detail(format!(
            "Too many {whose} in too short a time; retry after {seconds} s"
        )));
        let headers = response.headers_mut();
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        if let Ok(state) = HeaderValue::from_str(&format!("\"{}\";r=0;t={seconds}", limit.name)) {
            headers.insert(RATE_LIMIT, state);
        }
        if let Ok(policy) = HeaderValue::from_str(&limit.policy()) {
            headers.insert(RATE_LIMIT_POLICY, policy);
        }
        Some(response)
    }

    /// The answer to a preflight of `route`: 204 with what the route
    /// allows for a listed origin, else a 403 with no CORS headers.
    fn preflight(&self, request: &HeaderMap, route: Route<'_>) -> Response<Body> {
        let allowed = route
            .allowed_methods()
            .and_then(|methods| Some((methods, self.cors.preflight(request, methods)?)));
        let Some((_, headers)) = allowed else {
            return problem_response(
                &ProblemKind::OriginNotAllowed
                    .with_detail("This origin is not allowed to call the API from a browser"),
            );
        };
        let mut response = Response::new(Full::new(Bytes::new()).boxed());
        *response.status_mut() = StatusCode::NO_CONTENT;
        response.headers_mut().extend(headers);
        response
    }
}

/// The header fields of the IETF draft on rate limits
/// (draft-ietf-httpapi-ratelimit-headers).
const RATE_LIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATE_LIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The buyer an order is for, for the per-buyer limit: the token's buyer;
/// with `AUTH_MODE=open`, the one the body names (the operation refuses a
/// body without one). An organiser's orders (the box office) are limited
/// per address only.
fn buyer(caller: &Caller, body: &[u8]) -> Option<uuid::Uuid> {
    #[derive(serde::Deserialize)]
    struct Named {
        user_id: uuid::Uuid,
    }
    match caller {
        Caller::Buyer(buyer) => Some(buyer.user_id),
        Caller::Open => serde_json::from_slice::<Named>(body)
            .ok()
            .map(|named| named.user_id),
        Caller::Organiser(_) | Caller::Anonymous => None,
    }
}

/// A problem for an error the generated server answered in its own format.
fn rejection_response(
    route: Route<'_>,
    method: &Method,
    query: Option<&str>,
    body: &[u8],
    status: StatusCode,
) -> Response<Body> {
    match status {
        StatusCode::BAD_REQUEST => {
            problem_response(&rejection::explain_bad_request(route, method, query, body))
        }
        StatusCode::NOT_FOUND => {
            problem_response(&ProblemKind::NotFound.with_detail("No such route"))
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            let mut response = problem_response(
                &ProblemKind::MethodNotAllowed
                    .with_detail("The route does not support this method"),
            );
            if let Some(methods) = route.allowed_methods() {
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static(methods));
            }
            response
        }
        status => {
            tracing::error!(
                status = status.as_u16(),
                "the generated server answered an error"
            );
            problem_response(&problem::internal())
        }
    }
}

/// Reads the whole body, refusing one over [`MAX_BODY_BYTES`] or one that
/// takes longer than `timeout` to arrive.
async fn read_body(
    headers: &HeaderMap,
    body: Incoming,
    timeout: Duration,
) -> Result<Bytes, models::Problem> {
    let too_large = || {
        ProblemKind::PayloadTooLarge.with_detail(format!(
            "The request body must be at most {MAX_BODY_BYTES} bytes"
        ))
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let Ok(collected) =
        tokio::time::timeout(timeout, Limited::new(body, MAX_BODY_BYTES).collect()).await
    else {
        return Err(ProblemKind::RequestTimeout.with_detail(format!(
            "The request body did not arrive within {} s",
            timeout.as_secs_f64()
        )));
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(error) => {
            tracing::debug!(error = %error, "reading the request body failed");
            Err(ProblemKind::InvalidRequest.with_detail("The request body could not be read"))
        }
    }
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim();
    Some(essence.to_ascii_lowercase())
}

/// `application/json`, or a JSON-based type such as `application/merge-patch+json`.
fn is_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|t| {
        t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
    })
}

fn is_problem(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|t| t == problem::CONTENT_TYPE)
}

/// The method as a metrics label: any other than the standard ones is
/// "other", so clients cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The client's request id if it sent a usable one, else a new one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 200 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// A response carrying `problem` with its status.
pub fn problem_response(problem: &models::Problem) -> Response<Body> {
    let status = u16::try_from(problem.status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = Response::new(BoxBody::new(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(problem::CONTENT_TYPE),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn headers(name: HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).expect("valid header"));
        headers
    }

    #[rstest]
    #[case("application/json", true)]
    #[case("Application/JSON; charset=utf-8", true)]
    #[case("application/merge-patch+json", true)]
    #[case("text/plain", false)]
    #[case("application/x-www-form-urlencoded", false)]
    fn json_media_types_are_recognised(#[case] content_type: &str, #[case] json: bool) {
        assert_eq!(is_json(&headers(CONTENT_TYPE, content_type)), json);
    }

    #[test]
    fn a_missing_content_type_is_not_json() {
        assert!(!is_json(&HeaderMap::new()));
    }

    #[rstest]
    #[case::kept("abc-123", true)]
    #[case::empty("", false)]
    #[case::spaces("a b", false)]
    #[case::too_long(&"a".repeat(201), false)]
    fn a_usable_request_id_is_kept(#[case] id: &str, #[case] kept: bool) {
        assert_eq!(request_id(&headers(REQUEST_ID, id)) == id, kept);
    }

    #[test]
    fn a_problem_response_has_its_status_and_media_type() {
        let response = problem_response(&ProblemKind::NotEnoughTickets.with_detail("none left"));
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()[CONTENT_TYPE], problem::CONTENT_TYPE);
    }
}
