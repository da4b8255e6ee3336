//! Buyers' OpenID Connect bearer tokens (JWTs), verified with the issuer's
//! keys.
//!
//! Keys come from the issuer's discovery document (`jwks_uri`) or from a
//! file, and are kept in memory. A token naming a key not in memory makes
//! the verifier fetch the keys again, at most once per
//! `refresh_min_interval`, so a rotated key is taken up without a restart
//! while a flood of made-up key ids costs one fetch per interval. The whole
//! set is replaced on each fetch, so a key the issuer removed stops
//! verifying at the next fetch (at the latest after `keys_max_age`).
//!
//! Only asymmetric algorithms are accepted, and each key only with the
//! algorithms of its own type (or the one its JWK names): `alg: none` and
//! an HMAC token made with a public key as its secret never verify.
//!
//! Signatures are checked by ring ([`jwt_crypto`]), and a token that
//! verified is remembered until its `exp` ([`verified_tokens`]), so a
//! buyer's next request with it costs a hash and a lookup.

mod jwt_crypto;
mod verified_tokens;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, Validation, errors::ErrorKind};
use serde::Deserialize;

use self::verified_tokens::{TokenDigest, VerifiedTokens, digest_of};
use super::buyer::Buyer;

/// Where the issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `OIDC_ISSUER` + `/.well-known/openid-configuration`, then its `jwks_uri`.
    Discovery,
    /// A JWK Set in a file (`OIDC_JWKS_FILE`), read again on an unknown key.
    File(PathBuf),
}

/// How buyers' tokens are verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The `iss` every token must carry, and the base of discovery.
    pub issuer: String,
    /// The `aud` every token must include: this service's client id.
    pub audience: String,
    pub keys: KeySource,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// The least time between two fetches of the keys.
    pub refresh_min_interval: Duration,
    /// Keys older than this are fetched again before use.
    pub keys_max_age: Duration,
}

/// Why a buyer's token was refused. Every one but
/// [`JwtRefusal::KeysUnavailable`] is a 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtRefusal {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    DisallowedAlgorithm,
    #[error("the token names a key the issuer does not publish")]
    UnknownKey,
    #[error("the token's signature is not valid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is from another issuer")]
    WrongIssuer,
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("the token lacks a required claim")]
    MissingClaim,
    /// The issuer's keys could not be had: the caller answers 503.
    #[error("the issuer's keys cannot be fetched")]
    KeysUnavailable,
}

/// A key as kept in memory, with the algorithms it may verify.
struct VerifyingKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Whether `other` verifies exactly what this key does.
    fn same_as(&self, other: &Self) -> bool {
        fn material(key: &DecodingKey) -> (&[u8], &[u8]) {
            match key.kind() {
                DecodingKeyKind::SecretOrDer(bytes) => (bytes, &[]),
                DecodingKeyKind::RsaModulusExponent { n, e } => (n, e),
            }
        }
        self.kid == other.kid
            && self.algorithms == other.algorithms
            && self.key.family() == other.key.family()
            && material(&self.key) == material(&other.key)
    }
}

#[derive(Debug)]
struct KeySet {
    keys: Vec<VerifyingKey>,
    fetched_at: Option<Instant>,
    /// The tokens these keys verified.
    verified: Arc<VerifiedTokens>,
}

impl KeySet {
    /// The keys fetched now. The tokens `previous` verified stay accepted
    /// only if the keys are the same ones.
    fn fetched(keys: Vec<VerifyingKey>, previous: Option<&Self>, leeway: Duration) -> Self {
        let verified = match previous {
            Some(previous)
                if previous.keys.len() == keys.len()
                    && previous.keys.iter().zip(&keys).all(|(a, b)| a.same_as(b)) =>
            {
                Arc::clone(&previous.verified)
            }
            _ => Arc::new(VerifiedTokens::new(
                verified_tokens::MAX_ENTRIES,
                leeway.as_secs(),
            )),
        };
        Self {
            keys,
            fetched_at: Some(Instant::now()),
            verified,
        }
    }

    fn none_yet(leeway: Duration) -> Self {
        Self {
            keys: Vec::new(),
            fetched_at: None,
            verified: Arc::new(VerifiedTokens::new(0, leeway.as_secs())),
        }
    }
}

