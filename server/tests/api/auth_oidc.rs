//! Buyers' OpenID Connect tokens: from a real provider through discovery,
//! across a key rotation, and every broken token refused.

use std::time::Duration;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tickets_server::auth::{JwtRefusal, KeySource, OidcSettings, OidcVerifier, user_id_for};

use crate::oidc_provider::{JwksFile, OidcProvider, TestKey};

const AUDIENCE: &str = "tickets-api";
const ISSUER: &str = "https://id.example.com";

fn settings(issuer: &str, keys: KeySource, refresh_min_interval: Duration) -> OidcSettings {
    OidcSettings {
        issuer: issuer.to_owned(),
        audience: AUDIENCE.to_owned(),
        keys,
        leeway: Duration::from_secs(30),
        refresh_min_interval,
        keys_max_age: Duration::from_secs(3600),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims that verify, for the test's own issuer.
fn good_claims() -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "buyer-1", "exp": now() + 300, "iat": now()})
}

#[tokio::test]
async fn provider_tokens_verify_through_discovery_and_name_the_buyer() {
    let provider = OidcProvider::start().await;
    let verifier = OidcVerifier::new(settings(
        &provider.issuer,
        KeySource::Discovery,
        Duration::ZERO,
    ))
    .expect("verifier");

    let token = provider.token("alice", AUDIENCE, None).await;
    let buyer = verifier.verify(&token).await.expect("accepted");
    assert_eq!(buyer.subject, "alice");
    assert_eq!(buyer.user_id, user_id_for(&provider.issuer, "alice"));

    let id = uuid::Uuid::new_v4();
    let token = provider.token(&id.to_string(), AUDIENCE, None).await;
    assert_eq!(verifier.verify(&token).await.expect("accepted").user_id, id);
}

#[tokio::test]
async fn provider_tokens_for_another_audience_or_expired_are_refused() {
    let provider = OidcProvider::start().await;
    let verifier = OidcVerifier::new(settings(
        &provider.issuer,
        KeySource::Discovery,
        Duration::ZERO,
    ))
    .expect("verifier");
    let other_audience = provider.token("alice", "another-api", None).await;
    assert_eq!(
        verifier.verify(&other_audience).await,
        Err(JwtRefusal::WrongAudience)
    );
    // Past the 30 s leeway.
    let expired = provider.token("alice", AUDIENCE, Some(-120)).await;
    assert_eq!(verifier.verify(&expired).await, Err(JwtRefusal::Expired));
    // Within it.
    let just_expired = provider.token("alice", AUDIENCE, Some(-5)).await;
    assert!(verifier.verify(&just_expired).await.is_ok());
}

#[tokio::test]
async fn after_the_provider_rotates_its_key_new_tokens_verify_and_old_ones_do_not() {
    let provider = OidcProvider::start().await;
    let verifier = OidcVerifier::new(settings(
        &provider.issuer,
        KeySource::Discovery,
        Duration::ZERO,
    ))
    .expect("verifier");
    let before = provider.token("alice", AUDIENCE, None).await;
    assert!(verifier.verify(&before).await.is_ok(), "the first key");

    provider.rotate_key().await;
    let after = provider.token("alice", AUDIENCE, None).await;
    assert!(
        verifier.verify(&after).await.is_ok(),
        "a token signed by the new key verifies without a restart"
    );
    assert_eq!(
        verifier.verify(&before).await,
        Err(JwtRefusal::UnknownKey),
        "a token signed by the removed key is refused"
    );
}

#[tokio::test]
async fn unknown_keys_fetch_the_keys_at_most_once_per_interval() {
    let provider = OidcProvider::start().await;
    let verifier = OidcVerifier::new(settings(
        &provider.issuer,
        KeySource::Discovery,
        Duration::from_secs(600),
    ))
    .expect("verifier");
    verifier.prime().await;
    provider.rotate_key().await;
    let after = provider.token("alice", AUDIENCE, None).await;
    // The keys were fetched a moment ago: the new key waits for the interval.
    assert_eq!(verifier.verify(&after).await, Err(JwtRefusal::UnknownKey));
}

#[tokio::test]
async fn an_unreachable_issuer_is_unavailable_not_a_bad_token() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let issuer = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let verifier = OidcVerifier::new(settings(&issuer, KeySource::Discovery, Duration::ZERO))
        .expect("verifier");
    let key = TestKey::generate("k1");
    let token = key.sign(Algorithm::RS256, &good_claims());
    assert_eq!(
        verifier.verify(&token).await,
        Err(JwtRefusal::KeysUnavailable)
    );
}

/// A verifier trusting `key` through a JWKS file.
fn file_verifier(file: &JwksFile) -> OidcVerifier {
    OidcVerifier::new(settings(
        ISSUER,
        KeySource::File(file.path.clone()),
        Duration::ZERO,
    ))
    .expect("verifier")
}

fn encode_part(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(value).expect("JSON"))
}

#[tokio::test]
async fn tokens_from_a_jwks_file_verify_with_or_without_a_kid() {
    let key = TestKey::generate("k1");
    let file = JwksFile::write(&[&key]);
    let verifier = file_verifier(&file);
    let buyer = verifier
        .verify(&key.sign(Algorithm::RS256, &good_claims()))
        .await
        .expect("RS256 accepted");
    assert_eq!(buyer.user_id, user_id_for(ISSUER, "buyer-1"));
    assert!(
        verifier
            .verify(&key.sign_without_kid(&good_claims()))
            .await
            .is_ok()
    );
    // The JWK names RS256: the key verifies nothing else.
    assert_eq!(
        verifier
            .verify(&key.sign(Algorithm::PS256, &good_claims()))
            .await,
        Err(JwtRefusal::DisallowedAlgorithm)
    );
    // A JWK naming no algorithm takes any of its type's.
    let mut any = TestKey::generate("any");
    any.public_jwk.common.key_algorithm = None;
    file.replace(&[&key, &any]);
    let verifier = file_verifier(&file);
    for alg in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
        assert!(
            verifier
                .verify(&any.sign(alg, &good_claims()))
                .await
                .is_ok(),
            "{alg:?}"
        );
    }
}

