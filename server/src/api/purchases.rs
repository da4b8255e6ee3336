//! Buying tickets, reading purchases back, cancelling them.

use tickets_api::{CancelPurchaseResponse, PurchaseTicketsResponse, models};

use super::{TicketsApi, access, body, idempotency_key, invalid_parameter, parameter, ticket_id};
use crate::answers::{ApiError, purchase_model};
use crate::auth::{Caller, Permission};
use crate::domain::orders::{Action, Actor};
use crate::domain::{PurchaseBody, PurchaseCursor, PurchaseRequest};
use crate::storage;

/// Purchases on a page when the client does not say.
const DEFAULT_PAGE_SIZE: u32 = 50;
/// The most purchases on a page.
const MAX_PAGE_SIZE: u32 = 200;

impl TicketsApi {
    /// Buys tickets, once per idempotency key.
    pub(super) async fn purchase(
        &self,
        caller: &Caller,
        id: u64,
        request: models::PurchaseCreate,
        key: Option<String>,
    ) -> PurchaseTicketsResponse {
        let parsed = ticket_id(id).and_then(|id| {
            Ok((
                id,
                body::<PurchaseBody, _>(request.clone())?,
                idempotency_key(key)?,
            ))
        });
        let (id, wanted, key) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => return error.into(),
        };
        let user_id = match self.buyer_of(caller, id, wanted.named_buyer).await {
            Ok(user_id) => user_id,
            Err(error) => return error.into(),
        };
        let purchase = PurchaseRequest {
            quantity: wanted.quantity,
            user_id,
        };
        let path = format!("/tickets/{id}/purchases");
        self.run_order(
            caller,
            id,
            (Action::Purchase(purchase), Actor::AnyBuyer),
            key,
            ("POST", &path, &request),
        )
        .await
    }

    /// Cancels a purchase, giving its tickets back once.
    pub(super) async fn cancel(
        &self,
        caller: &Caller,
        id: u64,
        purchase_id: uuid::Uuid,
        key: Option<String>,
    ) -> CancelPurchaseResponse {
        let (id, key) = match ticket_id(id).and_then(|id| Ok((id, idempotency_key(key)?))) {
            Ok(parsed) => parsed,
            Err(error) => return error.into(),
        };
        let by = match self.orders_of(caller, id, Permission::ChangeOrders).await {
            Ok(by) => by,
            Err(error) => return error.into(),
        };
        let path = format!("/tickets/{id}/purchases/{purchase_id}/cancel");
        let action = Action::Cancel {
            purchase: purchase_id,
        };
        self.run_order(caller, id, (action, by), key, ("POST", &path, &()))
            .await
    }

    pub(super) async fn list(
        &self,
        caller: &Caller,
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
        let only = match self.orders_of(caller, id, Permission::ReadOrders).await? {
            Actor::Buyer(buyer) => Some(buyer),
            Actor::AnyBuyer => None,
        };
        let page = storage::purchases::list_purchases(&self.pool, id, limit, after, only)
            .await?
            .ok_or(ApiError::TicketNotFound(id))?;
        // The last page has no cursor: a client stops without asking again.
        let next_cursor = page.next.map(|next| next.to_string());
        let mut items: Vec<models::Purchase> =
            page.purchases.into_iter().map(purchase_model).collect();
        self.with_audit(caller, &mut items).await?;
        Ok(models::PurchasePage { items, next_cursor })
    }

    pub(super) async fn get_purchase_record(
        &self,
        caller: &Caller,
        id: u64,
        purchase_id: uuid::Uuid,
    ) -> Result<models::Purchase, ApiError> {
        let id = ticket_id(id)?;
        let by = self.orders_of(caller, id, Permission::ReadOrders).await?;
        let mut purchase = storage::purchases::find_purchase(&self.pool, id, purchase_id)
            .await?
            .filter(|purchase| by.acts_for(purchase.user_id))
            .map(purchase_model)
            .ok_or(ApiError::PurchaseNotFound {
                ticket: id,
                purchase_id,
            })?;
        self.with_audit(caller, std::slice::from_mut(&mut purchase))
            .await?;
        Ok(purchase)
    }

    /// Adds who made and cancelled each purchase, for an organiser (who
    /// alone reads the audit).
    async fn with_audit(
        &self,
        caller: &Caller,
        purchases: &mut [models::Purchase],
    ) -> Result<(), ApiError> {
        if !access::reads_audit(caller) || purchases.is_empty() {
            return Ok(());
        }
        let ids: Vec<uuid::Uuid> = purchases.iter().map(|p| p.id).collect();
        let mut audits = storage::audit::of_purchases(&self.pool, &ids).await?;
        for purchase in purchases {
            let audit = audits.remove(&purchase.id).unwrap_or_default();
            purchase.made_by = audit.made_by;
            purchase.cancelled_by = audit.ended_by;
        }
        Ok(())
    }
}