/// The claims read beyond those the library checks.
#[derive(Deserialize)]
struct Claims {
    /// Optional here so that a token without one is refused by the
    /// library's required-claims check, as a missing claim.
    sub: Option<String>,
    /// Required and checked by the library; read to know how long the
    /// token may be remembered.
    exp: Option<u64>,
}

/// Verifies buyers' tokens; one per process, shared.
#[derive(Debug)]
pub struct OidcVerifier {
    settings: OidcSettings,
    http: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    keys: RwLock<Arc<KeySet>>,
    /// When keys were last fetched (or tried): held while fetching, so
    /// that concurrent requests wait for one fetch instead of each making
    /// their own.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    validations: Vec<(Algorithm, Validation)>,
}

/// The algorithms a token may use: asymmetric ones only.
const ACCEPTED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The longest a fetch of the discovery document or the keys may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

impl OidcVerifier {
    /// A verifier for `settings`. Keys from a file are read now, so a
    /// missing or unusable file stops the server at start; keys from
    /// discovery are fetched on first use (or by [`OidcVerifier::prime`]).
    pub fn new(settings: OidcSettings) -> Result<Self, String> {
        Self::install_crypto_provider()?;
        // rustls with ring's provider (aws-lc-rs, rustls' default, needs
        // CMake to build) and Mozilla's roots compiled in, so the slim image
        // needs no CA bundle. ring lacks post-quantum key exchange, which
        // fetching public keys does not need.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| format!("cannot set up TLS for OpenID discovery: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).build(https);
        let validations = ACCEPTED
            .iter()
            .map(|alg| (*alg, validation_for(*alg, &settings)))
            .collect();
        let initial = match &settings.keys {
            KeySource::File(path) => {
                let text = std::fs::read(path).map_err(|e| {
                    format!("OIDC_JWKS_FILE={} cannot be read: {e}", path.display())
                })?;
                let keys = usable_keys(&text)
                    .map_err(|e| format!("OIDC_JWKS_FILE={} is not usable: {e}", path.display()))?;
                KeySet::fetched(keys, None, settings.leeway)
            }
            KeySource::Discovery => KeySet::none_yet(settings.leeway),
        };
        Ok(Self {
            settings,
            http,
            keys: RwLock::new(Arc::new(initial)),
            last_fetch: tokio::sync::Mutex::new(None),
            validations,
        })
    }

    /// Makes ring `jsonwebtoken`'s signature provider for this process
    /// (done by [`OidcVerifier::new`]); whatever signs or reads tokens with
    /// `jsonwebtoken` before a verifier exists calls this first.
    pub fn install_crypto_provider() -> Result<(), String> {
        jwt_crypto::install()
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// Fetches the keys now, so the first buyer does not wait for them; a
    /// failure is logged and retried on use.
    pub async fn prime(&self) {
        if let Err(error) = self.refresh().await {
            tracing::warn!(error = %error, "the OpenID issuer's keys could not be fetched at start");
        }
    }

    /// The buyer `token` (an `Authorization: Bearer` value) speaks for.
    pub async fn verify(&self, token: &str) -> Result<Buyer, JwtRefusal> {
        let digest = digest_of(token);
        if let Some(buyer) = self.verified_before(&digest) {
            return Ok(buyer);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtRefusal::Malformed)?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(JwtRefusal::DisallowedAlgorithm);
        }
        let mut keys = self.current_keys().await?;
        let mut candidates = candidates_of(&keys, header.kid.as_deref(), header.alg);
        if candidates.is_empty() {
            keys = self.refresh_on_unknown_key().await?;
            candidates = candidates_of(&keys, header.kid.as_deref(), header.alg);
        }
        if candidates.is_empty() {
            return Err(JwtRefusal::UnknownKey);
        }
        let validation = self
            .validations
            .iter()
            .find(|(alg, _)| *alg == header.alg)
            .map(|(_, v)| v)
            .ok_or(JwtRefusal::DisallowedAlgorithm)?;
        let mut refusal = JwtRefusal::BadSignature;
        for key in candidates {
            if !key.algorithms.contains(&header.alg) {
                refusal = JwtRefusal::DisallowedAlgorithm;
                continue;
            }
            match jsonwebtoken::decode::<Claims>(token, &key.key, validation) {
                Ok(data) => {
                    let subject = data.claims.sub.ok_or(JwtRefusal::MissingClaim)?;
                    let expires_at = data.claims.exp.ok_or(JwtRefusal::MissingClaim)?;
                    let buyer = Buyer::from_subject(&self.settings.issuer, &subject);
                    keys.verified.insert(
                        digest,
                        buyer.clone(),
                        expires_at,
                        jsonwebtoken::get_current_timestamp(),
                    );
                    return Ok(buyer);
                }
                Err(error) => refusal = refusal_of(error.kind()),
            }
        }
        Err(refusal)
    }

