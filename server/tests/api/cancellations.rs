//! Cancelling a purchase gives its tickets back once and keeps its record.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, TestDatabase, assert_books_balance, assert_problem};

async fn bought(app: &TestApp, ticket: i64, quantity: i64) -> Value {
    let response = app.purchase(ticket, quantity).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.expect("the purchase")
}

fn cancel_path(purchase: &Value) -> String {
    format!(
        "/tickets/{}/purchases/{}/cancel",
        purchase["ticket_id"],
        purchase["id"].as_str().expect("an id")
    )
}

#[tokio::test]
async fn a_cancellation_gives_the_tickets_back_once_and_keeps_the_record() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;
    let purchase = bought(&app, ticket, 3).await;
    assert!(purchase.get("cancelled_at").is_none());

    let first = app.post_empty(&cancel_path(&purchase)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let cancelled: Value = first.json().await.expect("the record");
    assert!(cancelled["cancelled_at"].is_string(), "{cancelled}");
    assert_eq!(cancelled["id"], purchase["id"]);
    assert_eq!(app.remaining(ticket).await, 5);

    let again = app.post_empty(&cancel_path(&purchase)).await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "cancelling twice is no error"
    );
    assert_eq!(again.json::<Value>().await.expect("the record"), cancelled);
    assert_eq!(app.remaining(ticket).await, 5, "nothing given back twice");

    let record: Value = app
        .get(&format!(
            "/tickets/{ticket}/purchases/{}",
            purchase["id"].as_str().expect("id")
        ))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(record["cancelled_at"], cancelled["cancelled_at"]);
    let page: Value = app
        .get(&format!("/tickets/{ticket}/purchases"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(page["items"][0]["cancelled_at"], cancelled["cancelled_at"]);
    let availability = app.ticket(ticket).await;
    assert_eq!(availability["sold"], 0);
    assert_books_balance(&db).await;
}

#[tokio::test]
async fn a_purchase_is_cancelled_only_under_its_own_ticket() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;
    let other = app.create_ticket(5).await;
    let purchase = bought(&app, ticket, 2).await;
    let id = purchase["id"].as_str().expect("an id");

    assert_problem(
        app.post_empty(&format!("/tickets/{other}/purchases/{id}/cancel"))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        app.post_empty(&format!(
            "/tickets/{ticket}/purchases/{}/cancel",
            uuid::Uuid::now_v7()
        ))
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let problem = assert_problem(
        app.post_empty(&format!("/tickets/{ticket}/purchases/nope/cancel"))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(problem["errors"][0]["parameter"], "purchase_id");
    assert_eq!(app.remaining(ticket).await, 3);
}

#[tokio::test]
async fn a_confirmed_hold_is_cancelled_as_its_purchase() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(4).await;
    let hold: Value = app.hold(ticket, 4, None).await.json().await.expect("JSON");
    let confirm = format!(
        "/tickets/{ticket}/holds/{}/confirm",
        hold["id"].as_str().expect("id")
    );
    let purchase: Value = app.post_empty(&confirm).await.json().await.expect("JSON");

    let released = app
        .delete(&format!(
            "/tickets/{ticket}/holds/{}",
            hold["id"].as_str().expect("id")
        ))
        .await;
    let problem = assert_problem(released, StatusCode::CONFLICT).await;
    assert_eq!(problem["type"], "/problems/hold-confirmed");

    assert_eq!(
        app.post_empty(&cancel_path(&purchase)).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.remaining(ticket).await, 4);
    assert_books_balance(&db).await;
}
