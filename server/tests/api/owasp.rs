//! Only the right people act, through HTTP, organised by the OWASP API
//! Security Top 10 (2023): broken object level authorisation (API1), broken
//! authentication (API2), mass assignment (API3), broken function level
//! authorisation (API5). Buyers carry RS256 tokens of the test's own key
//! (a JWKS file); organisers carry tokens made as `tokens create` makes
//! them. After every refusal the books are as they were.

use std::time::Duration;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tickets_server::auth::{self, KeySource, OidcSettings, Permissions, TicketScope};
use tickets_server::config::{AuthSettings, Config};
use tickets_server::http::{Rate, RateLimitSettings};
use tickets_server::storage::Pool;

use crate::helpers::{TestApp, TestDatabase, assert_books_balance, assert_problem};
use crate::oidc_provider::{JwksFile, TestKey};

const ISSUER: &str = "https://id.example.com";
const AUDIENCE: &str = "tickets-api";

/// A server that requires credentials, the key its buyers' tokens are
/// signed with, and its database.
struct Secured {
    db: TestDatabase,
    app: TestApp,
    key: TestKey,
    pool: Pool,
    _jwks: JwksFile,
}

impl Secured {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let db = TestDatabase::create().await;
        let key = TestKey::generate("k1");
        let jwks = JwksFile::write(&[&key]);
        let auth = AuthSettings::Required(OidcSettings {
            issuer: ISSUER.to_owned(),
            audience: AUDIENCE.to_owned(),
            keys: KeySource::File(jwks.path.clone()),
            leeway: Duration::from_secs(30),
            refresh_min_interval: Duration::from_secs(10),
            keys_max_age: Duration::from_secs(3600),
        });
        let app = TestApp::start_with_auth(&db, &auth, adjust).await;
        let pool = db.pool().await;
        Self {
            db,
            app,
            key,
            pool,
            _jwks: jwks,
        }
    }

    /// A buyer's token for `subject`.
    fn buyer(&self, subject: &str) -> String {
        self.key.sign(Algorithm::RS256, &claims(subject))
    }

    /// The `user_id` of the buyer `subject`.
    fn user_id(subject: &str) -> String {
        auth::user_id_for(ISSUER, subject).to_string()
    }

    /// An organiser token for `organiser` with `permissions` on `scope`.
    async fn organiser(&self, organiser: &str, permissions: &str, scope: &TicketScope) -> String {
        let permissions = Permissions::parse(permissions).expect("valid permissions");
        let (token, _) = auth::create(&self.pool, organiser, permissions, scope)
            .await
            .expect("created");
        token.expose().to_owned()
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.app.client.request(method, self.app.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    /// Creates a ticket with `organiser`'s token and returns its id.
    async fn ticket(&self, organiser: &str, body: Value) -> i64 {
        let response = self
            .call(Method::POST, "/tickets", Some(organiser), Some(body))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("JSON");
        body["id"].as_i64().expect("an id")
    }

    /// Sends `method path` with `token` (and `body`), expects `status`, and
    /// returns the JSON answer.
    async fn answer(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        json(self.call(method, path, token, body).await, status).await
    }

    /// `token`'s buyer buys `quantity` of `ticket`; returns the purchase.
    async fn buy(&self, ticket: i64, token: &str, quantity: i64) -> Value {
        self.answer(
            Method::POST,
            &format!("/tickets/{ticket}/purchases"),
            Some(token),
            Some(json!({"quantity": quantity})),
            StatusCode::CREATED,
        )
        .await
    }

    /// Sends `method path` with `token` (and `body`), expects `status` as a
    /// problem, and checks that nothing in the books changed.
    async fn refused(
        &self,
        (method, path): (Method, &str),
        token: Option<&str>,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        let before = self.books().await;
        let response = self.call(method.clone(), path, token, body).await;
        let problem = assert_problem(response, status).await;
        assert_eq!(
            self.books().await,
            before,
            "{method} {path} changed the books"
        );
        problem
    }

    /// Every row that a change could touch, as one text.
    async fn books(&self) -> String {
        self.db
            .text(
                "SELECT concat_ws('|', \
                   (SELECT string_agg(concat_ws(',', id, remaining, held, last_purchase_seq, organiser_id), ';' ORDER BY id) FROM tickets), \
                   (SELECT string_agg(concat_ws(',', id, user_id, quantity, cancelled_at), ';' ORDER BY id) FROM purchases), \
                   (SELECT string_agg(concat_ws(',', id, user_id, status), ';' ORDER BY id) FROM holds))",
            )
            .await
            .unwrap_or_default()
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(subject: &str) -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "exp": now() + 300, "iat": now()})
}

