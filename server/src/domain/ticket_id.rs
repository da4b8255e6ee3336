/// A ticket's id: a positive integer that fits PostgreSQL's `BIGINT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketId(i64);

impl TicketId {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<u64> for TicketId {
    type Error = String;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        match i64::try_from(value) {
            Ok(id) if id >= 1 => Ok(Self(id)),
            _ => Err(format!("must be an integer from 1 to {}", i64::MAX)),
        }
    }
}

impl TryFrom<i64> for TicketId {
    type Error = String;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        u64::try_from(value)
            .map_err(|_| format!("must be an integer from 1 to {}", i64::MAX))
            .and_then(Self::try_from)
    }
}

impl std::fmt::Display for TicketId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(1)]
    #[case(42)]
    #[case(i64::MAX.unsigned_abs())]
    fn positive_ids_that_fit_bigint_are_accepted(#[case] raw: u64) {
        assert_eq!(
            TicketId::try_from(raw).map(|id| id.get().unsigned_abs()),
            Ok(raw)
        );
    }

    #[rstest]
    #[case::zero(0)]
    #[case::beyond_bigint(i64::MAX.unsigned_abs() + 1)]
    #[case::max(u64::MAX)]
    fn other_ids_are_refused(#[case] raw: u64) {
        assert!(TicketId::try_from(raw).is_err());
    }

    #[test]
    fn negative_ids_are_refused() {
        assert!(TicketId::try_from(-1_i64).is_err());
    }
}
