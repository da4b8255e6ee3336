//! The auth tests' OpenID provider (tests/oidc-provider: oauth2-mock-server),
//! one process per test, and RSA keys of the tests' own.

use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::Generate;
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use serde_json::Value;
use tickets_server::auth::OidcVerifier;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running provider; stopped when dropped.
pub struct OidcProvider {
    pub issuer: String,
    client: reqwest::Client,
    _process: Child,
}

impl OidcProvider {
    /// Starts one through tests/oidc-provider/start.sh (which installs it
    /// with npm ci on first use).
    pub async fn start() -> Self {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/oidc-provider/start.sh"
        );
        let mut process = Command::new(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting the OpenID provider (needs node and npm)");
        let mut lines = BufReader::new(process.stdout.take().expect("stdout")).lines();
        let issuer = tokio::time::timeout(Duration::from_secs(180), async {
            while let Some(line) = lines.next_line().await.expect("reading the provider") {
                if let Some(issuer) = line.strip_prefix("OIDC_ISSUER=") {
                    return issuer.to_owned();
                }
            }
            panic!("the OpenID provider exited before it listened");
        })
        .await
        .expect("the OpenID provider listened within 180 s");
        Self {
            issuer,
            client: reqwest::Client::new(),
            _process: process,
        }
    }

    /// A token for `subject` with audience `audience`, from the provider's
    /// token endpoint; `expires_in` in seconds (negative: already expired).
    pub async fn token(&self, subject: &str, audience: &str, expires_in: Option<i64>) -> String {
        let expiry = expires_in
            .map(|seconds| format!("&expires_in={seconds}"))
            .unwrap_or_default();
        let form = format!(
            "grant_type=password&username={}&aud={}{expiry}",
            form_encode(subject),
            form_encode(audience)
        );
        let response: Value = self
            .client
            .post(format!("{}/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("token request sent")
            .error_for_status()
            .expect("a token")
            .json()
            .await
            .expect("a JSON answer");
        response["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Makes the provider sign with a new key and drop every older one from
    /// its JWKS; returns the new key's id.
    pub async fn rotate_key(&self) -> String {
        let response: Value = self
            .client
            .post(format!("{}/_test/rotate", self.issuer))
            .send()
            .await
            .expect("rotation sent")
            .error_for_status()
            .expect("rotated")
            .json()
            .await
            .expect("a JSON answer");
        response["kid"].as_str().expect("a kid").to_owned()
    }
}

fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An RSA key pair of the test's own, as an issuer would hold it.
pub struct TestKey {
    pub kid: String,
    encoding: EncodingKey,
    /// The public key as PEM text: what an attacker has, and tries as an
    /// HMAC secret.
    pub public_pem: String,
    pub public_jwk: Jwk,
}

impl TestKey {
    pub fn generate(kid: &str) -> Self {
        // The tests sign with the provider the server verifies with.
        OidcVerifier::install_crypto_provider().expect("the JWT crypto provider");
        let private = rsa::PrivateKey::generate();
        let der = private.to_pkcs1_der().expect("DER");
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        let mut public_jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("JWK");
        public_jwk.common.key_id = Some(kid.to_owned());
        let public_der = private.to_public_key().to_pkcs1_der().expect("DER");
        let base64 = base64::engine::general_purpose::STANDARD.encode(public_der.as_bytes());
        let lines: Vec<&str> = base64
            .as_bytes()
            .chunks(64)
            .map(|line| std::str::from_utf8(line).expect("ASCII"))
            .collect();
        let public_pem = format!(
            "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
            lines.join("\n")
        );
        Self {
            kid: kid.to_owned(),
            encoding,
            public_pem,
            public_jwk,
        }
    }

    /// `claims` signed with this key under `alg`, naming its `kid`.
    pub fn sign(&self, alg: Algorithm, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signed")
    }

    /// As [`TestKey::sign`], with no `kid` in the header.
    pub fn sign_without_kid(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &self.encoding)
            .expect("signed")
    }
}

/// A JWKS file holding `keys`' public halves, removed when dropped.
pub struct JwksFile {
    pub path: std::path::PathBuf,
}

impl JwksFile {
    pub fn write(keys: &[&TestKey]) -> Self {
        let path = std::env::temp_dir().join(format!("jwks-{}.json", uuid::Uuid::new_v4()));
        let file = Self { path };
        file.replace(keys);
        file
    }

    pub fn replace(&self, keys: &[&TestKey]) {
        let set = JwkSet {
            keys: keys.iter().map(|k| k.public_jwk.clone()).collect(),
        };
        std::fs::write(&self.path, serde_json::to_vec(&set).expect("JSON")).expect("written");
    }
}

impl Drop for JwksFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
