//! Purchases as records: each 201 points at its record, and a ticket's
//! purchases can be read back a page at a time.

use std::collections::HashSet;

use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDatabase, assert_problem};

const BUYER: &str = "406c1d05-bbb2-4e94-b183-7d208c2692e1";

#[tokio::test]
async fn a_purchase_can_be_read_back_from_its_location() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(10).await;

    let response = app
        .post_json(
            &format!("/tickets/{ticket}/purchases"),
            &json!({"quantity": 4, "user_id": BUYER}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"]
        .to_str()
        .expect("ASCII")
        .to_owned();

    let record = app.get(&location).await;
    assert_eq!(record.status(), StatusCode::OK);
    let record: Value = record.json().await.expect("JSON");
    assert_eq!(
        location,
        format!(
            "/tickets/{ticket}/purchases/{}",
            record["id"].as_str().expect("an id")
        )
    );
    assert_eq!(record["ticket_id"], ticket);
    assert_eq!(record["user_id"], BUYER);
    assert_eq!(record["quantity"], 4);
    assert!(
        chrono::DateTime::parse_from_rfc3339(record["purchased_at"].as_str().expect("a time"))
            .is_ok()
    );
}

#[tokio::test]
async fn a_purchase_is_found_only_under_its_own_ticket() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(10).await;
    let other = app.create_ticket(10).await;
    let response = app.purchase(ticket, 1).await;
    let location = response.headers()["location"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let purchase_id = location.rsplit('/').next().expect("an id");

    assert_problem(
        app.get(&format!("/tickets/{other}/purchases/{purchase_id}"))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let unknown = uuid::Uuid::now_v7();
    assert_problem(
        app.get(&format!("/tickets/{ticket}/purchases/{unknown}"))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let problem = assert_problem(
        app.get(&format!("/tickets/{ticket}/purchases/nope")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(problem["errors"][0]["parameter"], "purchase_id");
}

#[tokio::test]
async fn a_tickets_purchases_are_listed_a_page_at_a_time() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(100).await;
    let other = app.create_ticket(100).await;
    for _ in 0..7 {
        assert_eq!(app.purchase(ticket, 1).await.status(), StatusCode::CREATED);
    }
    assert_eq!(app.purchase(other, 1).await.status(), StatusCode::CREATED);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = cursor
            .as_ref()
            .map_or_else(|| "?limit=3".to_owned(), |c| format!("?limit=3&cursor={c}"));
        let page: Value = app
            .get(&format!("/tickets/{ticket}/purchases{query}"))
            .await
            .json()
            .await
            .expect("JSON");
        pages += 1;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|item| item["id"].as_str().expect("an id").to_owned()),
        );
        assert!(items.iter().all(|item| item["ticket_id"] == ticket));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }

    assert_eq!(seen.len(), 7);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        7,
        "no purchase twice"
    );
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "oldest first, in id order");
}

#[tokio::test]
async fn an_unknown_tickets_purchases_are_404_and_a_new_tickets_are_empty() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    assert_problem(
        app.get("/tickets/4242/purchases").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let ticket = app.create_ticket(1).await;
    let page: Value = app
        .get(&format!("/tickets/{ticket}/purchases"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(page, json!({"items": []}));
}

#[rstest]
#[case::zero("limit=0", "limit")]
#[case::too_many("limit=201", "limit")]
#[case::not_a_number("limit=ten", "limit")]
#[case::bad_cursor("cursor=abc", "cursor")]
#[tokio::test]
async fn bad_page_parameters_are_400(#[case] query: &str, #[case] parameter: &str) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(1).await;
    let problem = assert_problem(
        app.get(&format!("/tickets/{ticket}/purchases?{query}"))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(problem["errors"][0]["parameter"], parameter);
}
