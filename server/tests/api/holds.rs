//! Holds during checkout: they count against what is left, become a
//! purchase once confirmed (at most once), free their tickets when released
//! or when they expire (by themselves, before any sweep), and keep the
//! books whole.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};
use tickets_server::config::Config;
use tickets_server::domain::HoldLifetimes;

use crate::helpers::{TestApp, TestDatabase, assert_books_balance, assert_problem};

/// Holds may last from 1 s; the sweep that brings the stored counts up to
/// date runs every `sweep`.
pub(crate) fn short_holds(sweep: Duration) -> impl FnOnce(&mut Config) {
    move |config| {
        config.hold_lifetimes = HoldLifetimes {
            default: Duration::from_secs(900),
            min: Duration::from_secs(1),
            max: Duration::from_secs(3600),
        };
        config.hold_sweep_interval = sweep;
    }
}

pub(crate) const NO_SWEEP: Duration = Duration::from_secs(3600);

pub(crate) async fn held(app: &TestApp, ticket: i64, quantity: i64, ttl: Option<u32>) -> Value {
    let response = app.hold(ticket, quantity, ttl).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let hold: Value = response.json().await.expect("the hold");
    assert_eq!(
        location,
        format!(
            "/tickets/{ticket}/holds/{}",
            hold["id"].as_str().expect("an id")
        )
    );
    hold
}

pub(crate) fn hold_path(hold: &Value) -> String {
    format!(
        "/tickets/{}/holds/{}",
        hold["ticket_id"],
        hold["id"].as_str().expect("an id")
    )
}

pub(crate) fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().expect("a time").parse().expect("RFC 3339")
}

#[tokio::test]
async fn a_hold_counts_against_what_is_left_until_it_is_confirmed_as_a_purchase() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;

    let hold = held(&app, ticket, 3, None).await;
    assert_eq!(hold["status"], "held");
    assert_eq!(hold["quantity"], 3);
    let lasts = time(&hold["expires_at"]) - time(&hold["created_at"]);
    assert_eq!(lasts.num_seconds(), 900, "the default lifetime");
    let availability = app.ticket(ticket).await;
    assert_eq!(
        (
            availability["allocation"].as_i64(),
            availability["held"].as_i64()
        ),
        (Some(2), Some(3))
    );
    let refused = assert_problem(app.purchase(ticket, 3).await, StatusCode::CONFLICT).await;
    assert_eq!(refused["remaining"], 2);

    let confirmed = app
        .post_empty(&format!("{}/confirm", hold_path(&hold)))
        .await;
    assert_eq!(confirmed.status(), StatusCode::CREATED);
    let location = confirmed.headers()["location"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let purchase: Value = confirmed.json().await.expect("the purchase");
    assert_eq!(purchase["hold_id"], hold["id"]);
    assert_eq!(purchase["quantity"], 3);
    assert_eq!(purchase["number"], 1);
    assert_eq!(
        location,
        format!(
            "/tickets/{ticket}/purchases/{}",
            purchase["id"].as_str().expect("id")
        )
    );

    let availability = app.ticket(ticket).await;
    assert_eq!(
        (
            availability["allocation"].as_i64(),
            availability["held"].as_i64(),
            availability["sold"].as_i64()
        ),
        (Some(2), Some(0), Some(3))
    );
    let now: Value = app.get(&hold_path(&hold)).await.json().await.expect("JSON");
    assert_eq!(now["status"], "confirmed");
    assert_eq!(now["purchase_id"], purchase["id"]);
    assert_books_balance(&db).await;
}

/// Reading `hold` answers 410 `hold-gone`, saying it was `how` (released
/// or expired).
async fn assert_gone(app: &TestApp, hold: &Value, how: &str) {
    let gone = assert_problem(app.get(&hold_path(hold)).await, StatusCode::GONE).await;
    assert_eq!(gone["type"], "/problems/hold-gone");
    assert!(
        gone["detail"].as_str().is_some_and(|d| d.contains(how)),
        "{gone}"
    );
}

