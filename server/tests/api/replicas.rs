//! Several `tickets-server` processes on one database, as replicas behind a
//! load balancer run: purchases through all of them stay exact, and each
//! stops cleanly on SIGTERM.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestDatabase;
use crate::process::Replica;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_server_processes_on_one_database_sell_exactly_the_allocation() {
    let db = TestDatabase::create().await;
    let replicas = join_all((0..3).map(|_| Replica::start(&db))).await;
    let client = reqwest::Client::new();

    let ticket = replicas[0].create_ticket(150).await;

    let statuses = join_all((0..450).map(|i| {
        let url = format!("{}/tickets/{ticket}/purchases", replicas[i % 3].address);
        let client = client.clone();
        async move {
            let body = json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()});
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("sent")
                .status()
        }
    }))
    .await;

    let sold = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((sold, refused), (150, 300), "statuses: {statuses:?}");
    assert_eq!(
        db.count(&format!(
            "SELECT sum(quantity) FROM purchases WHERE ticket_id = {ticket}"
        ))
        .await,
        150
    );
    assert_eq!(
        db.count(&format!(
            "SELECT remaining::bigint FROM tickets WHERE id = {ticket}"
        ))
        .await,
        0
    );

    for replica in replicas {
        assert!(
            replica.terminate().await,
            "a replica exited uncleanly on SIGTERM"
        );
    }
}
