//! The batched purchase path: buyers decided in arrival order, and a batch
//! that fails applies nothing.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use tickets_server::domain::orders::{
    Action, Actor, Decided, Order, OrderKey, Outcome, PurchaseRecord,
};
use tickets_server::domain::{PurchaseRequest, Quantity, TicketId};
use tickets_server::storage::{self, BatchRunner, OrderBatches, StorageError};

use crate::helpers::{TestApp, TestDatabase};

/// A buyer whose purchase rows the test database refuses.
const POISONED_BUYER: &str = "00000000-0000-0000-0000-00000000dead";

/// Makes every insert of a purchase by [`POISONED_BUYER`] fail.
async fn poison(db: &TestDatabase) {
    let mut conn = db.connect().await;
    for statement in [
        "CREATE FUNCTION refuse_purchase() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            .to_owned(),
        format!(
            "CREATE TRIGGER refuse_poisoned_buyer BEFORE INSERT ON purchases FOR EACH ROW \
             WHEN (NEW.user_id = '{POISONED_BUYER}') EXECUTE FUNCTION refuse_purchase()"
        ),
    ] {
        diesel_async::RunQueryDsl::execute(diesel::sql_query(statement), &mut conn)
            .await
            .expect("installing the trigger");
    }
}

fn request(quantity: u32, user_id: &str) -> PurchaseRequest {
    PurchaseRequest {
        quantity: Quantity::try_from(quantity).expect("valid quantity"),
        user_id: uuid::Uuid::parse_str(user_id).expect("a UUID"),
    }
}

async fn migrated_pool(db: &TestDatabase) -> storage::Pool {
    let pool = storage::build_pool(
        &db.url,
        storage::PoolSettings {
            max_size: 2,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
        },
    );
    storage::run_pending_migrations(&pool)
        .await
        .expect("migrations");
    pool
}

/// Runs `orders` as one batch, as the purchase queue would: each order's
/// answer, or the batch's error.
async fn try_batch(pool: &storage::Pool, orders: &[Order]) -> Vec<Result<Decided, StorageError>> {
    let runner = OrderBatches {
        key_ttl: Duration::from_secs(3600),
    };
    let conn = pool.get_owned().await.expect("a connection");
    runner.run(pool, conn, orders).await
}

/// Runs `orders` as one batch that must succeed.
async fn run_batch(pool: &storage::Pool, orders: &[Order]) -> Vec<Decided> {
    try_batch(pool, orders)
        .await
        .into_iter()
        .map(|answer| answer.expect("the batch is written"))
        .collect()
}

fn order(ticket: i64, quantity: u32, buyer: &str) -> Order {
    Order {
        ticket: TicketId::try_from(ticket).expect("an id"),
        action: Action::Purchase(request(quantity, buyer)),
        key: None,
        by: Actor::AnyBuyer,
    }
}

fn keyed(ticket: i64, quantity: u32, key: &str, fingerprint: &str) -> Order {
    Order {
        key: Some(OrderKey {
            key: key.to_owned(),
            fingerprint: fingerprint.to_owned(),
        }),
        ..order(ticket, quantity, BUYER)
    }
}

const BUYER: &str = "406c1d05-bbb2-4e94-b183-7d208c2692e1";

fn purchased(decided: &Decided) -> Option<PurchaseRecord> {
    match decided {
        Decided::Fresh(Outcome::Purchased(record)) => Some(*record),
        _ => None,
    }
}

#[tokio::test]
async fn a_batch_decides_each_buyer_in_arrival_order() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(3).await;
    let pool = migrated_pool(&db).await;

    let decided = run_batch(
        &pool,
        &[
            order(ticket, 2, BUYER),
            order(ticket, 2, BUYER),
            order(ticket, 1, BUYER),
        ],
    )
    .await;

    let (Some(first), Some(third)) = (purchased(&decided[0]), purchased(&decided[2])) else {
        panic!("unexpected outcomes: {decided:?}");
    };
    assert_eq!(
        decided[1],
        Decided::Fresh(Outcome::NotEnoughLeft { remaining: 1 })
    );
    assert_eq!((first.seq, third.seq), (1, 2), "numbered in arrival order");
    assert_eq!(app.remaining(ticket).await, 0);
    // Each buyer's purchase row is the one its outcome names.
    let rows = db
        .count(&format!(
            "SELECT count(*) FROM purchases WHERE (id = '{}' AND quantity = 2 AND seq = 1) \
             OR (id = '{}' AND quantity = 1 AND seq = 2)",
            first.id, third.id
        ))
        .await;
    assert_eq!(rows, 2);
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 2);
}

