use tickets_api::models;
use uuid::Uuid;

use super::{InvalidField, Quantity, field};

/// A buyer's request for tickets, every field valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseRequest {
    pub quantity: Quantity,
    /// The buyer: a buyer token's, or the one an organiser (or anyone, with
    /// `AUTH_MODE=open`) names.
    pub user_id: Uuid,
}

/// A purchase's body, every field valid: who the buyer is depends on the
/// caller too (`api::access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseBody {
    pub quantity: Quantity,
    /// The buyer the body names, if it names one.
    pub named_buyer: Option<Uuid>,
}

impl TryFrom<models::PurchaseCreate> for PurchaseBody {
    type Error = Vec<InvalidField>;

    fn try_from(request: models::PurchaseCreate) -> Result<Self, Self::Error> {
        Ok(Self {
            quantity: field("quantity", request.quantity).map_err(|e| vec![e])?,
            named_buyer: request.user_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use validator::Validate;

    #[rstest]
    #[case::zero(0)]
    #[case::one(1)]
    #[case::at_limit(2_147_483_647)]
    #[case::over_limit(2_147_483_648)]
    fn the_domain_agrees_with_the_spec(#[case] quantity: u32) {
        let request = models::PurchaseCreate::new(quantity);
        assert_eq!(
            PurchaseBody::try_from(request.clone()).is_ok(),
            request.validate().is_ok()
        );
    }

    #[test]
    fn a_zero_quantity_names_the_field() {
        let errors = PurchaseBody::try_from(models::PurchaseCreate::new(0)).expect_err("invalid");
        assert_eq!(
            errors,
            [InvalidField {
                field: "quantity",
                reason: "must be at least 1".to_owned()
            }]
        );
    }
}