    /// The buyer of a token that verified with the keys in memory, while
    /// they are not due for a fetch and the token has not expired.
    fn verified_before(&self, token: &TokenDigest) -> Option<Buyer> {
        let keys = self.snapshot();
        let fresh = keys
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.settings.keys_max_age);
        if !fresh {
            return None;
        }
        keys.verified
            .get(token, jsonwebtoken::get_current_timestamp())
    }

    /// The keys in memory, fetched first if there are none yet or they are
    /// older than `keys_max_age`.
    async fn current_keys(&self) -> Result<Arc<KeySet>, JwtRefusal> {
        let keys = self.snapshot();
        let stale = keys
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.settings.keys_max_age);
        if stale {
            return match self.refresh().await {
                Ok(keys) => Ok(keys),
                // Keys that could not be renewed still verify until they can.
                Err(_) if !keys.keys.is_empty() => Ok(keys),
                Err(_) => Err(JwtRefusal::KeysUnavailable),
            };
        }
        Ok(keys)
    }

    async fn refresh_on_unknown_key(&self) -> Result<Arc<KeySet>, JwtRefusal> {
        if let Ok(keys) = self.refresh().await {
            return Ok(keys);
        }
        let keys = self.snapshot();
        if keys.keys.is_empty() {
            Err(JwtRefusal::KeysUnavailable)
        } else {
            Ok(keys)
        }
    }

    fn snapshot(&self) -> Arc<KeySet> {
        Arc::clone(
            &self
                .keys
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Fetches the keys unless they were fetched less than
    /// `refresh_min_interval` ago, and returns the keys then in memory.
    async fn refresh(&self) -> Result<Arc<KeySet>, String> {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < self.settings.refresh_min_interval) {
            return Ok(self.snapshot());
        }
        *last = Some(Instant::now());
        let keys = match &self.settings.keys {
            KeySource::File(path) => {
                let path = path.clone();
                let text = tokio::task::spawn_blocking(move || std::fs::read(&path))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("reading the JWKS file: {e}"))?;
                usable_keys(&text)?
            }
            KeySource::Discovery => self.discover().await?,
        };
        tracing::info!(keys = keys.len(), "fetched the OpenID issuer's keys");
        let keys = Arc::new(KeySet::fetched(
            keys,
            Some(&self.snapshot()),
            self.settings.leeway,
        ));
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::clone(&keys);
        Ok(keys)
    }

    async fn discover(&self) -> Result<Vec<VerifyingKey>, String> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let document: Discovery = serde_json::from_slice(&self.get(&url).await?)
            .map_err(|e| format!("the discovery document at {url} is not usable: {e}"))?;
        // OpenID Connect Discovery 1.0, 4.3: the document must name the
        // issuer it was fetched for.
        if document.issuer != self.settings.issuer {
            return Err(format!(
                "the discovery document names issuer {:?}, not {:?}",
                document.issuer, self.settings.issuer
            ));
        }
        check_url_is_safe(&document.jwks_uri)?;
        usable_keys(&self.get(&document.jwks_uri).await?)
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let request = hyper::Request::get(uri)
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("{url:?}: {e}"))?;
        let fetch = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| format!("fetching {url}: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("{url} answered {}", response.status()));
            }
            let body = Limited::new(response.into_body(), MAX_DOCUMENT_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading {url}: {e}"))?;
            Ok(body.to_bytes().to_vec())
        };
        tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| format!("fetching {url} took longer than {FETCH_TIMEOUT:?}"))?
    }
}

