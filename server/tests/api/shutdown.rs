use std::time::Duration;

use diesel_async::{AsyncConnection, RunQueryDsl};
use reqwest::StatusCode;

use crate::helpers::{TestApp, TestDatabase};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_lets_requests_in_flight_finish() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;

    // Hold the ticket's row lock so that a purchase stays in flight.
    let mut blocker = db.connect().await;
    blocker.begin_test_transaction().await.expect("BEGIN");
    diesel::sql_query(format!(
        "SELECT id FROM tickets WHERE id = {ticket} FOR UPDATE"
    ))
    .execute(&mut blocker)
    .await
    .expect("locking the ticket");

    let in_flight = tokio::spawn({
        let (client, url) = (
            app.client.clone(),
            app.url(&format!("/tickets/{ticket}/purchases")),
        );
        async move {
            let body = serde_json::json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()});
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status())
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let address = app.url("/healthz");
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert!(
        !stopping.is_finished(),
        "the server stopped with a request in flight"
    );
    assert!(
        reqwest::get(&address).await.is_err(),
        "a stopping server took a new connection"
    );

    drop(blocker); // rolls back and releases the lock
    assert_eq!(
        in_flight.await.expect("task").expect("answered"),
        StatusCode::CREATED
    );
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("the server stopped once the request was done")
        .expect("task");
}
