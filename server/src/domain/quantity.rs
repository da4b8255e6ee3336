/// How many tickets one purchase buys: at least 1, and within PostgreSQL's
/// `INTEGER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(i32);

impl Quantity {
    pub fn get(self) -> i32 {
        self.0
    }
}

impl TryFrom<u32> for Quantity {
    type Error = String;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        match i32::try_from(value) {
            Ok(quantity) if quantity >= 1 => Ok(Self(quantity)),
            Ok(_) => Err("must be at least 1".to_owned()),
            Err(_) => Err(format!("must be at most {}", i32::MAX)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(1)]
    #[case(2)]
    #[case(i32::MAX.unsigned_abs())]
    fn quantities_from_one_to_int_max_are_accepted(#[case] raw: u32) {
        assert_eq!(
            Quantity::try_from(raw).map(|q| q.get().unsigned_abs()),
            Ok(raw)
        );
    }

    #[rstest]
    #[case::zero(0, "must be at least 1")]
    #[case::beyond_integer(i32::MAX.unsigned_abs() + 1, "must be at most 2147483647")]
    fn other_quantities_are_refused(#[case] raw: u32, #[case] reason: &str) {
        assert_eq!(Quantity::try_from(raw), Err(reason.to_owned()));
    }
}
