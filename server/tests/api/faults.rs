//! Faults survived: the database going away or hanging, the server
//! crashing or being stopped under load, a slow database, and slow or
//! abusive clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rstest::rstest;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::chaos_proxy::ChaosProxy;
use crate::helpers::{TestApp, TestDatabase, assert_problem};
use crate::process::Replica;

/// One answer seen by a buyer: when the request was sent, how long it took,
/// its status (or `None` when the connection failed) and its Retry-After.
#[derive(Debug)]
struct Seen {
    sent: Instant,
    took: Duration,
    status: Option<StatusCode>,
    retry_after: Option<String>,
}

/// `buyers` concurrent loops buying 1 ticket at a time from `base` until
/// `stop` is set; returns every answer.
async fn buy_until_stopped(
    base: &str,
    ticket: i64,
    buyers: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<Seen> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let loops = (0..buyers).map(|_| {
        let (client, stop) = (client.clone(), Arc::clone(stop));
        let url = format!("{base}/tickets/{ticket}/purchases");
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let sent = Instant::now();
                let body = json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()});
                let response = client.post(&url).json(&body).send().await;
                seen.push(Seen {
                    sent,
                    took: sent.elapsed(),
                    status: response.as_ref().ok().map(reqwest::Response::status),
                    retry_after: response
                        .as_ref()
                        .ok()
                        .and_then(|r| r.headers().get("retry-after"))
                        .map(|v| v.to_str().unwrap_or_default().to_owned()),
                });
                if response.is_err() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            seen
        })
    });
    futures::future::join_all(loops)
        .await
        .into_iter()
        .flat_map(|seen| seen.expect("buyer task"))
        .collect()
}

fn count(seen: &[Seen], status: StatusCode) -> i64 {
    i64::try_from(seen.iter().filter(|s| s.status == Some(status)).count()).expect("small")
}

/// The books balance, and every 201 has its purchase row. A purchase whose
/// commit raced a failure may exist without its 201 reaching the buyer, so
/// rows may exceed the 201s, never the reverse.
async fn assert_books_balance(db: &TestDatabase, ticket: i64, allocation: i64, created: i64) {
    let rows = db
        .count(&format!(
            "SELECT count(*) FROM purchases WHERE ticket_id = {ticket}"
        ))
        .await;
    let sold = db
        .count(&format!(
            "SELECT COALESCE(sum(quantity), 0)::bigint FROM purchases WHERE ticket_id = {ticket}"
        ))
        .await;
    let remaining = db
        .count(&format!(
            "SELECT remaining::bigint FROM tickets WHERE id = {ticket}"
        ))
        .await;
    assert!(
        rows >= created,
        "{created} purchases answered 201 but only {rows} rows exist"
    );
    assert_eq!(remaining + sold, allocation, "left + sold = allocation");
}

/// `url` with its host and port replaced by `address`.
pub fn through(url: &str, address: std::net::SocketAddr) -> String {
    through_hosts(url, &[address])
}

/// `url` with its host and port replaced by `addresses`, tried in turn.
fn through_hosts(url: &str, addresses: &[std::net::SocketAddr]) -> String {
    let (scheme_and_user, rest) = url.split_once('@').expect("a user in the URL");
    let (_, path) = rest.split_once('/').expect("a database in the URL");
    let hosts: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    format!("{scheme_and_user}@{}/{path}", hosts.join(","))
}

/// The connect and statement timeouts of the servers that meet a database
/// that stops answering: an answer timeout of 1.5 s (PoolSettings).
const SHORT_TIMEOUT: Duration = Duration::from_millis(500);

/// A server that reaches its database through `database_url`, with
/// [`SHORT_TIMEOUT`] to connect and for each statement.
async fn start_with_short_timeouts(db: &TestDatabase, database_url: String) -> TestApp {
    TestApp::start_with(db, |config| {
        config.database_url = database_url.into();
        config.connect_timeout = SHORT_TIMEOUT;
        config.statement_timeout = SHORT_TIMEOUT;
    })
    .await
}

