use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDatabase, assert_problem};

#[tokio::test]
async fn health_is_ok_while_the_database_answers() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.expect("JSON"),
        json!({"status": "ok"})
    );
}

#[tokio::test]
async fn without_the_database_the_service_answers_503_then_recovers() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, |config| {
        config.connect_timeout = std::time::Duration::from_millis(500);
    })
    .await;
    let ticket = app.create_ticket(5).await;

    // Refuse new connections to the test database and cut the open ones.
    db.admin("ALTER DATABASE {db} ALLOW_CONNECTIONS false")
        .await;
    db.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'")
        .await;

    // Alive all the same: a liveness probe restarts no replica for this.
    let alive = app.get("/livez").await;
    assert_eq!(alive.status(), StatusCode::OK);
    assert_eq!(
        alive.json::<Value>().await.expect("JSON"),
        json!({"status": "ok"})
    );
    let health = app.get("/healthz").await;
    assert_eq!(health.headers()["retry-after"], "1");
    let problem = assert_problem(health, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(problem["type"], "/problems/service-unavailable");
    assert_problem(
        app.purchase(ticket, 1).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_problem(
        app.get(&format!("/tickets/{ticket}")).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;

    db.admin("ALTER DATABASE {db} ALLOW_CONNECTIONS true").await;

    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(app.purchase(ticket, 1).await.status(), StatusCode::CREATED);
    assert_eq!(app.remaining(ticket).await, 4);
}
