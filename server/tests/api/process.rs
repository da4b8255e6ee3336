//! Real `tickets-server` processes for tests of what a process does: start,
//! serve, stop on a signal, crash.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::TestDatabase;

/// A `tickets-server` process listening on a port of its choosing.
pub struct Replica {
    process: Child,
    pub address: String,
}

impl Replica {
    pub async fn start(db: &TestDatabase) -> Self {
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

    /// Creates a ticket with `allocation` through this process; returns its id.
    pub async fn create_ticket(&self, allocation: i64) -> i64 {
        let created: Value = reqwest::Client::new()
            .post(format!("{}/tickets", self.address))
            .json(&serde_json::json!({"name": "replica", "desc": "", "allocation": allocation}))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("JSON");
        created["id"].as_i64().expect("an id")
    }

    /// Kills the process with SIGKILL, as a crash would, and waits for it.
    pub async fn kill(mut self) {
        self.signal("-KILL").await;
        let _ = self.process.wait().await;
    }

    async fn signal(&self, signal: &str) {
        let pid = self.process.id().expect("running").to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .await
            .expect("kill");
        assert!(sent.success(), "kill {signal} {pid}");
    }

    /// Sends SIGTERM and returns whether the process then exited cleanly.
    pub async fn terminate(mut self) -> bool {
        self.signal("-TERM").await;
        let status = tokio::time::timeout(Duration::from_secs(15), self.process.wait())
            .await
            .expect("exited within 15 s of SIGTERM")
            .expect("exit status");
        status.success()
    }
}
