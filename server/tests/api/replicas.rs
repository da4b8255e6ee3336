//! Several `tickets-server` processes on one database, as replicas behind a
//! load balancer run: purchases through all of them stay exact, and each
//! stops cleanly on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::TestDatabase;

/// A `tickets-server` process listening on a port of its choosing.
struct Replica {
    process: Child,
    address: String,
}

impl Replica {
    async fn start(db: &TestDatabase) -> Self {
        let mut process = Command::new(env!("CARGO_BIN_EXE_tickets-server"))
            .env("DATABASE_URL", &db.url)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("DATABASE_POOL_SIZE", "4")
            .env("RUST_LOG", "info")
            .env_remove("LOG_FORMAT")
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting tickets-server");
        let mut lines = BufReader::new(process.stderr.take().expect("stderr")).lines();
        let address = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("reading the log") {
                let event: Value = serde_json::from_str(&line).unwrap_or_default();
                if event["message"] == "listening" {
                    return format!("http://{}", event["addr"].as_str().expect("an address"));
                }
            }
            panic!("tickets-server exited before listening");
        })
        .await
        .expect("tickets-server listened within 30 s");
        // Keep draining the log so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { process, address }
    }

    /// Sends SIGTERM and returns whether the process then exited cleanly.
    async fn terminate(mut self) -> bool {
        let pid = self.process.id().expect("running").to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill");
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(15), self.process.wait())
            .await
            .expect("exited within 15 s of SIGTERM")
            .expect("exit status");
        status.success()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_server_processes_on_one_database_sell_exactly_the_allocation() {
    let db = TestDatabase::create().await;
    let replicas = join_all((0..3).map(|_| Replica::start(&db))).await;
    let client = reqwest::Client::new();

    let created: Value = client
        .post(format!("{}/tickets", replicas[0].address))
        .json(&json!({"name": "on-sale", "desc": "", "allocation": 150}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    let ticket = created["id"].as_i64().expect("an id");

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
