//! The rules that refuse a purchase or a hold, each stated once: as the
//! predicate [`decide`](super::decide) applies to one order, and as the SQL
//! the one-statement path (`storage::orders::fast`) and the schema apply to
//! a whole batch. `storage`'s rule tests evaluate each SQL predicate in
//! PostgreSQL against the Rust one and find it in the statement or the
//! schema, so the two paths cannot drift apart.

/// A rule an order must keep to take tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No more may be taken than are left.
    EnoughLeft,
    /// No purchase or hold may take more than `max_per_purchase`.
    PerPurchase,
    /// No buyer may have more than `max_per_user`, bought and held.
    PerBuyer,
}

impl Rule {
    /// Every rule, in the order [`decide`](super::decide) checks them: the
    /// limits first (a buyer over a limit is told so even on a sold-out
    /// ticket), then what is left.
    pub const ALL: [Self; 3] = [Self::PerPurchase, Self::PerBuyer, Self::EnoughLeft];

    /// The rule as SQL over the names the statement and the schema use:
    /// the one-statement path checks a batch's total against what is left
    /// and its largest order against the per-purchase limit, and each
    /// buyer's row checks the per-buyer limit.
    pub const fn sql(self) -> &'static str {
        match self {
            Self::EnoughLeft => "t.remaining >= totals.total",
            Self::PerPurchase => {
                "(t.max_per_purchase IS NULL OR totals.largest <= t.max_per_purchase)"
            }
            Self::PerBuyer => "bought + held <= max_per_user",
        }
    }

    /// Whether taking `quantity` keeps the rule, for a ticket with
    /// `remaining` left and a limit of `max` (none: `None`), for a buyer
    /// who has `has` bought and held.
    pub fn allows(self, quantity: i32, remaining: i32, max: Option<i32>, has: i32) -> bool {
        match self {
            Self::EnoughLeft => remaining >= quantity,
            Self::PerPurchase => max.is_none_or(|max| quantity <= max),
            Self::PerBuyer => max.is_none_or(|max| has + quantity <= max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::enough_left_at_the_edge(Rule::EnoughLeft, 3, 3, None, 0, true)]
    #[case::enough_left_one_over(Rule::EnoughLeft, 4, 3, None, 0, false)]
    #[case::per_purchase_without_limit(Rule::PerPurchase, 99, 0, None, 0, true)]
    #[case::per_purchase_at_limit(Rule::PerPurchase, 4, 0, Some(4), 0, true)]
    #[case::per_purchase_over(Rule::PerPurchase, 5, 0, Some(4), 0, false)]
    #[case::per_buyer_counts_what_the_buyer_has(Rule::PerBuyer, 2, 0, Some(4), 2, true)]
    #[case::per_buyer_over(Rule::PerBuyer, 3, 0, Some(4), 2, false)]
    fn each_rule_allows_up_to_its_bound(
        #[case] rule: Rule,
        #[case] quantity: i32,
        #[case] remaining: i32,
        #[case] max: Option<i32>,
        #[case] has: i32,
        #[case] allowed: bool,
    ) {
        assert_eq!(rule.allows(quantity, remaining, max, has), allowed);
    }
}