/// The keys a token may be verified with: the one its `kid` names, or
/// without a `kid` every key that takes its algorithm.
fn candidates_of<'a>(keys: &'a KeySet, kid: Option<&str>, alg: Algorithm) -> Vec<&'a VerifyingKey> {
    match kid {
        Some(kid) => keys
            .keys
            .iter()
            .filter(|k| k.kid.as_deref() == Some(kid))
            .collect(),
        None => keys
            .keys
            .iter()
            .filter(|k| k.algorithms.contains(&alg))
            .collect(),
    }
}

fn validation_for(alg: Algorithm, settings: &OidcSettings) -> Validation {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.leeway = settings.leeway.as_secs();
    validation
}

fn refusal_of(kind: &ErrorKind) -> JwtRefusal {
    match kind {
        ErrorKind::InvalidSignature => JwtRefusal::BadSignature,
        ErrorKind::ExpiredSignature => JwtRefusal::Expired,
        ErrorKind::ImmatureSignature => JwtRefusal::NotYetValid,
        ErrorKind::InvalidIssuer => JwtRefusal::WrongIssuer,
        ErrorKind::InvalidAudience => JwtRefusal::WrongAudience,
        ErrorKind::MissingRequiredClaim(_) => JwtRefusal::MissingClaim,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            JwtRefusal::DisallowedAlgorithm
        }
        _ => JwtRefusal::Malformed,
    }
}

/// The signing keys of a JWK Set, each with the algorithms it may verify.
/// Keys for encryption, symmetric keys and keys of unknown types are left
/// out; a set with no usable key is an error.
fn usable_keys(document: &[u8]) -> Result<Vec<VerifyingKey>, String> {
    let set: JwkSet =
        serde_json::from_slice(document).map_err(|e| format!("not a JWK Set: {e}"))?;
    let keys: Vec<VerifyingKey> = set.keys.iter().filter_map(verifying_key).collect();
    if keys.is_empty() {
        return Err("it has no usable signing key (RSA, EC P-256/P-384 or Ed25519)".to_owned());
    }
    Ok(keys)
}

fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let own: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => ACCEPTED[..6].to_vec(),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            vec![Algorithm::EdDSA]
        }
        _ => return None,
    };
    let algorithms = match jwk.common.key_algorithm {
        None => own,
        Some(named) => {
            let named = Algorithm::try_from(named).ok()?;
            if !own.contains(&named) {
                return None;
            }
            vec![named]
        }
    };
    Some(VerifyingKey {
        kid: jwk.common.key_id.clone(),
        algorithms,
        key: DecodingKey::from_jwk(jwk).ok()?,
    })
}

