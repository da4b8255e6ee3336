//! Creating and reading tickets.

use tickets_api::models;

use super::{TicketsApi, access, body, idempotency_key, ticket_id};
use crate::answers::{ApiError, Replayable};
use crate::auth::Caller;
use crate::domain::NewTicket;
use crate::idempotency;
use crate::storage::keys::Idempotent;
use crate::storage::{self, tickets::Ticket};

/// The response of either creation route, which differ only in name.
pub trait CreationResponse: Replayable + Send + 'static {
    fn created(body: models::Ticket, location: String) -> Self;
}

impl CreationResponse for tickets_api::CreateTicketResponse {
    fn created(body: models::Ticket, location: String) -> Self {
        Self::Created { body, location }
    }
}

impl CreationResponse for tickets_api::CreateTicketLegacyResponse {
    fn created(body: models::Ticket, location: String) -> Self {
        Self::Created { body, location }
    }
}

impl TicketsApi {
    /// Creates a ticket from `request`, once per idempotency key.
    pub(super) async fn create<R: CreationResponse>(
        &self,
        caller: &Caller,
        request: models::TicketCreate,
        key: Option<String>,
    ) -> R {
        let organiser = match access::ticket_creator(caller) {
            Ok(organiser) => organiser,
            Err(error) => return error.into(),
        };
        let (ticket, key) = match (body::<NewTicket, _>(request.clone()), idempotency_key(key)) {
            (Ok(ticket), Ok(key)) => (ticket, key),
            (Err(error), _) | (_, Err(error)) => return error.into(),
        };
        let (response, fresh) = match key {
            None => match storage::tickets::create_ticket(&self.pool, &ticket, organiser).await {
                Ok(created) => (created_response(created), true),
                Err(error) => (ApiError::from(error).into(), false),
            },
            Some(key) => {
                // Both creation routes fingerprint as POST /tickets: the
                // alias shares its route's keys, so a retry may use either.
                let keyed =
                    idempotency::keyed(&key, &caller.audit_name(), "POST", "/tickets", &request);
                let outcome = storage::keys::run_once(
                    &self.pool,
                    keyed,
                    self.idempotency_key_ttl,
                    move |conn| {
                        Box::pin(async move {
                            storage::tickets::create_ticket_on(conn, &ticket, organiser)
                                .await
                                .map(|created| created_response::<R>(created).to_stored())
                        })
                    },
                )
                .await;
                match outcome {
                    Ok(Idempotent::Done(stored)) => (R::from_stored(stored), true),
                    Ok(Idempotent::Replayed(stored)) => {
                        tracing::info!(
                            status = stored.status,
                            "replayed the answer to an idempotency key"
                        );
                        (R::from_stored(stored), false)
                    }
                    Ok(Idempotent::InFlight) => (ApiError::InFlight.into(), false),
                    Ok(Idempotent::KeyReused) => (ApiError::KeyReused.into(), false),
                    Err(error) => (ApiError::from(error).into(), false),
                }
            }
        };
        if fresh {
            self.metrics.tickets_created.inc();
            tracing::info!("ticket created");
        }
        response
    }

    pub(super) async fn get(&self, id: u64) -> Result<models::Ticket, ApiError> {
        let id = ticket_id(id)?;
        self.reads
            .submit(id)
            .await?
            .map(ticket_model)
            .ok_or(ApiError::TicketNotFound(id))
    }
}

fn created_response<R: CreationResponse>(created: Ticket) -> R {
    let location = format!("/tickets/{}", created.id);
    R::created(ticket_model(created), location)
}

/// A ticket with its availability; the database's CHECK keeps each part
/// at 0 or more, and `allocation + sold + held = total` by construction.
fn ticket_model(ticket: Ticket) -> models::Ticket {
    models::Ticket {
        id: ticket.id,
        allocation: ticket.remaining.unsigned_abs(),
        total: ticket.allocation.unsigned_abs(),
        sold: ticket.sold().unsigned_abs(),
        held: ticket.held.unsigned_abs(),
        max_per_purchase: ticket.max_per_purchase.map(i32::unsigned_abs),
        max_per_user: ticket.max_per_user.map(i32::unsigned_abs),
        name: ticket.name,
        desc: ticket.description,
    }
}
