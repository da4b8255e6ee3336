//! Stopping: requests in flight finish, keep-alive clients are told to go.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, TestDatabase};
use crate::process::Replica;
use crate::raw_http::RawConnection;

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

/// SIGTERM while keep-alive clients keep buying, reconnecting whenever the
/// server closes a connection (as load generators and pooled clients do):
/// every request sent on a connection is answered, with `Connection: close`
/// telling the client to go; none has its connection cut. Only new
/// connections are refused, once the server has stopped listening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_keep_alive_clients_to_go_rather_than_cutting_them_off() {
    let db = TestDatabase::create().await;
    let replica = Replica::start(&db).await;
    let ticket = replica.create_ticket(1_000_000).await;
    let clients: Vec<_> = (0..32)
        .map(|_| {
            let base = replica.address.clone();
            tokio::spawn(async move {
                let body = json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()}).to_string();
                let path = format!("/tickets/{ticket}/purchases");
                let mut answered = 0;
                // Until the server refuses to connect.
                while let Ok(mut connection) = RawConnection::open(&base).await {
                    loop {
                        match connection.post_json(&path, &body).await {
                            Ok(answer) => {
                                assert_eq!(answer.status, 201);
                                answered += 1;
                                if answer.closes() {
                                    break;
                                }
                                // A client thinks a moment between requests:
                                // its connection sits idle, as real ones do.
                                tokio::time::sleep(Duration::from_millis(2)).await;
                            }
                            Err(error) => {
                                return Err(format!("after {answered} answers: {error}"));
                            }
                        }
                    }
                }
                Ok(answered)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    replica.sigterm().await;
    let outcomes: Vec<Result<u32, String>> = futures::future::join_all(clients)
        .await
        .into_iter()
        .map(|client| client.expect("client task"))
        .collect();

    assert!(
        replica.exited_cleanly().await,
        "the server exited uncleanly"
    );
    let cut: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(cut.is_empty(), "connections cut instead of closed: {cut:?}");
    let answered: u32 = outcomes.iter().flatten().sum();
    let rows = db
        .count(&format!(
            "SELECT count(*) FROM purchases WHERE ticket_id = {ticket}"
        ))
        .await;
    assert_eq!(
        rows,
        i64::from(answered),
        "every 201 has its row, and no other row"
    );
}
