//! One clock for decisions: a hold's expiry, and every time a change is
//! dated by, is judged once the ticket's row lock is held, not when the
//! transaction began. Another connection holding the row lock stands in for
//! another replica's long batch.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDatabase, assert_books_balance, assert_problem};
use crate::holds::{NO_SWEEP, held, hold_path, short_holds, time};

/// Sleeps until `at` by the wall clock (the database's, on this machine).
async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(wait) = (at - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

fn millis(ms: i64) -> TimeDelta {
    TimeDelta::milliseconds(ms)
}

/// Sends `request` from a task of its own; the task returns its answer.
fn spawn_send(request: reqwest::RequestBuilder) -> tokio::task::JoinHandle<reqwest::Response> {
    tokio::spawn(async move { request.send().await.expect("request sent") })
}

/// Issue 21's reproduction: a confirmation sent before the hold expires
/// but given the row lock only after is refused, and the buyer who comes
/// after the hold was reported gone gets its tickets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_that_gets_the_lock_after_expiry_is_refused() {
    let db = TestDatabase::create().await;
    let a = TestApp::start_with(&db, short_holds(NO_SWEEP)).await;
    let b = TestApp::start_with(&db, short_holds(NO_SWEEP)).await;
    let ticket = a.create_ticket(2).await;
    let hold = held(&a, ticket, 2, Some(2)).await;
    let expires_at = time(&hold["expires_at"]);

    sleep_until(expires_at - millis(600)).await;
    let blocker = db.lock_ticket(ticket).await;
    let unblock = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        drop(blocker);
    });
    sleep_until(expires_at - millis(300)).await;
    let confirm = spawn_send(
        a.client
            .post(a.url(&format!("{}/confirm", hold_path(&hold)))),
    );

    sleep_until(expires_at + millis(100)).await;
    let gone = assert_problem(b.get(&hold_path(&hold)).await, StatusCode::GONE).await;
    assert_eq!(gone["type"], "/problems/hold-gone");
    let availability = b.ticket(ticket).await;
    assert_eq!(
        (
            availability["allocation"].as_i64(),
            availability["held"].as_i64()
        ),
        (Some(2), Some(0)),
        "{availability}"
    );
    let bought = b.purchase(ticket, 2).await;
    assert_eq!(
        bought.status(),
        StatusCode::CREATED,
        "a buyer after the hold was reported gone gets its tickets"
    );

    let refused = assert_problem(confirm.await.expect("confirm"), StatusCode::CONFLICT).await;
    assert_eq!(refused["type"], "/problems/hold-expired");
    let quoted = format!(
        "The hold expired at {}; its tickets are on sale again",
        hold["expires_at"].as_str().expect("a time")
    );
    assert_eq!(refused["detail"], quoted, "the expiry quoted as written");
    assert_eq!(gone["detail"], quoted, "the expiry quoted as written");
    let after = assert_problem(b.get(&hold_path(&hold)).await, StatusCode::GONE).await;
    assert_eq!(after["type"], "/problems/hold-gone");
    unblock.await.expect("unblocked");
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM purchases WHERE ticket_id = {ticket} AND hold_id IS NOT NULL"
        ))
        .await,
        0
    );
    assert_books_balance(&db).await;
}

/// A hold made while the row lock is held for longer than its lifetime is
/// dated from when it got the lock: it is not answered already expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_that_waited_for_the_lock_is_not_born_expired() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, short_holds(NO_SWEEP)).await;
    let ticket = app.create_ticket(2).await;

    let blocker = db.lock_ticket(ticket).await;
    let create = spawn_send(
        app.client
            .post(app.url(&format!("/tickets/{ticket}/holds")))
            .json(&json!({"quantity": 2, "user_id": uuid::Uuid::new_v4(), "ttl_seconds": 1})),
    );
    tokio::time::sleep(Duration::from_millis(1350)).await;
    let unlocked_at = Utc::now();
    drop(blocker);
    let response = create.await.expect("hold");
    let answered_at = Utc::now();

    assert_eq!(response.status(), StatusCode::CREATED);
    let hold: Value = response.json().await.expect("the hold");
    let (created_at, expires_at) = (time(&hold["created_at"]), time(&hold["expires_at"]));
    assert!(
        created_at >= unlocked_at,
        "dated {created_at}, before the lock was let go at {unlocked_at}"
    );
    assert!(
        expires_at > answered_at,
        "answered at {answered_at} already expired at {expires_at}"
    );
    let read = app.get(&hold_path(&hold)).await;
    assert_eq!(read.status(), StatusCode::OK);
    let read: Value = read.json().await.expect("the hold");
    assert_eq!(read["status"], "held");
    assert_eq!(read["expires_at"], hold["expires_at"]);
    assert_books_balance(&db).await;
}

/// A ticket's purchases are dated under its row lock, as they are numbered:
/// a higher `number` is never dated earlier. Purchases through both paths
/// (alone, and batched with confirmations) and two replicas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchases_in_number_order_are_in_time_order() {
    let db = TestDatabase::create().await;
    let a = TestApp::start(&db).await;
    let b = TestApp::start(&db).await;
    let ticket = a.create_ticket(1000).await;
    let holds = join_all((0..20).map(|_| held(&a, ticket, 1, None))).await;

    let replicas = [&a, &b];
    let purchases = (0..200)
        .zip([1, 2, 3].into_iter().cycle())
        .map(|(i, quantity)| replicas[i % 2].purchase(ticket, quantity));
    let confirms = holds.iter().enumerate().map(|(i, hold)| {
        let path = format!("{}/confirm", hold_path(hold));
        async move { replicas[i % 2].post_empty(&path).await }
    });
    let (bought, confirmed) = futures::join!(join_all(purchases), join_all(confirms));
    assert!(bought.iter().all(|r| r.status() == StatusCode::CREATED));
    assert!(confirmed.iter().all(|r| r.status() == StatusCode::CREATED));

    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM purchases WHERE ticket_id = {ticket}"
        ))
        .await,
        220
    );
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM (SELECT purchased_at < lag(purchased_at) OVER (ORDER BY seq) AS earlier \
               FROM purchases WHERE ticket_id = {ticket}) AS numbered WHERE earlier"
        ))
        .await,
        0,
        "a purchase dated before the one numbered before it"
    );
    let page: Value = a
        .get(&format!("/tickets/{ticket}/purchases?limit=200"))
        .await
        .json()
        .await
        .expect("a page");
    let times: Vec<DateTime<Utc>> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| time(&p["purchased_at"]))
        .collect();
    assert_eq!(times.len(), 200);
    assert!(
        times.is_sorted(),
        "the list, in number order, is in time order"
    );
    assert_books_balance(&db).await;
}

