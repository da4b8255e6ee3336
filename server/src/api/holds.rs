//! Holding tickets during checkout: create, read, confirm, release.

use tickets_api::models;

use super::{TicketsApi, body, idempotency_key, ticket_id};
use crate::answers::{ApiError, hold_model};
use crate::auth::{Caller, Permission};
use crate::domain::orders::{Action, Actor, HoldStatus};
use crate::domain::{HoldRequest, PurchaseRequest};
use crate::storage;

impl TicketsApi {
    /// Holds tickets, once per idempotency key.
    pub(super) async fn hold(
        &self,
        caller: &Caller,
        id: u64,
        request: models::HoldCreate,
        key: Option<String>,
    ) -> tickets_api::CreateHoldResponse {
        let parsed = ticket_id(id).and_then(|id| {
            Ok((
                id,
                body::<HoldRequest, _>(request.clone())?,
                idempotency_key(key)?,
            ))
        });
        let (id, hold, key) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => return error.into(),
        };
        let user_id = match self.buyer_of(caller, id, hold.named_buyer).await {
            Ok(user_id) => user_id,
            Err(error) => return error.into(),
        };
        let action = Action::Hold {
            wanted: PurchaseRequest {
                quantity: hold.quantity,
                user_id,
            },
            lifetime: self.hold_lifetimes.lifetime(hold.ttl),
        };
        let path = format!("/tickets/{id}/holds");
        self.run_order(
            caller,
            id,
            (action, Actor::AnyBuyer),
            key,
            ("POST", &path, &request),
        )
        .await
    }

    /// Turns a hold into a purchase, once.
    pub(super) async fn confirm(
        &self,
        caller: &Caller,
        id: u64,
        hold_id: uuid::Uuid,
        key: Option<String>,
    ) -> tickets_api::ConfirmHoldResponse {
        let (id, key) = match ticket_id(id).and_then(|id| Ok((id, idempotency_key(key)?))) {
            Ok(parsed) => parsed,
            Err(error) => return error.into(),
        };
        let by = match self.orders_of(caller, id, Permission::SellForBuyer).await {
            Ok(by) => by,
            Err(error) => return error.into(),
        };
        let path = format!("/tickets/{id}/holds/{hold_id}/confirm");
        let action = Action::Confirm { hold: hold_id };
        self.run_order(caller, id, (action, by), key, ("POST", &path, &()))
            .await
    }

    /// Gives a hold's tickets back.
    pub(super) async fn release(
        &self,
        caller: &Caller,
        id: u64,
        hold_id: uuid::Uuid,
        key: Option<String>,
    ) -> tickets_api::ReleaseHoldResponse {
        let (id, key) = match ticket_id(id).and_then(|id| Ok((id, idempotency_key(key)?))) {
            Ok(parsed) => parsed,
            Err(error) => return error.into(),
        };
        let by = match self.orders_of(caller, id, Permission::ChangeOrders).await {
            Ok(by) => by,
            Err(error) => return error.into(),
        };
        let path = format!("/tickets/{id}/holds/{hold_id}");
        let action = Action::Release { hold: hold_id };
        self.run_order(caller, id, (action, by), key, ("DELETE", &path, &()))
            .await
    }

    pub(super) async fn get_hold_record(
        &self,
        caller: &Caller,
        id: u64,
        hold_id: uuid::Uuid,
    ) -> Result<models::Hold, ApiError> {
        let id = ticket_id(id)?;
        let by = self.orders_of(caller, id, Permission::ReadOrders).await?;
        let (hold, now) = storage::holds::find_hold(&self.pool, id, hold_id)
            .await?
            .filter(|(hold, _)| by.acts_for(hold.user_id))
            .ok_or(ApiError::HoldNotFound {
                ticket: id,
                hold_id,
            })?;
        // A hold that ended without a purchase is gone, as a deleted
        // resource is: releasing it is its DELETE. One held past its expiry
        // has expired, whether or not its tickets were given back yet.
        let status = match hold.status_at(now) {
            HoldStatus::Held => models::HoldStatus::Held,
            HoldStatus::Confirmed => models::HoldStatus::Confirmed,
            HoldStatus::Released => return Err(ApiError::HoldGone { expired_at: None }),
            HoldStatus::Expired => {
                return Err(ApiError::HoldGone {
                    expired_at: Some(hold.expires_at),
                });
            }
        };
        Ok(hold_model(hold, status))
    }
}
