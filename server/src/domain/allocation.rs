/// How many tickets an organiser puts on sale: 0 or more, within
/// PostgreSQL's `INTEGER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation(i32);

impl Allocation {
    pub fn get(self) -> i32 {
        self.0
    }
}

impl TryFrom<u32> for Allocation {
    type Error = String;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        i32::try_from(value)
            .map(Self)
            .map_err(|_| format!("must be at most {}", i32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(0)]
    #[case(100)]
    #[case(i32::MAX.unsigned_abs())]
    fn allocations_up_to_int_max_are_accepted(#[case] raw: u32) {
        assert_eq!(
            Allocation::try_from(raw).map(|a| a.get().unsigned_abs()),
            Ok(raw)
        );
    }

    #[test]
    fn allocations_beyond_int_max_are_refused() {
        assert!(Allocation::try_from(i32::MAX.unsigned_abs() + 1).is_err());
    }
}
