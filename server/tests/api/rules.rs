//! The box office's refusal rules read the same in PostgreSQL as in Rust:
//! each rule's SQL (as the one-statement path and the schema apply it)
//! agrees with the predicate the locked path decides by, case by case.

use rstest::rstest;
use tickets_server::domain::orders::rules::Rule;

use crate::helpers::{TestApp, TestDatabase};

/// (quantity, remaining, max, has): around each rule's edge.
const CASES: &[(i32, i32, Option<i32>, i32)] = &[
    (1, 0, None, 0),
    (1, 1, None, 0),
    (3, 2, Some(2), 0),
    (2, 2, Some(2), 0),
    (1, 5, Some(4), 3),
    (2, 5, Some(4), 3),
    (4, 10, Some(4), 0),
    (5, 10, Some(4), 0),
];

/// `rule`'s SQL evaluated by PostgreSQL for one case, over the names the
/// statement (`t`, `totals`) and the schema's buyer row use.
fn evaluated(rule: Rule, (quantity, remaining, max, has): (i32, i32, Option<i32>, i32)) -> String {
    let max = max.map_or("NULL::int".to_owned(), |max| max.to_string());
    match rule {
        Rule::EnoughLeft | Rule::PerPurchase => format!(
            "SELECT ({}) FROM (VALUES ({remaining}, {max})) AS t (remaining, max_per_purchase), \
             (VALUES ({quantity}, {quantity})) AS totals (total, largest)",
            rule.sql()
        ),
        // The buyer's row after the order: what it had, plus the order.
        Rule::PerBuyer => format!(
            "SELECT COALESCE(({}), true) FROM (VALUES ({}, 0, {max})) AS b (bought, held, max_per_user)",
            rule.sql(),
            has + quantity,
        ),
    }
}

#[rstest]
#[case::enough_left(Rule::EnoughLeft)]
#[case::per_purchase(Rule::PerPurchase)]
#[case::per_buyer(Rule::PerBuyer)]
#[tokio::test]
async fn each_rule_reads_the_same_in_sql_and_in_rust(#[case] rule: Rule) {
    let db = TestDatabase::create().await;
    for &case in CASES {
        let (quantity, remaining, max, has) = case;
        let in_sql = db
            .text(&format!("SELECT ({})::text", evaluated(rule, case)))
            .await;
        let in_rust = rule.allows(quantity, remaining, max, has);
        assert_eq!(
            in_sql.as_deref(),
            Some(if in_rust { "true" } else { "false" }),
            "{rule:?} for {case:?}"
        );
    }
}

/// The per-buyer limit is kept by the schema on the buyer's row: its CHECK
/// is the rule's SQL.
#[tokio::test]
async fn the_schema_keeps_the_per_buyer_rule_as_stated() {
    let db = TestDatabase::create().await;
    // The database's migrations run when a server starts on it.
    let app = TestApp::start(&db).await;
    let check = db
        .text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conname = 'ticket_buyers_within_limit'",
        )
        .await
        .expect("the constraint");
    // PostgreSQL prints the expression back with parentheses of its own.
    let bare = |sql: &str| sql.replace(['(', ')', ' '], "");
    assert_eq!(
        bare(check.trim_start_matches("CHECK")),
        bare(Rule::PerBuyer.sql()),
        "the schema's check is the rule"
    );
    app.stop().await;
}
