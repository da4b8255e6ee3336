//! Who is calling: organisers by API tokens kept (hashed) in the database,
//! buyers by OpenID Connect tokens from their issuer (docs/AUTH.md).
//!
//! This module decides who a bearer token speaks for; which operation each
//! may call, and on which objects, is decided where the operations are.

mod buyer;
mod oidc;
mod organiser_token;
mod permissions;
mod token_store;

pub use buyer::{Buyer, SUBJECT_NAMESPACE, user_id_for};
pub use oidc::{JwtRefusal, KeySource, OidcSettings, OidcVerifier, check_url_is_safe};
pub use organiser_token::{OrganiserToken, TOKEN_PREFIX, TokenHash};
pub use permissions::{Permission, Permissions, TicketScope};
pub use token_store::{
    CreateError, OrganiserPrincipal, Revocation, TokenRecord, TokenRefusal, TokenStore, create,
    list, revoke,
};

/// Who a request's credentials speak for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Organiser(OrganiserPrincipal),
    Buyer(Buyer),
}

/// Who is calling, as the edge established it for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Caller {
    /// No credentials were checked: the server runs with `AUTH_MODE=open`,
    /// and the caller may do anything a body asks.
    Open,
    /// No credentials: a public route (availability, docs, health), or an
    /// operation the edge refused before it ran.
    #[default]
    Anonymous,
    /// An organiser's API token.
    Organiser(OrganiserPrincipal),
    /// A buyer's OpenID Connect token.
    Buyer(Buyer),
}

impl From<Principal> for Caller {
    fn from(principal: Principal) -> Self {
        match principal {
            Principal::Organiser(organiser) => Self::Organiser(organiser),
            Principal::Buyer(buyer) => Self::Buyer(buyer),
        }
    }
}

impl Caller {
    /// How audit columns and idempotency fingerprints name the caller:
    /// `buyer:<subject>`, `organiser-token:<id>`, `open` or `anonymous`.
    pub fn audit_name(&self) -> String {
        match self {
            Self::Open => "open".to_owned(),
            Self::Anonymous => "anonymous".to_owned(),
            Self::Organiser(organiser) => format!("organiser-token:{}", organiser.token_id),
            Self::Buyer(buyer) => format!("buyer:{}", buyer.subject),
        }
    }
}

/// Why a request's credentials were not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthRefusal {
    /// No `Authorization: Bearer` header: 401.
    #[error("no bearer token was given")]
    Missing,
    /// An organiser token that is unknown or revoked: 401.
    #[error(transparent)]
    Organiser(TokenRefusal),
    /// A buyer token that does not verify: 401, or 503 for
    /// [`JwtRefusal::KeysUnavailable`].
    #[error(transparent)]
    Buyer(JwtRefusal),
}

impl AuthRefusal {
    /// A label for metrics, from a fixed few.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Organiser(_) => "organiser-token",
            Self::Buyer(refusal) => match refusal {
                JwtRefusal::Malformed => "malformed",
                JwtRefusal::DisallowedAlgorithm => "algorithm",
                JwtRefusal::UnknownKey => "unknown-key",
                JwtRefusal::BadSignature => "signature",
                JwtRefusal::Expired => "expired",
                JwtRefusal::NotYetValid => "not-yet-valid",
                JwtRefusal::WrongIssuer => "issuer",
                JwtRefusal::WrongAudience => "audience",
                JwtRefusal::MissingClaim => "claim",
                JwtRefusal::KeysUnavailable => "keys-unavailable",
            },
        }
    }

    /// Whether the credentials could not be checked at all (503), rather
    /// than were checked and refused (401).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Organiser(TokenRefusal::Unavailable(_))
                | Self::Buyer(JwtRefusal::KeysUnavailable)
        )
    }
}

/// Checks bearer tokens: one per process, shared by every request.
#[derive(Debug)]
pub struct Authenticator {
    tokens: TokenStore,
    buyers: OidcVerifier,
}

impl Authenticator {
    pub fn new(tokens: TokenStore, buyers: OidcVerifier) -> Self {
        Self { tokens, buyers }
    }

    /// Who the `Authorization` header's value speaks for. A token with the
    /// organiser prefix is only ever checked as one; anything else only as
    /// a buyer's JWT.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Principal, AuthRefusal> {
        let token = authorization
            .and_then(bearer_token)
            .ok_or(AuthRefusal::Missing)?;
        if token.starts_with(TOKEN_PREFIX) {
            self.tokens
                .authenticate(token)
                .await
                .map(Principal::Organiser)
                .map_err(AuthRefusal::Organiser)
        } else {
            self.buyers
                .verify(token)
                .await
                .map(Principal::Buyer)
                .map_err(AuthRefusal::Buyer)
        }
    }
}

/// The token of an `Authorization: Bearer <token>` value (RFC 6750: the
/// scheme in any case, one space). Tokens in the query string or a body
/// are never read.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bearer_authorization_gives_a_token() {
        assert_eq!(bearer_token("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer_token("bearer tks_x"), Some("tks_x"));
        for bad in [
            "",
            "Bearer",
            "Bearer ",
            "Basic dXNlcjpwdw==",
            "Token abc",
            "Bearer a b",
        ] {
            assert_eq!(bearer_token(bad), None, "{bad:?}");
        }
    }
}