fn concert(allocation: i64) -> Value {
    json!({"name": "concert", "desc": "an event", "allocation": allocation})
}

async fn json(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.expect("JSON")
}

/// A ticket of Acme's with one purchase and one hold of buyer Alice's.
struct Scene {
    s: Secured,
    acme: String,
    ticket: i64,
    purchase: String,
    hold: String,
}

async fn scene() -> Scene {
    let s = Secured::start().await;
    let acme = s
        .organiser(
            "Acme",
            "create_tickets,read_orders,change_orders,sell_for_buyer",
            &TicketScope::AllOfTheOrganisers,
        )
        .await;
    let ticket = s.ticket(&acme, concert(10)).await;
    let alice = s.buyer("alice");
    let bought = s.buy(ticket, &alice, 2).await;
    assert_eq!(bought["user_id"], Secured::user_id("alice"));
    let holds = format!("/tickets/{ticket}/holds");
    let held = s
        .answer(
            Method::POST,
            &holds,
            Some(&alice),
            Some(json!({"quantity": 1})),
            StatusCode::CREATED,
        )
        .await;
    Scene {
        purchase: bought["id"].as_str().expect("an id").to_owned(),
        hold: held["id"].as_str().expect("an id").to_owned(),
        s,
        acme,
        ticket,
    }
}

