//! Idempotency-Key: retries replay the first answer and change nothing.

use diesel_async::RunQueryDsl;
use futures::future::join_all;
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDatabase, assert_problem};

const BUYER: &str = "406c1d05-bbb2-4e94-b183-7d208c2692e1";

async fn post(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn a_retried_purchase_replays_its_answer_and_buys_nothing_more() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(10).await;
    let path = format!("/tickets/{ticket}/purchases");
    let body = json!({"quantity": 3, "user_id": BUYER});

    let first = post(&app, &path, "retry-me", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let location = first.headers()["location"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(location.starts_with(&format!("/tickets/{ticket}/purchases/")));

    let record: Value = first.json().await.expect("the purchase's record");
    for _ in 0..3 {
        let retry = post(&app, &path, "retry-me", &body).await;
        assert_eq!(retry.status(), StatusCode::CREATED);
        assert_eq!(retry.headers()["location"], location.as_str());
        assert_eq!(retry.json::<Value>().await.expect("JSON"), record);
    }
    // The same key quoted, as the draft standard sends it, is the same key.
    let quoted = post(&app, &path, "\"retry-me\"", &body).await;
    assert_eq!(quoted.headers()["location"], location.as_str());

    assert_eq!(app.remaining(ticket).await, 7);
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 1);
}

/// A keyed purchase or hold is answered, and its answer stored, by the batch
/// statement that records it: what is stored (and replayed) is what was sent,
/// byte for byte.
#[rstest]
#[case::purchase("purchases", json!({"quantity": 2, "user_id": BUYER}))]
#[case::hold("holds", json!({"quantity": 2, "user_id": BUYER, "ttl_seconds": 90}))]
#[tokio::test]
async fn the_stored_answer_is_the_answer_sent(#[case] collection: &str, #[case] body: Value) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(20).await;
    let path = format!("/tickets/{ticket}/{collection}");

    // Several, so that some share a batch.
    let keys: Vec<String> = (0..8).map(|i| format!("{collection}-{i}")).collect();
    let sent = join_all(keys.iter().map(|key| post(&app, &path, key, &body))).await;
    for (key, response) in keys.iter().zip(sent) {
        assert_eq!(response.status(), StatusCode::CREATED);
        let location = response.headers()["location"]
            .to_str()
            .expect("ASCII")
            .to_owned();
        let first = response.text().await.expect("body");

        let stored =
            |column: &str| format!("SELECT {column} FROM idempotency_keys WHERE key = '{key}'");
        assert_eq!(
            db.text(&stored("body")).await.as_deref(),
            Some(first.as_str())
        );
        assert_eq!(
            db.text(&stored("location")).await.as_deref(),
            Some(location.as_str())
        );

        let replay = post(&app, &path, key, &body).await;
        assert_eq!(replay.headers()["location"], location.as_str());
        assert_eq!(
            replay.text().await.expect("body"),
            first,
            "replayed byte for byte"
        );
    }
    assert_eq!(app.remaining(ticket).await, 20 - 8 * 2);
}

/// The statement that stores a keyed answer writes its times as the server
/// writes times in JSON: with no fraction, or 3 or 6 digits of one.
#[rstest]
#[case::whole_second("2026-11-25T21:12:42Z")]
#[case::tenths("2026-11-25T21:12:42.1Z")]
#[case::milliseconds("2026-11-25T21:12:42.012Z")]
#[case::microseconds("2026-11-25T21:12:42.000123Z")]
#[case::last_microsecond("1999-12-31T23:59:59.999999Z")]
#[case::other_offset("2026-11-25T23:12:42.5+02:00")]
#[tokio::test]
async fn stored_times_read_as_the_server_writes_them(#[case] time: &str) {
    let db = TestDatabase::create().await;
    // The database's migrations run when a server starts on it.
    let app = TestApp::start(&db).await;
    let parsed: chrono::DateTime<chrono::Utc> = chrono::DateTime::parse_from_rfc3339(time)
        .expect("an RFC 3339 time")
        .into();
    let server = serde_json::to_value(parsed).expect("JSON");

    let stored = db
        .text(&format!("SELECT rfc3339_utc('{time}'::timestamptz)"))
        .await;

    assert_eq!(stored.as_deref(), server.as_str());
    app.stop().await;
}

/// A key another transaction holds (a request in flight on any replica) is
/// never used by a batch: the request is told so, and buys nothing.
#[tokio::test]
async fn a_key_held_elsewhere_is_in_flight_and_buys_nothing() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;
    let path = format!("/tickets/{ticket}/purchases");
    let body = json!({"quantity": 1, "user_id": BUYER});
    let mut elsewhere = db.connect().await;
    let lock = |verb: &str| format!("SELECT pg_advisory_{verb}(hashtextextended('taken', 0))");
    diesel::sql_query(lock("lock"))
        .execute(&mut elsewhere)
        .await
        .expect("taking the key");

    let problem = assert_problem(
        post(&app, &path, "taken", &body).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(problem["type"], "/problems/request-in-flight");
    assert_eq!(app.remaining(ticket).await, 5);

    diesel::sql_query(lock("unlock"))
        .execute(&mut elsewhere)
        .await
        .expect("letting the key go");
    assert_eq!(
        post(&app, &path, "taken", &body).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(app.remaining(ticket).await, 4);
}

#[tokio::test]
async fn a_retried_creation_replays_the_same_ticket() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let body = json!({"name": "once", "desc": "", "allocation": 5});

    let first = post(&app, "/tickets", "create-1", &body).await;
    let retry = post(&app, "/tickets", "create-1", &body).await;

    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(first.headers()["location"], retry.headers()["location"]);
    let (first, retry): (Value, Value) = (
        first.json().await.expect("JSON"),
        retry.json().await.expect("JSON"),
    );
    assert_eq!(first, retry);
    assert_eq!(db.count("SELECT count(*) FROM tickets").await, 1);
}

#[tokio::test]
async fn a_refusal_is_replayed_too() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(1).await;
    let path = format!("/tickets/{ticket}/purchases");
    let body = json!({"quantity": 2, "user_id": BUYER});

    let first = assert_problem(
        post(&app, &path, "too-many", &body).await,
        StatusCode::CONFLICT,
    )
    .await;
    let retry = assert_problem(
        post(&app, &path, "too-many", &body).await,
        StatusCode::CONFLICT,
    )
    .await;

    assert_eq!(first, retry);
    assert_eq!(first["remaining"], 1);
}

