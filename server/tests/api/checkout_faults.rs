//! Checkouts through faults and replicas: a hold, confirmation, release or
//! cancellation the server acknowledged is never lost, and no tickets are
//! freed twice, when the server is killed mid-checkout, when the database
//! ends every connection (as a restart does), or when the checkouts go
//! through three replicas at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDatabase, assert_books_balance};
use crate::process::Replica;
use crate::restart::end_every_connection;

/// What the server acknowledged to the checkout loops, by id.
#[derive(Debug, Default)]
struct Acknowledged {
    /// Holds answered 201.
    held: Vec<String>,
    /// Confirmations answered 201: the hold and the purchase it became.
    confirmed: Vec<(String, String)>,
    /// Releases answered 204.
    released: Vec<String>,
    /// Cancellations answered 200, by purchase.
    cancelled: Vec<String>,
    /// Answers that are neither a success nor a 503: none may come.
    unexpected: Vec<String>,
}

impl Acknowledged {
    fn merge(mut self, other: Self) -> Self {
        self.held.extend(other.held);
        self.confirmed.extend(other.confirmed);
        self.released.extend(other.released);
        self.cancelled.extend(other.cancelled);
        self.unexpected.extend(other.unexpected);
        self
    }
}

/// One checkout step's answer: `Some` with the body when it is `expected`;
/// `None` when the server could not be reached or answered 503 (the step
/// may or may not have happened); anything else is noted as unexpected.
async fn step(
    request: reqwest::RequestBuilder,
    expected: StatusCode,
    acknowledged: &mut Acknowledged,
) -> Option<Value> {
    let response = request.send().await.ok()?;
    let status = response.status();
    let body = response.bytes().await.ok()?;
    if status == expected {
        return Some(serde_json::from_slice(&body).unwrap_or(Value::Null));
    }
    if status != StatusCode::SERVICE_UNAVAILABLE {
        acknowledged
            .unexpected
            .push(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    None
}

/// `loops` concurrent checkouts of `ticket` until `stop` is set, loop `i`
/// through `bases[i % len]`: hold 1, then by turns confirm it, confirm it
/// and cancel the purchase, release it, or leave it held.
async fn checkout_until_stopped(
    bases: &[String],
    ticket: i64,
    loops: usize,
    stop: &Arc<AtomicBool>,
) -> Acknowledged {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let tasks = (0..loops).map(|i| {
        let (client, stop) = (client.clone(), Arc::clone(stop));
        let base = bases[i % bases.len()].clone();
        tokio::spawn(async move {
            let mut acknowledged = Acknowledged::default();
            let mut turn = i;
            while !stop.load(Ordering::SeqCst) {
                turn += 1;
                let hold = client
                    .post(format!("{base}/tickets/{ticket}/holds"))
                    .json(&json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()}));
                let Some(hold) = step(hold, StatusCode::CREATED, &mut acknowledged).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let hold_id = hold["id"].as_str().expect("a hold id").to_owned();
                acknowledged.held.push(hold_id.clone());
                let hold_url = format!("{base}/tickets/{ticket}/holds/{hold_id}");
                match turn % 4 {
                    0 | 1 => {
                        let confirm = client.post(format!("{hold_url}/confirm"));
                        let Some(purchase) =
                            step(confirm, StatusCode::CREATED, &mut acknowledged).await
                        else {
                            continue;
                        };
                        let purchase_id = purchase["id"].as_str().expect("an id").to_owned();
                        acknowledged.confirmed.push((hold_id, purchase_id.clone()));
                        if turn % 4 == 1 {
                            let cancel = client.post(format!(
                                "{base}/tickets/{ticket}/purchases/{purchase_id}/cancel"
                            ));
                            if step(cancel, StatusCode::OK, &mut acknowledged)
                                .await
                                .is_some()
                            {
                                acknowledged.cancelled.push(purchase_id);
                            }
                        }
                    }
                    2 => {
                        let release = client.delete(&hold_url);
                        if step(release, StatusCode::NO_CONTENT, &mut acknowledged)
                            .await
                            .is_some()
                        {
                            acknowledged.released.push(hold_id);
                        }
                    }
                    _ => {}
                }
            }
            acknowledged
        })
    });
    join_all(tasks)
        .await
        .into_iter()
        .map(|task| task.expect("checkout task"))
        .fold(Acknowledged::default(), Acknowledged::merge)
}

/// Checkout loops running in the background until stopped.
struct Checkouts {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Acknowledged>,
}

impl Checkouts {
    /// Starts [`checkout_until_stopped`]'s loops.
    fn start(bases: Vec<String>, ticket: i64, loops: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let stop = Arc::clone(&stop);
            async move { checkout_until_stopped(&bases, ticket, loops, &stop).await }
        });
        Self { stop, task }
    }

    /// Stops the loops; what they were acknowledged.
    async fn stop(self) -> Acknowledged {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.expect("checkouts")
    }
}

