//! Who may do what, on which ticket: each operation asks here before it
//! acts (docs/AUTH.md has the table).
//!
//! - With `AUTH_MODE=open` the caller may do anything, for any buyer the
//!   body names.
//! - A buyer buys and holds for themselves, on any ticket, and reads,
//!   confirms, releases and cancels only their own purchases and holds:
//!   another buyer's are as unknown as ones that do not exist.
//! - An organiser token acts only on its organiser's tickets that its scope
//!   covers (others answer 404, as if they did not exist), and only as its
//!   permissions allow (else 403).

use uuid::Uuid;

use super::TicketsApi;
use crate::answers::{ApiError, problem};
use crate::auth::{Caller, OrganiserPrincipal, Permission};
use crate::domain::TicketId;
use crate::domain::orders::Actor;
use crate::storage;

impl TicketsApi {
    /// Whom an operation on `ticket`'s purchases or holds acts for, if the
    /// caller may call it; an organiser needs `permission`.
    pub(super) async fn orders_of(
        &self,
        caller: &Caller,
        ticket: TicketId,
        permission: Permission,
    ) -> Result<Actor, ApiError> {
        match caller {
            Caller::Open => Ok(Actor::AnyBuyer),
            Caller::Buyer(buyer) => Ok(Actor::Buyer(buyer.user_id)),
            Caller::Organiser(organiser) => {
                self.organisers_ticket(organiser, ticket).await?;
                allowed(organiser, permission)?;
                Ok(Actor::AnyBuyer)
            }
            Caller::Anonymous => Err(no_credentials()),
        }
    }

    /// The buyer a purchase or a hold on `ticket` is for: a buyer's own
    /// (the body may name them, or no one); the one an organiser with
    /// `sell_for_buyer` names; with `AUTH_MODE=open`, the one the body names.
    pub(super) async fn buyer_of(
        &self,
        caller: &Caller,
        ticket: TicketId,
        named: Option<Uuid>,
    ) -> Result<Uuid, ApiError> {
        match caller {
            Caller::Buyer(buyer) => match named {
                None => Ok(buyer.user_id),
                Some(named) if named == buyer.user_id => Ok(named),
                Some(_) => Err(ApiError::Forbidden(
                    "The body's user_id names another buyer than the token's; leave it out \
                     to buy for yourself"
                        .to_owned(),
                )),
            },
            Caller::Organiser(organiser) => {
                self.organisers_ticket(organiser, ticket).await?;
                allowed(organiser, Permission::SellForBuyer)?;
                // An organiser is no buyer: it buys only for one it names.
                named.ok_or_else(|| {
                    ApiError::Forbidden(
                        "An organiser token buys and holds only for a buyer named in user_id"
                            .to_owned(),
                    )
                })
            }
            Caller::Open => named.ok_or_else(|| {
                missing_buyer("is required: with AUTH_MODE=open the body names the buyer")
            }),
            Caller::Anonymous => Err(no_credentials()),
        }
    }

    /// Succeeds if `ticket` is the organiser's and the token's scope covers
    /// it; else the 404 a ticket that does not exist gets.
    async fn organisers_ticket(
        &self,
        organiser: &OrganiserPrincipal,
        ticket: TicketId,
    ) -> Result<(), ApiError> {
        let owner = storage::tickets::organiser_of(&self.pool, ticket).await?;
        if owner == Some(Some(organiser.organiser_id)) && organiser.scope.covers(ticket.get()) {
            Ok(())
        } else {
            Err(ApiError::TicketNotFound(ticket))
        }
    }
}

/// The organiser a new ticket belongs to (`None` with `AUTH_MODE=open`), if
/// the caller may create tickets.
pub(super) fn ticket_creator(caller: &Caller) -> Result<Option<i64>, ApiError> {
    match caller {
        Caller::Open => Ok(None),
        Caller::Organiser(organiser) => {
            allowed(organiser, Permission::CreateTickets)?;
            Ok(Some(organiser.organiser_id))
        }
        Caller::Buyer(_) => Err(ApiError::Forbidden(
            "A buyer's token cannot create tickets: that needs an organiser token".to_owned(),
        )),
        Caller::Anonymous => Err(no_credentials()),
    }
}

/// Succeeds if the caller may read the metrics.
pub(super) fn metrics_reader(caller: &Caller) -> Result<(), ApiError> {
    match caller {
        Caller::Open => Ok(()),
        Caller::Organiser(organiser) => allowed(organiser, Permission::ReadMetrics),
        Caller::Buyer(_) => Err(ApiError::Forbidden(
            "A buyer's token cannot read the metrics: that needs an organiser token with \
             read_metrics"
                .to_owned(),
        )),
        Caller::Anonymous => Err(no_credentials()),
    }
}

fn allowed(organiser: &OrganiserPrincipal, permission: Permission) -> Result<(), ApiError> {
    if organiser.permissions.allows(permission) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "This token does not have the {} permission",
            permission.name()
        )))
    }
}

/// An operation that needs credentials reached without any: the edge
/// answers 401 before, so this is only a second line.
fn no_credentials() -> ApiError {
    ApiError::Forbidden("This operation needs credentials".to_owned())
}

fn missing_buyer(reason: &str) -> ApiError {
    ApiError::InvalidRequest(vec![problem::body_field(
        "/user_id".to_owned(),
        reason.to_owned(),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Buyer, Permissions, TicketScope};

    fn organiser(permissions: &str) -> Caller {
        Caller::Organiser(OrganiserPrincipal {
            token_id: 1,
            organiser_id: 9,
            organiser: "Acme".to_owned(),
            permissions: Permissions::parse(permissions).expect("valid"),
            scope: TicketScope::AllOfTheOrganisers,
        })
    }

    fn status(result: Result<impl std::fmt::Debug, ApiError>) -> u32 {
        result.map_or_else(|error| error.into_problem().status, |_| 200)
    }

    #[test]
    fn only_organisers_with_the_permission_create_tickets() {
        assert_eq!(ticket_creator(&Caller::Open).expect("open"), None);
        assert_eq!(
            ticket_creator(&organiser("create_tickets")).expect("allowed"),
            Some(9)
        );
        let buyer = Caller::Buyer(Buyer::from_subject("https://id.example", "alice"));
        for caller in [organiser("read_orders"), buyer, Caller::Anonymous] {
            assert_eq!(status(ticket_creator(&caller)), 403, "{caller:?}");
        }
    }

    #[test]
    fn only_organisers_with_read_metrics_read_them() {
        assert_eq!(status(metrics_reader(&Caller::Open)), 200);
        assert_eq!(status(metrics_reader(&organiser("read_metrics"))), 200);
        assert_eq!(status(metrics_reader(&organiser("create_tickets"))), 403);
        let buyer = Caller::Buyer(Buyer::from_subject("https://id.example", "alice"));
        assert_eq!(status(metrics_reader(&buyer)), 403);
    }

    #[test]
    fn refusals_name_the_missing_permission() {
        let Caller::Organiser(organiser) = organiser("read_orders") else {
            unreachable!()
        };
        let problem = allowed(&organiser, Permission::ChangeOrders)
            .expect_err("refused")
            .into_problem();
        assert!(
            problem.detail.contains("change_orders"),
            "{}",
            problem.detail
        );
    }

    #[test]
    fn a_missing_buyer_points_at_the_field() {
        let problem = missing_buyer("is required").into_problem();
        assert_eq!(problem.status, 400);
        let errors = problem.errors.expect("field errors");
        assert_eq!(errors[0].pointer.as_deref(), Some("/user_id"));
    }
}