/// The value of the counter `name` in `app`'s metrics (0 before it counts).
async fn counter(app: &TestApp, name: &str) -> f64 {
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    crate::metrics::sample(&metrics, name).unwrap_or(0.0)
}

pub fn database_address(url: &str) -> std::net::SocketAddr {
    let (_, rest) = url.split_once('@').expect("a user in the URL");
    let (host_port, _) = rest.split_once('/').expect("a database in the URL");
    host_port
        .replace("localhost", "127.0.0.1")
        .parse()
        .expect("host:port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_mid_stream_is_503_and_the_service_recovers_by_itself() {
    let db = TestDatabase::create().await;
    let proxy = ChaosProxy::start(database_address(&db.url)).await;
    let proxied = through(&db.url, proxy.address);
    let connect_timeout = Duration::from_millis(500);
    let app = TestApp::start_with(&db, |config| {
        config.database_url = proxied.into();
        config.connect_timeout = connect_timeout;
    })
    .await;
    let ticket = app.create_ticket(100_000).await;
    let stop = Arc::new(AtomicBool::new(false));
    let buyers = tokio::spawn({
        let (base, stop) = (app.address.clone(), Arc::clone(&stop));
        async move { buy_until_stopped(&base, ticket, 4, &stop).await }
    });

    tokio::time::sleep(Duration::from_millis(400)).await;
    proxy.cut();
    let cut_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.headers()["retry-after"], "1");
    assert_problem(health, StatusCode::SERVICE_UNAVAILABLE).await;
    let restored_at = Instant::now();
    proxy.restore();

    // Back by itself: purchases succeed again within a few seconds.
    let recovered = async {
        while app.purchase(ticket, 1).await.status() != StatusCode::CREATED {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), recovered)
        .await
        .expect("purchases succeed again after the database is back");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    stop.store(true, Ordering::SeqCst);
    let seen = buyers.await.expect("buyers");

    let outage = seen
        .iter()
        .filter(|s| s.sent > cut_at + Duration::from_millis(100) && s.sent + s.took < restored_at);
    let mut outage_answers = 0;
    for s in outage {
        outage_answers += 1;
        assert_eq!(
            s.status,
            Some(StatusCode::SERVICE_UNAVAILABLE),
            "during the outage: {s:?}"
        );
        assert_eq!(s.retry_after.as_deref(), Some("1"));
        assert!(
            s.took < connect_timeout + Duration::from_secs(1),
            "an answer took {:?}",
            s.took
        );
    }
    assert!(
        outage_answers > 0,
        "no request was answered during the outage"
    );
    assert!(
        seen.iter().all(|s| matches!(
            s.status,
            Some(StatusCode::CREATED | StatusCode::SERVICE_UNAVAILABLE)
        )),
        "only 201 or 503, never a hang or another error"
    );
    assert_books_balance(&db, ticket, 100_000, count(&seen, StatusCode::CREATED) + 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_is_503_and_its_connections_are_dropped() {
    let db = TestDatabase::create().await;
    let proxy = ChaosProxy::start(database_address(&db.url)).await;
    let proxied = through(&db.url, proxy.address);
    let app = start_with_short_timeouts(&db, proxied).await;
    // Twice the statement timeout plus the connect timeout; a request's
    // deadline adds a wait for a connection (PoolSettings).
    let answer_timeout = Duration::from_millis(1500);
    let request_deadline = Duration::from_secs(2);
    let ticket = app.create_ticket(100).await;
    let listing = format!("/tickets/{ticket}/purchases");
    assert_eq!(app.purchase(ticket, 1).await.status(), StatusCode::CREATED);
    assert_eq!(
        app.get(&format!("/tickets/{ticket}")).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.get(&listing).await.status(), StatusCode::OK);

    // The database hangs: the connections stay open, nothing is answered.
    // Purchases and reads run in batches, bounded by the answer timeout;
    // the rest (a new ticket, a listing) by the request's deadline. The
    // creation comes first, so that it finds an open connection in the
    // pool rather than waiting to open one (bounded apart).
    proxy.freeze();
    for (request, bound) in [
        ("creation", request_deadline),
        ("listing", request_deadline),
        ("purchase", answer_timeout),
        ("read", answer_timeout),
    ] {
        let started = Instant::now();
        let limit = Duration::from_secs(10);
        let answer = match request {
            "purchase" => tokio::time::timeout(limit, app.purchase(ticket, 1)).await,
            "read" => tokio::time::timeout(limit, app.get(&format!("/tickets/{ticket}"))).await,
            "creation" => {
                let new = json!({"name": "frozen", "desc": "never made", "allocation": 5});
                tokio::time::timeout(limit, app.post_json("/tickets", &new)).await
            }
            _ => tokio::time::timeout(limit, app.get(&listing)).await,
        };
        let answer = answer
            .unwrap_or_else(|_| panic!("a {request} waited for a frozen database for {limit:?}"));
        let took = started.elapsed();
        assert_eq!(answer.headers()["retry-after"], "1");
        assert_problem(answer, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(
            took < bound + Duration::from_secs(1),
            "a {request} answered after {took:?}"
        );
    }

    // A standby takes over: new connections are answered again, the frozen
    // ones never. The server must stop using those it has.
    proxy.restore();
    let mut created = 1;
    let recovered = async {
        loop {
            let status = app.purchase(ticket, 1).await.status();
            assert!(
                matches!(
                    status,
                    StatusCode::CREATED | StatusCode::SERVICE_UNAVAILABLE
                ),
                "while recovering: {status}"
            );
            if status == StatusCode::CREATED {
                created += 1;
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), recovered)
        .await
        .expect("purchases succeed again on new connections");
    assert_eq!(
        app.get(&format!("/tickets/{ticket}")).await.status(),
        StatusCode::OK
    );

    // At least the connection the frozen purchase was sent on: the pool
    // had kept the one the purchase before it used.
    let dropped = counter(&app, "db_pool_unanswered_discards_total").await;
    assert!(
        dropped >= 1.0,
        "connections dropped for an unanswered statement: {dropped}"
    );
    // Nothing sent while frozen reached the database.
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM purchases WHERE ticket_id = {ticket}"
        ))
        .await,
        created
    );
    assert_books_balance(&db, ticket, 100, created).await;
    assert_eq!(
        db.count("SELECT count(*) FROM tickets WHERE name = 'frozen'")
            .await,
        0
    );
}

/// A URL's hosts are tried in turn, each for the connect timeout as a
/// whole: one that accepts connections and then answers nothing (a frozen
/// server listed first) does not keep the service from the next, and once
/// a host has served, new connections go to it first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_never_answers_is_passed_over_for_the_next() {
    let db = TestDatabase::create().await;
    let frozen = ChaosProxy::start(database_address(&db.url)).await;
    frozen.freeze();
    let hosts = through_hosts(&db.url, &[frozen.address, database_address(&db.url)]);
    let app = start_with_short_timeouts(&db, hosts).await;
    let ticket = app.create_ticket(100).await;
    let listing = format!("/tickets/{ticket}/purchases");
    for attempt in 1..=5 {
        // Concurrent, so that the pool opens new connections.
        let started = Instant::now();
        let (purchase, listed) = tokio::join!(app.purchase(ticket, 1), app.get(&listing));
        let took = started.elapsed();
        assert_eq!(purchase.status(), StatusCode::CREATED, "purchase {attempt}");
        assert_eq!(listed.status(), StatusCode::OK, "listing {attempt}");
        // The frozen host costs a connection the connect timeout at most,
        // and only until the other host has served.
        assert!(took < SHORT_TIMEOUT * 3, "attempt {attempt} took {took:?}");
    }
    let opened = counter(&app, "db_pool_connections_opened_total").await;
    assert!(opened >= 2.0, "connections opened: {opened}");
    assert_books_balance(&db, ticket, 100, 5).await;
}

