use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, TestDatabase, assert_problem};

#[tokio::test]
async fn a_purchase_takes_tickets_from_the_allocation_and_is_recorded() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(10).await;
    let buyer = "406c1d05-bbb2-4e94-b183-7d208c2692e1";

    let response = app
        .post_json(
            &format!("/tickets/{ticket}/purchases"),
            &json!({"quantity": 2, "user_id": buyer}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].clone();
    let record: serde_json::Value = response.json().await.expect("the purchase's record");
    assert_eq!(record["ticket_id"], ticket);
    assert_eq!(record["user_id"], buyer);
    assert_eq!(record["quantity"], 2);
    assert_eq!(
        location,
        format!(
            "/tickets/{ticket}/purchases/{}",
            record["id"].as_str().expect("an id")
        )
    );
    assert_eq!(app.remaining(ticket).await, 8);
    let recorded = db
        .count(&format!(
            "SELECT count(*) FROM purchases WHERE ticket_id = {ticket} AND quantity = 2 AND user_id = '{buyer}'"
        ))
        .await;
    assert_eq!(recorded, 1);
}

#[tokio::test]
async fn a_purchase_that_does_not_fit_buys_nothing_and_says_what_is_left() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(3).await;
    assert_eq!(app.purchase(ticket, 2).await.status(), StatusCode::CREATED);

    let problem = assert_problem(app.purchase(ticket, 2).await, StatusCode::CONFLICT).await;

    assert_eq!(problem["remaining"], 1);
    assert_eq!(problem["type"], "/problems/not-enough-tickets");
    assert_eq!(app.remaining(ticket).await, 1);
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 1);
}

#[tokio::test]
async fn the_whole_allocation_can_be_bought_and_no_more() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;
    assert_eq!(app.purchase(ticket, 5).await.status(), StatusCode::CREATED);
    assert_eq!(app.remaining(ticket).await, 0);
    let problem = assert_problem(app.purchase(ticket, 1).await, StatusCode::CONFLICT).await;
    assert_eq!(problem["remaining"], 0);
}

#[tokio::test]
async fn a_ticket_with_no_allocation_sells_nothing() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(0).await;
    assert_problem(app.purchase(ticket, 1).await, StatusCode::CONFLICT).await;
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 0);
}

#[tokio::test]
async fn buying_from_an_unknown_ticket_is_404_and_records_nothing() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    assert_problem(app.purchase(777, 1).await, StatusCode::NOT_FOUND).await;
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 0);
}

#[tokio::test]
async fn the_schema_refuses_what_the_service_never_does() {
    // The invariants hold in the database too, whatever code writes to it.
    // Each refused statement is otherwise valid: its twin naming the real
    // ticket is accepted.
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(1).await;
    assert_eq!(app.purchase(ticket, 1).await.status(), StatusCode::CREATED);
    let mut conn = db.connect().await;
    let purchase = |ticket: i64| {
        format!(
            "INSERT INTO purchases (id, ticket_id, user_id, quantity, seq) \
             VALUES (gen_random_uuid(), {ticket}, gen_random_uuid(), 1, 7)"
        )
    };
    let hold = |ticket: i64| {
        format!(
            "INSERT INTO holds (id, ticket_id, user_id, quantity, expires_at) \
             VALUES (gen_random_uuid(), {ticket}, gen_random_uuid(), 1, now() + interval '1 hour')"
        )
    };
    let buyer = |ticket: i64| {
        format!(
            "INSERT INTO ticket_buyers (ticket_id, user_id, bought, held, max_per_user) \
             VALUES ({ticket}, gen_random_uuid(), 1, 0, 5)"
        )
    };
    let execute = async |conn: &mut diesel_async::AsyncPgConnection, statement: &str| {
        diesel_async::RunQueryDsl::execute(diesel::sql_query(statement), conn).await
    };
    for statement in [purchase(ticket), hold(ticket), buyer(ticket)] {
        let result = execute(&mut conn, &statement).await;
        assert!(result.is_ok(), "refused {statement}: {result:?}");
    }
    for statement in [
        format!("UPDATE tickets SET remaining = -1 WHERE id = {ticket}"),
        format!("UPDATE tickets SET remaining = 2 WHERE id = {ticket}"),
        format!(
            "INSERT INTO purchases (id, ticket_id, user_id, quantity, seq) \
             VALUES (gen_random_uuid(), {ticket}, gen_random_uuid(), 0, 8)"
        ),
        // Rows that name no ticket, or would lose theirs.
        purchase(999),
        hold(999),
        buyer(999),
        "UPDATE purchases SET ticket_id = 999".to_owned(),
        "UPDATE holds SET ticket_id = 999".to_owned(),
        "UPDATE ticket_buyers SET ticket_id = 999".to_owned(),
        format!("DELETE FROM tickets WHERE id = {ticket}"),
        "TRUNCATE tickets CASCADE".to_owned(),
    ] {
        let result = execute(&mut conn, &statement).await;
        assert!(result.is_err(), "the database accepted {statement}");
    }
}
