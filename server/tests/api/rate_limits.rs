//! Rate limits: per client address on every route, per buyer on purchases
//! and holds. A refused request is 429 problem details with `Retry-After`,
//! `RateLimit` and `RateLimit-Policy`, changes nothing, and is counted.
//! Client addresses come from forwarding headers only through a trusted
//! proxy. Limits are kept per process.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use tickets_server::config::Config;
use tickets_server::http::{Rate, RateLimitSettings, TrustedProxies};

use crate::helpers::{TestApp, TestDatabase, assert_books_balance, assert_problem};

fn limits(address_burst: u32, buyer_burst: u32) -> impl FnOnce(&mut Config) {
    move |config| {
        config.rate_limits = Some(RateLimitSettings {
            // A minute's refill is far longer than any test: only the burst counts.
            address: Rate {
                per_minute: 1,
                burst: address_burst,
            },
            buyer: Rate {
                per_minute: 1,
                burst: buyer_burst,
            },
        });
    }
}

fn behind_proxy(address_burst: u32) -> impl FnOnce(&mut Config) {
    move |config| {
        limits(address_burst, 1000)(config);
        config.trusted_proxies = TrustedProxies::parse("127.0.0.1").expect("valid");
    }
}

async fn get_from(app: &TestApp, path: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.expect("sent")
}

#[tokio::test]
async fn an_address_past_its_limit_gets_a_429_that_says_when_to_retry() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, limits(5, 1000)).await;

    for _ in 0..5 {
        assert_eq!(
            get_from(&app, "/livez", None).await.status(),
            StatusCode::OK
        );
    }
    let refused = get_from(&app, "/livez", None).await;

    let headers = refused.headers().clone();
    let problem = assert_problem(refused, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(problem["type"], "/problems/too-many-requests");
    let retry_after: u64 = headers["retry-after"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(headers["ratelimit-policy"], "\"per-address\";q=5;w=300");
    assert_eq!(
        headers["ratelimit"].to_str().expect("ASCII"),
        format!("\"per-address\";r=0;t={retry_after}")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_refused_purchase_buys_nothing_and_is_counted() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, behind_proxy(3)).await;
    let ticket = app.create_ticket(10).await;
    let path = format!("/tickets/{ticket}/purchases");
    let buy = || {
        app.client
            .post(app.url(&path))
            .header("x-forwarded-for", "198.51.100.7")
            .json(&json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()}))
            .send()
    };

    let statuses: Vec<StatusCode> = join_all((0..5).map(|_| buy()))
        .await
        .into_iter()
        .map(|r| r.expect("sent").status())
        .collect();

    let made = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((made, refused), (3, 2), "{statuses:?}");
    assert_eq!(app.remaining(ticket).await, 7);
    assert_books_balance(&db).await;
    let metrics = get_from(&app, "/metrics", Some("192.0.2.1"))
        .await
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("http_rate_limited_total{limit=\"per-address\"} 2"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_buyer_past_the_buyer_limit_is_refused_and_another_buyer_is_not() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, limits(1000, 2)).await;
    let ticket = app.create_ticket(10).await;
    let path = format!("/tickets/{ticket}/purchases");
    let (greedy, other) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());

    for _ in 0..2 {
        let made = app
            .post_json(&path, &json!({"quantity": 1, "user_id": greedy}))
            .await;
        assert_eq!(made.status(), StatusCode::CREATED);
    }
    let held = app
        .post_json(
            &format!("/tickets/{ticket}/holds"),
            &json!({"quantity": 1, "user_id": greedy}),
        )
        .await;
    let problem = assert_problem(held, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("buyer"),
        "{problem}"
    );
    let made = app
        .post_json(&path, &json!({"quantity": 1, "user_id": other}))
        .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    assert_eq!(app.remaining(ticket).await, 7);
    app.stop().await;
}

/// A client talking to the server directly cannot pose as others with
/// X-Forwarded-For: its peer is not a trusted proxy, so it is counted as
/// itself whatever it sends.
#[tokio::test]
async fn a_forged_forwarded_for_gains_nothing() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, limits(3, 1000)).await;

    let shared = &app;
    let statuses: Vec<StatusCode> = join_all((0..6).map(|i| async move {
        let address = format!("203.0.113.{i}");
        get_from(shared, "/livez", Some(&address)).await.status()
    }))
    .await;

    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(refused, 3, "{statuses:?}");
    app.stop().await;
}

/// Behind a trusted proxy each client is counted by the address the proxy
/// names; an address the client prepends to the proxy's list gains nothing.
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_is_counted_apart() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, behind_proxy(2)).await;

    for client in ["198.51.100.1", "198.51.100.2"] {
        for _ in 0..2 {
            assert_eq!(
                get_from(&app, "/livez", Some(client)).await.status(),
                StatusCode::OK
            );
        }
    }
    for forged in ["1.1.1.1, 198.51.100.1", "9.9.9.9, 198.51.100.1"] {
        let response = get_from(&app, "/livez", Some(forged)).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{forged}");
    }
    app.stop().await;
}

/// Limits are per process: each replica lets a client through up to the
/// limit, whatever the others counted (as the docs state).
#[tokio::test]
async fn each_replica_keeps_its_own_count() {
    let db = TestDatabase::create().await;
    let (a, b) = (
        TestApp::start_with(&db, limits(2, 1000)).await,
        TestApp::start_with(&db, limits(2, 1000)).await,
    );

    for app in [&a, &b] {
        for _ in 0..2 {
            assert_eq!(get_from(app, "/livez", None).await.status(), StatusCode::OK);
        }
        assert_eq!(
            get_from(app, "/livez", None).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    a.stop().await;
    b.stop().await;
}

/// A rush of 1,024 connections from one address is refused at the edge,
/// before it reaches the database, and the other buyers still buy.
#[tokio::test]
async fn a_rush_from_one_address_leaves_room_for_the_other_buyers() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, behind_proxy(50)).await;
    let ticket = app.create_ticket(10_000).await;
    let path = format!("/tickets/{ticket}/purchases");
    let buy = |address: &'static str| {
        let client = reqwest::Client::new();
        let url = app.url(&path);
        async move {
            client
                .post(url)
                .header("x-forwarded-for", address)
                .json(&json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()}))
                .send()
                .await
                .map(|r| r.status())
        }
    };

    let rush = join_all((0..1024).map(|_| buy("203.0.113.66")));
    let others = async {
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(buy("198.51.100.9").await);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        statuses
    };
    let (rush, others) = tokio::join!(rush, others);

    let rush_made = rush
        .iter()
        .filter(|s| matches!(s, Ok(StatusCode::CREATED)))
        .count();
    assert!(rush_made <= 50, "the rush bought {rush_made}");
    assert!(
        others.iter().all(|s| matches!(s, Ok(StatusCode::CREATED))),
        "the other buyer: {others:?}"
    );
    assert_books_balance(&db).await;
    app.stop().await;
}
