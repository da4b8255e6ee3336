//! The signature checks of `jsonwebtoken`, done by ring.
//!
//! ring is already built for TLS (rustls), verifies RSA several times
//! faster than RustCrypto's `rsa` (docs/AUTH.md, "Cost of one check") and
//! needs no CMake, unlike aws-lc. `jsonwebtoken` takes one provider per
//! process: [`install`] puts this one in place before any token is read.
//!
//! Signing is here too so that tests can mint tokens with the same
//! library; the server itself never signs.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{
    self as ring_sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use ring::{digest, hmac};

/// The provider: every algorithm `jsonwebtoken` names.
static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: rsa_components_of_private_key,
        rsa_pub_components_from_public_key: rsa_components_of_public_key,
        ec_pub_components_from_private_key: ec_components_of_private_key,
        ed_pub_components_from_private_key: ed_component_of_private_key,
        compute_digest,
    },
};

/// Makes this the process's provider; succeeds again when it already is,
/// and fails if another one was installed first.
pub fn install() -> Result<(), String> {
    match PROVIDER.install_default() {
        Ok(()) => Ok(()),
        Err(installed) if std::ptr::eq(installed, &raw const PROVIDER) => Ok(()),
        Err(_) => Err("another JWT crypto provider is installed".to_owned()),
    }
}

fn rsa_verification(alg: Algorithm) -> Option<&'static ring_sig::RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &ring_sig::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &ring_sig::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &ring_sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &ring_sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &ring_sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &ring_sig::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn rsa_signing(alg: Algorithm) -> Option<&'static dyn ring_sig::RsaEncoding> {
    Some(match alg {
        Algorithm::RS256 => &ring_sig::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &ring_sig::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &ring_sig::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &ring_sig::RSA_PSS_SHA256,
        Algorithm::PS384 => &ring_sig::RSA_PSS_SHA384,
        Algorithm::PS512 => &ring_sig::RSA_PSS_SHA512,
        _ => return None,
    })
}

/// JWS uses the fixed-width `r || s` form of ECDSA signatures (RFC 7518, 3.4).
fn ecdsa(
    alg: Algorithm,
) -> Option<(
    &'static ring_sig::EcdsaVerificationAlgorithm,
    &'static ring_sig::EcdsaSigningAlgorithm,
)> {
    match alg {
        Algorithm::ES256 => Some((
            &ring_sig::ECDSA_P256_SHA256_FIXED,
            &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
        )),
        Algorithm::ES384 => Some((
            &ring_sig::ECDSA_P384_SHA384_FIXED,
            &ring_sig::ECDSA_P384_SHA384_FIXED_SIGNING,
        )),
        _ => None,
    }
}

fn hmac_of(alg: Algorithm) -> Option<hmac::Algorithm> {
    match alg {
        Algorithm::HS256 => Some(hmac::HMAC_SHA256),
        Algorithm::HS384 => Some(hmac::HMAC_SHA384),
        Algorithm::HS512 => Some(hmac::HMAC_SHA512),
        _ => None,
    }
}

/// Checks signatures of one algorithm with one key.
struct RingVerifier {
    alg: Algorithm,
    key: DecodingKey,
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let alg = self.alg;
        let checked = match (self.key.kind(), alg.family()) {
            (DecodingKeyKind::RsaModulusExponent { n, e }, AlgorithmFamily::Rsa) => {
                rsa_verification(alg).map(|params| {
                    RsaPublicKeyComponents { n, e }.verify(params, message, signature)
                })
            }
            (DecodingKeyKind::SecretOrDer(der), AlgorithmFamily::Rsa) => rsa_verification(alg)
                .map(|params| UnparsedPublicKey::new(params, der).verify(message, signature)),
            (DecodingKeyKind::SecretOrDer(point), AlgorithmFamily::Ec) => {
                ecdsa(alg).map(|(verify, _)| {
                    UnparsedPublicKey::new(verify, point).verify(message, signature)
                })
            }
            (DecodingKeyKind::SecretOrDer(public), AlgorithmFamily::Ed) => {
                Some(UnparsedPublicKey::new(&ring_sig::ED25519, public).verify(message, signature))
            }
            (DecodingKeyKind::SecretOrDer(secret), AlgorithmFamily::Hmac) => {
                hmac_of(alg).map(|hmac_alg| {
                    hmac::verify(&hmac::Key::new(hmac_alg, secret), message, signature)
                })
            }
            _ => None,
        };
        match checked {
            Some(Ok(())) => Ok(()),
            _ => Err(signature::Error::new()),
        }
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "the signature CryptoProvider asks for"
)]
fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    if key.family() != alg.family() {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(Box::new(RingVerifier {
        alg: *alg,
        key: key.clone(),
    }))
}

/// Signs with one algorithm and one key.
struct RingSigner {
    alg: Algorithm,
    key: EncodingKey,
}