/// A hold's release is its DELETE: afterwards the hold is gone (410), as a
/// deleted resource is, and says so.
#[tokio::test]
async fn a_released_hold_frees_its_tickets_once_and_cannot_be_confirmed() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(4).await;
    let hold = held(&app, ticket, 4, None).await;

    for _ in 0..2 {
        let released = app.delete(&hold_path(&hold)).await;
        assert_eq!(released.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(app.remaining(ticket).await, 4);
    assert_gone(&app, &hold, "released").await;
    let problem = assert_problem(
        app.post_empty(&format!("{}/confirm", hold_path(&hold)))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(problem["type"], "/problems/hold-released");
    assert_eq!(app.purchase(ticket, 4).await.status(), StatusCode::CREATED);
    assert_books_balance(&db).await;
}

/// An expired hold frees its tickets by itself: with no sweep at all, a
/// buyer gets them, the ticket shows them free, and the hold is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_hold_frees_its_tickets_before_any_sweep() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, short_holds(NO_SWEEP)).await;
    let ticket = app.create_ticket(3).await;
    let hold = held(&app, ticket, 3, Some(1)).await;
    assert_eq!(app.remaining(ticket).await, 0);

    tokio::time::sleep(Duration::from_millis(1200)).await;

    let availability = app.ticket(ticket).await;
    assert_eq!(
        (
            availability["allocation"].as_i64(),
            availability["held"].as_i64()
        ),
        (Some(3), Some(0))
    );
    assert_gone(&app, &hold, "expired").await;
    assert_eq!(
        db.count("SELECT count(*) FROM holds WHERE status = 'held'")
            .await,
        1,
        "no sweep has run: the row still says held"
    );
    assert_eq!(app.purchase(ticket, 3).await.status(), StatusCode::CREATED);
    let problem = assert_problem(
        app.post_empty(&format!("{}/confirm", hold_path(&hold)))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(problem["type"], "/problems/hold-expired");
    assert_books_balance(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_brings_the_stored_counts_up_to_date() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, short_holds(Duration::from_millis(200))).await;
    let ticket = app.create_ticket(3).await;
    held(&app, ticket, 2, Some(1)).await;

    tokio::time::sleep(Duration::from_millis(1800)).await;

    assert_eq!(
        db.count("SELECT count(*) FROM holds WHERE status = 'expired'")
            .await,
        1
    );
    assert_eq!(
        db.count(&format!(
            "SELECT held::bigint FROM tickets WHERE id = {ticket}"
        ))
        .await,
        0
    );
    assert_books_balance(&db).await;
}

/// Many tries at once, through two servers: one confirmation, every other
/// try told the purchase it became.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_confirms_once_however_many_try_at_once() {
    let db = TestDatabase::create().await;
    let first = TestApp::start(&db).await;
    let second = TestApp::start(&db).await;
    let ticket = first.create_ticket(10).await;
    let hold = held(&first, ticket, 2, None).await;
    let path = format!("{}/confirm", hold_path(&hold));

    let answers = join_all((0..64).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        let path = &path;
        async move {
            let response = app.post_empty(path).await;
            let status = response.status();
            (status, response.json::<Value>().await.expect("JSON"))
        }
    }))
    .await;

    let made: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(made.len(), 1, "confirmed {} times", made.len());
    for (status, body) in &answers {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::CONFLICT);
            assert_eq!(body["type"], "/problems/hold-confirmed");
            assert_eq!(body["purchase_id"], made[0]["id"]);
        }
    }
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 1);
    assert_books_balance(&db).await;
}

#[rstest]
#[case::shorter_than_the_least(5, 60)]
#[case::within(600, 600)]
#[case::longer_than_the_most(86_400, 3600)]
#[tokio::test]
async fn a_holds_lifetime_is_moved_into_the_servers_range(#[case] asked: u32, #[case] gets: i64) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;
    let hold = held(&app, ticket, 1, Some(asked)).await;
    let lasts = time(&hold["expires_at"]) - time(&hold["created_at"]);
    assert_eq!(lasts.num_seconds(), gets);
}

