//! More clients or requests than the server takes: health probes and new
//! clients are still served, a full queue refuses at once, a request gives
//! up waiting for the database at the stated deadline, and a rush leaves no
//! memory behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::chaos_proxy::ChaosProxy;
use crate::helpers::{TestApp, TestDatabase, assert_problem};
use crate::process::Replica;
use crate::raw_http::RawConnection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_served_one_request_each() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, |config| config.max_connections = 2).await;

    // Two keep-alive connections, each answered once and left open: every
    // kept place is taken.
    let mut kept = Vec::new();
    for _ in 0..2 {
        let mut connection = RawConnection::open(&app.address).await.expect("connected");
        let answer = connection.get("/healthz").await.expect("answered");
        assert!(
            !answer.closes(),
            "a connection within the cap is kept alive"
        );
        kept.push(connection);
    }

    let started = Instant::now();
    let mut third = RawConnection::open(&app.address).await.expect("connected");
    let answer = third.get("/healthz").await.expect("answered");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, br#"{"status":"ok"}"#);
    assert!(
        answer.closes(),
        "past the cap, one request and the connection closes"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        third.get("/healthz").await.is_err(),
        "a second request on that connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_probes_are_answered_at_once_while_busy_clients_hold_every_place() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, |config| config.max_connections = 8).await;
    let ticket = app.create_ticket(1_000_000).await;
    let stop = Arc::new(AtomicBool::new(false));
    // Far more busy keep-alive clients than places.
    let clients: Vec<_> = (0..48)
        .map(|_| {
            let (base, stop) = (app.address.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let body = json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()}).to_string();
                let path = format!("/tickets/{ticket}/purchases");
                while !stop.load(Ordering::SeqCst) {
                    let Ok(mut connection) = RawConnection::open(&base).await else {
                        continue;
                    };
                    while !stop.load(Ordering::SeqCst) {
                        match connection.post_json(&path, &body).await {
                            Ok(answer) if !answer.closes() => {}
                            _ => break,
                        }
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let mut probe = RawConnection::open(&app.address).await.expect("connected");
        let answer = probe.get("/healthz").await.expect("answered");
        assert_eq!(answer.status, 200);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.expect("client");
    }
    assert!(
        slowest < Duration::from_millis(500),
        "a probe took {slowest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_at_once_and_what_it_took_completes() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, |config| config.queue_depth = 4).await;
    let ticket = app.create_ticket(100).await;
    // A batch that waits on the ticket's row lock, and four purchases
    // waiting behind it: the queue is full.
    let blocker = db.lock_ticket(ticket).await;
    let in_batch = app.spawn_purchase(ticket);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting: Vec<_> = (0..4).map(|_| app.spawn_purchase(ticket)).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let refused = app.purchase(ticket, 1).await;
    let took = started.elapsed();
    assert_eq!(refused.headers()["retry-after"], "1");
    let problem = assert_problem(refused, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(took < Duration::from_millis(300), "refused after {took:?}");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("waiting"),
        "{problem}"
    );

    drop(blocker);
    assert_eq!(
        in_batch.await.expect("task").expect("answered"),
        StatusCode::CREATED
    );
    for purchase in waiting {
        assert_eq!(
            purchase.await.expect("task").expect("answered"),
            StatusCode::CREATED
        );
    }
    assert_eq!(app.remaining(ticket).await, 95);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_down_every_request_gives_up_at_the_connect_timeout() {
    let db = TestDatabase::create().await;
    let proxy = ChaosProxy::start(crate::faults::database_address(&db.url)).await;
    let connect_timeout = Duration::from_millis(800);
    let app = TestApp::start_with(&db, |config| {
        config.database_url = crate::faults::through(&db.url, proxy.address).into();
        config.connect_timeout = connect_timeout;
    })
    .await;
    let ticket = app.create_ticket(1000).await;
    proxy.cut();

    let app = &app;
    let answers = join_all((0..60).map(|i| async move {
        let started = Instant::now();
        let status = if i % 2 == 0 {
            app.purchase(ticket, 1).await.status()
        } else {
            app.get(&format!("/tickets/{ticket}")).await.status()
        };
        (status, started.elapsed())
    }))
    .await;

    for (status, took) in &answers {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            *took < connect_timeout + Duration::from_millis(300),
            "answered after {took:?}, the connect timeout is {connect_timeout:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rush_over_tickets_that_do_not_exist_leaves_no_memory_behind() {
    let db = TestDatabase::create().await;
    let server = Replica::start(&db).await;
    let client = reqwest::Client::new();
    // Warm up the allocator and the pool.
    for id in 1..200 {
        let _ = client
            .post(format!("{}/tickets/{id}/purchases", server.address))
            .json(&json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()}))
            .send()
            .await;
    }
    let before = server.rss_kib();

    // 20,000 ticket ids, none of which exists, 64 at a time.
    let ids: Vec<i64> = (1_000..21_000).collect();
    for chunk in ids.chunks(64) {
        let answers = join_all(chunk.iter().map(|id| {
            client
                .post(format!("{}/tickets/{id}/purchases", server.address))
                .json(&json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()}))
                .send()
        }))
        .await;
        assert!(answers.iter().all(|a| {
            a.as_ref()
                .is_ok_and(|r| r.status() == StatusCode::NOT_FOUND)
        }));
    }
    let after = server.rss_kib();

    assert!(
        after < before + 8 * 1024,
        "resident memory grew from {before} KiB to {after} KiB"
    );
    assert!(server.terminate().await);
}

/// A rush opens a thousand connections at once: the kernel must queue them
/// all for the server to accept. A queue too short drops some, and the
/// kernel retries a dropped one only after a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_at_once_are_all_taken_at_once() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let address = app.address.trim_start_matches("http://").to_owned();

    let started = Instant::now();
    let connected = join_all((0..1000).map(|_| {
        let address = address.clone();
        async move {
            let opened = Instant::now();
            let stream = tokio::net::TcpStream::connect(&address).await;
            (stream, opened.elapsed())
        }
    }))
    .await;
    let slowest = connected
        .iter()
        .map(|(_, took)| *took)
        .max()
        .unwrap_or_default();
    assert!(connected.iter().all(|(stream, _)| stream.is_ok()));
    assert!(
        slowest < Duration::from_millis(900),
        "a connection took {slowest:?} (all took {:?}): the listen queue overflowed",
        started.elapsed()
    );
}