/// What one round of [`a_hold_reported_gone_stays_gone_across_replicas`]
/// saw.
#[derive(Debug)]
struct Round {
    /// Whether the hold was read as gone (410) before buyer B was sent.
    read_gone: bool,
    confirm: StatusCode,
    /// The confirmed purchase's time, if the hold was confirmed.
    confirmed_at: Option<DateTime<Utc>>,
    buyer: StatusCode,
    expires_at: DateTime<Utc>,
}

/// One round on a ticket of its own: a hold of all 2 tickets, which
/// `contenders` keep the row lock busy around expiry (purchases of 3, always
/// refused), confirmed on replica a `early` before it expires, while replica
/// b reads it until it is gone, then buyer B asks for 2 there.
async fn race_expiry(a: &TestApp, b: &TestApp, early: TimeDelta, contenders: usize) -> Round {
    let ticket = a.create_ticket(2).await;
    let hold = held(a, ticket, 2, Some(1)).await;
    let expires_at = time(&hold["expires_at"]);
    let path = hold_path(&hold);

    let contend = join_all((0..contenders).map(|i| {
        let replica = if i % 2 == 0 { a } else { b };
        async move {
            sleep_until(expires_at - millis(30)).await;
            for _ in 0..15 {
                let refused = replica.purchase(ticket, 3).await.status();
                assert_eq!(refused, StatusCode::CONFLICT);
                if Utc::now() > expires_at + millis(40) {
                    break;
                }
            }
        }
    }));
    let confirm = async {
        sleep_until(expires_at - early).await;
        let response = a.post_empty(&format!("{path}/confirm")).await;
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        (status, body)
    };
    let watch_then_buy = async {
        sleep_until(expires_at - millis(5)).await;
        let mut read_gone = false;
        for _ in 0..200 {
            let read = b.get(&path).await;
            if read.status() == StatusCode::GONE {
                read_gone = true;
                break;
            }
            let read: Value = read.json().await.expect("the hold");
            if read["status"] == "confirmed" || Utc::now() > expires_at + millis(300) {
                break;
            }
        }
        (read_gone, b.purchase(ticket, 2).await.status())
    };
    let (_, (confirm, confirmed), (read_gone, buyer)) =
        futures::join!(contend, confirm, watch_then_buy);
    let confirmed_at = (confirm == StatusCode::CREATED).then(|| time(&confirmed["purchased_at"]));
    Round {
        read_gone,
        confirm,
        confirmed_at,
        buyer,
        expires_at,
    }
}

/// How long before expiry each round's confirmation is sent: from well
/// before the contention (it wins) to within it (it waits past expiry).
const EARLY_MS: [i64; 8] = [1, 3, 6, 10, 20, 40, 70, 120];

/// Issue 21 over HTTP only, across two replicas, at the expiry boundary,
/// many times (in waves of rounds on tickets of their own): a hold once
/// read as gone is never confirmed after, a buyer who comes after it was
/// read gone gets its tickets, and a confirmed hold was confirmed before it
/// expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_reported_gone_stays_gone_across_replicas() {
    let db = TestDatabase::create().await;
    let a = TestApp::start_with(&db, short_holds(NO_SWEEP)).await;
    let b = TestApp::start_with(&db, short_holds(NO_SWEEP)).await;

    let mut rounds = Vec::new();
    for wave in 0..3 {
        let wave_rounds = join_all((0..8).map(|i| {
            let early = millis(EARLY_MS[(wave + i) % EARLY_MS.len()]);
            race_expiry(&a, &b, early, 3)
        }))
        .await;
        rounds.extend(wave_rounds);
    }

    for round in &rounds {
        assert!(
            matches!(round.confirm, StatusCode::CREATED | StatusCode::CONFLICT)
                && matches!(round.buyer, StatusCode::CREATED | StatusCode::CONFLICT),
            "{round:?}"
        );
        if round.read_gone {
            assert_ne!(
                round.confirm,
                StatusCode::CREATED,
                "confirmed after it was read gone: {round:?}"
            );
            assert_eq!(
                round.buyer,
                StatusCode::CREATED,
                "refused tickets of a hold read gone: {round:?}"
            );
        }
        if let Some(at) = round.confirmed_at {
            assert!(at < round.expires_at, "confirmed once expired: {round:?}");
        }
        if round.buyer == StatusCode::CONFLICT {
            assert_eq!(
                round.confirm,
                StatusCode::CREATED,
                "refused tickets only a hold not confirmed counted: {round:?}"
            );
        }
    }
    let gone = rounds.iter().filter(|r| r.read_gone).count();
    let confirmed = rounds.iter().filter(|r| r.confirmed_at.is_some()).count();
    println!(
        "{} rounds: {gone} read gone, {confirmed} confirmed",
        rounds.len()
    );
    assert_books_balance(&db).await;
}
