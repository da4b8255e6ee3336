//! The purchase list follows commit order: a reader that follows it while
//! buyers buy, through several servers, keyed or not, sees every purchase
//! exactly once.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDatabase};

/// Follows `ticket`'s list from the start until `done` is set and a page
/// after the last purchase seen comes back empty; returns every purchase
/// seen, in the order seen.
async fn follow(app: &TestApp, ticket: i64, done: &AtomicBool) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    loop {
        let finished = done.load(Ordering::SeqCst);
        let after = seen
            .last()
            .map_or_else(String::new, |last| format!("&cursor={}", last["number"]));
        let page: Value = app
            .get(&format!("/tickets/{ticket}/purchases?limit=37{after}"))
            .await
            .json()
            .await
            .expect("a page");
        let items = page["items"].as_array().expect("items");
        if items.is_empty() {
            if finished {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        seen.extend(items.iter().cloned());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_following_the_list_while_buyers_buy_sees_every_purchase_once() {
    let db = TestDatabase::create().await;
    let first = TestApp::start(&db).await;
    let second = TestApp::start(&db).await;
    let ticket = first.create_ticket(100_000).await;
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let done = Arc::clone(&done);
        let reader_app = TestApp::start(&db).await;
        tokio::spawn(async move { follow(&reader_app, ticket, &done).await })
    };
    // Buyers on both servers; every third sends an Idempotency-Key, which
    // takes the batches' locked path rather than their single statement.
    let buyers = join_all((0..24).map(|buyer| {
        let app = if buyer % 2 == 0 { &first } else { &second };
        async move {
            let mut made = 0;
            for round in 0..25 {
                let mut request = app
                    .client
                    .post(app.url(&format!("/tickets/{ticket}/purchases")))
                    .json(&json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()}));
                if (buyer + round) % 3 == 0 {
                    request = request.header("idempotency-key", uuid::Uuid::new_v4().to_string());
                }
                let response = request.send().await.expect("sent");
                assert_eq!(response.status(), StatusCode::CREATED);
                made += 1;
            }
            made
        }
    }))
    .await;
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.expect("the reader");

    let made: usize = buyers.iter().sum();
    let ids: HashSet<&str> = seen
        .iter()
        .map(|p| p["id"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids.len(), seen.len(), "a purchase was seen twice");
    assert_eq!(seen.len(), made, "the reader missed purchases");
    let numbers: Vec<i64> = seen
        .iter()
        .map(|p| p["number"].as_i64().expect("a number"))
        .collect();
    let expected: Vec<i64> = (1..=i64::try_from(made).expect("small")).collect();
    assert_eq!(
        numbers, expected,
        "numbered 1, 2, 3, ... in the order listed"
    );
    let rows = db
        .count(&format!(
            "SELECT count(*) FROM purchases WHERE ticket_id = {ticket}"
        ))
        .await;
    assert_eq!(rows, i64::try_from(made).expect("small"));
}
