//! Real `tickets-server` processes for tests of what a process does: start,
//! serve, stop on a signal, crash.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::TestDatabase;

/// A `tickets-server` process listening on a port of its choosing.
pub struct Replica {
    process: Child,
    pub address: String,
    /// The lines it logged after it listened, as JSON.
    log: Arc<Mutex<Vec<Value>>>,
}

/// A `tickets-server` command against `db`, with `env` on top of the tests'
/// settings.
fn server_command(db: &TestDatabase, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tickets-server"));
    command
        .env("DATABASE_URL", &db.url)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("DATABASE_POOL_SIZE", "4")
        .env("RUST_LOG", "info")
        // Until the operations check credentials (docs/AUTH.md).
        .env("AUTH_MODE", "open")
        // Every test client is 127.0.0.1: rate_limits.rs tests the limits.
        .env("RATE_LIMITS", "off")
        .env_remove("LOG_FORMAT")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `tickets-server` with `env` until it exits (it must, within 30 s);
/// returns its exit code and what it wrote to stderr.
pub async fn run_to_exit(db: &TestDatabase, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = tokio::time::timeout(Duration::from_secs(30), server_command(db, env).output())
        .await
        .expect("tickets-server exited within 30 s")
        .expect("tickets-server ran");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

impl Replica {
    pub async fn start(db: &TestDatabase) -> Self {
        Self::start_with(db, &[]).await
    }

    /// Starts a replica with `env` on top of the tests' settings.
    pub async fn start_with(db: &TestDatabase, env: &[(&str, &str)]) -> Self {
        let mut process = server_command(db, env)
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
        // Keep reading the log so the process never blocks on a full pipe.
        let log = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let event = serde_json::from_str(&line).unwrap_or(Value::String(line));
                kept.lock().expect("the log").push(event);
            }
        });
        Self {
            process,
            address,
            log,
        }
    }

    /// The lines logged so far while serving the request `request_id`.
    pub fn logged_for(&self, request_id: &str) -> Vec<Value> {
        self.log
            .lock()
            .expect("the log")
            .iter()
            .filter(|event| event["request_id"] == request_id)
            .cloned()
            .collect()
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

    /// The process's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let pid = self.process.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
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
    pub async fn terminate(self) -> bool {
        self.sigterm().await;
        self.exited_cleanly().await
    }

    /// Sends SIGTERM, as an orchestrator stopping the server would.
    pub async fn sigterm(&self) {
        self.signal("-TERM").await;
    }

    /// Waits (at most 15 s) for the process to exit; whether it exited 0.
    pub async fn exited_cleanly(mut self) -> bool {
        let status = tokio::time::timeout(Duration::from_secs(15), self.process.wait())
            .await
            .expect("exited within 15 s of SIGTERM")
            .expect("exit status");
        status.success()
    }
}
