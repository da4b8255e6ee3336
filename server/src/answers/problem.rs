//! RFC 9457 problem details: every error the service sends is one of these
//! kinds, and this is the one place that gives each kind its status, type URI
//! and title.

use hyper::StatusCode;
use tickets_api::models;

use crate::domain::InvalidField;

/// The media type of every error body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// Defines [`ProblemKind`] from one table: each kind with its status, its
/// type (a URI reference relative to the API's base URL) and its title.
/// Adding a kind of problem is one line here.
macro_rules! problem_kinds {
    ($($kind:ident => $status:ident, $type_uri:literal, $title:literal;)+) => {
        /// The kinds of problem the service reports.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ProblemKind {
            $($kind,)+
        }

        impl ProblemKind {
            /// Every kind, in the table's order.
            pub const ALL: &[Self] = &[$(Self::$kind,)+];

            pub fn status(self) -> StatusCode {
                match self {
                    $(Self::$kind => StatusCode::$status,)+
                }
            }

            /// The problem type, a URI reference relative to the API's base URL.
            pub fn type_uri(self) -> &'static str {
                match self {
                    $(Self::$kind => $type_uri,)+
                }
            }

            pub fn title(self) -> &'static str {
                match self {
                    $(Self::$kind => $title,)+
                }
            }
        }
    };
}

problem_kinds! {
    InvalidRequest => BAD_REQUEST, "/problems/invalid-request", "Invalid request";
    NotFound => NOT_FOUND, "/problems/not-found", "Not found";
    NotEnoughTickets => CONFLICT, "/problems/not-enough-tickets", "Not enough tickets left";
    LimitExceeded => CONFLICT, "/problems/limit-exceeded", "Limit exceeded";
    HoldExpired => CONFLICT, "/problems/hold-expired", "Hold expired";
    HoldReleased => CONFLICT, "/problems/hold-released", "Hold released";
    HoldConfirmed => CONFLICT, "/problems/hold-confirmed", "Hold confirmed";
    HoldGone => GONE, "/problems/hold-gone", "Hold gone";
    RequestInFlight => CONFLICT, "/problems/request-in-flight", "Request in flight";
    IdempotencyKeyReused => UNPROCESSABLE_ENTITY, "/problems/idempotency-key-reused", "Idempotency key reused";
    Unauthenticated => UNAUTHORIZED, "/problems/unauthenticated", "Unauthenticated";
    Forbidden => FORBIDDEN, "/problems/forbidden", "Forbidden";
    OriginNotAllowed => FORBIDDEN, "/problems/origin-not-allowed", "Origin not allowed";
    TooManyRequests => TOO_MANY_REQUESTS, "/problems/too-many-requests", "Too many requests";
    MethodNotAllowed => METHOD_NOT_ALLOWED, "/problems/method-not-allowed", "Method not allowed";
    RequestTimeout => REQUEST_TIMEOUT, "/problems/request-timeout", "Request timeout";
    PayloadTooLarge => PAYLOAD_TOO_LARGE, "/problems/payload-too-large", "Payload too large";
    UriTooLong => URI_TOO_LONG, "/problems/uri-too-long", "URI too long";
    UnsupportedMediaType => UNSUPPORTED_MEDIA_TYPE, "/problems/unsupported-media-type", "Unsupported media type";
    HeaderFieldsTooLarge => REQUEST_HEADER_FIELDS_TOO_LARGE, "/problems/header-fields-too-large", "Request header fields too large";
    Internal => INTERNAL_SERVER_ERROR, "/problems/internal-error", "Internal server error";
    Unavailable => SERVICE_UNAVAILABLE, "/problems/service-unavailable", "Service unavailable";
}

impl ProblemKind {
    /// A problem of this kind with `detail` for the client.
    pub fn with_detail(self, detail: impl Into<String>) -> models::Problem {
        models::Problem {
            r#type: self.type_uri().to_owned(),
            title: self.title().to_owned(),
            status: self.status().as_u16().into(),
            detail: detail.into(),
            errors: None,
            remaining: None,
            limit: None,
            remaining_for_buyer: None,
            purchase_id: None,
        }
    }
}

/// A 400 listing every offending value.
pub fn invalid_request(errors: Vec<models::FieldError>) -> models::Problem {
    let detail = match errors.len() {
        1 => "The request has 1 invalid value".to_owned(),
        n => format!("The request has {n} invalid values"),
    };
    models::Problem {
        errors: Some(errors),
        ..ProblemKind::InvalidRequest.with_detail(detail)
    }
}

/// The 500 sent for any unexpected failure: the cause is logged, never sent.
pub fn internal() -> models::Problem {
    ProblemKind::Internal.with_detail("The server could not complete the request")
}

/// The 503 sent while the database cannot be reached.
pub fn unavailable() -> models::Problem {
    ProblemKind::Unavailable.with_detail("The database is not reachable; try again later")
}

/// The 503 of a health check that reached only a read-only standby: the
/// database is up but cannot take purchases until a standby is promoted.
pub fn standby() -> models::Problem {
    ProblemKind::Unavailable
        .with_detail("The database is a read-only standby; try again after failover")
}