/// How many of `ids` are rows of `query`, which selects `id`s.
async fn rows_among(db: &TestDatabase, query: &str, ids: &[String]) -> usize {
    if ids.is_empty() {
        return 0;
    }
    let list = ids
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    let found = db
        .count(&format!(
            "SELECT count(*) FROM ({query}) AS found WHERE id IN ({list})"
        ))
        .await;
    usize::try_from(found).expect("a count")
}

/// Everything acknowledged is in the database as it was told, and the books
/// balance: nothing was freed twice, nothing held or sold was lost.
async fn assert_kept(db: &TestDatabase, acknowledged: &Acknowledged) {
    assert!(
        acknowledged.unexpected.is_empty(),
        "unexpected answers: {:?}",
        acknowledged.unexpected
    );
    let held = rows_among(db, "SELECT id FROM holds", &acknowledged.held).await;
    assert_eq!(
        held,
        acknowledged.held.len(),
        "every acknowledged hold kept"
    );
    let pairs: Vec<String> = acknowledged
        .confirmed
        .iter()
        .map(|(hold, purchase)| format!("{hold}/{purchase}"))
        .collect();
    let confirmed = rows_among(
        db,
        "SELECT h.id || '/' || p.id AS id FROM holds h \
           JOIN purchases p ON p.id = h.purchase_id AND p.hold_id = h.id \
          WHERE h.status = 'confirmed'",
        &pairs,
    )
    .await;
    assert_eq!(confirmed, pairs.len(), "every confirmation kept");
    let released = rows_among(
        db,
        "SELECT id FROM holds WHERE status = 'released'",
        &acknowledged.released,
    )
    .await;
    assert_eq!(released, acknowledged.released.len(), "every release kept");
    let cancelled = rows_among(
        db,
        "SELECT id FROM purchases WHERE cancelled_at IS NOT NULL",
        &acknowledged.cancelled,
    )
    .await;
    assert_eq!(
        cancelled,
        acknowledged.cancelled.len(),
        "every cancellation kept"
    );
    assert_books_balance(db).await;
}

/// Every kind of step was acknowledged at least once.
fn assert_every_step_ran(acknowledged: &Acknowledged) {
    assert!(
        !acknowledged.confirmed.is_empty()
            && !acknowledged.released.is_empty()
            && !acknowledged.cancelled.is_empty(),
        "some checkouts should have completed: {acknowledged:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_checkout_loses_nothing_it_acknowledged() {
    let db = TestDatabase::create().await;
    let first = Replica::start(&db).await;
    let ticket = first.create_ticket(100_000).await;
    let checkouts = Checkouts::start(vec![first.address.clone()], ticket, 8);

    tokio::time::sleep(Duration::from_millis(800)).await;
    first.kill().await;
    let before = checkouts.stop().await;
    assert_every_step_ran(&before);
    assert_kept(&db, &before).await;

    // Another process carries on where the killed one stopped.
    let second = Replica::start(&db).await;
    let checkouts = Checkouts::start(vec![second.address.clone()], ticket, 8);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = checkouts.stop().await;
    assert_every_step_ran(&after);
    assert_kept(&db, &before.merge(after)).await;
    assert!(second.terminate().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_ended_mid_checkout_lose_nothing_acknowledged() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(100_000).await;
    let checkouts = Checkouts::start(vec![app.address.clone()], ticket, 8);

    // Three database restarts, as the server sees them, while it works.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        end_every_connection(&db).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let acknowledged = checkouts.stop().await;

    assert_every_step_ran(&acknowledged);
    assert_kept(&db, &acknowledged).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkouts_through_three_replicas_keep_exact_books() {
    let db = TestDatabase::create().await;
    let replicas = join_all((0..3).map(|_| Replica::start(&db))).await;
    let bases: Vec<String> = replicas.iter().map(|r| r.address.clone()).collect();
    let ticket = replicas[0].create_ticket(100_000).await;
    let checkouts = Checkouts::start(bases.clone(), ticket, 12);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let acknowledged = checkouts.stop().await;
    assert_every_step_ran(&acknowledged);
    assert_kept(&db, &acknowledged).await;

    // One purchase cancelled by many at once, through every replica: its
    // tickets come back once.
    let client = reqwest::Client::new();
    let (_, purchase) = acknowledged
        .confirmed
        .iter()
        .find(|(_, purchase)| !acknowledged.cancelled.contains(purchase))
        .expect("a confirmed purchase not cancelled");
    let remaining = |ticket: Value| ticket["allocation"].as_i64().expect("allocation");
    let read = || async {
        client
            .get(format!("{}/tickets/{ticket}", bases[0]))
            .send()
            .await
            .expect("sent")
            .json::<Value>()
            .await
            .expect("JSON")
    };
    let left_before = remaining(read().await);
    let statuses = join_all((0..30).map(|i| {
        let url = format!(
            "{}/tickets/{ticket}/purchases/{purchase}/cancel",
            bases[i % 3]
        );
        let client = client.clone();
        async move { client.post(url).send().await.expect("sent").status() }
    }))
    .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(remaining(read().await), left_before + 1);
    assert_books_balance(&db).await;
    for replica in replicas {
        assert!(replica.terminate().await);
    }
}
