//! Buying tickets and reading purchases back.

use tickets_api::{PurchaseTicketsResponse, models};

use super::replay::{self, Replayable};
use super::{ApiError, TicketsApi, body, idempotency_key, invalid_parameter, parameter, ticket_id};
use crate::domain::{PurchaseCursor, PurchaseRequest, TicketId};
use crate::storage::{
    self, Decided, Order, OrderKey, PurchaseOutcome, StorageError, purchases::PurchaseRecord,
};

/// Purchases on a page when the client does not say.
const DEFAULT_PAGE_SIZE: u32 = 50;
/// The most purchases on a page.
const MAX_PAGE_SIZE: u32 = 200;

impl TicketsApi {
    /// Buys tickets, once per idempotency key.
    pub(super) async fn purchase(
        &self,
        id: u64,
        request: models::PurchaseCreate,
        key: Option<String>,
    ) -> PurchaseTicketsResponse {
        let parsed = ticket_id(id).and_then(|id| {
            Ok((
                id,
                body::<PurchaseRequest, _>(request.clone())?,
                idempotency_key(key)?,
            ))
        });
        let (id, purchase, key) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => return error.into(),
        };
        // Keyed or not, every purchase goes through the batches: a key is
        // checked, and its answer stored, in its purchase's transaction.
        let order = Order {
            ticket: id,
            request: purchase,
            key: key.map(|key| OrderKey {
                key: key.as_str().to_owned(),
                fingerprint: replay::fingerprint(
                    "POST",
                    &format!("/tickets/{id}/purchases"),
                    &request,
                ),
                answer: |ticket, request, outcome| {
                    outcome_response(ticket, *request, Ok(*outcome)).to_stored()
                },
            }),
        };
        match self.purchases.submit(order).await {
            Ok(Decided::Fresh(outcome)) => {
                let response = outcome_response(id, purchase, Ok(outcome));
                self.count(&response, purchase);
                response
            }
            Ok(Decided::Replayed(stored)) => {
                tracing::info!(
                    status = stored.status,
                    "replayed the answer to an idempotency key"
                );
                PurchaseTicketsResponse::from_stored(stored)
            }
            Ok(Decided::InFlight) => ApiError::InFlight.into(),
            Ok(Decided::KeyReused) => ApiError::KeyReused.into(),
            Err(error) => outcome_response(id, purchase, Err(error)),
        }
    }

    fn count(&self, response: &PurchaseTicketsResponse, purchase: PurchaseRequest) {
        match response {
            PurchaseTicketsResponse::Purchased { location, .. } => {
                self.metrics.purchases.inc();
                self.metrics
                    .tickets_sold
                    .inc_by(purchase.quantity.get().unsigned_abs().into());
                tracing::info!(%location, quantity = purchase.quantity.get(), "tickets purchased");
            }
            PurchaseTicketsResponse::NotEnoughTickets(_) => self.metrics.sold_out_rejections.inc(),
            _ => {}
        }
    }

    pub(super) async fn list(
        &self,
        id: u64,
        limit: Option<u32>,
        cursor: Option<String>,
    ) -> Result<models::PurchasePage, ApiError> {
        let id = ticket_id(id)?;
        let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(invalid_parameter(
                "limit",
                format!("must be an integer from 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        let after = cursor
            .map(|cursor| parameter::<PurchaseCursor, _>("cursor", cursor))
            .transpose()?;
        let page = storage::purchases::list_purchases(&self.pool, id, limit, after)
            .await?
            .ok_or(ApiError::TicketNotFound(id))?;
        // The last page has no cursor: a client stops without asking again.
        let next_cursor = page
            .purchases
            .last()
            .filter(|_| page.more)
            .map(|last| PurchaseCursor::after(last.seq).to_string());
        Ok(models::PurchasePage {
            items: page.purchases.into_iter().map(purchase_model).collect(),
            next_cursor,
        })
    }

    pub(super) async fn get_purchase_record(
        &self,
        id: u64,
        purchase_id: uuid::Uuid,
    ) -> Result<models::Purchase, ApiError> {
        let id = ticket_id(id)?;
        storage::purchases::find_purchase(&self.pool, id, purchase_id)
            .await?
            .map(purchase_model)
            .ok_or(ApiError::PurchaseNotFound {
                ticket: id,
                purchase_id,
            })
    }
}

/// The answer to a purchase, whichever way it was made.
fn outcome_response(
    id: TicketId,
    purchase: PurchaseRequest,
    outcome: Result<PurchaseOutcome, StorageError>,
) -> PurchaseTicketsResponse {
    match outcome {
        Ok(PurchaseOutcome::Purchased(record)) => PurchaseTicketsResponse::Purchased {
            location: format!("/tickets/{id}/purchases/{}", record.id),
            body: purchase_model(record),
        },
        Ok(PurchaseOutcome::NotEnoughLeft { remaining }) => ApiError::NotEnoughTickets {
            requested: purchase.quantity.get(),
            remaining,
        }
        .into(),
        Ok(PurchaseOutcome::UnknownTicket) => ApiError::TicketNotFound(id).into(),
        Err(error) => ApiError::from(error).into(),
    }
}

fn purchase_model(purchase: PurchaseRecord) -> models::Purchase {
    models::Purchase {
        id: purchase.id,
        ticket_id: purchase.ticket_id,
        number: purchase.seq,
        user_id: purchase.user_id,
        // The database's CHECK keeps quantities positive.
        quantity: purchase.quantity.unsigned_abs(),
        purchased_at: purchase.purchased_at,
    }
}
