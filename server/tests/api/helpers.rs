use std::time::Duration;

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tickets_server::config::{AuthSettings, Config};
use tickets_server::startup::Application;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A database of one test's own, dropped when the test ends.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let admin_url = std::env::var("DATABASE_URL").expect(
            "DATABASE_URL must name a PostgreSQL server the tests may create databases on: run scripts/test.sh",
        );
        let name = format!("tickets_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&admin_url)
            .await
            .expect("connecting to DATABASE_URL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("creating the test database");
        let url = replace_database(&admin_url, &name);
        Self {
            admin_url,
            name,
            url,
        }
    }

    /// A small pool on the database, migrated: for calling the server's
    /// library directly, as its CLI does.
    pub async fn pool(&self) -> tickets_server::storage::Pool {
        use tickets_server::storage::{PoolSettings, build_pool, run_pending_migrations};
        let pool = build_pool(
            &self.url,
            PoolSettings {
                max_size: 2,
                connect_timeout: Duration::from_secs(5),
                statement_timeout: Duration::from_secs(5),
            },
        );
        run_pending_migrations(&pool).await.expect("migrated");
        pool
    }

    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url)
            .await
            .expect("connecting to the test database")
    }

    /// Runs `query`, which returns one BIGINT.
    pub async fn count(&self, query: &str) -> i64 {
        let mut conn = self.connect().await;
        diesel::select(diesel::dsl::sql::<BigInt>(&format!("({query})")))
            .get_result(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    /// Runs `query`, which returns one TEXT (NULL as `None`).
    pub async fn text(&self, query: &str) -> Option<String> {
        let mut conn = self.connect().await;
        diesel::select(diesel::dsl::sql::<Nullable<Text>>(&format!("({query})")))
            .get_result(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    /// A session of the test's own holding ticket `ticket`'s row lock until
    /// it is dropped, as a slow or stuck transaction would.
    pub async fn lock_ticket(&self, ticket: i64) -> AsyncPgConnection {
        let mut blocker = self.connect().await;
        blocker.begin_test_transaction().await.expect("BEGIN");
        diesel::sql_query(format!(
            "SELECT id FROM tickets WHERE id = {ticket} FOR UPDATE"
        ))
        .execute(&mut blocker)
        .await
        .expect("locking the ticket");
        blocker
    }

    /// Runs `statement` in the test database, as a test that reaches past
    /// the API would (to move a hold's expiry into the past, say).
    pub async fn admin_in_database(&self, statement: &str) {
        let mut conn = self.connect().await;
        diesel::sql_query(statement)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    /// Runs `statement` as the server's administrator.
    pub async fn admin(&self, statement: &str) {
        let mut admin = AsyncPgConnection::establish(&self.admin_url)
            .await
            .expect("connecting to DATABASE_URL");
        diesel::sql_query(statement.replace("{db}", &self.name))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside async code: use a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = AsyncPgConnection::establish(&admin_url).await?;
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                anyhow::Ok(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// A running server and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// Starts a server on 127.0.0.1:0 against `db`.
    pub async fn start(db: &TestDatabase) -> Self {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: &TestDatabase, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_with_auth(db, &AuthSettings::Open, adjust).await
    }

    /// Starts a server that authenticates requests as `auth` says.
    pub async fn start_with_auth(
        db: &TestDatabase,
        auth: &AuthSettings,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        init_test_logging();
        let mut config = Config::from_lookup(|name| match name {
            "DATABASE_URL" => Some(db.url.clone()),
            "LISTEN_ADDR" => Some("127.0.0.1:0".to_owned()),
            "DATABASE_POOL_SIZE" => Some("8".to_owned()),
            // Every test client is 127.0.0.1: the tests of the limits
            // turn them on (rate_limits.rs).
            "RATE_LIMITS" => Some("off".to_owned()),
            _ => None,
        })
        .expect("test configuration");
        adjust(&mut config);
        let app = Application::build(&config, auth)
            .await
            .expect("starting the server");
        let address = format!("http://{}", app.local_addr());
        let (shutdown, stop) = oneshot::channel();
        let task = tokio::spawn(app.run_until(async {
            let _ = stop.await;
        }));
        Self {
            address,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a ticket with `allocation` and returns its id.
    pub async fn create_ticket(&self, allocation: i64) -> i64 {
        let response = self
            .post_json(
                "/tickets",
                &json!({"name": "concert", "desc": "a test event", "allocation": allocation}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("JSON body");
        body["id"].as_i64().expect("an id")
    }

    pub async fn purchase(&self, ticket: i64, quantity: i64) -> Response {
        self.post_json(
            &format!("/tickets/{ticket}/purchases"),
            &json!({"quantity": quantity, "user_id": uuid::Uuid::new_v4()}),
        )
        .await
    }

    /// Sends a purchase of 1 from a task of its own, for a request that must
    /// stay in flight while the test goes on; the task returns its status.
    pub fn spawn_purchase(&self, ticket: i64) -> JoinHandle<reqwest::Result<StatusCode>> {
        let (client, url) = (
            self.client.clone(),
            self.url(&format!("/tickets/{ticket}/purchases")),
        );
        tokio::spawn(async move {
            let body = json!({"quantity": 1, "user_id": uuid::Uuid::new_v4()});
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status())
        })
    }

    /// Holds `quantity` of `ticket` for a new buyer, for `ttl_seconds`.
    pub async fn hold(&self, ticket: i64, quantity: i64, ttl_seconds: Option<u32>) -> Response {
        let mut body = json!({"quantity": quantity, "user_id": uuid::Uuid::new_v4()});
        if let Some(ttl) = ttl_seconds {
            body["ttl_seconds"] = json!(ttl);
        }
        self.post_json(&format!("/tickets/{ticket}/holds"), &body)
            .await
    }

    /// Sends an empty POST to `path` (a confirmation, a cancellation).
    pub async fn post_empty(&self, path: &str) -> Response {
        self.client
            .post(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// The ticket as the API reports it.
    pub async fn ticket(&self, ticket: i64) -> Value {
        let response = self.get(&format!("/tickets/{ticket}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("JSON body");
        let (allocation, sold, held, total) = (
            body["allocation"].as_i64().expect("allocation"),
            body["sold"].as_i64().expect("sold"),
            body["held"].as_i64().expect("held"),
            body["total"].as_i64().expect("total"),
        );
        assert_eq!(
            allocation + sold + held,
            total,
            "availability adds up: {body}"
        );
        body
    }

    /// What is left of a ticket, as the API reports it.
    pub async fn remaining(&self, ticket: i64) -> i64 {
        let response = self.get(&format!("/tickets/{ticket}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("JSON body");
        body["allocation"].as_i64().expect("an allocation")
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Every ticket's books, as stored, agree with its rows: what is left, held
/// and sold adds up to the allocation; `held` is what its unended holds
/// hold, sold what its purchases not cancelled bought; and no buyer has more
/// than a per-buyer limit allows.
pub async fn assert_books_balance(db: &TestDatabase) {
    let unbalanced = db
        .count(
            "SELECT count(*) FROM tickets t WHERE \
               t.remaining + t.held + COALESCE((SELECT sum(quantity) FROM purchases p \
                   WHERE p.ticket_id = t.id AND p.cancelled_at IS NULL), 0) <> t.allocation \
               OR t.held <> COALESCE((SELECT sum(quantity) FROM holds h \
                   WHERE h.ticket_id = t.id AND h.status = 'held'), 0)",
        )
        .await;
    assert_eq!(
        unbalanced, 0,
        "left + held + sold = allocation, for every ticket"
    );
    let over_limit = db
        .count(
            "SELECT count(*) FROM tickets t, LATERAL ( \
               SELECT user_id, sum(quantity) AS has FROM ( \
                 SELECT user_id, quantity FROM purchases p WHERE p.ticket_id = t.id AND p.cancelled_at IS NULL \
                 UNION ALL SELECT user_id, quantity FROM holds h WHERE h.ticket_id = t.id AND h.status = 'held' \
               ) AS owned GROUP BY user_id) AS buyers \
             WHERE t.max_per_user IS NOT NULL AND buyers.has > t.max_per_user",
        )
        .await;
    assert_eq!(over_limit, 0, "no buyer over a per-buyer limit");
    let counts_off = db
        .count(
            "SELECT count(*) FROM ticket_buyers b WHERE \
               b.bought <> COALESCE((SELECT sum(quantity) FROM purchases p WHERE p.ticket_id = b.ticket_id \
                   AND p.user_id = b.user_id AND p.cancelled_at IS NULL), 0) \
               OR b.held <> COALESCE((SELECT sum(quantity) FROM holds h WHERE h.ticket_id = b.ticket_id \
                   AND h.user_id = b.user_id AND h.status = 'held'), 0)",
        )
        .await;
    assert_eq!(
        counts_off, 0,
        "each buyer's counts match their purchases and holds"
    );
}

/// Asserts `response` is a problem with `status`, and returns its body.
pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.expect("a JSON problem");
    assert_eq!(body["status"], json!(status.as_u16()));
    for member in ["type", "title", "detail"] {
        assert!(body[member].is_string(), "problem lacks {member}: {body}");
    }
    body
}

/// Logs from the server under test, only when `TEST_LOG` is set.
fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    }
}