impl RingSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ErrorKind> {
        let key = self.key.as_bytes();
        let rng = SystemRandom::new();
        let alg = self.alg;
        match alg.family() {
            AlgorithmFamily::Rsa => {
                let pair = RsaKeyPair::from_der(key)
                    .map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()))?;
                let mut signature = vec![0; pair.public().modulus_len()];
                let padding = rsa_signing(alg).ok_or(ErrorKind::InvalidAlgorithm)?;
                pair.sign(padding, &rng, message, &mut signature)
                    .map_err(|_| ErrorKind::RsaFailedSigning)?;
                Ok(signature)
            }
            AlgorithmFamily::Ec => {
                let (_, signing) = ecdsa(alg).ok_or(ErrorKind::InvalidAlgorithm)?;
                let pair = EcdsaKeyPair::from_pkcs8(signing, key, &rng)
                    .map_err(|_| ErrorKind::InvalidEcdsaKey)?;
                let signature = pair
                    .sign(&rng, message)
                    .map_err(|e| ErrorKind::Signing(e.to_string()))?;
                Ok(signature.as_ref().to_vec())
            }
            AlgorithmFamily::Ed => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(key)
                    .map_err(|_| ErrorKind::InvalidEddsaKey)?;
                Ok(pair.sign(message).as_ref().to_vec())
            }
            AlgorithmFamily::Hmac => {
                let hmac_alg = hmac_of(alg).ok_or(ErrorKind::InvalidAlgorithm)?;
                Ok(hmac::sign(&hmac::Key::new(hmac_alg, key), message)
                    .as_ref()
                    .to_vec())
            }
        }
    }
}

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        self.sign(message)
            .map_err(|kind| signature::Error::from_source(Error::from(kind)))
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "the signature CryptoProvider asks for"
)]
fn new_signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    if key.family() != alg.family() {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(Box::new(RingSigner {
        alg: *alg,
        key: key.clone(),
    }))
}

fn rsa_components_of_private_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let pair = RsaKeyPair::from_der(der).map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()))?;
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
    Ok((public.n, public.e))
}

/// `n` and `e` of a PKCS#1 `RSAPublicKey` (RFC 8017, A.1.1):
/// `SEQUENCE { INTEGER n, INTEGER e }`, which ring reads but does not take
/// apart.
fn rsa_components_of_public_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let invalid = || {
        Error::from(ErrorKind::InvalidRsaKey(
            "not a PKCS#1 public key".to_owned(),
        ))
    };
    let (sequence, rest) = der_element(der, 0x30).ok_or_else(invalid)?;
    let (n, after_n) = der_element(sequence, 0x02).ok_or_else(invalid)?;
    let (e, after_e) = der_element(after_n, 0x02).ok_or_else(invalid)?;
    if !rest.is_empty() || !after_e.is_empty() {
        return Err(invalid());
    }
    let positive = |int: &[u8]| {
        let trimmed: &[u8] = match int {
            [0, rest @ ..] => rest,
            other => other,
        };
        trimmed.to_vec()
    };
    Ok((positive(n), positive(e)))
}

/// The contents of the DER element of type `tag` at the start of `input`,
/// and what follows it.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let length = bytes
            .iter()
            .fold(0usize, |length, b| (length << 8) | usize::from(*b));
        (length, rest)
    };
    (rest.len() >= length).then(|| rest.split_at(length))
}

fn ec_components_of_private_key(
    pkcs8: &[u8],
    alg: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>), Error> {
    let (curve, coordinate_len) = match alg {
        Algorithm::ES256 => (EllipticCurve::P256, 32),
        Algorithm::ES384 => (EllipticCurve::P384, 48),
        _ => return Err(ErrorKind::InvalidEcdsaKey.into()),
    };
    let (_, signing) = ecdsa(alg).ok_or(ErrorKind::InvalidEcdsaKey)?;
    let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8, &SystemRandom::new())
        .map_err(|_| ErrorKind::InvalidEcdsaKey)?;
    // An uncompressed point: 0x04, then x, then y.
    match pair.public_key().as_ref().split_first() {
        Some((4, point)) if point.len() == 2 * coordinate_len => {
            let (x, y) = point.split_at(coordinate_len);
            Ok((curve, x.to_vec(), y.to_vec()))
        }
        _ => Err(ErrorKind::InvalidEcdsaKey.into()),
    }
}

fn ed_component_of_private_key(pkcs8: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>, Error> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
        .map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(pair.public_key().as_ref().to_vec())
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "the signature CryptoProvider asks for"
)]
fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>, Error> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &digest::SHA256,
        ThumbprintHash::SHA384 => &digest::SHA384,
        ThumbprintHash::SHA512 => &digest::SHA512,
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    };
    Ok(digest::digest(algorithm, data).as_ref().to_vec())
}
