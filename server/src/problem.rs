//! RFC 9457 problem details: every error the service sends is one of these
//! kinds, and this is the one place that gives each kind its status, type URI
//! and title.

use hyper::StatusCode;
use tickets_api::models;

use crate::domain::InvalidField;

/// The media type of every error body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// The kinds of problem the service reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    InvalidRequest,
    NotFound,
    NotEnoughTickets,
    LimitExceeded,
    HoldExpired,
    HoldReleased,
    HoldConfirmed,
    HoldGone,
    RequestInFlight,
    IdempotencyKeyReused,
    MethodNotAllowed,
    RequestTimeout,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    HeaderFieldsTooLarge,
    Internal,
    Unavailable,
}

impl ProblemKind {
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::NotEnoughTickets
            | Self::LimitExceeded
            | Self::HoldExpired
            | Self::HoldReleased
            | Self::HoldConfirmed
            | Self::RequestInFlight => StatusCode::CONFLICT,
            Self::HoldGone => StatusCode::GONE,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::HeaderFieldsTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The problem type, a URI reference relative to the API's base URL.
    fn type_uri(self) -> &'static str {
        match self {
            Self::InvalidRequest => "/problems/invalid-request",
            Self::NotFound => "/problems/not-found",
            Self::NotEnoughTickets => "/problems/not-enough-tickets",
            Self::LimitExceeded => "/problems/limit-exceeded",
            Self::HoldExpired => "/problems/hold-expired",
            Self::HoldReleased => "/problems/hold-released",
            Self::HoldConfirmed => "/problems/hold-confirmed",
            Self::HoldGone => "/problems/hold-gone",
            Self::RequestInFlight => "/problems/request-in-flight",
            Self::IdempotencyKeyReused => "/problems/idempotency-key-reused",
            Self::MethodNotAllowed => "/problems/method-not-allowed",
            Self::RequestTimeout => "/problems/request-timeout",
            Self::PayloadTooLarge => "/problems/payload-too-large",
            Self::UriTooLong => "/problems/uri-too-long",
            Self::UnsupportedMediaType => "/problems/unsupported-media-type",
            Self::HeaderFieldsTooLarge => "/problems/header-fields-too-large",
            Self::Internal => "/problems/internal-error",
            Self::Unavailable => "/problems/service-unavailable",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::InvalidRequest => "Invalid request",
            Self::NotFound => "Not found",
            Self::NotEnoughTickets => "Not enough tickets left",
            Self::LimitExceeded => "Limit exceeded",
            Self::HoldExpired => "Hold expired",
            Self::HoldReleased => "Hold released",
            Self::HoldConfirmed => "Hold confirmed",
            Self::HoldGone => "Hold gone",
            Self::RequestInFlight => "Request in flight",
            Self::IdempotencyKeyReused => "Idempotency key reused",
            Self::MethodNotAllowed => "Method not allowed",
            Self::RequestTimeout => "Request timeout",
            Self::PayloadTooLarge => "Payload too large",
            Self::UriTooLong => "URI too long",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::HeaderFieldsTooLarge => "Request header fields too large",
            Self::Internal => "Internal server error",
            Self::Unavailable => "Service unavailable",
        }
    }

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
