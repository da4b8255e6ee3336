//! Per-purchase and per-buyer limits: refused with the limit named and what
//! the buyer may still get, counting purchases and live holds, exact under
//! concurrency across servers.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDatabase, assert_books_balance, assert_problem};

const BUYER: &str = "406c1d05-bbb2-4e94-b183-7d208c2692e1";

async fn limited_ticket(
    app: &TestApp,
    allocation: i64,
    per_purchase: Option<i64>,
    per_user: Option<i64>,
) -> i64 {
    let mut body = json!({"name": "limited", "desc": "", "allocation": allocation});
    if let Some(max) = per_purchase {
        body["max_per_purchase"] = json!(max);
    }
    if let Some(max) = per_user {
        body["max_per_user"] = json!(max);
    }
    let response = app.post_json("/tickets", &body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("JSON");
    assert_eq!(
        created.get("max_per_purchase"),
        body.get("max_per_purchase")
    );
    assert_eq!(created.get("max_per_user"), body.get("max_per_user"));
    created["id"].as_i64().expect("an id")
}

async fn buy(app: &TestApp, ticket: i64, quantity: i64) -> reqwest::Response {
    app.post_json(
        &format!("/tickets/{ticket}/purchases"),
        &json!({"quantity": quantity, "user_id": BUYER}),
    )
    .await
}

async fn hold(app: &TestApp, ticket: i64, quantity: i64) -> reqwest::Response {
    app.post_json(
        &format!("/tickets/{ticket}/holds"),
        &json!({"quantity": quantity, "user_id": BUYER}),
    )
    .await
}

async fn refused(response: reqwest::Response, limit: &str, for_buyer: i64) {
    let problem = assert_problem(response, StatusCode::CONFLICT).await;
    assert_eq!(problem["type"], "/problems/limit-exceeded");
    assert_eq!(problem["limit"], limit);
    assert_eq!(problem["remaining_for_buyer"], for_buyer, "{problem}");
}

#[tokio::test]
async fn more_than_the_per_purchase_limit_at_once_is_refused() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = limited_ticket(&app, 100, Some(4), None).await;
    refused(buy(&app, ticket, 5).await, "max_per_purchase", 4).await;
    refused(hold(&app, ticket, 5).await, "max_per_purchase", 4).await;
    assert_eq!(buy(&app, ticket, 4).await.status(), StatusCode::CREATED);
    assert_eq!(hold(&app, ticket, 4).await.status(), StatusCode::CREATED);
    assert_eq!(app.remaining(ticket).await, 92);
}

#[tokio::test]
async fn the_per_buyer_limit_counts_purchases_and_live_holds() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = limited_ticket(&app, 100, None, Some(4)).await;
    let purchase: Value = buy(&app, ticket, 2).await.json().await.expect("JSON");
    let held: Value = hold(&app, ticket, 1).await.json().await.expect("JSON");

    refused(buy(&app, ticket, 2).await, "max_per_user", 1).await;
    refused(hold(&app, ticket, 2).await, "max_per_user", 1).await;
    assert_eq!(buy(&app, ticket, 1).await.status(), StatusCode::CREATED);
    refused(buy(&app, ticket, 1).await, "max_per_user", 0).await;

    // Another buyer is not limited by this one.
    assert_eq!(app.purchase(ticket, 4).await.status(), StatusCode::CREATED);
    // A released hold and a cancelled purchase no longer count.
    let release = format!(
        "/tickets/{ticket}/holds/{}",
        held["id"].as_str().expect("id")
    );
    assert_eq!(app.delete(&release).await.status(), StatusCode::NO_CONTENT);
    let cancel = format!(
        "/tickets/{ticket}/purchases/{}/cancel",
        purchase["id"].as_str().expect("id")
    );
    assert_eq!(app.post_empty(&cancel).await.status(), StatusCode::OK);
    assert_eq!(buy(&app, ticket, 3).await.status(), StatusCode::CREATED);
    refused(buy(&app, ticket, 1).await, "max_per_user", 0).await;
    assert_books_balance(&db).await;
}

/// 64 requests of one buyer at once, through two servers, half purchases
/// and half holds: exactly the limit is granted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_buyer_limit_is_exact_under_concurrency_across_servers() {
    let db = TestDatabase::create().await;
    let first = TestApp::start(&db).await;
    let second = TestApp::start(&db).await;
    let ticket = limited_ticket(&first, 1000, None, Some(5)).await;

    let statuses = join_all((0..64).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        async move {
            if i % 4 < 2 {
                buy(app, ticket, 1).await.status()
            } else {
                hold(app, ticket, 1).await.status()
            }
        }
    }))
    .await;

    let granted = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(granted, 5, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| matches!(*s, StatusCode::CREATED | StatusCode::CONFLICT))
    );
    assert_books_balance(&db).await;
}
