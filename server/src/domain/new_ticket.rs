use tickets_api::models;

use super::{Allocation, InvalidField, Quantity, TicketDescription, TicketName, field};

/// A ticket to create, every field valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    pub name: TicketName,
    pub description: TicketDescription,
    pub allocation: Allocation,
    /// The most tickets one purchase or hold may take.
    pub max_per_purchase: Option<Quantity>,
    /// The most tickets one buyer may have, bought and held.
    pub max_per_user: Option<Quantity>,
}

impl TryFrom<models::TicketCreate> for NewTicket {
    /// Every invalid field, not just the first.
    type Error = Vec<InvalidField>;

    fn try_from(request: models::TicketCreate) -> Result<Self, Self::Error> {
        let name = field("name", request.name);
        let description = field("desc", request.desc);
        let allocation = field("allocation", request.allocation);
        let max_per_purchase = request
            .max_per_purchase
            .map(|max| field("max_per_purchase", max))
            .transpose();
        let max_per_user = request
            .max_per_user
            .map(|max| field("max_per_user", max))
            .transpose();
        match (
            name,
            description,
            allocation,
            max_per_purchase,
            max_per_user,
        ) {
            (Ok(name), Ok(description), Ok(allocation), Ok(max_per_purchase), Ok(max_per_user)) => {
                Ok(Self {
                    name,
                    description,
                    allocation,
                    max_per_purchase,
                    max_per_user,
                })
            }
            (name, description, allocation, max_per_purchase, max_per_user) => Err([
                name.err(),
                description.err(),
                allocation.err(),
                max_per_purchase.err(),
                max_per_user.err(),
            ]
            .into_iter()
            .flatten()
            .collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use validator::Validate;

    fn request(name: &str, desc: &str, allocation: u32) -> models::TicketCreate {
        models::TicketCreate::new(name.to_owned(), desc.to_owned(), allocation)
    }

    fn limited(per_purchase: Option<u32>, per_user: Option<u32>) -> models::TicketCreate {
        models::TicketCreate {
            max_per_purchase: per_purchase,
            max_per_user: per_user,
            ..request("n", "", 10)
        }
    }

    #[test]
    fn a_valid_request_becomes_a_new_ticket() {
        let ticket =
            NewTicket::try_from(request("example", "sample description", 100)).expect("valid");
        assert_eq!(ticket.name.as_str(), "example");
        assert_eq!(ticket.description.as_str(), "sample description");
        assert_eq!(ticket.allocation.get(), 100);
    }

    #[test]
    fn every_invalid_field_is_reported() {
        let request = models::TicketCreate {
            max_per_purchase: Some(0),
            max_per_user: Some(0),
            ..request("", "\0", u32::MAX)
        };
        let errors = NewTicket::try_from(request).expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "name",
                "desc",
                "allocation",
                "max_per_purchase",
                "max_per_user"
            ]
        );
    }

    /// Limits: each optional, each at least 1, as the spec says.
    #[rstest]
    #[case::none(None, None)]
    #[case::both(Some(1), Some(2_147_483_647))]
    #[case::zero_per_purchase(Some(0), None)]
    #[case::zero_per_user(None, Some(0))]
    #[case::too_large(Some(2_147_483_648), None)]
    fn limits_agree_with_the_spec(
        #[case] per_purchase: Option<u32>,
        #[case] per_user: Option<u32>,
    ) {
        let request = limited(per_purchase, per_user);
        assert_eq!(
            NewTicket::try_from(request.clone()).is_ok(),
            request.validate().is_ok()
        );
    }

    /// The domain's rules are the spec's: for values at each limit, the
    /// domain accepts exactly what the spec's constraints (as the generated
    /// model's `Validate` states them) accept.
    #[rstest]
    #[case::name_empty("", "", 0)]
    #[case::name_at_limit(&"n".repeat(200), "", 0)]
    #[case::name_over_limit(&"n".repeat(201), "", 0)]
    #[case::desc_at_limit("n", &"d".repeat(2000), 0)]
    #[case::desc_over_limit("n", &"d".repeat(2001), 0)]
    #[case::allocation_at_limit("n", "", 2_147_483_647)]
    #[case::allocation_over_limit("n", "", 2_147_483_648)]
    #[case::name_with_nul("a\0b", "", 0)]
    #[case::desc_with_nul("n", "\0", 0)]
    #[case::name_with_other_controls("\u{1}\u{7f}", "\n\t", 0)]
    fn the_domain_agrees_with_the_spec(
        #[case] name: &str,
        #[case] desc: &str,
        #[case] allocation: u32,
    ) {
        let request = request(name, desc, allocation);
        assert_eq!(
            NewTicket::try_from(request.clone()).is_ok(),
            request.validate().is_ok()
        );
    }
}
