//! Cross-origin requests from browsers (the Fetch standard's CORS
//! protocol), for the origins in `CORS_ALLOWED_ORIGINS` and no others.
//!
//! A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//! to a route is answered 204 with what the route allows, if the origin is
//! listed; an unlisted origin gets a 403 problem and no CORS headers, so the
//! browser refuses the call. Responses to a listed origin's requests carry
//! the headers a script may read. Credentials are allowed, so the list has
//! no `*`: each origin is named.

use std::collections::HashSet;

use hyper::HeaderMap;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, HeaderValue, ORIGIN, VARY,
};

/// The request headers a listed origin's scripts may send.
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, Idempotency-Key, X-Request-Id";

/// The response headers a listed origin's scripts may read.
/// `WWW-Authenticate` says why a 401 refused: no token, or an invalid one.
const EXPOSED_HEADERS: &str =
    "Location, X-Request-Id, Retry-After, RateLimit, RateLimit-Policy, WWW-Authenticate";

/// How long a browser may keep a preflight's answer, in seconds.
const MAX_AGE_SECONDS: &str = "600";

/// The origins allowed to call the API from a browser.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(HashSet<String>);

impl AllowedOrigins {
    /// Parses a comma-separated list of origins (`https://shop.example.com`,
    /// `http://localhost:5173`): a scheme, a host and an optional port, no
    /// path and no `*`.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|origin| {
                let Some((scheme, rest)) = origin.split_once("://") else {
                    return Err(format!("{origin:?} is not an origin such as https://shop.example.com"));
                };
                let valid = matches!(scheme, "http" | "https")
                    && !rest.is_empty()
                    && rest.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
                if origin == "*" || origin.contains('*') {
                    Err("\"*\" is not allowed: credentials are allowed, so each origin must be named".to_owned())
                } else if valid {
                    Ok(origin.to_ascii_lowercase())
                } else {
                    Err(format!(
                        "{origin:?} is not an origin such as https://shop.example.com (a scheme, a host and an optional port; no path)"
                    ))
                }
            })
            .collect::<Result<HashSet<_>, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn is_listed(&self, origin: &HeaderValue) -> bool {
        origin
            .to_str()
            .is_ok_and(|text| self.0.contains(&text.to_ascii_lowercase()))
    }

    /// The request's origin, if it sent one and it is listed.
    fn listed<'h>(&self, headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
        headers.get(ORIGIN).filter(|origin| self.is_listed(origin))
    }

    /// Whether `headers` make a preflight request.
    pub fn is_preflight(headers: &HeaderMap) -> bool {
        headers.contains_key(ORIGIN) && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The headers of a preflight's answer for a route that answers
    /// `methods`; `None` if the origin is not listed.
    pub fn preflight(&self, request: &HeaderMap, methods: &'static str) -> Option<HeaderMap> {
        let origin = self.listed(request)?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(methods),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE_SECONDS),
        );
        headers.insert(
            VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        Some(headers)
    }

    /// Adds to `response` what a script from `origin` (the request's, if
    /// it sent one) needs to read it, if the origin is listed.
    pub fn decorate(&self, origin: Option<&HeaderValue>, response: &mut HeaderMap) {
        let Some(origin) = origin.filter(|_| !self.is_empty()) else {
            return;
        };
        // The answer depends on the origin, listed or not: caches keep one
        // per origin.
        response.append(VARY, HeaderValue::from_static("Origin"));
        if !self.is_listed(origin) {
            return;
        }
        response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        response.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        response.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::wildcard("*")]
    #[case::wildcard_among_others("https://a.example, *")]
    #[case::path("https://a.example/shop")]
    #[case::no_scheme("a.example")]
    #[case::other_scheme("ftp://a.example")]
    fn lists_with_what_is_not_an_origin_are_refused(#[case] list: &str) {
        assert!(AllowedOrigins::parse(list).is_err(), "{list:?}");
    }

    #[test]
    fn a_listed_origin_is_answered_and_another_is_not() {
        let origins =
            AllowedOrigins::parse("https://shop.example, http://localhost:5173").expect("valid");
        let mut request = HeaderMap::new();
        request.insert(ORIGIN, HeaderValue::from_static("http://localhost:5173"));
        request.insert(
            ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("POST"),
        );
        let answer = origins.preflight(&request, "POST").expect("answered");
        assert_eq!(answer[ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:5173");
        assert_eq!(answer[ACCESS_CONTROL_ALLOW_HEADERS], ALLOWED_HEADERS);

        request.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(origins.preflight(&request, "POST").is_none());
        let mut response = HeaderMap::new();
        origins.decorate(request.get(ORIGIN), &mut response);
        assert!(!response.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        assert_eq!(response[VARY], "Origin");
    }
}