/// API1: buyer Bob on each of Alice's id-bearing routes.
#[tokio::test]
async fn a_buyer_cannot_read_or_change_another_buyers_purchases_and_holds() {
    let Scene {
        s,
        ticket,
        purchase,
        hold,
        ..
    } = scene().await;
    let bob = s.buyer("bob");
    let purchase_path = format!("/tickets/{ticket}/purchases/{purchase}");
    let hold_path = format!("/tickets/{ticket}/holds/{hold}");
    for route in [
        (Method::GET, purchase_path.clone()),
        (Method::POST, format!("{purchase_path}/cancel")),
        (Method::GET, hold_path.clone()),
        (Method::POST, format!("{hold_path}/confirm")),
        (Method::DELETE, hold_path.clone()),
    ] {
        s.refused(
            (route.0.clone(), &route.1),
            Some(&bob),
            None,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    let page = s
        .answer(
            Method::GET,
            &format!("/tickets/{ticket}/purchases"),
            Some(&bob),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(page["items"], json!([]), "Bob lists only his own");

    let alice = s.buyer("alice");
    let page = s
        .answer(
            Method::GET,
            &format!("/tickets/{ticket}/purchases"),
            Some(&alice),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(page["items"][0]["id"], json!(purchase));
    for (method, path, status) in [
        (Method::GET, purchase_path.clone(), StatusCode::OK),
        (
            Method::POST,
            format!("{hold_path}/confirm"),
            StatusCode::CREATED,
        ),
        (
            Method::POST,
            format!("{purchase_path}/cancel"),
            StatusCode::OK,
        ),
    ] {
        let response = s.call(method.clone(), &path, Some(&alice), None).await;
        assert_eq!(response.status(), status, "Alice: {method} {path}");
    }
    assert_books_balance(&s.db).await;
}

/// API1 and API6: the buyer is the token's; a body naming someone else is
/// 403, and the per-buyer limit counts the token's buyer.
#[tokio::test]
async fn the_buyer_is_the_tokens_and_limits_count_them() {
    let s = Secured::start().await;
    let acme = s
        .organiser("Acme", "create_tickets", &TicketScope::AllOfTheOrganisers)
        .await;
    let ticket = s
        .ticket(
            &acme,
            json!({"name": "gig", "desc": "", "allocation": 10, "max_per_user": 2}),
        )
        .await;
    let path = format!("/tickets/{ticket}/purchases");
    let alice = s.buyer("alice");
    for user_id in [uuid::Uuid::new_v4().to_string(), Secured::user_id("bob")] {
        let problem = s
            .refused(
                (Method::POST, &path),
                Some(&alice),
                Some(json!({"quantity": 2, "user_id": user_id})),
                StatusCode::FORBIDDEN,
            )
            .await;
        assert_eq!(problem["type"], "/problems/forbidden");
    }
    let own = json!({"quantity": 1, "user_id": Secured::user_id("alice")});
    let bought = s
        .answer(
            Method::POST,
            &path,
            Some(&alice),
            Some(own),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(bought["user_id"], Secured::user_id("alice"));
    s.answer(
        Method::POST,
        &path,
        Some(&alice),
        Some(json!({"quantity": 1})),
        StatusCode::CREATED,
    )
    .await;
    let problem = s
        .refused(
            (Method::POST, &path),
            Some(&alice),
            Some(json!({"quantity": 1})),
            StatusCode::CONFLICT,
        )
        .await;
    assert_eq!(problem["limit"], "max_per_user");
    assert_eq!(
        s.db.count(&format!(
            "SELECT count(*) FROM purchases WHERE ticket_id = {ticket}"
        ))
        .await,
        2
    );
}

/// API4: a buyer's page of a ticket with many purchases reads at most
/// `BUYER_PAGE_SCAN` of them, so that one request's cost to the database
/// is bounded; its pages walk the ticket's purchases that many at a time
/// and end where they stopped. An organiser's pages are full as before.
#[tokio::test]
async fn a_buyers_page_reads_a_bounded_part_of_a_tickets_purchases() {
    let s = Secured::start().await;
    let acme = s
        .organiser(
            "Acme",
            "create_tickets,read_orders",
            &TicketScope::AllOfTheOrganisers,
        )
        .await;
    let scan = tickets_server::storage::purchases::BUYER_PAGE_SCAN;
    let others = 2 * scan + scan / 2;
    let ticket = s.ticket(&acme, concert(others + 10)).await;
    // Other buyers' purchases, numbered and counted as the server would.
    s.db.admin_in_database(&format!(
        "WITH sold AS (UPDATE tickets SET remaining = remaining - {others}, \
                       last_purchase_seq = {others} WHERE id = {ticket} RETURNING id) \
         INSERT INTO purchases (id, ticket_id, user_id, quantity, seq, made_by) \
         SELECT gen_random_uuid(), sold.id, gen_random_uuid(), 1, n, 'open' \
           FROM sold, generate_series(1, {others}) AS n"
    ))
    .await;
    let alice = s.buyer("alice");
    let bought = s.buy(ticket, &alice, 1).await;
    assert_eq!(bought["number"], json!(others + 1));
    let purchases = format!("/tickets/{ticket}/purchases");

    let walk = |token: String| {
        let (s, purchases) = (&s, &purchases);
        async move {
            let mut pages = Vec::new();
            let mut path = purchases.clone();
            loop {
                let page = s
                    .answer(Method::GET, &path, Some(&token), None, StatusCode::OK)
                    .await;
                let items = page["items"].as_array().expect("items").len();
                pages.push((items, page["next_cursor"].clone()));
                let Some(next) = page["next_cursor"].as_str() else {
                    return pages;
                };
                assert!(pages.len() < 10, "the pages do not end: {pages:?}");
                path = format!("{purchases}?cursor={next}");
            }
        }
    };
    let cursor = |seq: i64| json!(seq.to_string());
    assert_eq!(
        walk(alice).await,
        vec![(0, cursor(scan)), (0, cursor(2 * scan)), (1, Value::Null)],
        "Alice's pages each read {scan} purchases; the third finds hers"
    );
    let first = s
        .answer(Method::GET, &purchases, Some(&acme), None, StatusCode::OK)
        .await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(50));
    assert_eq!(
        first["next_cursor"],
        cursor(50),
        "the organiser's pages are full"
    );
    assert_books_balance(&s.db).await;
}

/// API5: a buyer's token on the organisers' operations.
#[tokio::test]
async fn a_buyers_token_on_organiser_operations_is_forbidden() {
    let s = Secured::start().await;
    let alice = s.buyer("alice");
    for path in ["/tickets", "/ticketsuser"] {
        s.refused(
            (Method::POST, path),
            Some(&alice),
            Some(concert(5)),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    s.refused(
        (Method::GET, "/metrics"),
        Some(&alice),
        None,
        StatusCode::FORBIDDEN,
    )
    .await;
    let reader = s
        .organiser("Ops", "read_metrics", &TicketScope::AllOfTheOrganisers)
        .await;
    let response = s.call(Method::GET, "/metrics", Some(&reader), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    s.refused(
        (Method::POST, "/tickets"),
        Some(&reader),
        Some(concert(5)),
        StatusCode::FORBIDDEN,
    )
    .await;
}

/// API1: organiser Rival, with every permission, on Acme's ticket.
#[tokio::test]
async fn another_organisers_ticket_is_as_if_it_did_not_exist() {
    let Scene {
        s,
        ticket,
        purchase,
        hold,
        ..
    } = scene().await;
    let rival = s
        .organiser(
            "Rival",
            "create_tickets,read_orders,change_orders,sell_for_buyer",
            &TicketScope::AllOfTheOrganisers,
        )
        .await;
    let purchases = format!("/tickets/{ticket}/purchases");
    let purchase_path = format!("{purchases}/{purchase}");
    let hold_path = format!("/tickets/{ticket}/holds/{hold}");
    let box_office = json!({"quantity": 1, "user_id": Secured::user_id("carol")});
    for (method, path, body) in [
        (Method::GET, purchases.clone(), None),
        (Method::POST, purchases.clone(), Some(box_office.clone())),
        (Method::GET, purchase_path.clone(), None),
        (Method::POST, format!("{purchase_path}/cancel"), None),
        (Method::GET, hold_path.clone(), None),
        (Method::DELETE, hold_path.clone(), None),
        (
            Method::POST,
            format!("/tickets/{ticket}/holds"),
            Some(box_office.clone()),
        ),
    ] {
        let problem = s
            .refused((method, &path), Some(&rival), body, StatusCode::NOT_FOUND)
            .await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("No ticket"),
            "{problem}"
        );
    }
}

/// API5: an organiser's token acts on its organiser's tickets as its
/// permissions and scope allow.
#[tokio::test]
async fn an_organiser_token_acts_as_its_permissions_and_scope_allow() {
    let Scene {
        s,
        acme,
        ticket,
        purchase,
        hold,
    } = scene().await;
    let purchases = format!("/tickets/{ticket}/purchases");
    let purchase_path = format!("{purchases}/{purchase}");
    let hold_path = format!("/tickets/{ticket}/holds/{hold}");
    let box_office = json!({"quantity": 1, "user_id": Secured::user_id("carol")});
    // Acme's reader sees every buyer's purchases, but may not change them.
    let reader = s
        .organiser("Acme", "read_orders", &TicketScope::AllOfTheOrganisers)
        .await;
    let page = s
        .answer(Method::GET, &purchases, Some(&reader), None, StatusCode::OK)
        .await;
    assert_eq!(page["items"][0]["user_id"], Secured::user_id("alice"));
    for (method, path) in [
        (Method::POST, format!("{purchase_path}/cancel")),
        (Method::DELETE, hold_path.clone()),
    ] {
        let problem = s
            .refused((method, &path), Some(&reader), None, StatusCode::FORBIDDEN)
            .await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("change_orders"),
            "{problem}"
        );
    }
    s.refused(
        (Method::POST, &purchases),
        Some(&reader),
        Some(box_office.clone()),
        StatusCode::FORBIDDEN,
    )
    .await;

    // A token scoped to another of Acme's tickets does not reach this one.
    let other = s.ticket(&acme, concert(3)).await;
    let scoped = s
        .organiser(
            "Acme",
            "read_orders,change_orders",
            &TicketScope::Listed(vec![other]),
        )
        .await;
    s.refused(
        (Method::GET, &purchase_path),
        Some(&scoped),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;

    // The box office sells for a named buyer, and must name one.
    let sold = s
        .answer(
            Method::POST,
            &purchases,
            Some(&acme),
            Some(box_office),
            StatusCode::CREATED,
        )
        .await;
    assert_eq!(sold["user_id"], Secured::user_id("carol"));
    s.refused(
        (Method::POST, &purchases),
        Some(&acme),
        Some(json!({"quantity": 1})),
        StatusCode::FORBIDDEN,
    )
    .await;
    let response = s
        .call(
            Method::POST,
            &format!("{purchase_path}/cancel"),
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "Acme cancels Alice's");
    assert_books_balance(&s.db).await;
}

/// API2: every broken credential is a 401 with a Bearer challenge.
#[tokio::test]
async fn broken_credentials_are_refused_with_401() {
    let Scene { s, ticket, .. } = scene().await;
    let path = format!("/tickets/{ticket}/purchases");
    let body = json!({"quantity": 1});
    let b64 = |value: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(value).expect("JSON"))
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims("alice"))
    );
    let mut hmac_header = Header::new(Algorithm::HS256);
    hmac_header.kid = Some(s.key.kid.clone());
    let hmac_with_public_key = jsonwebtoken::encode(
        &hmac_header,
        &claims("alice"),
        &EncodingKey::from_secret(s.key.public_pem.as_bytes()).expect("an HMAC key"),
    )
    .expect("signed");
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = claims("alice");
        change(&mut claims);
        s.key.sign(Algorithm::RS256, &claims)
    };
    let expired = with(&|c| c["exp"] = json!(now() - 120));
    let not_yet = with(&|c| c["nbf"] = json!(now() + 600));
    let other_audience = with(&|c| c["aud"] = json!("another-api"));
    let other_issuer = with(&|c| c["iss"] = json!("https://evil.example.com"));
    let valid = s.buyer("alice");
    let bad_signature = format!("{}AAAA", &valid[..valid.len() - 4]);
    let unknown_key = TestKey::generate("k-unknown").sign(Algorithm::RS256, &claims("alice"));
    let forged_organiser = format!("tks_{}", "A".repeat(43));
    for token in [
        unsigned.as_str(),
        &hmac_with_public_key,
        &expired,
        &not_yet,
        &other_audience,
        &other_issuer,
        &bad_signature,
        &unknown_key,
        &forged_organiser,
        "not-a-token",
    ] {
        let before = s.books().await;
        let response = s
            .call(Method::POST, &path, Some(token), Some(body.clone()))
            .await;
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        assert_eq!(
            challenge.as_deref(),
            Some("Bearer realm=\"tickets\", error=\"invalid_token\""),
            "{token}"
        );
        assert_problem(response, StatusCode::UNAUTHORIZED).await;
        assert_eq!(s.books().await, before);
    }

    // No token, a token in the query string, and another scheme: all as
    // if no credentials were sent.
    for (url, authorization) in [
        (path.clone(), None),
        (format!("{path}?access_token={valid}"), None),
        (path.clone(), Some(format!("Basic {valid}"))),
    ] {
        let mut request = s.app.client.post(s.app.url(&url)).json(&body);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"tickets\""
        );
        assert_problem(response, StatusCode::UNAUTHORIZED).await;
    }
    assert_books_balance(&s.db).await;
}

/// API2: a revoked organiser token is refused within a second.
#[tokio::test]
async fn a_revoked_organiser_token_is_refused_within_a_second() {
    let s = Secured::start().await;
    let token = s
        .organiser("Acme", "create_tickets", &TicketScope::AllOfTheOrganisers)
        .await;
    s.ticket(&token, concert(5)).await;
    let listed = auth::list(&s.pool).await.expect("listed");
    let id = listed.last().expect("a token").id;
    auth::revoke(&s.pool, id).await.expect("revoked");
    tokio::time::sleep(Duration::from_secs(1)).await;
    s.refused(
        (Method::POST, "/tickets"),
        Some(&token),
        Some(concert(5)),
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

/// API3: members a client may not set are ignored, never applied.
#[tokio::test]
async fn mass_assignment_changes_nothing_it_should_not() {
    let s = Secured::start().await;
    let acme = s
        .organiser("Acme", "create_tickets", &TicketScope::AllOfTheOrganisers)
        .await;
    let rival = s
        .organiser(
            "Rival",
            "create_tickets,read_orders",
            &TicketScope::AllOfTheOrganisers,
        )
        .await;
    let rival_id =
        s.db.count("SELECT id FROM organisers WHERE name = 'Rival'")
            .await;
    let ticket = s
        .ticket(
            &acme,
            json!({
                "name": "gig", "desc": "", "allocation": 5,
                "sold": 5, "held": 5, "total": 100, "remaining": 100, "id": 999,
                "owner": "Rival", "organiser_id": rival_id,
            }),
        )
        .await;
    let read = s
        .answer(
            Method::GET,
            &format!("/tickets/{ticket}"),
            None,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (
            read["allocation"].clone(),
            read["sold"].clone(),
            read["total"].clone()
        ),
        (json!(5), json!(0), json!(5))
    );
    assert_ne!(ticket, 999);
    s.refused(
        (Method::GET, &format!("/tickets/{ticket}/purchases")),
        Some(&rival),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;

    let alice = s.buyer("alice");
    let forged = uuid::Uuid::new_v4();
    let bought = s
        .answer(
            Method::POST,
            &format!("/tickets/{ticket}/purchases"),
            Some(&alice),
            Some(json!({
                "quantity": 1, "id": forged, "number": 99, "purchased_at": "2000-01-01T00:00:00Z",
                "cancelled_at": "2000-01-01T00:00:00Z", "ticket_id": ticket + 1,
            })),
            StatusCode::CREATED,
        )
        .await;
    assert_ne!(bought["id"], json!(forged));
    assert_eq!(bought["number"], 1);
    assert_eq!(bought["ticket_id"], ticket);
    assert!(bought.get("cancelled_at").is_none(), "{bought}");
    assert_books_balance(&s.db).await;
}

/// Every operation the spec secures answers 401 without credentials, and
/// every public one answers without them.
#[tokio::test]
async fn the_spec_says_which_operations_need_credentials_and_the_server_agrees() {
    let s = Secured::start().await;
    let acme = s
        .organiser("Acme", "create_tickets", &TicketScope::AllOfTheOrganisers)
        .await;
    let ticket = s.ticket(&acme, concert(5)).await.to_string();
    let spec = s
        .answer(Method::GET, "/openapi.json", None, None, StatusCode::OK)
        .await;
    let mut checked = 0;
    for (template, item) in spec["paths"].as_object().expect("paths") {
        let path = template
            .replace("{id}", &ticket)
            .replace("{purchase_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{hold_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{file}", "swagger-ui.css");
        for (method, operation) in item.as_object().expect("operations") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let secured = !operation["security"]
                .as_array()
                .expect("every operation states its security")
                .is_empty();
            let body = (method == Method::POST).then(|| json!({}));
            let response = s.call(method.clone(), &path, None, body).await;
            if secured {
                assert_eq!(
                    response.headers()["www-authenticate"],
                    "Bearer realm=\"tickets\""
                );
                assert_problem(response, StatusCode::UNAUTHORIZED).await;
            } else {
                assert_ne!(
                    response.status(),
                    StatusCode::UNAUTHORIZED,
                    "{method} {template} is public"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 18, "every operation");
}

/// Every change records who made it, and the organiser reads it; a buyer
/// does not see the audit.
#[tokio::test]
async fn every_change_records_who_made_it_for_the_organiser_to_read() {
    let Scene {
        s,
        acme,
        ticket,
        purchase,
        hold,
    } = scene().await;
    let alice = s.buyer("alice");
    let acme_id = auth::list(&s.pool).await.expect("listed")[0].id;
    let acme_name = format!("organiser-token:{acme_id}");
    let purchase_path = format!("/tickets/{ticket}/purchases/{purchase}");
    let hold_path = format!("/tickets/{ticket}/holds/{hold}");
    let confirmed = s
        .answer(
            Method::POST,
            &format!("{hold_path}/confirm"),
            Some(&alice),
            None,
            StatusCode::CREATED,
        )
        .await;
    let response = s
        .call(
            Method::POST,
            &format!("{purchase_path}/cancel"),
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let read = |path: String, token: String| {
        let s = &s;
        async move {
            s.answer(Method::GET, &path, Some(&token), None, StatusCode::OK)
                .await
        }
    };
    let cancelled = read(purchase_path.clone(), acme.clone()).await;
    assert_eq!(cancelled["made_by"], "buyer:alice");
    assert_eq!(cancelled["cancelled_by"], json!(acme_name));
    let from_hold = read(
        format!(
            "/tickets/{ticket}/purchases/{}",
            confirmed["id"].as_str().expect("an id")
        ),
        acme.clone(),
    )
    .await;
    assert_eq!(from_hold["made_by"], "buyer:alice");
    let held = read(hold_path.clone(), acme.clone()).await;
    assert_eq!(
        (held["made_by"].clone(), held["ended_by"].clone()),
        (json!("buyer:alice"), json!("buyer:alice"))
    );
    let page = read(format!("/tickets/{ticket}/purchases"), acme.clone()).await;
    assert_eq!(page["items"][0]["cancelled_by"], json!(acme_name));

    let own = read(purchase_path, alice.clone()).await;
    assert!(
        own.get("made_by").is_none() && own.get("cancelled_by").is_none(),
        "{own}"
    );
    assert_eq!(
        s.db.text(&format!(
            "SELECT created_by FROM tickets WHERE id = {ticket}"
        ))
        .await,
        Some(acme_name)
    );
}

/// API6: the per-buyer rate limit counts the token's buyer, on purchases,
/// holds and confirmations; another buyer still gets through.
#[tokio::test]
async fn the_per_buyer_rate_limit_counts_the_tokens_buyer() {
    let s = Secured::start_with(|config| {
        config.rate_limits = Some(RateLimitSettings {
            // A minute's refill is far longer than the test: only the burst counts.
            address: Rate {
                per_minute: 1,
                burst: 1000,
            },
            buyer: Rate {
                per_minute: 1,
                burst: 2,
            },
        });
    })
    .await;
    let acme = s
        .organiser("Acme", "create_tickets", &TicketScope::AllOfTheOrganisers)
        .await;
    let ticket = s.ticket(&acme, concert(10)).await;
    let (alice, bob) = (s.buyer("alice"), s.buyer("bob"));
    let purchases = format!("/tickets/{ticket}/purchases");
    let holds = format!("/tickets/{ticket}/holds");
    let held = s
        .answer(
            Method::POST,
            &holds,
            Some(&alice),
            Some(json!({"quantity": 1})),
            StatusCode::CREATED,
        )
        .await;
    let confirm = format!("{holds}/{}/confirm", held["id"].as_str().expect("an id"));
    let response = s.call(Method::POST, &confirm, Some(&alice), None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let problem = s
        .refused(
            (Method::POST, &purchases),
            Some(&alice),
            Some(json!({"quantity": 1})),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("buyer"),
        "{problem}"
    );
    let response = s
        .call(
            Method::POST,
            &purchases,
            Some(&bob),
            Some(json!({"quantity": 1})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "another buyer");
}