/// The 503 sent at once when more requests wait for the database than the
/// server lets wait.
pub fn overloaded() -> models::Problem {
    ProblemKind::Unavailable
        .with_detail("The server has more requests waiting than it takes; try again shortly")
}

/// An invalid field of the JSON body, located by a JSON pointer.
pub fn body_field(pointer: String, detail: impl Into<String>) -> models::FieldError {
    models::FieldError {
        pointer: Some(pointer),
        parameter: None,
        detail: detail.into(),
    }
}

/// An invalid parameter: in the path, the query or a header.
pub fn parameter(invalid: &InvalidField) -> models::FieldError {
    models::FieldError {
        pointer: None,
        parameter: Some(invalid.field.to_owned()),
        detail: invalid.reason.clone(),
    }
}

/// An invalid top-level field of the JSON body.
pub fn body_fields(invalid: Vec<InvalidField>) -> Vec<models::FieldError> {
    invalid
        .into_iter()
        .map(|e| body_field(format!("/{}", e.field), e.reason))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(ProblemKind::InvalidRequest, 400)]
    #[case(ProblemKind::NotFound, 404)]
    #[case(ProblemKind::NotEnoughTickets, 409)]
    #[case(ProblemKind::LimitExceeded, 409)]
    #[case(ProblemKind::HoldExpired, 409)]
    #[case(ProblemKind::HoldReleased, 409)]
    #[case(ProblemKind::HoldConfirmed, 409)]
    #[case(ProblemKind::HoldGone, 410)]
    #[case(ProblemKind::RequestInFlight, 409)]
    #[case(ProblemKind::IdempotencyKeyReused, 422)]
    #[case(ProblemKind::OriginNotAllowed, 403)]
    #[case(ProblemKind::TooManyRequests, 429)]
    #[case(ProblemKind::MethodNotAllowed, 405)]
    #[case(ProblemKind::RequestTimeout, 408)]
    #[case(ProblemKind::PayloadTooLarge, 413)]
    #[case(ProblemKind::UriTooLong, 414)]
    #[case(ProblemKind::UnsupportedMediaType, 415)]
    #[case(ProblemKind::HeaderFieldsTooLarge, 431)]
    #[case(ProblemKind::Internal, 500)]
    #[case(ProblemKind::Unavailable, 503)]
    fn each_kind_carries_its_status_in_the_body_too(
        #[case] kind: ProblemKind,
        #[case] status: u16,
    ) {
        let problem = kind.with_detail("detail");
        assert_eq!(kind.status().as_u16(), status);
        assert_eq!(problem.status, u32::from(status));
        assert!(problem.r#type.starts_with("/problems/"));
    }

    /// The problems the edge answers for any route (a preflight from an
    /// origin not allowed, an unknown method, an overlong URI or header),
    /// which no operation of the spec declares.
    const EDGE_ONLY: [ProblemKind; 4] = [
        ProblemKind::OriginNotAllowed,
        ProblemKind::MethodNotAllowed,
        ProblemKind::UriTooLong,
        ProblemKind::HeaderFieldsTooLarge,
    ];

    /// Every problem example in the spec: its type, status and title.
    fn spec_problems(
        value: &serde_json::Value,
        found: &mut std::collections::BTreeSet<(String, u64, String)>,
    ) {
        match value {
            serde_json::Value::Object(object) => {
                if let (Some(kind), Some(status), Some(title)) = (
                    object.get("type").and_then(|t| t.as_str()),
                    object.get("status").and_then(serde_json::Value::as_u64),
                    object.get("title").and_then(|t| t.as_str()),
                ) && kind.starts_with("/problems/")
                {
                    found.insert((kind.to_owned(), status, title.to_owned()));
                }
                object.values().for_each(|v| spec_problems(v, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| spec_problems(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_problem_type_is_the_one_the_spec_shows() {
        let mut in_spec = std::collections::BTreeSet::new();
        spec_problems(crate::domain::spec_rules::at(""), &mut in_spec);
        let ours: std::collections::BTreeSet<(String, u64, String)> = ProblemKind::ALL
            .iter()
            .filter(|kind| !EDGE_ONLY.contains(kind))
            .map(|kind| {
                (
                    kind.type_uri().to_owned(),
                    u64::from(kind.status().as_u16()),
                    kind.title().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            ours, in_spec,
            "each problem type, status and title as the spec shows it"
        );
        for kind in EDGE_ONLY {
            assert!(
                !in_spec.iter().any(|(uri, _, _)| uri == kind.type_uri()),
                "{kind:?} is in the spec: it is not edge-only"
            );
        }
    }

    #[test]
    fn an_invalid_request_lists_each_field_with_its_pointer() {
        let problem = invalid_request(body_fields(vec![
            InvalidField {
                field: "name",
                reason: "too long".to_owned(),
            },
            InvalidField {
                field: "allocation",
                reason: "too big".to_owned(),
            },
        ]));
        let pointers: Vec<_> = problem
            .errors
            .iter()
            .flatten()
            .filter_map(|e| e.pointer.as_deref())
            .collect();
        assert_eq!(pointers, ["/name", "/allocation"]);
        assert_eq!(problem.detail, "The request has 2 invalid values");
    }
}
