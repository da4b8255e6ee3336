//! What one credential check costs, in microseconds. Ignored in the normal
//! run (it measures, it does not check); run it with
//! `cargo nextest run --release -p tickets-server --run-ignored only -E 'test(/auth_cost/)' --no-capture`.

use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use serde_json::json;
use tickets_server::auth::{
    self, KeySource, OidcSettings, OidcVerifier, Permissions, TicketScope, TokenStore,
};
use tickets_server::storage::{PoolSettings, build_pool, run_pending_migrations};

use crate::helpers::TestDatabase;
use crate::oidc_provider::{JwksFile, TestKey};

const ROUNDS: u32 = 2000;

fn report(what: &str, rounds: u32, elapsed: Duration) {
    println!(
        "{what}: {:.1} µs per check ({rounds} checks in {:.3} s)",
        elapsed.as_secs_f64() * 1e6 / f64::from(rounds),
        elapsed.as_secs_f64()
    );
}

#[tokio::test]
#[ignore = "a measurement; run it on its own"]
async fn auth_cost_of_one_check() {
    let key = TestKey::generate("k1");
    let file = JwksFile::write(&[&key]);
    let verifier = OidcVerifier::new(OidcSettings {
        issuer: "https://id.example.com".to_owned(),
        audience: "tickets-api".to_owned(),
        keys: KeySource::File(file.path.clone()),
        leeway: Duration::from_secs(30),
        refresh_min_interval: Duration::from_secs(10),
        keys_max_age: Duration::from_secs(3600),
    })
    .expect("verifier");
    let now = chrono::Utc::now().timestamp();
    let sign = |subject: &str| {
        key.sign(
            Algorithm::RS256,
            &json!({"iss": "https://id.example.com", "aud": "tickets-api",
                    "sub": subject, "exp": now + 600, "iat": now}),
        )
    };
    let tokens: Vec<String> = (0..ROUNDS).map(|n| sign(&format!("buyer-{n}"))).collect();
    verifier.verify(&sign("warm-up")).await.expect("accepted");
    // Each token is new to the verifier: its signature is checked.
    let started = Instant::now();
    for token in &tokens {
        verifier.verify(token).await.expect("accepted");
    }
    report(
        "RS256 (2048-bit) buyer token, key in memory, signature checked",
        ROUNDS,
        started.elapsed(),
    );
    // The same tokens again, as on each buyer's next request.
    let started = Instant::now();
    for _ in 0..10 {
        for token in &tokens {
            verifier.verify(token).await.expect("accepted");
        }
    }
    report(
        "RS256 buyer token verified before (remembered until its exp)",
        ROUNDS * 10,
        started.elapsed(),
    );

    let db = TestDatabase::create().await;
    let pool = build_pool(
        &db.url,
        PoolSettings {
            max_size: 4,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
        },
    );
    run_pending_migrations(&pool).await.expect("migrated");
    let (token, _) = auth::create(
        &pool,
        "acme",
        Permissions::parse("read_orders").expect("valid"),
        &TicketScope::AllOfTheOrganisers,
    )
    .await
    .expect("created");
    for (what, cache_age, rounds) in [
        (
            "organiser token, looked up in the database each time",
            Duration::ZERO,
            ROUNDS,
        ),
        (
            "organiser token, answer cached (at most 500 ms)",
            TokenStore::MAX_CACHE_AGE,
            ROUNDS * 10,
        ),
    ] {
        let store = TokenStore::new(pool.clone(), cache_age);
        store.authenticate(token.expose()).await.expect("accepted");
        let started = Instant::now();
        for _ in 0..rounds {
            store.authenticate(token.expose()).await.expect("accepted");
        }
        report(what, rounds, started.elapsed());
    }
}
