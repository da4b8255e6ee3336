//! Organisers' API tokens on a real database: only a hash is kept, a
//! revoked token is refused within a second by every replica, and the CLI
//! prints a token once.

use std::process::Stdio;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tickets_server::auth::{
    self, OrganiserToken, Permissions, Revocation, TicketScope, TokenRefusal, TokenStore,
};
use tickets_server::storage::Pool;
use tokio::process::Command;

use crate::helpers::{TestApp, TestDatabase};

async fn pool(db: &TestDatabase) -> Pool {
    db.pool().await
}

fn permissions(list: &str) -> Permissions {
    Permissions::parse(list).expect("valid permissions")
}

#[tokio::test]
async fn a_created_token_speaks_for_its_organiser_with_its_permissions_and_scope() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let (first, second) = (app.create_ticket(10).await, app.create_ticket(10).await);
    let pool = pool(&db).await;
    // The organiser's first token; the tickets become theirs, as if that
    // token had created them.
    let (general, _) = auth::create(
        &pool,
        "Acme Events",
        permissions("create_tickets"),
        &TicketScope::AllOfTheOrganisers,
    )
    .await
    .expect("created");
    db.admin_in_database(
        "UPDATE tickets SET organiser_id = (SELECT id FROM organisers WHERE name = 'Acme Events')",
    )
    .await;
    let scope = TicketScope::Listed(vec![first, second]);
    let rival = auth::create(&pool, "Rival", permissions("read_orders"), &scope).await;
    assert!(
        matches!(rival, Err(auth::CreateError::NoSuchTicket(id)) if id == first),
        "another organiser's tickets cannot be listed: {rival:?}"
    );
    let (token, record) = auth::create(
        &pool,
        "Acme Events",
        permissions("read_orders,change_orders"),
        &scope,
    )
    .await
    .expect("created");
    assert!(token.expose().starts_with("tks_"));

    let store = TokenStore::new(pool.clone(), TokenStore::MAX_CACHE_AGE);
    let principal = store.authenticate(token.expose()).await.expect("accepted");
    assert_eq!(principal.token_id, record.id);
    assert_eq!(principal.organiser, "Acme Events");
    assert_eq!(
        principal.permissions,
        permissions("change_orders,read_orders")
    );
    assert_eq!(principal.scope, scope);
    assert!(principal.scope.covers(first) && !principal.scope.covers(second + 1));

    // Both tokens of the organiser share the organiser.
    let other = store
        .authenticate(general.expose())
        .await
        .expect("accepted");
    assert_eq!(other.organiser_id, principal.organiser_id);
    assert_eq!(other.scope, TicketScope::AllOfTheOrganisers);
}

#[tokio::test]
async fn the_table_keeps_only_a_hash_of_the_token() {
    let db = TestDatabase::create().await;
    let pool = pool(&db).await;
    let (token, _) = auth::create(
        &pool,
        "acme",
        permissions("read_orders"),
        &TicketScope::AllOfTheOrganisers,
    )
    .await
    .expect("created");
    let secret = &token.expose()[4..];
    let everything = db
        .text("SELECT string_agg(t::text, ' ') FROM organiser_tokens t")
        .await
        .expect("a row");
    let with_organisers = db
        .text("SELECT string_agg(o::text, ' ') FROM organisers o")
        .await
        .expect("a row");
    for text in [&everything, &with_organisers] {
        assert!(!text.contains(secret), "the token's text is stored: {text}");
    }
    let stored = db
        .text("SELECT encode(secret_hash, 'hex') FROM organiser_tokens")
        .await
        .expect("a hash");
    assert_eq!(
        stored,
        hex::encode(Sha256::digest(token.expose().as_bytes()))
    );
}

#[tokio::test]
async fn unknown_malformed_and_revoked_tokens_are_refused() {
    let db = TestDatabase::create().await;
    let pool = pool(&db).await;
    let store = TokenStore::new(pool.clone(), Duration::ZERO);
    let never_issued = OrganiserToken::generate().expect("random");
    for presented in [never_issued.expose(), "tks_short", "", "Bearer tks_x"] {
        assert!(
            matches!(
                store.authenticate(presented).await,
                Err(TokenRefusal::Invalid)
            ),
            "{presented:?}"
        );
    }
    let (token, record) = auth::create(
        &pool,
        "acme",
        permissions("read_orders"),
        &TicketScope::AllOfTheOrganisers,
    )
    .await
    .expect("created");
    assert!(store.authenticate(token.expose()).await.is_ok());
    assert_eq!(
        auth::revoke(&pool, record.id).await.expect("revoked"),
        Revocation::Revoked
    );
    assert!(matches!(
        store.authenticate(token.expose()).await,
        Err(TokenRefusal::Invalid)
    ));
    assert_eq!(
        auth::revoke(&pool, record.id).await.expect("ran"),
        Revocation::AlreadyRevoked
    );
    assert_eq!(
        auth::revoke(&pool, record.id + 1).await.expect("ran"),
        Revocation::NoSuchToken
    );
}