/// The pool's connections to a server that stops answering: once one of
/// them has gone unanswered past the statement timeout, none of the others
/// is handed out again. Without that, each would cost a batch the answer
/// timeout after a standby has taken over, one after another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_a_server_stops_answering_none_of_its_connections_is_used_again() {
    let db = TestDatabase::create().await;
    let proxy = ChaosProxy::start(database_address(&db.url)).await;
    let proxied = through(&db.url, proxy.address);
    let app = start_with_short_timeouts(&db, proxied).await;
    let ticket = app.create_ticket(100).await;
    // Several connections open and idle: listings run outside the batches,
    // each on a connection of its own. More than a few, as the background
    // work (holds, keys) may take some of them while the server is frozen.
    let listing = format!("/tickets/{ticket}/purchases");
    let opened = async || counter(&app, "db_pool_connections_opened_total").await;
    for _ in 0..50 {
        let listings = futures::future::join_all((0..32).map(|_| app.get(&listing))).await;
        assert!(
            listings
                .iter()
                .all(|answer| answer.status() == StatusCode::OK)
        );
        if opened().await >= 6.0 {
            break;
        }
    }
    assert!(
        opened().await >= 6.0,
        "the pool opened fewer than 6 connections"
    );

    proxy.freeze();
    assert_problem(
        app.purchase(ticket, 1).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    // A standby takes over: new connections are answered, the frozen ones
    // never.
    proxy.restore();
    for attempt in 1..=3 {
        let started = Instant::now();
        let status = app.purchase(ticket, 1).await.status();
        let took = started.elapsed();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "purchase {attempt} after the takeover, answered after {took:?}"
        );
        // A frozen connection would hold it for the answer timeout.
        assert!(
            took < Duration::from_millis(1500),
            "purchase {attempt} took {took:?}"
        );
    }
    let stale = counter(&app, "db_pool_stale_discards_total").await;
    assert!(
        stale >= 1.0,
        "connections dropped as opened to the frozen server: {stale}"
    );
    assert_books_balance(&db, ticket, 100, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_load_leaves_exact_books_and_starts_again() {
    let db = TestDatabase::create().await;
    let first = Replica::start(&db).await;
    let ticket = first.create_ticket(100_000).await;
    let stop = Arc::new(AtomicBool::new(false));
    let buyers = tokio::spawn({
        let (base, stop) = (first.address.clone(), Arc::clone(&stop));
        async move { buy_until_stopped(&base, ticket, 8, &stop).await }
    });

    tokio::time::sleep(Duration::from_millis(600)).await;
    first.kill().await;
    stop.store(true, Ordering::SeqCst);
    let seen = buyers.await.expect("buyers");
    let created_before_crash = count(&seen, StatusCode::CREATED);
    assert!(
        created_before_crash > 0,
        "nothing was bought before the crash"
    );
    assert!(
        seen.iter()
            .all(|s| s.status.is_none_or(|status| status == StatusCode::CREATED))
    );

    let second = Replica::start(&db).await;
    let client = reqwest::Client::new();
    assert_books_balance(&db, ticket, 100_000, created_before_crash).await;
    let again = client
        .post(format!("{}/tickets/{ticket}/purchases", second.address))
        .json(&json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()}))
        .send()
        .await
        .expect("sent");
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_books_balance(&db, ticket, 100_000, created_before_crash + 1).await;
    assert!(second.terminate().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_answers_every_request_in_flight_then_exits() {
    let db = TestDatabase::create().await;
    let replica = Replica::start(&db).await;
    let ticket = replica.create_ticket(100_000).await;
    let stop = Arc::new(AtomicBool::new(false));
    let buyers = tokio::spawn({
        let (base, stop) = (replica.address.clone(), Arc::clone(&stop));
        async move { buy_until_stopped(&base, ticket, 8, &stop).await }
    });

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        replica.terminate().await,
        "the server exited uncleanly on SIGTERM"
    );
    stop.store(true, Ordering::SeqCst);
    let seen = buyers.await.expect("buyers");

    let answered: Vec<_> = seen.iter().filter_map(|s| s.status).collect();
    assert!(!answered.is_empty());
    assert!(
        answered.iter().all(|status| *status == StatusCode::CREATED),
        "a request got {answered:?}"
    );
    assert_books_balance(&db, ticket, 100_000, count(&seen, StatusCode::CREATED)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_ticket_fails_fast_with_503_while_others_still_sell() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, |config| {
        config.statement_timeout = Duration::from_millis(300);
    })
    .await;
    let locked = app.create_ticket(10).await;
    let free = app.create_ticket(10).await;
    let blocker = db.lock_ticket(locked).await;

    let started = Instant::now();
    let response = app.purchase(locked, 1).await;
    let took = started.elapsed();

    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "answered after {took:?}"
    );
    assert_eq!(app.purchase(free, 1).await.status(), StatusCode::CREATED);

    drop(blocker);
    assert_eq!(app.purchase(locked, 1).await.status(), StatusCode::CREATED);
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM purchases WHERE ticket_id = {locked}"
        ))
        .await,
        1
    );
    assert_eq!(app.remaining(locked).await, 9, "the 503 bought nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_answers_503_within_the_connect_timeout() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, |config| {
        config.pool_size = 1;
        config.connect_timeout = Duration::from_millis(300);
    })
    .await;
    let locked = app.create_ticket(10).await;
    let blocker = db.lock_ticket(locked).await;
    // This purchase holds the only connection while it waits for the lock.
    let stuck = app.spawn_purchase(locked);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let response = app.get(&format!("/tickets/{locked}")).await;
    let took = started.elapsed();

    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(took < Duration::from_secs(2), "answered after {took:?}");
    drop(blocker);
    assert_eq!(
        stuck.await.expect("task").expect("answered"),
        StatusCode::CREATED
    );
}

