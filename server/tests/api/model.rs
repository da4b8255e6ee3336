//! Model-checked accounting: random sequences of ticket creations and rounds
//! of concurrent purchases run against the real server and database, and
//! each outcome is compared with a simple in-memory model.

use std::collections::HashMap;

use futures::future::join_all;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, TestDatabase};

/// A ticket no one created: purchases of it must be 404.
const UNKNOWN: usize = usize::MAX;

#[derive(Debug, Clone)]
enum Step {
    /// Create a ticket with this allocation.
    Create(u32),
    /// Buy concurrently: (which created ticket, modulo their count, or
    /// UNKNOWN; quantity).
    Round(Vec<(usize, u32)>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0_u32..=12).prop_map(Step::Create),
        prop::collection::vec(
            (prop_oneof![9 => 0_usize..4, 1 => Just(UNKNOWN)], 1_u32..=5),
            1..16,
        )
        .prop_map(Step::Round),
    ]
}

/// What must hold after a round, whatever order the buyers came in:
/// - a known ticket answers 201 or 409, an unknown one 404;
/// - what was sold is what the 201s asked for, and no more than was left;
/// - a buyer refused with 409 asked for more than was left at its turn, and
///   what is left only shrinks, so it asked for more than is left now too,
///   and its problem's `remaining` lies between what is left now and before.
fn check_round(
    left_before: &HashMap<i64, i64>,
    purchases: &[(i64, i64, StatusCode, Option<i64>)],
    left_after: &HashMap<i64, i64>,
) -> Result<(), TestCaseError> {
    for (&ticket, &before) in left_before {
        let after = left_after[&ticket];
        let sold: i64 = purchases
            .iter()
            .filter(|(t, _, status, _)| *t == ticket && *status == StatusCode::CREATED)
            .map(|(_, quantity, _, _)| quantity)
            .sum();
        prop_assert!(sold <= before, "ticket {ticket}: sold {sold} of {before}");
        prop_assert_eq!(
            after,
            before - sold,
            "ticket {}: left = before - sold",
            ticket
        );
    }
    for (ticket, quantity, status, remaining) in purchases {
        if !left_before.contains_key(ticket) {
            prop_assert_eq!(*status, StatusCode::NOT_FOUND);
            continue;
        }
        match *status {
            StatusCode::CREATED => {}
            StatusCode::CONFLICT => {
                let remaining = remaining.expect("a 409 says what is left");
                prop_assert!(
                    remaining < *quantity,
                    "refused {quantity} with {remaining} left"
                );
                prop_assert!(left_after[ticket] <= remaining && remaining <= left_before[ticket]);
            }
            other => prop_assert!(false, "ticket {ticket}: unexpected {other}"),
        }
    }
    Ok(())
}

async fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let mut model: HashMap<i64, i64> = HashMap::new();
    let mut created: Vec<i64> = Vec::new();
    for step in steps {
        match step {
            Step::Create(allocation) => {
                let ticket = app.create_ticket(i64::from(allocation)).await;
                created.push(ticket);
                model.insert(ticket, i64::from(allocation));
            }
            Step::Round(buys) => {
                let buys: Vec<(i64, i64)> = buys
                    .into_iter()
                    .map(|(index, quantity)| {
                        let ticket = if index == UNKNOWN || created.is_empty() {
                            i64::MAX
                        } else {
                            created[index % created.len()]
                        };
                        (ticket, i64::from(quantity))
                    })
                    .collect();
                let answers = join_all(buys.iter().map(|&(ticket, quantity)| {
                    let app = &app;
                    async move {
                        let response = app.purchase(ticket, quantity).await;
                        let status = response.status();
                        let body: Value = response.json().await.unwrap_or_default();
                        (ticket, quantity, status, body["remaining"].as_i64())
                    }
                }))
                .await;
                let mut left_after = HashMap::new();
                for &ticket in model.keys() {
                    left_after.insert(ticket, app.remaining(ticket).await);
                }
                check_round(&model, &answers, &left_after)?;
                model = left_after;
            }
        }
    }
    let unbalanced = db
        .count(
            "SELECT count(*) FROM tickets t WHERE t.remaining + COALESCE( \
             (SELECT sum(quantity) FROM purchases p WHERE p.ticket_id = t.id), 0) <> t.allocation",
        )
        .await;
    prop_assert_eq!(unbalanced, 0, "left + sold = allocation for every ticket");
    Ok(())
}

#[test]
fn concurrent_purchases_agree_with_the_model() {
    // A fixed seed and no failure files: every run tries the same cases, and
    // a failure prints the shrunk sequence of steps that reproduces it.
    let config = Config {
        cases: 12,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let outcome = runner.run(&prop::collection::vec(step(), 1..10), |steps| {
        runtime.block_on(run(steps))
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
