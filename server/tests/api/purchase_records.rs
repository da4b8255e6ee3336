//! Purchases as records: each 201 points at its record, and a ticket's
//! purchases can be read back a page at a time.

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

/// Every purchase of `ticket`, following `next_cursor` with pages of
/// `limit`; also returns how many pages were fetched.
async fn list_all(app: &TestApp, ticket: i64, limit: u32) -> (Vec<Value>, usize) {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = cursor.as_ref().map_or_else(
            || format!("?limit={limit}"),
            |c| format!("?limit={limit}&cursor={c}"),
        );
        let response = app
            .get(&format!("/tickets/{ticket}/purchases{query}"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.expect("JSON");
        pages += 1;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= limit as usize);
        seen.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 1000, "pagination does not end");
    }
    (seen, pages)
}

/// Buys `count` single tickets of `ticket` one after another; returns the
/// purchase ids in the order their 201s came back.
async fn buy_in_turn(app: &TestApp, ticket: i64, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..count {
        let response = app.purchase(ticket, 1).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let record: Value = response.json().await.expect("JSON");
        ids.push(record["id"].as_str().expect("an id").to_owned());
    }
    ids
}

#[tokio::test]
async fn a_tickets_purchases_are_listed_a_page_at_a_time_in_the_order_they_were_made() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(100).await;
    let other = app.create_ticket(100).await;
    let made = buy_in_turn(&app, ticket, 7).await;
    assert_eq!(app.purchase(other, 1).await.status(), StatusCode::CREATED);

    let (listed, pages) = list_all(&app, ticket, 3).await;

    assert_eq!(pages, 3);
    assert!(listed.iter().all(|item| item["ticket_id"] == ticket));
    let listed: Vec<&str> = listed
        .iter()
        .map(|item| item["id"].as_str().expect("an id"))
        .collect();
    assert_eq!(listed, made, "every purchase once, in the order made");
}

#[rstest]
#[case::exactly_full(4, 4, 1)]
#[case::two_full_pages(8, 4, 2)]
#[case::one_more(5, 4, 2)]
#[tokio::test]
async fn the_last_page_has_no_cursor(
    #[case] purchases: usize,
    #[case] limit: u32,
    #[case] pages: usize,
) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(100).await;
    buy_in_turn(&app, ticket, purchases).await;

    let (listed, fetched) = list_all(&app, ticket, limit).await;

    assert_eq!(listed.len(), purchases);
    assert_eq!(fetched, pages, "no empty page after the last one");
}

#[rstest]
#[case::zero("0", 3)]
#[case::past_the_end("999999999999999999", 0)]
#[case::leading_zeros("00001", 2)]
#[tokio::test]
async fn any_cursor_the_spec_allows_is_a_place_in_the_list(
    #[case] cursor: &str,
    #[case] items: usize,
) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(100).await;
    buy_in_turn(&app, ticket, 3).await;
    let response = app
        .get(&format!("/tickets/{ticket}/purchases?cursor={cursor}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.expect("JSON");
    assert_eq!(page["items"].as_array().expect("items").len(), items);
    assert!(page.get("next_cursor").is_none());
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
#[case::letters("cursor=abc", "cursor")]
#[case::negative("cursor=-1", "cursor")]
#[case::ninety_nine_zeros(&format!("cursor={}", "0".repeat(99)), "cursor")]
#[case::a_purchase_id("cursor=0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", "cursor")]
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
