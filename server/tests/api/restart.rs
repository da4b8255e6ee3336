//! A database restart ends every connection the server holds. The server
//! must notice before a request uses one: the first requests after it are
//! served, and a replica idle through it stays healthy.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;

use crate::helpers::{TestApp, TestDatabase};

/// Ends every session of the test database as a restart does: PostgreSQL
/// sends each the same FATAL (57P01, "terminating connection due to
/// administrator command") before closing it.
pub async fn end_every_connection(db: &TestDatabase) {
    db.admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{db}' AND pid <> pg_backend_pid()",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_ended_by_the_database_are_replaced_before_a_request_uses_them() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(1000).await;
    // Fill the pool with connections, as traffic would.
    let path = format!("/tickets/{ticket}");
    let warm = join_all((0..40).map(|_| app.get(&path))).await;
    assert!(warm.iter().all(|r| r.status() == StatusCode::OK));

    end_every_connection(&db).await;
    // The server hears of it at once; a request comes a moment later.
    tokio::time::sleep(Duration::from_millis(200)).await;

    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    }
    let reads = join_all((0..40).map(|_| app.get(&path))).await;
    let statuses: Vec<StatusCode> = reads.iter().map(reqwest::Response::status).collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let purchases = join_all((0..20).map(|_| app.purchase(ticket, 1))).await;
    let statuses: Vec<StatusCode> = purchases.iter().map(reqwest::Response::status).collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    assert_eq!(app.remaining(ticket).await, 980);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_idle_through_a_restart_answers_its_first_health_check() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    // Past the window in which a health check trusts the last answer.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    end_every_connection(&db).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}