#[tokio::test]
async fn a_token_cannot_be_scoped_to_a_ticket_that_does_not_exist() {
    let db = TestDatabase::create().await;
    let pool = pool(&db).await;
    let error = auth::create(
        &pool,
        "acme",
        permissions("read_orders"),
        &TicketScope::Listed(vec![424_242]),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(error, auth::CreateError::NoSuchTicket(424_242)),
        "{error:?}"
    );
    assert_eq!(db.count("SELECT count(*) FROM organiser_tokens").await, 0);
    assert_eq!(db.count("SELECT count(*) FROM organisers").await, 0);
}

/// Two replicas (each its own pool and cache) that have just accepted a
/// token both refuse it within a second of its revocation.
#[tokio::test]
async fn a_revoked_token_is_refused_by_every_replica_within_a_second() {
    let db = TestDatabase::create().await;
    let admin = pool(&db).await;
    let replicas = [
        TokenStore::new(pool(&db).await, TokenStore::MAX_CACHE_AGE),
        TokenStore::new(pool(&db).await, TokenStore::MAX_CACHE_AGE),
    ];
    let (token, record) = auth::create(
        &admin,
        "acme",
        permissions("change_orders"),
        &TicketScope::AllOfTheOrganisers,
    )
    .await
    .expect("created");
    for replica in &replicas {
        replica
            .authenticate(token.expose())
            .await
            .expect("accepted and cached");
    }
    auth::revoke(&admin, record.id).await.expect("revoked");
    let revoked_at = Instant::now();
    for (n, replica) in replicas.iter().enumerate() {
        loop {
            match replica.authenticate(token.expose()).await {
                Err(TokenRefusal::Invalid) => break,
                Ok(_) => {
                    assert!(
                        revoked_at.elapsed() < Duration::from_secs(1),
                        "replica {n} still accepts the token a second after its revocation"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(other) => panic!("{other:?}"),
            }
        }
    }
    assert!(revoked_at.elapsed() < Duration::from_secs(1));
}

/// `tickets-server tokens ...` with `args` on `db`: exit code, stdout, stderr.
async fn cli(db: &TestDatabase, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tickets-server"))
        .arg("tokens")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("tickets-server ran");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_prints_a_token_once_lists_without_secrets_and_revokes() {
    let db = TestDatabase::create().await;
    // The CLI migrates a database no server has started on.
    let (code, stdout, stderr) = cli(
        &db,
        &[
            "create",
            "--organiser",
            "Acme",
            "--permissions",
            "create_tickets,read_orders,change_orders,sell_for_buyer",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    let everything = format!("{stdout}\n{stderr}");
    let words: Vec<&str> = everything
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.contains('_'))
        .collect();
    assert_eq!(words.len(), 1, "one word of the token's form: {everything}");
    let token = words[0];
    assert!(
        token.starts_with("tks_") && stdout.trim() == token,
        "{stdout}"
    );

    let pool = pool(&db).await;
    let store = TokenStore::new(pool, Duration::ZERO);
    let principal = store
        .authenticate(token)
        .await
        .expect("the printed token works");
    assert!(
        Permissions::parse("create_tickets,read_orders,change_orders,sell_for_buyer")
            .is_ok_and(|all| all == principal.permissions)
    );

    let (code, listed, stderr) = cli(&db, &["list"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    assert!(
        !listed.contains(&token[4..]) && !listed.contains(&hash[..16]),
        "{listed}"
    );
    assert!(
        listed.contains("Acme") && listed.contains("sell_for_buyer"),
        "{listed}"
    );

    let id = principal.token_id.to_string();
    let (code, _, stderr) = cli(&db, &["revoke", &id]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(matches!(
        store.authenticate(token).await,
        Err(TokenRefusal::Invalid)
    ));
    let (code, _, _) = cli(&db, &["revoke", "999999"]).await;
    assert_eq!(code, Some(1));
    let (code, _, stderr) = cli(
        &db,
        &["create", "--organiser", "Acme", "--permissions", "root"],
    )
    .await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unknown permission"), "{stderr}");
}