#[rstest]
#[case::other_quantity(json!({"quantity": 2, "user_id": BUYER}))]
#[case::other_buyer(json!({"quantity": 1, "user_id": "11111111-2222-3333-4444-555555555555"}))]
#[tokio::test]
async fn the_same_key_for_another_request_is_422_and_changes_nothing(#[case] other: Value) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(10).await;
    let path = format!("/tickets/{ticket}/purchases");
    let first = post(&app, &path, "k", &json!({"quantity": 1, "user_id": BUYER})).await;
    assert_eq!(first.status(), StatusCode::CREATED);

    let problem = assert_problem(
        post(&app, &path, "k", &other).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    assert_eq!(problem["type"], "/problems/idempotency-key-reused");
    assert_eq!(app.remaining(ticket).await, 9);
}

/// The deprecated alias behaves exactly like its route, keys included: a
/// retry may go to either.
#[rstest]
#[case::route_then_alias("/tickets", "/ticketsuser")]
#[case::alias_then_route("/ticketsuser", "/tickets")]
#[tokio::test]
async fn the_alias_shares_its_routes_keys(#[case] first: &str, #[case] retry: &str) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let body = json!({"name": "once", "desc": "", "allocation": 5});

    let created = post(&app, first, "create-once", &body).await;
    let replayed = post(&app, retry, "create-once", &body).await;

    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(replayed.status(), StatusCode::CREATED);
    assert_eq!(
        created.json::<Value>().await.expect("JSON"),
        replayed.json::<Value>().await.expect("JSON")
    );
    assert_eq!(db.count("SELECT count(*) FROM tickets").await, 1);
}

#[tokio::test]
async fn the_same_key_on_another_route_is_422() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let first = app.create_ticket(5).await;
    let second = app.create_ticket(5).await;
    let body = json!({"quantity": 1, "user_id": BUYER});
    assert_eq!(
        post(&app, &format!("/tickets/{first}/purchases"), "k", &body)
            .await
            .status(),
        StatusCode::CREATED
    );
    let other = post(&app, &format!("/tickets/{second}/purchases"), "k", &body).await;
    assert_problem(other, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(app.remaining(second).await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_buy_once_and_the_others_are_told_it_is_in_flight() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(100).await;
    let path = format!("/tickets/{ticket}/purchases");
    let body = json!({"quantity": 1, "user_id": BUYER});

    let statuses: Vec<StatusCode> =
        join_all((0..20).map(|_| async { post(&app, &path, "burst", &body).await.status() })).await;

    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::CREATED));
    assert_eq!(app.remaining(ticket).await, 99, "bought exactly once");
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 1);
}

#[rstest]
#[case::empty("")]
#[case::space("a b")]
#[case::too_long(&"k".repeat(256))]
#[tokio::test]
async fn an_unusable_key_is_400_and_changes_nothing(#[case] key: &str) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;
    let response = post(
        &app,
        &format!("/tickets/{ticket}/purchases"),
        key,
        &json!({"quantity": 1, "user_id": BUYER}),
    )
    .await;
    let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem["errors"][0]["parameter"], "Idempotency-Key");
    assert_eq!(app.remaining(ticket).await, 5);
}

#[tokio::test]
async fn an_expired_key_runs_the_request_again() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, |config| {
        config.idempotency_key_ttl = std::time::Duration::from_secs(1);
    })
    .await;
    let ticket = app.create_ticket(5).await;
    let path = format!("/tickets/{ticket}/purchases");
    let body = json!({"quantity": 1, "user_id": BUYER});
    assert_eq!(
        post(&app, &path, "short-lived", &body).await.status(),
        StatusCode::CREATED
    );

    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;

    assert_eq!(
        post(&app, &path, "short-lived", &body).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.remaining(ticket).await,
        3,
        "after expiry the key buys again"
    );
}
