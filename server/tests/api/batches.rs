//! The batched purchase path: buyers decided in arrival order, and a batch
//! that fails applies nothing.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use tickets_server::domain::{PurchaseRequest, Quantity, TicketId};
use tickets_server::storage::{self, PurchaseOutcome};

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

#[tokio::test]
async fn a_batch_decides_each_buyer_in_arrival_order() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(3).await;
    let pool = migrated_pool(&db).await;
    let buyer = "406c1d05-bbb2-4e94-b183-7d208c2692e1";

    let outcomes = storage::tickets::purchase_batch(
        &pool,
        TicketId::try_from(ticket).expect("an id"),
        &[request(2, buyer), request(2, buyer), request(1, buyer)],
    )
    .await
    .expect("the batch is written");

    let [
        PurchaseOutcome::Purchased(first),
        PurchaseOutcome::NotEnoughLeft { remaining: 1 },
        PurchaseOutcome::Purchased(third),
    ] = outcomes[..]
    else {
        panic!("unexpected outcomes: {outcomes:?}");
    };
    assert_eq!(app.remaining(ticket).await, 0);
    // Each buyer's purchase row is the one its outcome names.
    let rows = db
        .count(&format!(
            "SELECT count(*) FROM purchases WHERE (id = '{}' AND quantity = 2 AND seq = 1) OR (id = '{}' AND quantity = 1 AND seq = 2)",
            first.id, third.id
        ))
        .await;
    assert_eq!(rows, 2);
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 2);
}

#[tokio::test]
async fn a_batch_for_an_unknown_ticket_buys_nothing() {
    let db = TestDatabase::create().await;
    let pool = migrated_pool(&db).await;
    let buyer = "406c1d05-bbb2-4e94-b183-7d208c2692e1";
    let outcomes = storage::tickets::purchase_batch(
        &pool,
        TicketId::try_from(99_i64).expect("an id"),
        &[request(1, buyer)],
    )
    .await
    .expect("answered");
    assert_eq!(outcomes, [PurchaseOutcome::UnknownTicket]);
}

#[rstest::rstest]
#[case::everyone_fits(10)]
#[case::only_some_fit(3)]
#[tokio::test]
async fn a_failing_batch_applies_nothing(#[case] allocation: i64) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(allocation).await;
    poison(&db).await;
    let pool = migrated_pool(&db).await;
    let buyer = "406c1d05-bbb2-4e94-b183-7d208c2692e1";

    let result = storage::tickets::purchase_batch(
        &pool,
        TicketId::try_from(ticket).expect("an id"),
        &[
            request(1, buyer),
            request(2, POISONED_BUYER),
            request(1, buyer),
        ],
    )
    .await;

    assert!(result.is_err(), "the batch should fail: {result:?}");
    assert_eq!(app.remaining(ticket).await, allocation);
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 0);
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