/// A write is answered as made only once it has committed. PostgreSQL sends
/// a statement's rows before it commits the statement's own transaction (at
/// the protocol's Sync), and that commit can still fail, or never come: a
/// primary lost while it waits for its synchronous standby. A failover run
/// lost a ticket answered 201 that way. Here a check deferred to the commit
/// refuses it, and each write must fail, with nothing kept.
#[rstest]
#[case::ticket_creation("tickets")]
#[case::purchase("purchases")]
#[case::hold("holds")]
#[tokio::test]
async fn a_write_whose_commit_fails_is_not_answered_as_made(#[case] table: &str) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;
    db.admin_in_database(
        "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql \
         AS $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$",
    )
    .await;
    db.admin_in_database(&format!(
        "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON {table} \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()"
    ))
    .await;
    let rows_before = db.count(&format!("SELECT count(*) FROM {table}")).await;

    let response = match table {
        "tickets" => {
            app.post_json(
                "/tickets",
                &json!({"name": "concert", "desc": "a test event", "allocation": 5}),
            )
            .await
        }
        "purchases" => app.purchase(ticket, 1).await,
        _ => app.hold(ticket, 1, None).await,
    };

    let status = response.status();
    assert!(
        status.is_server_error(),
        "a {table} row whose commit failed was answered {status}"
    );
    assert_problem(response, status).await;
    assert_eq!(
        db.count(&format!("SELECT count(*) FROM {table}")).await,
        rows_before,
        "nothing is kept"
    );
    assert_eq!(app.remaining(ticket).await, 5);
}

/// Reads from `stream` until it closes, for at most `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut answer = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut answer))
        .await
        .ok()
        .map(|_| String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, |config| {
        config.header_read_timeout = Duration::from_millis(300);
    })
    .await;
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connected");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("sent");

    let started = Instant::now();
    let closed = read_until_closed(&mut stream, Duration::from_secs(5)).await;

    assert!(
        closed.is_some(),
        "the server kept a stalled client's connection open"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connected");
    stream
        .write_all(b"POST /tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .expect("sent");
    // Chunks of 1 KiB past the limit: no Content-Length warns the server in advance.
    for _ in 0..tickets_server::http::MAX_BODY_BYTES / 1024 + 4 {
        let chunk = format!("400\r\n{}\r\n", " ".repeat(1024));
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break; // the server may stop reading once past the limit
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;

    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(db.count("SELECT count(*) FROM tickets").await, 0);
}
