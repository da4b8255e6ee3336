//! Model-checked books: random sequences of ticket creations (some with a
//! per-buyer limit), rounds of concurrent purchases, holds, confirmations,
//! releases and cancellations, and hold expiries (a controllable clock: the
//! test moves a hold's expiry into the past), run against the real server
//! and database. After each step the answers are checked against a simple
//! in-memory model, and the model against what the API and the database say:
//! for every ticket what is left, held and sold adds up to its allocation,
//! nothing goes below 0, and no buyer passes its limit.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::join_all;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDatabase, assert_books_balance};

/// A ticket no one created: orders of it must be 404.
const UNKNOWN: usize = usize::MAX;

/// The buyers: few, so that per-buyer limits bite.
const BUYERS: usize = 3;

#[derive(Debug, Clone)]
enum Step {
    /// Create a ticket with this allocation, and maybe a per-buyer limit.
    Create(u32, Option<u32>),
    /// Send these at once.
    Round(Vec<Act>),
    /// Move the expiry of the n-th held hold (modulo their count) into the
    /// past.
    Expire(usize),
    /// A new buyer buys all the model says is left of the n-th ticket (up
    /// to its per-buyer limit): that must be sold, so nothing is held back
    /// that should be free, by an expired hold or anything else.
    BuyTheRest(usize),
}

#[derive(Debug, Clone, Copy)]
enum Act {
    /// (ticket index or UNKNOWN, buyer, quantity)
    Buy(usize, usize, u32),
    Hold(usize, usize, u32),
    /// The n-th hold made so far (modulo their count).
    Confirm(usize),
    Release(usize),
    /// The n-th purchase made so far.
    Cancel(usize),
}

