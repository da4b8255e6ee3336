use std::time::Duration;

use tickets_api::models;
use uuid::Uuid;

use super::{InvalidField, Quantity, field};

/// A buyer's request to hold tickets while they pay, every field valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldRequest {
    pub quantity: Quantity,
    /// The buyer the body names, if it names one (who the buyer is depends
    /// on the caller too: `api::access`).
    pub named_buyer: Option<Uuid>,
    /// How long the buyer asked for, if they did.
    pub ttl: Option<HoldTtl>,
}

/// A hold's requested lifetime: 1 s to a day, as the spec allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldTtl(Duration);

impl HoldTtl {
    /// The longest lifetime the spec lets a request ask for, and any
    /// configuration allow.
    pub const MAX_SECONDS: u64 = 86_400;

    pub fn get(self) -> Duration {
        self.0
    }
}

impl TryFrom<u32> for HoldTtl {
    type Error = String;

    fn try_from(seconds: u32) -> Result<Self, Self::Error> {
        if (1..=Self::MAX_SECONDS).contains(&u64::from(seconds)) {
            Ok(Self(Duration::from_secs(u64::from(seconds))))
        } else {
            Err(format!("must be from 1 to {} seconds", Self::MAX_SECONDS))
        }
    }
}

/// How long holds last on this server: the lifetime a request gets when it
/// asks for none, and the range any asked-for lifetime is moved into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldLifetimes {
    pub default: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl HoldLifetimes {
    /// The lifetime a hold asking for `requested` gets.
    pub fn lifetime(&self, requested: Option<HoldTtl>) -> Duration {
        requested
            .map_or(self.default, HoldTtl::get)
            .clamp(self.min, self.max)
    }
}

impl TryFrom<models::HoldCreate> for HoldRequest {
    /// Every invalid field, not just the first.
    type Error = Vec<InvalidField>;

    fn try_from(request: models::HoldCreate) -> Result<Self, Self::Error> {
        let quantity = field("quantity", request.quantity);
        let ttl = request
            .ttl_seconds
            .map(|ttl| field("ttl_seconds", ttl))
            .transpose();
        match (quantity, ttl) {
            (Ok(quantity), Ok(ttl)) => Ok(Self {
                quantity,
                named_buyer: request.user_id,
                ttl,
            }),
            (quantity, ttl) => Err([quantity.err(), ttl.err()].into_iter().flatten().collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use validator::Validate;

    fn request(quantity: u32, ttl_seconds: Option<u32>) -> models::HoldCreate {
        models::HoldCreate {
            quantity,
            user_id: Some(Uuid::nil()),
            ttl_seconds,
        }
    }

    /// The domain accepts exactly what the spec's constraints accept.
    #[rstest]
    #[case::no_ttl(1, None)]
    #[case::zero_quantity(0, None)]
    #[case::quantity_at_limit(2_147_483_647, None)]
    #[case::quantity_over_limit(2_147_483_648, None)]
    #[case::zero_ttl(1, Some(0))]
    #[case::one_second(1, Some(1))]
    #[case::a_day(1, Some(86_400))]
    #[case::over_a_day(1, Some(86_401))]
    fn the_domain_agrees_with_the_spec(#[case] quantity: u32, #[case] ttl: Option<u32>) {
        let request = request(quantity, ttl);
        assert_eq!(
            HoldRequest::try_from(request.clone()).is_ok(),
            request.validate().is_ok()
        );
    }

    #[test]
    fn every_invalid_field_is_reported() {
        let errors = HoldRequest::try_from(request(0, Some(0))).expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["quantity", "ttl_seconds"]);
    }

    #[rstest]
    #[case::none_asked_gets_the_default(None, 900)]
    #[case::shorter_than_the_least_is_raised(Some(5), 60)]
    #[case::within_is_kept(Some(600), 600)]
    #[case::longer_than_the_most_is_cut(Some(7200), 3600)]
    fn lifetimes_are_moved_into_the_servers_range(#[case] asked: Option<u32>, #[case] gets: u64) {
        let lifetimes = HoldLifetimes {
            default: Duration::from_secs(900),
            min: Duration::from_secs(60),
            max: Duration::from_secs(3600),
        };
        let asked = asked.map(|s| HoldTtl::try_from(s).expect("valid"));
        assert_eq!(lifetimes.lifetime(asked), Duration::from_secs(gets));
    }
}
