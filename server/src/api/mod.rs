//! The generated `Api` trait, implemented: each operation turns the request
//! model into domain values, calls storage and answers with the operation's
//! response. Errors go through [`ApiError`], which picks the status.

mod docs;
mod error;

use std::sync::Arc;

use async_trait::async_trait;
use swagger::ApiError as GeneratedApiError;
use tickets_api::{
    Api, CreateTicketLegacyResponse, CreateTicketResponse, GetDocsAssetResponse, GetDocsResponse,
    GetOpenapiJsonResponse, GetOpenapiYamlResponse, GetTicketResponse, HealthCheckResponse,
    PurchaseTicketsResponse, models,
};

pub use error::ApiError;

use crate::domain::{NewTicket, PurchaseRequest, TicketId};
use crate::problem;
use crate::storage::{self, Pool, PurchaseOutcome, PurchaseQueue};

/// The service's implementation of the API.
#[derive(Debug, Clone)]
pub struct TicketsApi {
    pool: Pool,
    purchases: Arc<PurchaseQueue>,
}

impl TicketsApi {
    pub fn new(pool: Pool) -> Self {
        Self {
            purchases: PurchaseQueue::new(pool.clone()),
            pool,
        }
    }

    async fn create(
        &self,
        request: models::TicketCreate,
    ) -> Result<(models::Ticket, String), ApiError> {
        let ticket = NewTicket::try_from(request)
            .map_err(|e| ApiError::InvalidRequest(problem::body_fields(e)))?;
        let created = storage::tickets::create_ticket(&self.pool, &ticket).await?;
        let location = format!("/tickets/{}", created.id);
        tracing::info!(
            ticket_id = created.id,
            allocation = created.remaining,
            "ticket created"
        );
        Ok((ticket_model(created), location))
    }

    async fn get(&self, id: u64) -> Result<models::Ticket, ApiError> {
        let id = ticket_id(id)?;
        storage::tickets::find_ticket(&self.pool, id)
            .await?
            .map(ticket_model)
            .ok_or(ApiError::TicketNotFound(id))
    }

    async fn purchase(&self, id: u64, request: models::PurchaseCreate) -> Result<(), ApiError> {
        let id = ticket_id(id)?;
        let request = PurchaseRequest::try_from(request)
            .map_err(|e| ApiError::InvalidRequest(problem::body_fields(e)))?;
        match self.purchases.purchase(id, request).await? {
            PurchaseOutcome::Purchased => {
                tracing::info!(ticket_id = %id, quantity = request.quantity.get(), "tickets purchased");
                Ok(())
            }
            PurchaseOutcome::NotEnoughLeft { remaining } => Err(ApiError::NotEnoughTickets {
                requested: request.quantity.get(),
                remaining,
            }),
            PurchaseOutcome::UnknownTicket => Err(ApiError::TicketNotFound(id)),
        }
    }
}

fn ticket_id(raw: u64) -> Result<TicketId, ApiError> {
    TicketId::try_from(raw).map_err(|reason| {
        ApiError::InvalidRequest(vec![problem::path_parameter(
            &crate::domain::InvalidField {
                field: "id",
                reason,
            },
        )])
    })
}

fn ticket_model(ticket: storage::Ticket) -> models::Ticket {
    models::Ticket {
        id: ticket.id,
        name: ticket.name,
        desc: ticket.description,
        // The database's CHECK keeps `remaining` at 0 or more.
        allocation: ticket.remaining.unsigned_abs(),
    }
}

#[async_trait]
impl<C: Send + Sync> Api<C> for TicketsApi {
    async fn health_check(&self, _context: &C) -> Result<HealthCheckResponse, GeneratedApiError> {
        Ok(match storage::ping(&self.pool).await {
            Ok(()) => HealthCheckResponse::Healthy(models::Health::new(models::HealthStatus::Ok)),
            Err(error) => {
                tracing::warn!(error = %error, cause = ?error, "health check: database unreachable");
                HealthCheckResponse::Unavailable(problem::unavailable())
            }
        })
    }

    async fn purchase_tickets(
        &self,
        id: u64,
        purchase_create: models::PurchaseCreate,
        _context: &C,
    ) -> Result<PurchaseTicketsResponse, GeneratedApiError> {
        Ok(match self.purchase(id, purchase_create).await {
            Ok(()) => PurchaseTicketsResponse::Purchased,
            Err(error) => error.into(),
        })
    }

    async fn create_ticket(
        &self,
        ticket_create: models::TicketCreate,
        _context: &C,
    ) -> Result<CreateTicketResponse, GeneratedApiError> {
        Ok(match self.create(ticket_create).await {
            Ok((body, location)) => CreateTicketResponse::Created { body, location },
            Err(error) => error.into(),
        })
    }

    async fn create_ticket_legacy(
        &self,
        ticket_create: models::TicketCreate,
        _context: &C,
    ) -> Result<CreateTicketLegacyResponse, GeneratedApiError> {
        Ok(match self.create(ticket_create).await {
            Ok((body, location)) => CreateTicketLegacyResponse::Created { body, location },
            Err(error) => error.into(),
        })
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

    async fn get_openapi_yaml(
        &self,
        _context: &C,
    ) -> Result<GetOpenapiYamlResponse, GeneratedApiError> {
        Ok(GetOpenapiYamlResponse::Document(
            docs::OPENAPI_YAML.to_owned(),
        ))
    }

    async fn get_openapi_json(
        &self,
        _context: &C,
    ) -> Result<GetOpenapiJsonResponse, GeneratedApiError> {
        Ok(GetOpenapiJsonResponse::Document(docs::OPENAPI_JSON.clone()))
    }

    async fn get_docs(&self, _context: &C) -> Result<GetDocsResponse, GeneratedApiError> {
        Ok(GetDocsResponse::Page(docs::DOCS_PAGE.to_owned()))
    }

    async fn get_docs_asset(
        &self,
        file: models::GetDocsAssetFileParameter,
        _context: &C,
    ) -> Result<GetDocsAssetResponse, GeneratedApiError> {
        let body = docs::asset(file).to_owned();
        Ok(GetDocsAssetResponse::Asset(match file {
            models::GetDocsAssetFileParameter::SwaggerUiBundleJs => swagger::OneOf2::A(body),
            models::GetDocsAssetFileParameter::SwaggerUiCss => swagger::OneOf2::B(body),
        }))
    }
}