fn step() -> impl Strategy<Value = Step> {
    let ticket = prop_oneof![9 => 0_usize..4, 1 => Just(UNKNOWN)];
    let act = prop_oneof![
        3 => (ticket.clone(), 0..BUYERS, 1_u32..=4).prop_map(|(t, b, q)| Act::Buy(t, b, q)),
        3 => (ticket, 0..BUYERS, 1_u32..=4).prop_map(|(t, b, q)| Act::Hold(t, b, q)),
        2 => (0_usize..64).prop_map(Act::Confirm),
        1 => (0_usize..64).prop_map(Act::Release),
        1 => (0_usize..64).prop_map(Act::Cancel),
    ];
    prop_oneof![
        2 => (0_u32..=12, prop::option::of(1_u32..=5)).prop_map(|(a, m)| Step::Create(a, m)),
        5 => prop::collection::vec(act, 1..14).prop_map(Step::Round),
        1 => (0_usize..64).prop_map(Step::Expire),
        1 => (0_usize..4).prop_map(Step::BuyTheRest),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HoldState {
    Held,
    Confirmed,
    Released,
    Expired,
}

#[derive(Debug, Clone)]
struct HoldModel {
    id: String,
    ticket: i64,
    buyer: usize,
    quantity: i64,
    state: HoldState,
}

#[derive(Debug, Clone)]
struct PurchaseModel {
    id: String,
    ticket: i64,
    buyer: usize,
    quantity: i64,
    cancelled: bool,
}

#[derive(Debug, Default)]
struct Model {
    /// id -> (total, max per buyer)
    tickets: HashMap<i64, (i64, Option<i64>)>,
    created: Vec<i64>,
    holds: Vec<HoldModel>,
    purchases: Vec<PurchaseModel>,
}

impl Model {
    fn held(&self, ticket: i64) -> i64 {
        self.holds
            .iter()
            .filter(|h| h.ticket == ticket && h.state == HoldState::Held)
            .map(|h| h.quantity)
            .sum()
    }

    fn sold(&self, ticket: i64) -> i64 {
        self.purchases
            .iter()
            .filter(|p| p.ticket == ticket && !p.cancelled)
            .map(|p| p.quantity)
            .sum()
    }

    fn owned(&self, ticket: i64, buyer: usize) -> i64 {
        let held: i64 = self
            .holds
            .iter()
            .filter(|h| h.ticket == ticket && h.buyer == buyer && h.state == HoldState::Held)
            .map(|h| h.quantity)
            .sum();
        let bought: i64 = self
            .purchases
            .iter()
            .filter(|p| p.ticket == ticket && p.buyer == buyer && !p.cancelled)
            .map(|p| p.quantity)
            .sum();
        held + bought
    }

    fn ticket_of(&self, index: usize) -> i64 {
        if index == UNKNOWN || self.created.is_empty() {
            i64::MAX
        } else {
            self.created[index % self.created.len()]
        }
    }
}

fn buyer_id(buyer: usize) -> String {
    format!("00000000-0000-4000-8000-{buyer:012}")
}

/// One act as sent, with what it named and what came back.
#[derive(Debug)]
struct Sent {
    act: Act,
    /// The hold or purchase it named (index into the model), if any.
    named: Option<usize>,
    ticket: i64,
    status: StatusCode,
    body: Value,
}

async fn send(app: &TestApp, model: &Model, act: Act) -> Sent {
    let (path, body, named, ticket) = match act {
        Act::Buy(t, buyer, q) | Act::Hold(t, buyer, q) => {
            let ticket = model.ticket_of(t);
            let kind = if matches!(act, Act::Buy(..)) {
                "purchases"
            } else {
                "holds"
            };
            let body = json!({"quantity": q, "user_id": buyer_id(buyer)});
            (
                format!("/tickets/{ticket}/{kind}"),
                Some(body),
                None,
                ticket,
            )
        }
        Act::Confirm(n) | Act::Release(n) if !model.holds.is_empty() => {
            let index = n % model.holds.len();
            let hold = &model.holds[index];
            let path = format!("/tickets/{}/holds/{}", hold.ticket, hold.id);
            let path = if matches!(act, Act::Confirm(_)) {
                format!("{path}/confirm")
            } else {
                path
            };
            (path, None, Some(index), hold.ticket)
        }
        Act::Cancel(n) if !model.purchases.is_empty() => {
            let index = n % model.purchases.len();
            let purchase = &model.purchases[index];
            let path = format!(
                "/tickets/{}/purchases/{}/cancel",
                purchase.ticket, purchase.id
            );
            (path, None, Some(index), purchase.ticket)
        }
        // Nothing to name yet: a read stands in, to keep the round's shape.
        _ => (
            format!("/tickets/{}", model.ticket_of(0)),
            None,
            None,
            i64::MAX,
        ),
    };
    let response = match (act, body) {
        (_, Some(body)) => app.post_json(&path, &body).await,
        (Act::Release(_), None) if named.is_some() => app.delete(&path).await,
        (_, None) if named.is_some() => app.post_empty(&path).await,
        _ => app.get(&path).await,
    };
    let status = response.status();
    let body = response.json().await.unwrap_or_default();
    Sent {
        act,
        named,
        ticket,
        status,
        body,
    }
}

/// Brings the model up to a purchase or hold made.
fn record_made(model: &mut Model, s: &Sent, buyer: usize, q: u32) -> Result<(), TestCaseError> {
    prop_assert_eq!(s.body["quantity"].as_i64(), Some(i64::from(q)));
    let id = s.body["id"].as_str().unwrap_or_default().to_owned();
    if matches!(s.act, Act::Buy(..)) {
        model.purchases.push(PurchaseModel {
            id,
            ticket: s.ticket,
            buyer,
            quantity: i64::from(q),
            cancelled: false,
        });
    } else {
        model.holds.push(HoldModel {
            id,
            ticket: s.ticket,
            buyer,
            quantity: i64::from(q),
            state: HoldState::Held,
        });
    }
    Ok(())
}

/// Checks a confirmation against the holds as they stood before the round,
/// and brings the model up to it.
fn record_confirmed(
    model: &mut Model,
    s: &Sent,
    before: &[HoldState],
) -> Result<(), TestCaseError> {
    let index = s.named.expect("a named hold");
    prop_assert_eq!(before[index], HoldState::Held, "only a held hold confirms");
    prop_assert!(
        model.holds[index].state != HoldState::Confirmed,
        "confirmed twice"
    );
    prop_assert!(
        model.holds[index].state != HoldState::Released,
        "confirmed and released"
    );
    model.holds[index].state = HoldState::Confirmed;
    let hold = model.holds[index].clone();
    prop_assert_eq!(s.body["hold_id"].as_str(), Some(hold.id.as_str()));
    model.purchases.push(PurchaseModel {
        id: s.body["id"].as_str().unwrap_or_default().to_owned(),
        ticket: hold.ticket,
        buyer: hold.buyer,
        quantity: hold.quantity,
        cancelled: false,
    });
    Ok(())
}

/// Checks each answer of a round against the model before it, and brings
/// the model up to what the answers say happened.
fn apply_round(model: &mut Model, sent: &[Sent]) -> Result<(), TestCaseError> {
    let before: Vec<HoldState> = model.holds.iter().map(|h| h.state).collect();
    let cancelled_before: Vec<bool> = model.purchases.iter().map(|p| p.cancelled).collect();
    for s in sent {
        let problem = s.body["type"].as_str().unwrap_or_default();
        let unknown = !model.tickets.contains_key(&s.ticket);
        match (s.act, s.status) {
            // The read that stood in for an act with nothing to name.
            (_, status)
                if s.named.is_none()
                    && matches!(s.act, Act::Confirm(_) | Act::Release(_) | Act::Cancel(_)) =>
            {
                prop_assert!(matches!(status, StatusCode::OK | StatusCode::NOT_FOUND));
            }
            (Act::Buy(..) | Act::Hold(..), StatusCode::NOT_FOUND) => prop_assert!(unknown),
            (Act::Buy(_, buyer, q) | Act::Hold(_, buyer, q), StatusCode::CREATED) => {
                prop_assert!(!unknown);
                record_made(model, s, buyer, q)?;
            }
            (Act::Buy(..) | Act::Hold(..), StatusCode::CONFLICT) => prop_assert!(
                matches!(
                    problem,
                    "/problems/not-enough-tickets" | "/problems/limit-exceeded"
                ),
                "{}",
                s.body
            ),
            (Act::Confirm(_), StatusCode::CREATED) => record_confirmed(model, s, &before)?,
            (Act::Confirm(_), StatusCode::CONFLICT) => {
                let index = s.named.expect("a named hold");
                let expected = match before[index] {
                    // Another act of the round confirmed or released it first.
                    HoldState::Held => &["/problems/hold-confirmed", "/problems/hold-released"][..],
                    HoldState::Confirmed => &["/problems/hold-confirmed"],
                    HoldState::Released => &["/problems/hold-released"],
                    HoldState::Expired => &["/problems/hold-expired"],
                };
                prop_assert!(
                    expected.contains(&problem),
                    "{:?} confirmed: {}",
                    before[index],
                    s.body
                );
            }
            (Act::Release(_), StatusCode::NO_CONTENT) => {
                let index = s.named.expect("a named hold");
                if model.holds[index].state == HoldState::Held {
                    model.holds[index].state = HoldState::Released;
                }
                prop_assert!(
                    model.holds[index].state != HoldState::Confirmed,
                    "released and confirmed"
                );
            }
            (Act::Release(_), StatusCode::CONFLICT) => {
                prop_assert_eq!(problem, "/problems/hold-confirmed");
            }
            (Act::Cancel(_), StatusCode::OK) => {
                let index = s.named.expect("a named purchase");
                model.purchases[index].cancelled = true;
                prop_assert!(s.body["cancelled_at"].is_string());
            }
            (act, status) => prop_assert!(false, "{act:?}: unexpected {status} {}", s.body),
        }
    }
    // A purchase cancelled before the round stays so, whatever answered.
    for (purchase, was) in model.purchases.iter().zip(cancelled_before) {
        prop_assert!(!was || purchase.cancelled);
    }
    Ok(())
}

/// The model agrees with the API and the database: what is left, held and
/// sold of every ticket, and no buyer over a limit.
async fn check(app: &TestApp, db: &TestDatabase, model: &Model) -> Result<(), TestCaseError> {
    for (&ticket, &(total, max_per_user)) in &model.tickets {
        let shown = app.ticket(ticket).await;
        let (held, sold) = (model.held(ticket), model.sold(ticket));
        prop_assert_eq!(shown["held"].as_i64(), Some(held), "ticket {} held", ticket);
        prop_assert_eq!(shown["sold"].as_i64(), Some(sold), "ticket {} sold", ticket);
        prop_assert_eq!(
            shown["allocation"].as_i64(),
            Some(total - held - sold),
            "ticket {} left",
            ticket
        );
        prop_assert!(total - held - sold >= 0);
        if let Some(max) = max_per_user {
            for buyer in 0..BUYERS {
                prop_assert!(
                    model.owned(ticket, buyer) <= max,
                    "buyer {} over {}",
                    buyer,
                    max
                );
            }
        }
    }
    assert_books_balance(db).await;
    Ok(())
}

async fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let db = TestDatabase::create().await;
    // No sweep: expired holds stay stored as held, and every read and order
    // must treat them as free all the same.
    let app = TestApp::start_with(&db, |config| {
        config.hold_sweep_interval = Duration::from_secs(3600);
    })
    .await;
    let mut model = Model::default();
    for step in steps {
        match step {
            Step::Create(allocation, max_per_user) => {
                let mut body = json!({"name": "model", "desc": "", "allocation": allocation});
                if let Some(max) = max_per_user {
                    body["max_per_user"] = json!(max);
                }
                let created: Value = app
                    .post_json("/tickets", &body)
                    .await
                    .json()
                    .await
                    .expect("JSON");
                let ticket = created["id"].as_i64().expect("an id");
                model.created.push(ticket);
                model
                    .tickets
                    .insert(ticket, (i64::from(allocation), max_per_user.map(i64::from)));
            }
            Step::Round(acts) => {
                let sent = join_all(acts.iter().map(|&act| send(&app, &model, act))).await;
                apply_round(&mut model, &sent)?;
            }
            Step::Expire(n) => {
                let held: Vec<usize> = (0..model.holds.len())
                    .filter(|&i| model.holds[i].state == HoldState::Held)
                    .collect();
                if held.is_empty() {
                    continue;
                }
                let index = held[n % held.len()];
                db.admin_in_database(&format!(
                    "UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = '{}'",
                    model.holds[index].id
                ))
                .await;
                model.holds[index].state = HoldState::Expired;
            }
            Step::BuyTheRest(n) => {
                if model.created.is_empty() {
                    continue;
                }
                let ticket = model.ticket_of(n);
                let (total, max_per_user) = model.tickets[&ticket];
                let left = total - model.held(ticket) - model.sold(ticket);
                let quantity = max_per_user.map_or(left, |max| left.min(max));
                if quantity == 0 {
                    continue;
                }
                let buyer = BUYERS + model.purchases.len();
                let response = app
                    .post_json(
                        &format!("/tickets/{ticket}/purchases"),
                        &json!({"quantity": quantity, "user_id": buyer_id(buyer)}),
                    )
                    .await;
                let status = response.status();
                let body: Value = response.json().await.unwrap_or_default();
                prop_assert_eq!(
                    status,
                    StatusCode::CREATED,
                    "{} of {} left: {}",
                    quantity,
                    left,
                    body
                );
                model.purchases.push(PurchaseModel {
                    id: body["id"].as_str().unwrap_or_default().to_owned(),
                    ticket,
                    buyer,
                    quantity,
                    cancelled: false,
                });
            }
        }
        check(&app, &db, &model).await?;
    }
    Ok(())
}

#[test]
fn concurrent_orders_agree_with_the_model() {
    // A fixed seed and no failure files: every run tries the same cases, and
    // a failure prints the shrunk sequence of steps that reproduces it.
    let config = Config {
        cases: 16,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let outcome = runner.run(&prop::collection::vec(step(), 1..12), |steps| {
        runtime.block_on(run(steps))
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
