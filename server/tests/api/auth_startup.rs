//! The server's start with and without authentication settings: it refuses
//! to start without any, says what to set, and warns in open mode.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::TestDatabase;
use crate::oidc_provider::{JwksFile, TestKey};

const AUTH_VARIABLES: [&str; 4] = [
    "AUTH_MODE",
    "OIDC_ISSUER",
    "OIDC_AUDIENCE",
    "OIDC_JWKS_FILE",
];

fn server(db: &TestDatabase, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tickets-server"));
    for name in AUTH_VARIABLES {
        command.env_remove(name);
    }
    command
        .env("DATABASE_URL", &db.url)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env_remove("LOG_FORMAT")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn exits(db: &TestDatabase, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = tokio::time::timeout(Duration::from_secs(30), server(db, env).output())
        .await
        .expect("exited within 30 s")
        .expect("ran");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Starts the server with `env` and returns the log lines written before it
/// listened; the process is stopped.
async fn log_until_listening(db: &TestDatabase, env: &[(&str, &str)]) -> Vec<Value> {
    let mut process = server(db, env).spawn().expect("started");
    let mut lines = BufReader::new(process.stderr.take().expect("stderr")).lines();
    let log = tokio::time::timeout(Duration::from_secs(30), async {
        let mut log = Vec::new();
        while let Some(line) = lines.next_line().await.expect("the log") {
            let event: Value = serde_json::from_str(&line).unwrap_or(Value::String(line));
            let listening = event["message"] == "listening";
            log.push(event);
            if listening {
                return log;
            }
        }
        panic!("exited before listening: {log:?}");
    })
    .await
    .expect("listened within 30 s");
    process.kill().await.expect("stopped");
    log
}

#[tokio::test]
async fn without_auth_settings_the_server_refuses_to_start_and_says_what_to_set() {
    let db = TestDatabase::create().await;
    for env in [
        &[][..],
        &[("AUTH_MODE", "")],
        &[("OIDC_AUDIENCE", "tickets-api")],
    ] {
        let (code, stderr) = exits(&db, env).await;
        assert_eq!(code, Some(2), "{env:?}: {stderr}");
        for says in ["OIDC_ISSUER", "OIDC_AUDIENCE", "AUTH_MODE=open"] {
            assert!(
                stderr.contains(says),
                "{env:?}: {stderr} does not say {says}"
            );
        }
    }
    let (code, stderr) = exits(&db, &[("AUTH_MODE", "off")]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("AUTH_MODE"), "{stderr}");
}

#[tokio::test]
async fn open_mode_starts_with_a_warning() {
    let db = TestDatabase::create().await;
    let log = log_until_listening(&db, &[("AUTH_MODE", "open")]).await;
    assert!(
        log.iter().any(|event| event["level"] == "WARN"
            && event["message"]
                .as_str()
                .is_some_and(|m| m.contains("AUTH_MODE=open"))),
        "{log:?}"
    );
}

/// With OIDC settings the server starts, without the open-mode warning;
/// an unusable keys file stops it and names itself.
#[tokio::test]
async fn oidc_settings_start_the_server_and_a_bad_keys_file_stops_it() {
    let db = TestDatabase::create().await;
    let key = TestKey::generate("k1");
    let file = JwksFile::write(&[&key]);
    let path = file.path.to_string_lossy().into_owned();
    let log = log_until_listening(
        &db,
        &[
            ("OIDC_ISSUER", "https://id.example.com"),
            ("OIDC_AUDIENCE", "tickets-api"),
            ("OIDC_JWKS_FILE", path.as_str()),
        ],
    )
    .await;
    assert!(
        !log.iter().any(|event| event["message"]
            .as_str()
            .is_some_and(|m| m.contains("AUTH_MODE=open"))),
        "{log:?}"
    );

    let (code, stderr) = exits(
        &db,
        &[
            ("OIDC_ISSUER", "https://id.example.com"),
            ("OIDC_AUDIENCE", "tickets-api"),
            ("OIDC_JWKS_FILE", "/nonexistent/jwks.json"),
        ],
    )
    .await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("OIDC_JWKS_FILE"), "{stderr}");
}
