use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDatabase, assert_problem};

#[rstest]
#[case::create("/tickets")]
#[case::deprecated_alias("/ticketsuser")]
#[tokio::test]
async fn creating_a_ticket_returns_it_with_its_location(#[case] route: &str) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;

    let response = app
        .post_json(
            route,
            &json!({"name": "example", "desc": "sample description", "allocation": 100}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["content-type"], "application/json");
    let location = response.headers()["location"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let created: Value = response.json().await.expect("JSON body");
    let id = created["id"].as_i64().expect("an id");
    assert!(id >= 1);
    assert_eq!(location, format!("/tickets/{id}"));
    assert_eq!(
        created,
        json!({
            "id": id, "name": "example", "desc": "sample description",
            "allocation": 100, "total": 100, "sold": 0, "held": 0,
        })
    );

    let read = app.get(&location).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.json::<Value>().await.expect("JSON body"), created);
}

#[tokio::test]
async fn each_ticket_gets_its_own_id() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let first = app.create_ticket(1).await;
    let second = app.create_ticket(2).await;
    assert_ne!(first, second);
    assert_eq!(app.remaining(first).await, 1);
    assert_eq!(app.remaining(second).await, 2);
}

#[tokio::test]
async fn an_unknown_ticket_is_404() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let problem = assert_problem(app.get("/tickets/424242").await, StatusCode::NOT_FOUND).await;
    assert_eq!(problem["detail"], "No ticket has id 424242");
}

#[rstest]
#[case::zero("0")]
#[case::negative("-1")]
#[case::text("abc")]
#[case::fraction("1.5")]
#[case::beyond_bigint("9223372036854775808")]
#[case::beyond_u64("18446744073709551616")]
#[tokio::test]
async fn an_id_that_is_not_a_positive_int64_is_400(#[case] id: &str) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let problem = assert_problem(
        app.get(&format!("/tickets/{id}")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(problem["errors"][0]["parameter"], "id");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    assert_problem(app.get("/nowhere").await, StatusCode::NOT_FOUND).await;
    let response = app
        .client
        .delete(app.url("/tickets/1"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .expect("sent");
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-123");
    let generated = app.get("/tickets/999").await;
    assert!(
        uuid::Uuid::parse_str(generated.headers()["x-request-id"].to_str().expect("ASCII")).is_ok()
    );
}