/// Every broken token of the issue's list, each refused for its reason.
// One table of cases, long by its nature.
#[allow(clippy::too_many_lines)]
#[tokio::test]
async fn broken_tokens_are_refused() {
    let key = TestKey::generate("k1");
    let stranger = TestKey::generate("k1");
    let file = JwksFile::write(&[&key]);
    let verifier = file_verifier(&file);
    let good = key.sign(Algorithm::RS256, &good_claims());
    let with = |changes: Value| {
        let mut claims = good_claims();
        for (name, value) in changes.as_object().expect("an object") {
            if value.is_null() {
                claims.as_object_mut().expect("an object").remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        key.sign(Algorithm::RS256, &claims)
    };

    let (header, payload, signature) = {
        let mut parts = good.split('.');
        (
            parts.next().expect("header").to_owned(),
            parts.next().expect("payload").to_owned(),
            parts.next().expect("signature").to_owned(),
        )
    };
    let alg_none = format!(
        "{}.{payload}.",
        encode_part(&json!({"alg": "none", "typ": "JWT", "kid": "k1"}))
    );
    let alg_none_signed = format!(
        "{}.{payload}.{signature}",
        encode_part(&json!({"alg": "none", "typ": "JWT", "kid": "k1"}))
    );
    let hmac_with_public_key = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".to_owned());
        jsonwebtoken::encode(
            &header,
            &good_claims(),
            &EncodingKey::from_secret(key.public_pem.as_bytes()).expect("an HMAC key"),
        )
        .expect("signed")
    };
    let mut claims = good_claims();
    claims["sub"] = json!("someone-else");
    let swapped_payload = format!("{header}.{}.{signature}", encode_part(&claims));

    let cases: Vec<(&str, String, JwtRefusal)> = vec![
        ("alg none, unsigned", alg_none, JwtRefusal::Malformed),
        (
            "alg none, with a signature",
            alg_none_signed,
            JwtRefusal::Malformed,
        ),
        (
            "HS256 with the public key as secret",
            hmac_with_public_key,
            JwtRefusal::DisallowedAlgorithm,
        ),
        (
            "expired past the leeway",
            with(json!({"exp": now() - 120})),
            JwtRefusal::Expired,
        ),
        (
            "not valid yet past the leeway",
            with(json!({"nbf": now() + 120})),
            JwtRefusal::NotYetValid,
        ),
        (
            "another audience",
            with(json!({"aud": "another-api"})),
            JwtRefusal::WrongAudience,
        ),
        (
            "no audience",
            with(json!({"aud": null})),
            JwtRefusal::MissingClaim,
        ),
        (
            "another issuer",
            with(json!({"iss": "https://evil.example.com"})),
            JwtRefusal::WrongIssuer,
        ),
        (
            "no expiry",
            with(json!({"exp": null})),
            JwtRefusal::MissingClaim,
        ),
        (
            "no subject",
            with(json!({"sub": null})),
            JwtRefusal::MissingClaim,
        ),
        (
            "a payload changed after signing",
            swapped_payload,
            JwtRefusal::BadSignature,
        ),
        (
            "signed by another key under the trusted kid",
            stranger.sign(Algorithm::RS256, &good_claims()),
            JwtRefusal::BadSignature,
        ),
        (
            "an unknown key",
            TestKey::generate("k2").sign(Algorithm::RS256, &good_claims()),
            JwtRefusal::UnknownKey,
        ),
        (
            "not a JWT",
            "tks_or_anything".to_owned(),
            JwtRefusal::Malformed,
        ),
        (
            "two parts",
            format!("{header}.{payload}"),
            JwtRefusal::Malformed,
        ),
    ];
    for (case, token, refusal) in cases {
        assert_eq!(verifier.verify(&token).await, Err(refusal), "{case}");
    }
    assert!(verifier.verify(&good).await.is_ok(), "the control token");
}

#[tokio::test]
async fn a_jwks_file_is_read_again_for_an_unknown_key() {
    let old = TestKey::generate("old");
    let new = TestKey::generate("new");
    let file = JwksFile::write(&[&old]);
    let verifier = file_verifier(&file);
    let old_token = old.sign(Algorithm::RS256, &good_claims());
    assert!(verifier.verify(&old_token).await.is_ok());

    file.replace(&[&new]);
    assert!(
        verifier
            .verify(&new.sign(Algorithm::RS256, &good_claims()))
            .await
            .is_ok()
    );
    assert_eq!(
        verifier.verify(&old_token).await,
        Err(JwtRefusal::UnknownKey)
    );
}

#[test]
fn an_unusable_jwks_file_stops_the_verifier_at_start() {
    let missing = settings(
        ISSUER,
        KeySource::File("/nonexistent/jwks.json".into()),
        Duration::ZERO,
    );
    let error = OidcVerifier::new(missing).expect_err("refused");
    assert!(error.contains("OIDC_JWKS_FILE"), "{error}");

    let path = std::env::temp_dir().join(format!("jwks-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&path, br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#).expect("written");
    let error = OidcVerifier::new(settings(
        ISSUER,
        KeySource::File(path.clone()),
        Duration::ZERO,
    ))
    .expect_err("refused");
    std::fs::remove_file(&path).expect("removed");
    assert!(error.contains("no usable signing key"), "{error}");
}
