//! Explains the requests the generated server refuses before our handlers
//! see them (a body that is not the schema's JSON, a path parameter that is
//! not an integer, an unknown route), as problem details.

use serde::de::DeserializeOwned;
use tickets_api::models;

use crate::domain::InvalidField;
use crate::problem::{self, ProblemKind};

/// The routes, as far as the edge needs to know them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `POST /tickets` and its alias `POST /ticketsuser`.
    CreateTicket,
    /// `GET /tickets/{id}`.
    Ticket { id: &'a str },
    /// `POST /tickets/{id}/purchases`.
    Purchases { id: &'a str },
    /// `GET /healthz`.
    Health,
    /// Anything else.
    Other,
}

impl<'a> Route<'a> {
    pub fn of(path: &'a str) -> Self {
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        match segments.as_slice() {
            ["tickets" | "ticketsuser"] => Self::CreateTicket,
            ["tickets", id] => Self::Ticket { id },
            ["tickets", id, "purchases"] => Self::Purchases { id },
            ["healthz"] => Self::Health,
            _ => Self::Other,
        }
    }

    /// Whether requests to this route carry a JSON body (when POSTed).
    pub fn takes_json_body(self) -> bool {
        matches!(self, Self::CreateTicket | Self::Purchases { .. })
    }

    /// The one method the route answers, for a 405's `Allow`.
    pub fn allowed_method(self) -> Option<&'static str> {
        match self {
            Self::CreateTicket | Self::Purchases { .. } => Some("POST"),
            Self::Ticket { .. } | Self::Health => Some("GET"),
            Self::Other => None,
        }
    }

    /// The problem for a request the generated server answered 400 without
    /// saying why in our format: the path parameter is checked first, as the
    /// generated server does, then the body.
    pub fn explain_bad_request(self, body: &[u8]) -> models::Problem {
        let errors = match self {
            Self::Ticket { id } | Self::Purchases { id } if !is_u64(id) => {
                vec![problem::path_parameter(&InvalidField {
                    field: "id",
                    reason: format!("must be an integer from 1 to {}", i64::MAX),
                })]
            }
            Self::CreateTicket => body_errors::<models::TicketCreate>(body),
            Self::Purchases { .. } => body_errors::<models::PurchaseCreate>(body),
            Self::Ticket { .. } | Self::Health | Self::Other => Vec::new(),
        };
        if errors.is_empty() {
            ProblemKind::InvalidRequest
                .with_detail("The request does not match the API specification")
        } else {
            problem::invalid_request(errors)
        }
    }
}

fn is_u64(raw: &str) -> bool {
    percent_decode(raw).is_some_and(|id| id.parse::<u64>().is_ok())
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why `body` is not a valid `T`, each reason located by a JSON pointer.
fn body_errors<T: DeserializeOwned>(body: &[u8]) -> Vec<models::FieldError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return vec![problem::body_field(
            String::new(),
            "the request body is empty; a JSON object is required",
        )];
    }
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => {
            return vec![problem::body_field(
                String::new(),
                format!("is not valid JSON: {error}"),
            )];
        }
    };
    if !value.is_object() {
        return vec![problem::body_field(String::new(), "must be a JSON object")];
    }
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(_) => Vec::new(),
        Err(error) => {
            let mut pointer = json_pointer(error.path());
            let message = error.inner().to_string();
            // serde locates a missing field at its parent: point at the field.
            if let Some(field) = message
                .strip_prefix("missing field `")
                .and_then(|m| m.strip_suffix('`'))
            {
                pointer.push('/');
                pointer.push_str(&escape_pointer_token(field));
                return vec![problem::body_field(pointer, "is required")];
            }
            vec![problem::body_field(pointer, in_schema_terms(&message))]
        }
    }
}

/// serde names Rust types ("expected u32"); clients know the schema's.
fn in_schema_terms(message: &str) -> String {
    message
        .replace("expected u32", "expected a non-negative integer")
        .replace("expected u64", "expected a non-negative integer")
        .replace("expected i32", "expected an integer")
        .replace("expected i64", "expected an integer")
}

fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                Some(format!("/{}", escape_pointer_token(key)))
            }
            Segment::Unknown => None,
        })
        .collect()
}

/// Escapes a reference token as RFC 6901 requires.
fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("/tickets", Route::CreateTicket)]
    #[case("/ticketsuser", Route::CreateTicket)]
    #[case("/tickets/7", Route::Ticket { id: "7" })]
    #[case("/tickets/x/purchases", Route::Purchases { id: "x" })]
    #[case("/healthz", Route::Health)]
    #[case("/tickets/7/purchases/1", Route::Other)]
    fn routes_are_recognised(#[case] path: &str, #[case] route: Route<'static>) {
        assert_eq!(Route::of(path), route);
    }

    fn pointers(problem: &models::Problem) -> Vec<(Option<&str>, Option<&str>)> {
        problem
            .errors
            .iter()
            .flatten()
            .map(|e| (e.pointer.as_deref(), e.parameter.as_deref()))
            .collect()
    }

    #[rstest]
    #[case::empty(Route::CreateTicket, "", Some(""))]
    #[case::malformed(Route::CreateTicket, "{\"name\":", Some(""))]
    #[case::not_an_object(Route::CreateTicket, "[1]", Some(""))]
    #[case::missing_field(Route::CreateTicket, r#"{"name":"a","desc":""}"#, Some("/allocation"))]
    #[case::wrong_type(
        Route::CreateTicket,
        r#"{"name":"a","desc":"","allocation":"9"}"#,
        Some("/allocation")
    )]
    #[case::negative(Route::Purchases { id: "1" }, r#"{"quantity":-1,"user_id":"406c1d05-bbb2-4e94-b183-7d208c2692e1"}"#, Some("/quantity"))]
    #[case::not_a_uuid(Route::Purchases { id: "1" }, r#"{"quantity":1,"user_id":"nope"}"#, Some("/user_id"))]
    fn body_errors_are_located(
        #[case] route: Route<'static>,
        #[case] body: &str,
        #[case] pointer: Option<&str>,
    ) {
        let problem = route.explain_bad_request(body.as_bytes());
        assert_eq!(problem.status, 400);
        assert_eq!(pointers(&problem), [(pointer, None)]);
    }

    #[rstest]
    #[case::text(Route::Ticket { id: "abc" })]
    #[case::negative(Route::Purchases { id: "-1" })]
    #[case::too_big(Route::Ticket { id: "99999999999999999999" })]
    fn path_parameter_errors_name_the_parameter(#[case] route: Route<'static>) {
        assert_eq!(
            pointers(&route.explain_bad_request(b"")),
            [(None, Some("id"))]
        );
    }

    #[test]
    fn type_errors_speak_the_schema_not_rust() {
        let problem =
            Route::CreateTicket.explain_bad_request(br#"{"name":"a","desc":"","allocation":1.5}"#);
        let detail = &problem.errors.expect("errors")[0].detail;
        assert_eq!(
            detail,
            "invalid type: floating point `1.5`, expected a non-negative integer"
        );
    }

    #[rstest]
    #[case("a~b/c", "a~0b~1c")]
    #[case("plain", "plain")]
    fn pointer_tokens_are_escaped(#[case] token: &str, #[case] escaped: &str) {
        assert_eq!(escape_pointer_token(token), escaped);
    }
}