/// Keys and discovery are fetched over HTTPS, or over HTTP from this
/// machine only (a provider in tests, a sidecar).
pub fn check_url_is_safe(url: &str) -> Result<(), String> {
    let parsed: hyper::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    let loopback = match parsed.host() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    match parsed.scheme_str() {
        Some("https") if parsed.host().is_some_and(|h| !h.is_empty()) => Ok(()),
        Some("http") if loopback => Ok(()),
        _ => Err(format!(
            "{url:?} must be an https:// URL (http:// only for localhost)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_urls_are_fetched() {
        for good in [
            "https://id.example.com",
            "https://id.example.com/realms/x",
            "http://127.0.0.1:8080",
            "http://localhost:1234/x",
            "http://[::1]:9/",
        ] {
            assert!(check_url_is_safe(good).is_ok(), "{good}");
        }
        for bad in [
            "http://id.example.com",
            "ftp://127.0.0.1",
            "id.example.com",
            "",
            "http://127.0.0.1.example.com",
        ] {
            assert!(check_url_is_safe(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn symmetric_encryption_and_unknown_keys_are_left_out() {
        let set = br#"{"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB", "kid": "enc"},
            {"kty": "RSA", "alg": "HS256", "n": "AQAB", "e": "AQAB", "kid": "lying"},
            {"kty": "EC", "crv": "P-256", "kid": "ec",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "RSA", "alg": "PS256", "n": "AQAB", "e": "AQAB", "kid": "pss"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa"}
        ]}"#;
        let keys = usable_keys(set).expect("usable");
        let found: Vec<(Option<&str>, &[Algorithm])> = keys
            .iter()
            .map(|k| (k.kid.as_deref(), k.algorithms.as_slice()))
            .collect();
        assert_eq!(
            found,
            vec![
                (Some("ec"), &[Algorithm::ES256][..]),
                (Some("pss"), &[Algorithm::PS256][..]),
                (Some("rsa"), &ACCEPTED[..6]),
            ]
        );
    }

    use base64::Engine;
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{EncodingKey, Header};
    use ring::rand::SystemRandom;
    use ring::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
        Ed25519KeyPair, KeyPair,
    };
    use rsa::Generate;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use serde_json::{Value, json};

    const ISSUER: &str = "https://id.example.com";

    /// A signing key of the test's own and its public JWK.
    struct SigningKey {
        kid: String,
        key: EncodingKey,
        jwk: Value,
    }

    impl SigningKey {
        fn rsa(kid: &str) -> Self {
            OidcVerifier::install_crypto_provider().expect("installed");
            let der = rsa::PrivateKey::generate().to_pkcs1_der().expect("DER");
            let key = EncodingKey::from_rsa_der(der.as_bytes());
            // Named by no algorithm, so that it verifies all of RSA's.
            let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("a JWK");
            jwk.common.key_algorithm = None;
            Self::with_jwk(kid, key, serde_json::to_value(jwk).expect("JSON"))
        }

        fn ecdsa(kid: &str, alg: Algorithm) -> Self {
            OidcVerifier::install_crypto_provider().expect("installed");
            let signing = if alg == Algorithm::ES256 {
                &ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &ECDSA_P384_SHA384_FIXED_SIGNING
            };
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &SystemRandom::new()).expect("a key");
            let key = EncodingKey::from_ec_der(pkcs8.as_ref());
            let jwk = Jwk::from_encoding_key(&key, alg).expect("a JWK");
            Self::with_jwk(kid, key, serde_json::to_value(jwk).expect("JSON"))
        }

        fn ed25519(kid: &str) -> Self {
            OidcVerifier::install_crypto_provider().expect("installed");
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("a key");
            let public = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .expect("a key")
                .public_key()
                .as_ref()
                .to_vec();
            let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public);
            Self::with_jwk(
                kid,
                EncodingKey::from_ed_der(pkcs8.as_ref()),
                json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
            )
        }

        fn with_jwk(kid: &str, key: EncodingKey, mut jwk: Value) -> Self {
            jwk["kid"] = json!(kid);
            Self {
                kid: kid.to_owned(),
                key,
                jwk,
            }
        }

        fn sign(&self, alg: Algorithm, expires_at: i64, subject: &str) -> String {
            let mut header = Header::new(alg);
            header.kid = Some(self.kid.clone());
            let claims = json!({"iss": ISSUER, "aud": "tickets-api", "sub": subject,
                                "exp": expires_at});
            jsonwebtoken::encode(&header, &claims, &self.key).expect("signed")
        }
    }

    /// A JWK Set file, removed when dropped.
    struct JwksFile(PathBuf);

    impl JwksFile {
        fn new(keys: &[&SigningKey]) -> Self {
            let file =
                Self(std::env::temp_dir().join(format!("oidc-unit-{}.json", uuid::Uuid::new_v4())));
            file.replace(keys);
            file
        }

        fn replace(&self, keys: &[&SigningKey]) {
            let keys: Vec<&Value> = keys.iter().map(|k| &k.jwk).collect();
            std::fs::write(&self.0, json!({ "keys": keys }).to_string()).expect("written");
        }

        fn verifier(&self, leeway: Duration) -> OidcVerifier {
            OidcVerifier::new(OidcSettings {
                issuer: ISSUER.to_owned(),
                audience: "tickets-api".to_owned(),
                keys: KeySource::File(self.0.clone()),
                leeway,
                refresh_min_interval: Duration::ZERO,
                keys_max_age: Duration::from_secs(3600),
            })
            .expect("a verifier")
        }
    }

    impl Drop for JwksFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn in_ten_minutes() -> i64 {
        chrono::Utc::now().timestamp() + 600
    }

    fn remembered(verifier: &OidcVerifier) -> usize {
        verifier.snapshot().verified.len()
    }

    #[tokio::test]
    async fn every_accepted_algorithm_verifies_and_a_changed_signature_does_not() {
        let rsa = SigningKey::rsa("rsa");
        let p256 = SigningKey::ecdsa("p256", Algorithm::ES256);
        let p384 = SigningKey::ecdsa("p384", Algorithm::ES384);
        let ed = SigningKey::ed25519("ed");
        let file = JwksFile::new(&[&rsa, &p256, &p384, &ed]);
        let verifier = file.verifier(Duration::ZERO);
        for alg in ACCEPTED {
            let key = match alg {
                Algorithm::ES256 => &p256,
                Algorithm::ES384 => &p384,
                Algorithm::EdDSA => &ed,
                _ => &rsa,
            };
            let token = key.sign(alg, in_ten_minutes(), &format!("{alg:?}"));
            let buyer = verifier.verify(&token).await.expect("verified");
            assert_eq!(buyer.subject, format!("{alg:?}"));

            let other = key.sign(alg, in_ten_minutes(), "someone-else");
            let (signed, _) = token.rsplit_once('.').expect("three parts");
            let (_, other_signature) = other.rsplit_once('.').expect("three parts");
            assert_eq!(
                verifier
                    .verify(&format!("{signed}.{other_signature}"))
                    .await,
                Err(JwtRefusal::BadSignature),
                "{alg:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_remembered_token_still_expires() {
        let key = SigningKey::ed25519("k1");
        let file = JwksFile::new(&[&key]);
        let verifier = file.verifier(Duration::ZERO);
        let expires_at = chrono::Utc::now().timestamp() + 1;
        let token = key.sign(Algorithm::EdDSA, expires_at, "buyer-1");
        assert!(verifier.verify(&token).await.is_ok());
        assert!(verifier.verify(&token).await.is_ok());
        assert_eq!(remembered(&verifier), 1);
        // Expired once `exp` is in the past (the leeway is zero here).
        while chrono::Utc::now().timestamp() <= expires_at {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(verifier.verify(&token).await, Err(JwtRefusal::Expired));
    }

    #[tokio::test]
    async fn a_removed_keys_remembered_tokens_are_refused_after_the_fetch() {
        let old = SigningKey::ed25519("old");
        let new = SigningKey::ed25519("new");
        let file = JwksFile::new(&[&old]);
        let verifier = file.verifier(Duration::from_secs(30));
        let old_token = old.sign(Algorithm::EdDSA, in_ten_minutes(), "buyer-1");
        assert!(verifier.verify(&old_token).await.is_ok());
        assert_eq!(remembered(&verifier), 1);

        // A fetch that brings the same keys keeps what they verified.
        verifier.refresh().await.expect("fetched");
        assert_eq!(remembered(&verifier), 1);

        file.replace(&[&new]);
        let new_token = new.sign(Algorithm::EdDSA, in_ten_minutes(), "buyer-2");
        assert!(
            verifier.verify(&new_token).await.is_ok(),
            "fetched for its kid"
        );
        assert_eq!(remembered(&verifier), 1, "only the new key's token");
        assert_eq!(
            verifier.verify(&old_token).await,
            Err(JwtRefusal::UnknownKey)
        );
    }

    #[tokio::test]
    async fn refused_tokens_are_not_remembered() {
        let key = SigningKey::ed25519("k1");
        let file = JwksFile::new(&[&key]);
        let verifier = file.verifier(Duration::ZERO);
        let expired = key.sign(Algorithm::EdDSA, chrono::Utc::now().timestamp() - 10, "b");
        assert_eq!(verifier.verify(&expired).await, Err(JwtRefusal::Expired));
        let stranger = SigningKey::ed25519("k1");
        let forged = stranger.sign(Algorithm::EdDSA, in_ten_minutes(), "b");
        assert_eq!(
            verifier.verify(&forged).await,
            Err(JwtRefusal::BadSignature)
        );
        assert_eq!(remembered(&verifier), 0);
    }

    #[test]
    fn a_set_without_signing_keys_is_refused() {
        assert!(usable_keys(br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#).is_err());
        assert!(usable_keys(b"{}").is_err());
        assert!(usable_keys(b"not json").is_err());
    }
}
