//! Many buyers at once, through one server or several on one database: the
//! allocation is sold exactly, never more.

use futures::future::join_all;
use reqwest::StatusCode;

use crate::helpers::{TestApp, TestDatabase};

/// Sends `quantities` as concurrent purchases of `ticket`, spread over
/// `apps` in turn, and returns the statuses in the same order.
async fn buy_concurrently(apps: &[&TestApp], ticket: i64, quantities: &[i64]) -> Vec<StatusCode> {
    join_all(
        quantities
            .iter()
            .enumerate()
            .map(|(i, &quantity)| async move {
                apps[i % apps.len()]
                    .purchase(ticket, quantity)
                    .await
                    .status()
            }),
    )
    .await
}

/// Checks the books: what is left plus what was bought is the allocation,
/// and every 201 has its purchase row.
async fn assert_exact_accounting(
    db: &TestDatabase,
    app: &TestApp,
    ticket: i64,
    allocation: i64,
    sold_in_201s: i64,
) {
    let remaining = app.remaining(ticket).await;
    let recorded = db
        .count(&format!(
            "SELECT COALESCE(sum(quantity), 0)::bigint FROM purchases WHERE ticket_id = {ticket}"
        ))
        .await;
    assert_eq!(
        recorded, sold_in_201s,
        "every 201 has its purchase row, and nothing else does"
    );
    assert_eq!(remaining + recorded, allocation, "left + sold = allocation");
    assert!(remaining >= 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_concurrent_buyers_sell_exactly_the_allocation() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(100).await;

    let statuses = buy_concurrently(&[&app], ticket, &[1; 300]).await;

    let sold = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((sold, refused), (100, 200), "statuses: {statuses:?}");
    assert_eq!(app.remaining(ticket).await, 0);
    assert_exact_accounting(&db, &app, ticket, 100, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_quantities_never_oversell() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(250).await;
    let quantities: Vec<i64> = (0..200).map(|i| i % 5 + 1).collect();

    let statuses = buy_concurrently(&[&app], ticket, &quantities).await;

    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT)
    );
    let sold: i64 = quantities
        .iter()
        .zip(&statuses)
        .filter(|(_, s)| **s == StatusCode::CREATED)
        .map(|(q, _)| q)
        .sum();
    assert!(sold <= 250);
    // 600 were asked for: the only purchases refused are ones that no longer fit.
    assert!(
        app.remaining(ticket).await < 5,
        "a refused buyer could have been served"
    );
    assert_exact_accounting(&db, &app, ticket, 250, sold).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_sell_exactly_the_allocation() {
    let db = TestDatabase::create().await;
    let first = TestApp::start(&db).await;
    let second = TestApp::start(&db).await;
    let ticket = first.create_ticket(120).await;

    let statuses = buy_concurrently(&[&first, &second], ticket, &[1; 300]).await;

    let sold = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(sold, 120);
    assert_eq!(second.remaining(ticket).await, 0);
    assert_exact_accounting(&db, &first, ticket, 120, 120).await;
}
