use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{TestApp, TestDatabase};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_lets_requests_in_flight_finish() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;

    // Hold the ticket's row lock so that a purchase stays in flight.
    let blocker = db.lock_ticket(ticket).await;

    let in_flight = app.spawn_purchase(ticket);
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
