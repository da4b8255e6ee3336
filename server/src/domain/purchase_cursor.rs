/// Where a page of a ticket's purchases starts: the number of the last
/// purchase on the page before (purchases are numbered per ticket in the
/// order they commit). Written as 1 to 18 decimal digits, as the spec's
/// pattern says, so any cursor a client can write names a place in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseCursor(i64);

impl PurchaseCursor {
    const MAX_DIGITS: usize = 18;

    /// The cursor after the purchase numbered `seq`.
    pub fn after(seq: i64) -> Self {
        Self(seq)
    }

    /// The number of the last purchase before the page.
    pub fn seq(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for PurchaseCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl TryFrom<String> for PurchaseCursor {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let digits = (1..=Self::MAX_DIGITS).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_digit());
        // 18 digits always fit an i64.
        match value.parse() {
            Ok(seq) if digits => Ok(Self(seq)),
            _ => Err(format!(
                "must be 1 to {} digits: the next_cursor of a previous page",
                Self::MAX_DIGITS
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::spec_rules;
    use rstest::rstest;

    #[rstest]
    #[case("0", 0)]
    #[case("50", 50)]
    #[case("007", 7)]
    #[case("999999999999999999", 999_999_999_999_999_999)]
    fn digits_are_a_cursor(#[case] raw: &str, #[case] seq: i64) {
        assert_eq!(
            PurchaseCursor::try_from(raw.to_owned()).map(PurchaseCursor::seq),
            Ok(seq)
        );
    }

    #[rstest]
    #[case("")]
    #[case("-1")]
    #[case("+1")]
    #[case("1.5")]
    #[case(" 1")]
    #[case("0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b")]
    #[case(&"0".repeat(99))]
    fn anything_else_is_refused(#[case] raw: &str) {
        assert!(PurchaseCursor::try_from(raw.to_owned()).is_err());
    }

    /// What the server accepts is exactly what the spec's pattern allows,
    /// and every cursor it hands out matches the pattern too.
    #[rstest]
    #[case("0")]
    #[case("123")]
    #[case(&"9".repeat(18))]
    #[case(&"9".repeat(19))]
    #[case(&"0".repeat(99))]
    #[case("")]
    #[case("a1")]
    #[case("١")] // an Arabic-Indic digit: not ASCII
    fn the_rule_is_the_spec_pattern(#[case] raw: &str) {
        let pattern = spec_rules::pattern("/components/parameters/Cursor/schema");
        assert_eq!(
            PurchaseCursor::try_from(raw.to_owned()).is_ok(),
            pattern.is_match(raw),
            "{raw:?}"
        );
        let handed_out =
            spec_rules::pattern("/components/schemas/PurchasePage/properties/next_cursor");
        assert!(handed_out.is_match(&PurchaseCursor::after(i64::MAX / 10).to_string()));
    }
}