/// One batch over several tickets: each ticket is decided on its own, the
/// ones where everything fits in the batch's single statement, the others
/// under their locks, in the same batch.
#[tokio::test]
async fn a_batch_spans_tickets_and_decides_each_apart() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let roomy = app.create_ticket(10).await;
    let tight = app.create_ticket(3).await;
    let pool = migrated_pool(&db).await;

    let decided = run_batch(
        &pool,
        &[
            order(roomy, 4, BUYER),
            order(tight, 2, BUYER),
            order(9999, 1, BUYER),
            order(roomy, 4, BUYER),
            order(tight, 2, BUYER),
            order(tight, 1, BUYER),
        ],
    )
    .await;

    let seqs: Vec<Option<i64>> = decided
        .iter()
        .map(|d| purchased(d).map(|r| r.seq))
        .collect();
    assert_eq!(seqs, [Some(1), Some(1), None, Some(2), None, Some(2)]);
    assert_eq!(decided[2], Decided::Fresh(Outcome::UnknownTicket));
    assert_eq!(
        decided[4],
        Decided::Fresh(Outcome::NotEnoughLeft { remaining: 1 })
    );
    assert_eq!(app.remaining(roomy).await, 2);
    assert_eq!(app.remaining(tight).await, 0);
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 4);
}

/// A batch whose write fails: nothing of it is applied, and every buyer
/// gets the error.
#[tokio::test]
async fn a_failing_batch_applies_nothing() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(10).await;
    let other = app.create_ticket(10).await;
    poison(&db).await;
    let pool = migrated_pool(&db).await;

    let answers = try_batch(
        &pool,
        &[
            order(ticket, 1, BUYER),
            order(other, 1, BUYER),
            order(ticket, 2, POISONED_BUYER),
            order(ticket, 1, BUYER),
        ],
    )
    .await;

    assert!(answers.iter().all(Result::is_err), "{answers:?}");
    assert_eq!(app.remaining(ticket).await, 10);
    assert_eq!(app.remaining(other).await, 10);
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 0);
}

/// A batch that fails after its single statement committed the tickets
/// where everything fitted: those purchases are answered as made, the
/// failed part applies nothing, and every answer says what happened.
#[tokio::test]
async fn a_batch_failing_midway_answers_what_it_made() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let tight = app.create_ticket(3).await;
    let roomy = app.create_ticket(10).await;
    poison(&db).await;
    let pool = migrated_pool(&db).await;

    let answers = try_batch(
        &pool,
        &[
            order(tight, 1, BUYER),
            order(roomy, 1, BUYER),
            order(tight, 2, POISONED_BUYER),
            order(tight, 1, BUYER),
        ],
    )
    .await;

    assert!(
        answers[0].is_err() && answers[2].is_err() && answers[3].is_err(),
        "{answers:?}"
    );
    let made = answers[1].as_ref().ok().and_then(purchased).expect("made");
    assert_eq!(app.remaining(tight).await, 3);
    assert_eq!(app.remaining(roomy).await, 9);
    let rows = db
        .count(&format!(
            "SELECT count(*) FROM purchases WHERE id = '{}'",
            made.id
        ))
        .await;
    assert_eq!(rows, 1);
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 1);
}

