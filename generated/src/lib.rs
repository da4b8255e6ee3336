#![allow(missing_docs, trivial_casts, unused_variables, unused_mut, unused_imports, unused_extern_crates, unused_attributes, non_camel_case_types)]
#![allow(clippy::derive_partial_eq_without_eq, clippy::disallowed_names)]

use async_trait::async_trait;
use futures::Stream;
#[cfg(feature = "mock")]
use mockall::automock;
use std::error::Error;
use std::collections::BTreeSet;
use std::task::{Poll, Context};
use swagger::{ApiError, ContextWrapper, auth::Authorization};
use serde::{Serialize, Deserialize};

#[cfg(any(feature = "client", feature = "server"))]
type ServiceError = Box<dyn Error + Send + Sync + 'static>;

pub const BASE_PATH: &str = "";
pub const API_VERSION: &str = "1.0.0";

mod auth;
pub use auth::{AuthenticationApi, Claims};


#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum GetDocsResponse {
    /// The reference page (UTF-8 HTML)
    Page
    (swagger::ByteArray)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum GetOpenapiJsonResponse {
    /// The OpenAPI document, as JSON
    Document
    (serde_json::Value)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum GetOpenapiYamlResponse {
    /// The OpenAPI document, as YAML (UTF-8 text), with OpenAPI's registered media type
    Document
    (swagger::ByteArray)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum GetDocsAssetResponse {
    /// The asset (UTF-8 text)
    Asset
    (swagger::OneOf2::<swagger::ByteArray, swagger::ByteArray>)
    ,
    /// The request is malformed or a value is out of range; nothing was changed
    BadRequest
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum GetMetricsResponse {
    /// The metrics
    Metrics
    (swagger::ByteArray)
    ,
    /// No bearer token was sent, or the one sent was refused (malformed, expired, not yet valid, for another audience or issuer, signed by an unknown key or badly, or revoked); nothing was changed.
    Unauthenticated
    (models::Problem)
    ,
    /// The token is valid but may not do this: a buyer's token on an organiser's operation, an organiser token without the permission, or a body naming another buyer than the token's; nothing was changed.
    Forbidden
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum HealthCheckResponse {
    /// The service and its database are up
    Healthy
    (models::Health)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
    ,
    /// The database cannot be reached or did not answer in time, or the server has more requests waiting than it takes; nothing was changed. Retry after `Retry-After` seconds.
    Unavailable
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum LivenessCheckResponse {
    /// The server is alive
    Alive
    (models::Health)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum CreateHoldResponse {
    /// The tickets are held
    Held
    {
        body: models::Hold,
        location:
        String
    }
    ,
    /// The request is malformed or a value is out of range; nothing was changed
    BadRequest
    (models::Problem)
    ,
    /// No bearer token was sent, or the one sent was refused (malformed, expired, not yet valid, for another audience or issuer, signed by an unknown key or badly, or revoked); nothing was changed.
    Unauthenticated
    (models::Problem)
    ,
    /// The token is valid but may not do this: a buyer's token on an organiser's operation, an organiser token without the permission, or a body naming another buyer than the token's; nothing was changed.
    Forbidden
    (models::Problem)
    ,
    /// No ticket has this id
    NotFound
    (models::Problem)
    ,
    /// Nothing was bought or held: fewer tickets are left than were asked for (`remaining` says how many are), a limit of the ticket would be passed (`limit` names it, `remaining_for_buyer` says what this buyer may still get), or a request with this Idempotency-Key is still being processed
    Refused
    (models::Problem)
    ,
    /// The request body did not arrive in time; nothing was changed
    RequestTimeout
    (models::Problem)
    ,
    /// The request body is larger than 65,536 bytes, the most the server accepts (every valid body fits); nothing was changed
    PayloadTooLarge
    (models::Problem)
    ,
    /// The request body is not `application/json`
    UnsupportedMediaType
    (models::Problem)
    ,
    /// The Idempotency-Key was used before for a different request; nothing was changed
    KeyReused
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
    ,
    /// The database cannot be reached or did not answer in time, or the server has more requests waiting than it takes; nothing was changed. Retry after `Retry-After` seconds.
    Unavailable
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum ConfirmHoldResponse {
    /// The tickets were bought
    Purchased
    {
        body: models::Purchase,
        location:
        String
    }
    ,
    /// The request is malformed or a value is out of range; nothing was changed
    BadRequest
    (models::Problem)
    ,
    /// No bearer token was sent, or the one sent was refused (malformed, expired, not yet valid, for another audience or issuer, signed by an unknown key or badly, or revoked); nothing was changed.
    Unauthenticated
    (models::Problem)
    ,
    /// The token is valid but may not do this: a buyer's token on an organiser's operation, an organiser token without the permission, or a body naming another buyer than the token's; nothing was changed.
    Forbidden
    (models::Problem)
    ,
    /// The ticket has no hold with this id, or no ticket has this id
    NotFound
    (models::Problem)
    ,
    /// The hold is no longer held: it expired (`hold-expired`), was released (`hold-released`) or was confirmed (`hold-confirmed`, with the `purchase_id` it became); or a request with this Idempotency-Key is still being processed. Nothing was changed
    NotHeld
    (models::Problem)
    ,
    /// The Idempotency-Key was used before for a different request; nothing was changed
    KeyReused
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
    ,
    /// The database cannot be reached or did not answer in time, or the server has more requests waiting than it takes; nothing was changed. Retry after `Retry-After` seconds.
    Unavailable
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum GetHoldResponse {
    /// The hold, held or confirmed
    Found
    (models::Hold)
    ,
    /// The request is malformed or a value is out of range; nothing was changed
    BadRequest
    (models::Problem)
    ,
    /// No bearer token was sent, or the one sent was refused (malformed, expired, not yet valid, for another audience or issuer, signed by an unknown key or badly, or revoked); nothing was changed.
    Unauthenticated
    (models::Problem)
    ,
    /// The token is valid but may not do this: a buyer's token on an organiser's operation, an organiser token without the permission, or a body naming another buyer than the token's; nothing was changed.
    Forbidden
    (models::Problem)
    ,
    /// The ticket has no hold with this id, or no ticket has this id
    NotFound
    (models::Problem)
    ,
    /// The hold ended without a purchase: it was released, or it expired. Its tickets are on sale again
    Gone
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
    ,
    /// The database cannot be reached or did not answer in time, or the server has more requests waiting than it takes; nothing was changed. Retry after `Retry-After` seconds.
    Unavailable
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum ReleaseHoldResponse {
    /// The hold is released; its tickets are on sale again
    Released
    ,
    /// The request is malformed or a value is out of range; nothing was changed
    BadRequest
    (models::Problem)
    ,
    /// No bearer token was sent, or the one sent was refused (malformed, expired, not yet valid, for another audience or issuer, signed by an unknown key or badly, or revoked); nothing was changed.
    Unauthenticated
    (models::Problem)
    ,
    /// The token is valid but may not do this: a buyer's token on an organiser's operation, an organiser token without the permission, or a body naming another buyer than the token's; nothing was changed.
    Forbidden
    (models::Problem)
    ,
    /// The ticket has no hold with this id, or no ticket has this id
    NotFound
    (models::Problem)
    ,
    /// The hold is no longer held: it expired (`hold-expired`), was released (`hold-released`) or was confirmed (`hold-confirmed`, with the `purchase_id` it became); or a request with this Idempotency-Key is still being processed. Nothing was changed
    NotHeld
    (models::Problem)
    ,
    /// The Idempotency-Key was used before for a different request; nothing was changed
    KeyReused
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
    ,
    /// The database cannot be reached or did not answer in time, or the server has more requests waiting than it takes; nothing was changed. Retry after `Retry-After` seconds.
    Unavailable
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum ListPurchasesResponse {
    /// A page of purchases
    Page
    (models::PurchasePage)
    ,
    /// The request is malformed or a value is out of range; nothing was changed
    BadRequest
    (models::Problem)
    ,
    /// No bearer token was sent, or the one sent was refused (malformed, expired, not yet valid, for another audience or issuer, signed by an unknown key or badly, or revoked); nothing was changed.
    Unauthenticated
    (models::Problem)
    ,
    /// The token is valid but may not do this: a buyer's token on an organiser's operation, an organiser token without the permission, or a body naming another buyer than the token's; nothing was changed.
    Forbidden
    (models::Problem)
    ,
    /// No ticket has this id
    NotFound
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
    ,
    /// The database cannot be reached or did not answer in time, or the server has more requests waiting than it takes; nothing was changed. Retry after `Retry-After` seconds.
    Unavailable
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum PurchaseTicketsResponse {
    /// The tickets were bought
    Purchased
    {
        body: models::Purchase,
        location:
        String
    }
    ,
    /// The request is malformed or a value is out of range; nothing was changed
    BadRequest
    (models::Problem)
    ,
    /// No bearer token was sent, or the one sent was refused (malformed, expired, not yet valid, for another audience or issuer, signed by an unknown key or badly, or revoked); nothing was changed.
    Unauthenticated
    (models::Problem)
    ,
    /// The token is valid but may not do this: a buyer's token on an organiser's operation, an organiser token without the permission, or a body naming another buyer than the token's; nothing was changed.
    Forbidden
    (models::Problem)
    ,
    /// No ticket has this id
    NotFound
    (models::Problem)
    ,
    /// Nothing was bought or held: fewer tickets are left than were asked for (`remaining` says how many are), a limit of the ticket would be passed (`limit` names it, `remaining_for_buyer` says what this buyer may still get), or a request with this Idempotency-Key is still being processed
    Refused
    (models::Problem)
    ,
    /// The request body did not arrive in time; nothing was changed
    RequestTimeout
    (models::Problem)
    ,
    /// The request body is larger than 65,536 bytes, the most the server accepts (every valid body fits); nothing was changed
    PayloadTooLarge
    (models::Problem)
    ,
    /// The request body is not `application/json`
    UnsupportedMediaType
    (models::Problem)
    ,
    /// The Idempotency-Key was used before for a different request; nothing was changed
    KeyReused
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
    ,
    /// The database cannot be reached or did not answer in time, or the server has more requests waiting than it takes; nothing was changed. Retry after `Retry-After` seconds.
    Unavailable
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum CancelPurchaseResponse {
    /// The purchase, cancelled (now or before)
    Cancelled
    (models::Purchase)
    ,
    /// The request is malformed or a value is out of range; nothing was changed
    BadRequest
    (models::Problem)
    ,
    /// No bearer token was sent, or the one sent was refused (malformed, expired, not yet valid, for another audience or issuer, signed by an unknown key or badly, or revoked); nothing was changed.
    Unauthenticated
    (models::Problem)
    ,
    /// The token is valid but may not do this: a buyer's token on an organiser's operation, an organiser token without the permission, or a body naming another buyer than the token's; nothing was changed.
    Forbidden
    (models::Problem)
    ,
    /// The ticket has no purchase with this id, or no ticket has this id
    NotFound
    (models::Problem)
    ,
    /// A request with this Idempotency-Key is still being processed; retry later
    InFlight
    (models::Problem)
    ,
    /// The Idempotency-Key was used before for a different request; nothing was changed
    KeyReused
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
    ,
    /// The database cannot be reached or did not answer in time, or the server has more requests waiting than it takes; nothing was changed. Retry after `Retry-After` seconds.
    Unavailable
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum GetPurchaseResponse {
    /// The purchase
    Found
    (models::Purchase)
    ,
    /// The request is malformed or a value is out of range; nothing was changed
    BadRequest
    (models::Problem)
    ,
    /// No bearer token was sent, or the one sent was refused (malformed, expired, not yet valid, for another audience or issuer, signed by an unknown key or badly, or revoked); nothing was changed.
    Unauthenticated
    (models::Problem)
    ,
    /// The token is valid but may not do this: a buyer's token on an organiser's operation, an organiser token without the permission, or a body naming another buyer than the token's; nothing was changed.
    Forbidden
    (models::Problem)
    ,
    /// The ticket has no purchase with this id, or no ticket has this id
    NotFound
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
    ,
    /// The database cannot be reached or did not answer in time, or the server has more requests waiting than it takes; nothing was changed. Retry after `Retry-After` seconds.
    Unavailable
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum CreateTicketResponse {
    /// The ticket was created
    Created
    {
        body: models::Ticket,
        location:
        String
    }
    ,
    /// The request is malformed or a value is out of range; nothing was changed
    BadRequest
    (models::Problem)
    ,
    /// No bearer token was sent, or the one sent was refused (malformed, expired, not yet valid, for another audience or issuer, signed by an unknown key or badly, or revoked); nothing was changed.
    Unauthenticated
    (models::Problem)
    ,
    /// The token is valid but may not do this: a buyer's token on an organiser's operation, an organiser token without the permission, or a body naming another buyer than the token's; nothing was changed.
    Forbidden
    (models::Problem)
    ,
    /// A request with this Idempotency-Key is still being processed; retry later
    InFlight
    (models::Problem)
    ,
    /// The request body did not arrive in time; nothing was changed
    RequestTimeout
    (models::Problem)
    ,
    /// The request body is larger than 65,536 bytes, the most the server accepts (every valid body fits); nothing was changed
    PayloadTooLarge
    (models::Problem)
    ,
    /// The request body is not `application/json`
    UnsupportedMediaType
    (models::Problem)
    ,
    /// The Idempotency-Key was used before for a different request; nothing was changed
    KeyReused
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
    ,
    /// The database cannot be reached or did not answer in time, or the server has more requests waiting than it takes; nothing was changed. Retry after `Retry-After` seconds.
    Unavailable
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum CreateTicketLegacyResponse {
    /// The ticket was created
    Created
    {
        body: models::Ticket,
        location:
        String
    }
    ,
    /// The request is malformed or a value is out of range; nothing was changed
    BadRequest
    (models::Problem)
    ,
    /// No bearer token was sent, or the one sent was refused (malformed, expired, not yet valid, for another audience or issuer, signed by an unknown key or badly, or revoked); nothing was changed.
    Unauthenticated
    (models::Problem)
    ,
    /// The token is valid but may not do this: a buyer's token on an organiser's operation, an organiser token without the permission, or a body naming another buyer than the token's; nothing was changed.
    Forbidden
    (models::Problem)
    ,
    /// A request with this Idempotency-Key is still being processed; retry later
    InFlight
    (models::Problem)
    ,
    /// The request body did not arrive in time; nothing was changed
    RequestTimeout
    (models::Problem)
    ,
    /// The request body is larger than 65,536 bytes, the most the server accepts (every valid body fits); nothing was changed
    PayloadTooLarge
    (models::Problem)
    ,
    /// The request body is not `application/json`
    UnsupportedMediaType
    (models::Problem)
    ,
    /// The Idempotency-Key was used before for a different request; nothing was changed
    KeyReused
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
    ,
    /// The database cannot be reached or did not answer in time, or the server has more requests waiting than it takes; nothing was changed. Retry after `Retry-After` seconds.
    Unavailable
    (models::Problem)
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[must_use]
pub enum GetTicketResponse {
    /// The ticket, with what is left to buy
    Found
    (models::Ticket)
    ,
    /// The request is malformed or a value is out of range; nothing was changed
    BadRequest
    (models::Problem)
    ,
    /// No ticket has this id
    NotFound
    (models::Problem)
    ,
    /// Too many requests from this client address (any route), or too many purchases and holds for this buyer, in too short a time; nothing was changed. Retry after `Retry-After` seconds. `RateLimit-Policy` names the limit and `RateLimit` says what is left of it.
    TooManyRequests
    (models::Problem)
    ,
    /// An unexpected error; its cause is logged, never sent
    InternalError
    (models::Problem)
    ,
    /// The database cannot be reached or did not answer in time, or the server has more requests waiting than it takes; nothing was changed. Retry after `Retry-After` seconds.
    Unavailable
    (models::Problem)
}

/// API
#[cfg_attr(feature = "mock", automock)]
#[async_trait]
#[allow(clippy::too_many_arguments, clippy::ptr_arg)]
pub trait Api<C: Send + Sync> {
    /// Interactive API reference
    async fn get_docs(
        &self,
        context: &C) -> Result<GetDocsResponse, ApiError>;

    /// This API's OpenAPI document as JSON
    async fn get_openapi_json(
        &self,
        context: &C) -> Result<GetOpenapiJsonResponse, ApiError>;

    /// This API's OpenAPI document
    async fn get_openapi_yaml(
        &self,
        context: &C) -> Result<GetOpenapiYamlResponse, ApiError>;

    /// An asset of the reference page
    async fn get_docs_asset(
        &self,
        file: models::GetDocsAssetFileParameter,
        context: &C) -> Result<GetDocsAssetResponse, ApiError>;

    /// Metrics for Prometheus
    async fn get_metrics(
        &self,
        context: &C) -> Result<GetMetricsResponse, ApiError>;

    /// Check health (readiness)
    async fn health_check(
        &self,
        context: &C) -> Result<HealthCheckResponse, ApiError>;

    /// Check the process is alive
    async fn liveness_check(
        &self,
        context: &C) -> Result<LivenessCheckResponse, ApiError>;

    /// Hold tickets during checkout
    async fn create_hold(
        &self,
        id: u64,
        hold_create: models::HoldCreate,
        idempotency_key: Option<String>,
        context: &C) -> Result<CreateHoldResponse, ApiError>;

    /// Confirm a hold
    async fn confirm_hold(
        &self,
        id: u64,
        hold_id: uuid::Uuid,
        idempotency_key: Option<String>,
        context: &C) -> Result<ConfirmHoldResponse, ApiError>;

    /// Read a hold
    async fn get_hold(
        &self,
        id: u64,
        hold_id: uuid::Uuid,
        context: &C) -> Result<GetHoldResponse, ApiError>;

    /// Release a hold
    async fn release_hold(
        &self,
        id: u64,
        hold_id: uuid::Uuid,
        idempotency_key: Option<String>,
        context: &C) -> Result<ReleaseHoldResponse, ApiError>;

    /// List a ticket's purchases
    async fn list_purchases(
        &self,
        id: u64,
        limit: Option<u32>,
        cursor: Option<String>,
        context: &C) -> Result<ListPurchasesResponse, ApiError>;

    /// Buy tickets
    async fn purchase_tickets(
        &self,
        id: u64,
        purchase_create: models::PurchaseCreate,
        idempotency_key: Option<String>,
        context: &C) -> Result<PurchaseTicketsResponse, ApiError>;

    /// Cancel a purchase
    async fn cancel_purchase(
        &self,
        id: u64,
        purchase_id: uuid::Uuid,
        idempotency_key: Option<String>,
        context: &C) -> Result<CancelPurchaseResponse, ApiError>;

    /// Read a purchase
    async fn get_purchase(
        &self,
        id: u64,
        purchase_id: uuid::Uuid,
        context: &C) -> Result<GetPurchaseResponse, ApiError>;

    /// Create a ticket
    async fn create_ticket(
        &self,
        ticket_create: models::TicketCreate,
        idempotency_key: Option<String>,
        context: &C) -> Result<CreateTicketResponse, ApiError>;

    /// Create a ticket (deprecated alias of POST /tickets)
    async fn create_ticket_legacy(
        &self,
        ticket_create: models::TicketCreate,
        idempotency_key: Option<String>,
        context: &C) -> Result<CreateTicketLegacyResponse, ApiError>;

    /// Read a ticket
    async fn get_ticket(
        &self,
        id: u64,
        context: &C) -> Result<GetTicketResponse, ApiError>;

}

/// API where `Context` isn't passed on every API call
#[cfg_attr(feature = "mock", automock)]
#[async_trait]
#[allow(clippy::too_many_arguments, clippy::ptr_arg)]
pub trait ApiNoContext<C: Send + Sync> {
    // The std::task::Context struct houses a reference to std::task::Waker with the lifetime <'a>.
    // Adding an anonymous lifetime `'a` to allow mockall to create a mock object with the right lifetimes.
    // This is needed because the compiler is unable to determine the lifetimes on F's trait bound
    // where F is the closure created by mockall. We use higher-rank trait bounds here to get around this.

    fn context(&self) -> &C;

    /// Interactive API reference
    async fn get_docs(
        &self,
        ) -> Result<GetDocsResponse, ApiError>;

    /// This API's OpenAPI document as JSON
    async fn get_openapi_json(
        &self,
        ) -> Result<GetOpenapiJsonResponse, ApiError>;

    /// This API's OpenAPI document
    async fn get_openapi_yaml(
        &self,
        ) -> Result<GetOpenapiYamlResponse, ApiError>;

    /// An asset of the reference page
    async fn get_docs_asset(
        &self,
        file: models::GetDocsAssetFileParameter,
        ) -> Result<GetDocsAssetResponse, ApiError>;

    /// Metrics for Prometheus
    async fn get_metrics(
        &self,
        ) -> Result<GetMetricsResponse, ApiError>;

    /// Check health (readiness)
    async fn health_check(
        &self,
        ) -> Result<HealthCheckResponse, ApiError>;

    /// Check the process is alive
    async fn liveness_check(
        &self,
        ) -> Result<LivenessCheckResponse, ApiError>;

    /// Hold tickets during checkout
    async fn create_hold(
        &self,
        id: u64,
        hold_create: models::HoldCreate,
        idempotency_key: Option<String>,
        ) -> Result<CreateHoldResponse, ApiError>;

    /// Confirm a hold
    async fn confirm_hold(
        &self,
        id: u64,
        hold_id: uuid::Uuid,
        idempotency_key: Option<String>,
        ) -> Result<ConfirmHoldResponse, ApiError>;

    /// Read a hold
    async fn get_hold(
        &self,
        id: u64,
        hold_id: uuid::Uuid,
        ) -> Result<GetHoldResponse, ApiError>;

    /// Release a hold
    async fn release_hold(
        &self,
        id: u64,
        hold_id: uuid::Uuid,
        idempotency_key: Option<String>,
        ) -> Result<ReleaseHoldResponse, ApiError>;

    /// List a ticket's purchases
    async fn list_purchases(
        &self,
        id: u64,
        limit: Option<u32>,
        cursor: Option<String>,
        ) -> Result<ListPurchasesResponse, ApiError>;

    /// Buy tickets
    async fn purchase_tickets(
        &self,
        id: u64,
        purchase_create: models::PurchaseCreate,
        idempotency_key: Option<String>,
        ) -> Result<PurchaseTicketsResponse, ApiError>;

    /// Cancel a purchase
    async fn cancel_purchase(
        &self,
        id: u64,
        purchase_id: uuid::Uuid,
        idempotency_key: Option<String>,
        ) -> Result<CancelPurchaseResponse, ApiError>;

    /// Read a purchase
    async fn get_purchase(
        &self,
        id: u64,
        purchase_id: uuid::Uuid,
        ) -> Result<GetPurchaseResponse, ApiError>;

    /// Create a ticket
    async fn create_ticket(
        &self,
        ticket_create: models::TicketCreate,
        idempotency_key: Option<String>,
        ) -> Result<CreateTicketResponse, ApiError>;

    /// Create a ticket (deprecated alias of POST /tickets)
    async fn create_ticket_legacy(
        &self,
        ticket_create: models::TicketCreate,
        idempotency_key: Option<String>,
        ) -> Result<CreateTicketLegacyResponse, ApiError>;

    /// Read a ticket
    async fn get_ticket(
        &self,
        id: u64,
        ) -> Result<GetTicketResponse, ApiError>;

}

/// Trait to extend an API to make it easy to bind it to a context.
pub trait ContextWrapperExt<C: Send + Sync> where Self: Sized
{
    /// Binds this API to a context.
    fn with_context(self, context: C) -> ContextWrapper<Self, C>;
}

impl<T: Api<C> + Send + Sync, C: Clone + Send + Sync> ContextWrapperExt<C> for T {
    fn with_context(self: T, context: C) -> ContextWrapper<T, C> {
         ContextWrapper::<T, C>::new(self, context)
    }
}

#[async_trait]
impl<T: Api<C> + Send + Sync, C: Clone + Send + Sync> ApiNoContext<C> for ContextWrapper<T, C> {
    fn context(&self) -> &C {
        ContextWrapper::context(self)
    }

    /// Interactive API reference
    async fn get_docs(
        &self,
        ) -> Result<GetDocsResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().get_docs(&context).await
    }

    /// This API's OpenAPI document as JSON
    async fn get_openapi_json(
        &self,
        ) -> Result<GetOpenapiJsonResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().get_openapi_json(&context).await
    }

    /// This API's OpenAPI document
    async fn get_openapi_yaml(
        &self,
        ) -> Result<GetOpenapiYamlResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().get_openapi_yaml(&context).await
    }

    /// An asset of the reference page
    async fn get_docs_asset(
        &self,
        file: models::GetDocsAssetFileParameter,
        ) -> Result<GetDocsAssetResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().get_docs_asset(file, &context).await
    }

    /// Metrics for Prometheus
    async fn get_metrics(
        &self,
        ) -> Result<GetMetricsResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().get_metrics(&context).await
    }

    /// Check health (readiness)
    async fn health_check(
        &self,
        ) -> Result<HealthCheckResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().health_check(&context).await
    }

    /// Check the process is alive
    async fn liveness_check(
        &self,
        ) -> Result<LivenessCheckResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().liveness_check(&context).await
    }

    /// Hold tickets during checkout
    async fn create_hold(
        &self,
        id: u64,
        hold_create: models::HoldCreate,
        idempotency_key: Option<String>,
        ) -> Result<CreateHoldResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().create_hold(id, hold_create, idempotency_key, &context).await
    }

    /// Confirm a hold
    async fn confirm_hold(
        &self,
        id: u64,
        hold_id: uuid::Uuid,
        idempotency_key: Option<String>,
        ) -> Result<ConfirmHoldResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().confirm_hold(id, hold_id, idempotency_key, &context).await
    }

    /// Read a hold
    async fn get_hold(
        &self,
        id: u64,
        hold_id: uuid::Uuid,
        ) -> Result<GetHoldResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().get_hold(id, hold_id, &context).await
    }

    /// Release a hold
    async fn release_hold(
        &self,
        id: u64,
        hold_id: uuid::Uuid,
        idempotency_key: Option<String>,
        ) -> Result<ReleaseHoldResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().release_hold(id, hold_id, idempotency_key, &context).await
    }

    /// List a ticket's purchases
    async fn list_purchases(
        &self,
        id: u64,
        limit: Option<u32>,
        cursor: Option<String>,
        ) -> Result<ListPurchasesResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().list_purchases(id, limit, cursor, &context).await
    }

    /// Buy tickets
    async fn purchase_tickets(
        &self,
        id: u64,
        purchase_create: models::PurchaseCreate,
        idempotency_key: Option<String>,
        ) -> Result<PurchaseTicketsResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().purchase_tickets(id, purchase_create, idempotency_key, &context).await
    }

    /// Cancel a purchase
    async fn cancel_purchase(
        &self,
        id: u64,
        purchase_id: uuid::Uuid,
        idempotency_key: Option<String>,
        ) -> Result<CancelPurchaseResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().cancel_purchase(id, purchase_id, idempotency_key, &context).await
    }

    /// Read a purchase
    async fn get_purchase(
        &self,
        id: u64,
        purchase_id: uuid::Uuid,
        ) -> Result<GetPurchaseResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().get_purchase(id, purchase_id, &context).await
    }

    /// Create a ticket
    async fn create_ticket(
        &self,
        ticket_create: models::TicketCreate,
        idempotency_key: Option<String>,
        ) -> Result<CreateTicketResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().create_ticket(ticket_create, idempotency_key, &context).await
    }

    /// Create a ticket (deprecated alias of POST /tickets)
    async fn create_ticket_legacy(
        &self,
        ticket_create: models::TicketCreate,
        idempotency_key: Option<String>,
        ) -> Result<CreateTicketLegacyResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().create_ticket_legacy(ticket_create, idempotency_key, &context).await
    }

    /// Read a ticket
    async fn get_ticket(
        &self,
        id: u64,
        ) -> Result<GetTicketResponse, ApiError>
    {
        let context = self.context().clone();
        self.api().get_ticket(id, &context).await
    }

}


#[cfg(feature = "client")]
pub mod client;

// Re-export Client as a top-level name
#[cfg(feature = "client")]
pub use client::Client;

#[cfg(feature = "server")]
pub mod server;

// Re-export router() as a top-level name
#[cfg(feature = "server")]
pub use self::server::Service;

#[cfg(feature = "server")]
pub mod context;

pub mod models;

#[cfg(any(feature = "client", feature = "server"))]
pub(crate) mod header;
