//! The access log as shipped (`RUST_LOG=info`): every answer of 400 or more
//! has a line with its request id, so an operator holding the id from a
//! client's error report finds it; a fast success has none unless sampled.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestDatabase;
use crate::process::Replica;
use crate::raw_http::RawConnection;

/// The lines logged for `request_id`, once at least one is (within 5 s:
/// lines leave through a writer thread).
async fn lines_for(replica: &Replica, request_id: &str) -> Vec<Value> {
    for _ in 0..50 {
        let lines = replica.logged_for(request_id);
        if !lines.is_empty() {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing was logged for {request_id}");
}

async fn purchase(replica: &Replica, ticket: i64, quantity: i64, request_id: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{}/tickets/{ticket}/purchases", replica.address))
        .header("x-request-id", request_id)
        .json(&json!({"quantity": quantity, "user_id": uuid::Uuid::new_v4()}))
        .send()
        .await
        .expect("sent")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_logged_with_its_request_id_and_fast_successes_are_not() {
    let db = TestDatabase::create().await;
    let replica = Replica::start_with(&db, &[("ACCESS_LOG_SAMPLE", "0")]).await;
    let ticket = replica.create_ticket(10).await;

    for i in 0..10 {
        assert_eq!(
            purchase(&replica, ticket, 1, &format!("bought-{i}")).await,
            StatusCode::CREATED
        );
    }
    assert_eq!(
        purchase(&replica, ticket, 1, "sold-out").await,
        StatusCode::CONFLICT
    );
    let missing = reqwest::Client::new()
        .get(format!("{}/tickets/999999", replica.address))
        .header("x-request-id", "no-such-ticket")
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // A request hyper refuses before the service sees it gets an id of the
    // server's making, which the client reads from the answer.
    let mut connection = RawConnection::open(&replica.address).await.expect("open");
    let garbled = connection
        .exchange(b"NOT HTTP AT ALL\r\n\r\n")
        .await
        .expect("an answer");
    assert_eq!(garbled.status, 400);
    let garbled_id = garbled.header("x-request-id").expect("an id").to_owned();

    for (request_id, status) in [("sold-out", 409), ("no-such-ticket", 404)] {
        let lines = lines_for(&replica, request_id).await;
        let handled = lines
            .iter()
            .find(|line| line["message"] == "request handled")
            .unwrap_or_else(|| panic!("no access line for {request_id}: {lines:?}"));
        assert_eq!(handled["status"], status);
        assert_eq!(handled["level"], "INFO");
        assert!(handled["elapsed_us"].is_u64());
        assert!(handled["path"].is_string());
    }
    let refused = lines_for(&replica, &garbled_id).await;
    assert_eq!(refused[0]["status"], 400, "{refused:?}");

    // The refusals' lines are out, and those of the purchases before them
    // would have left first: none was written.
    for i in 0..10 {
        let lines = replica.logged_for(&format!("bought-{i}"));
        assert!(lines.is_empty(), "a fast success was logged: {lines:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_success_is_logged_at_info() {
    let db = TestDatabase::create().await;
    let replica = Replica::start_with(&db, &[("ACCESS_LOG_SAMPLE", "1")]).await;
    let ticket = replica.create_ticket(10).await;

    assert_eq!(
        purchase(&replica, ticket, 1, "sampled").await,
        StatusCode::CREATED
    );

    let lines = lines_for(&replica, "sampled").await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["message"], "request handled");
    assert_eq!(lines[0]["status"], 201);
    assert_eq!(lines[0]["level"], "INFO");
}