/// Keys in one batch: a replay of an earlier request, a key reused for
/// another request, a new key, the same new key twice, and no key at all.
#[tokio::test]
async fn a_keyed_batch_replays_refuses_and_stores_each_key_as_its_purchase_commits() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(10).await;
    let pool = migrated_pool(&db).await;
    let earlier = run_batch(&pool, &[keyed(ticket, 1, "earlier", "f1")]).await;
    assert!(purchased(&earlier[0]).is_some());

    let decided = run_batch(
        &pool,
        &[
            keyed(ticket, 1, "earlier", "f1"),
            keyed(ticket, 1, "new", "f2"),
            keyed(ticket, 2, "earlier", "another request"),
            keyed(ticket, 1, "new", "f2"),
            order(ticket, 3, BUYER),
        ],
    )
    .await;

    assert!(matches!(&decided[0], Decided::Replayed(stored) if stored.status == 201));
    assert!(purchased(&decided[1]).is_some());
    assert_eq!(
        decided[2],
        Decided::InFlight,
        "the key is in this batch already"
    );
    assert_eq!(
        decided[3],
        Decided::InFlight,
        "the key is in this batch already"
    );
    assert!(purchased(&decided[4]).is_some());
    assert_eq!(app.remaining(ticket).await, 10 - 1 - 1 - 3);
    assert_eq!(db.count("SELECT count(*) FROM idempotency_keys").await, 2);
    let reused = run_batch(&pool, &[keyed(ticket, 2, "earlier", "another request")]).await;
    assert_eq!(reused, [Decided::KeyReused]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_batch_fails_its_buyers_get_an_error_and_the_books_stay_exact() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(1000).await;
    poison(&db).await;

    let buyers: Vec<String> = (0..200)
        .map(|i| {
            if i % 50 == 7 {
                POISONED_BUYER.to_owned()
            } else {
                uuid::Uuid::new_v4().to_string()
            }
        })
        .collect();
    let path = format!("/tickets/{ticket}/purchases");
    let statuses: Vec<StatusCode> = join_all(buyers.iter().map(|buyer| {
        let body = json!({"quantity": 2, "user_id": buyer});
        let path = &path;
        let app = &app;
        async move { app.post_json(path, &body).await.status() }
    }))
    .await;

    let sold = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let failed = statuses
        .iter()
        .filter(|s| **s == StatusCode::INTERNAL_SERVER_ERROR)
        .count();
    assert_eq!(sold + failed, 200, "only 201 or 500: {statuses:?}");
    assert!(failed >= 4, "each poisoned buyer's batch fails");
    let sold = i64::try_from(sold).expect("small");
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, sold);
    assert_eq!(app.remaining(ticket).await, 1000 - 2 * sold);
}

/// A batch that lands on a connection whose server refuses writes (a
/// standby, or a primary demoted since: SQLSTATE 25006) committed nothing:
/// it is decided again, once, on a new connection, and the refusing
/// connection leaves the pool for good.
#[tokio::test]
async fn a_write_refused_as_read_only_is_decided_again_and_its_connection_dropped() {
    let db = TestDatabase::create().await;
    let pool = migrated_pool(&db).await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(10).await;
    {
        let mut conn = pool.get().await.expect("a connection");
        diesel_async::SimpleAsyncConnection::batch_execute(
            &mut *conn,
            "SET SESSION default_transaction_read_only = on",
        )
        .await
        .expect("making the session read-only");
    }
    assert_eq!(
        pool.state().idle_connections,
        1,
        "the read-only one waits in the pool"
    );
    let discards_before = storage::POOL_EVENTS
        .refused_writes
        .load(std::sync::atomic::Ordering::Relaxed);

    let answers = run_batch(
        &pool,
        &[order(ticket, 2, "00000000-0000-0000-0000-000000000001")],
    )
    .await;

    assert!(
        matches!(answers[..], [Decided::Fresh(Outcome::Purchased(_))]),
        "{answers:?}"
    );
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM purchases WHERE ticket_id = {ticket}"
        ))
        .await,
        1,
        "bought exactly once"
    );
    assert!(
        storage::POOL_EVENTS
            .refused_writes
            .load(std::sync::atomic::Ordering::Relaxed)
            > discards_before
    );
    // Every connection left in the pool takes writes.
    for _ in 0..pool.state().connections {
        let mut conn = pool.get().await.expect("a connection");
        let read_only: String = diesel_async::RunQueryDsl::get_result(
            diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
                "current_setting('transaction_read_only')",
            )),
            &mut *conn,
        )
        .await
        .expect("reading the setting");
        assert_eq!(read_only, "off", "a read-only connection was kept");
    }
}