#[rstest]
#[case::zero_quantity(json!({"quantity": 0, "user_id": "406c1d05-bbb2-4e94-b183-7d208c2692e1"}), "/quantity")]
#[case::zero_ttl(json!({"quantity": 1, "user_id": "406c1d05-bbb2-4e94-b183-7d208c2692e1", "ttl_seconds": 0}), "/ttl_seconds")]
#[case::over_a_day(json!({"quantity": 1, "user_id": "406c1d05-bbb2-4e94-b183-7d208c2692e1", "ttl_seconds": 86_401}), "/ttl_seconds")]
#[case::null_ttl(json!({"quantity": 1, "user_id": "406c1d05-bbb2-4e94-b183-7d208c2692e1", "ttl_seconds": null}), "/ttl_seconds")]
#[case::no_buyer(json!({"quantity": 1}), "/user_id")]
#[tokio::test]
async fn a_bad_hold_is_400_and_holds_nothing(#[case] body: Value, #[case] pointer: &str) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;
    let problem = assert_problem(
        app.post_json(&format!("/tickets/{ticket}/holds"), &body)
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(problem["errors"][0]["pointer"], pointer);
    assert_eq!(db.count("SELECT count(*) FROM holds").await, 0);
    assert_eq!(app.remaining(ticket).await, 5);
}

#[tokio::test]
async fn unknown_holds_are_404_and_bad_hold_ids_400() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;
    let other = app.create_ticket(5).await;
    let hold = held(&app, ticket, 1, None).await;
    let id = hold["id"].as_str().expect("an id");

    // A hold is found only under its own ticket.
    let elsewhere = format!("/tickets/{other}/holds/{id}");
    assert_problem(app.get(&elsewhere).await, StatusCode::NOT_FOUND).await;
    assert_problem(
        app.post_empty(&format!("{elsewhere}/confirm")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(app.delete(&elsewhere).await, StatusCode::NOT_FOUND).await;
    assert_problem(app.hold(999_999, 1, None).await, StatusCode::NOT_FOUND).await;
    let problem = assert_problem(
        app.post_empty(&format!("/tickets/{ticket}/holds/nope/confirm"))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(problem["errors"][0]["parameter"], "hold_id");
    assert_eq!(app.remaining(ticket).await, 4);
}

/// With an Idempotency-Key, a retried hold, confirmation or release
/// replays its first answer and changes nothing more.
#[tokio::test]
async fn holds_their_confirmations_and_releases_replay_with_a_key() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(10).await;
    let keyed = |method: reqwest::Method, path: String, key: &'static str, body: Option<Value>| {
        let mut request = app
            .client
            .request(method, app.url(&path))
            .header("idempotency-key", key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { request.send().await.expect("sent") }
    };
    let body = json!({"quantity": 2, "user_id": "406c1d05-bbb2-4e94-b183-7d208c2692e1"});
    let path = format!("/tickets/{ticket}/holds");
    let first: Value = keyed(
        reqwest::Method::POST,
        path.clone(),
        "hold-1",
        Some(body.clone()),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let again = keyed(reqwest::Method::POST, path, "hold-1", Some(body)).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.expect("JSON"), first);
    assert_eq!(app.remaining(ticket).await, 8, "held once");

    let confirm = format!("{}/confirm", hold_path(&first));
    let bought: Value = keyed(reqwest::Method::POST, confirm.clone(), "confirm-1", None)
        .await
        .json()
        .await
        .expect("JSON");
    let replayed = keyed(reqwest::Method::POST, confirm, "confirm-1", None).await;
    assert_eq!(
        replayed.status(),
        StatusCode::CREATED,
        "a replay, not hold-confirmed"
    );
    assert_eq!(replayed.json::<Value>().await.expect("JSON"), bought);

    let second = held(&app, ticket, 3, None).await;
    for _ in 0..2 {
        let released = keyed(
            reqwest::Method::DELETE,
            hold_path(&second),
            "release-1",
            None,
        )
        .await;
        assert_eq!(released.status(), StatusCode::NO_CONTENT);
    }
    let reused = keyed(
        reqwest::Method::DELETE,
        hold_path(&first),
        "release-1",
        None,
    )
    .await;
    assert_problem(reused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(app.remaining(ticket).await, 8);
    assert_books_balance(&db).await;
}
