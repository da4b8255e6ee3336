//! Explains the requests the generated server refuses before our handlers
//! see them (a body that is not the schema's JSON, a path parameter that is
//! not an integer, an unknown route), as problem details.

use serde::de::DeserializeOwned;
use tickets_api::models;

use hyper::Method;

use super::route::Route;
use crate::answers::problem::{self, ProblemKind};
use crate::domain::InvalidField;

/// The problem for a request the generated server answered 400 without
/// saying why in our format. Parameters are checked in the order the
/// generated server parses them (path, query), then the body.
pub fn explain_bad_request(
    route: Route<'_>,
    method: &Method,
    query: Option<&str>,
    body: &[u8],
) -> models::Problem {
    let errors = match route {
        Route::Ticket { id }
        | Route::Purchases { id }
        | Route::Purchase { id, .. }
        | Route::CancelPurchase { id, .. }
        | Route::Holds { id }
        | Route::Hold { id, .. }
        | Route::ConfirmHold { id, .. }
            if !is_u64(id) =>
        {
            vec![problem::parameter(&InvalidField {
                field: "id",
                reason: format!("must be an integer from 1 to {}", i64::MAX),
            })]
        }
        Route::Purchase { purchase_id, .. } | Route::CancelPurchase { purchase_id, .. }
            if uuid::Uuid::parse_str(purchase_id).is_err() =>
        {
            vec![uuid_parameter("purchase_id")]
        }
        Route::Hold { hold_id, .. } | Route::ConfirmHold { hold_id, .. }
            if uuid::Uuid::parse_str(hold_id).is_err() =>
        {
            vec![uuid_parameter("hold_id")]
        }
        Route::Purchases { .. } if method == Method::POST => {
            body_errors::<models::PurchaseCreate>(body)
        }
        Route::Purchases { .. } => query_errors(query),
        Route::Holds { .. } => body_errors::<models::HoldCreate>(body),
        Route::Tickets | Route::TicketsLegacy => body_errors::<models::TicketCreate>(body),
        Route::Ticket { .. }
        | Route::Purchase { .. }
        | Route::CancelPurchase { .. }
        | Route::Hold { .. }
        | Route::ConfirmHold { .. }
        | Route::Fixed(_)
        | Route::Other => Vec::new(),
    };
    if errors.is_empty() {
        ProblemKind::InvalidRequest.with_detail("The request does not match the API specification")
    } else {
        problem::invalid_request(errors)
    }
}

fn uuid_parameter(name: &'static str) -> models::FieldError {
    problem::parameter(&InvalidField {
        field: name,
        reason: "must be a UUID".to_owned(),
    })
}

/// The query parameters of `GET /tickets/{id}/purchases` that do not parse.
fn query_errors(query: Option<&str>) -> Vec<models::FieldError> {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, value)| *name == "limit" && value.parse::<u32>().is_err())
        .map(|_| {
            problem::parameter(&InvalidField {
                field: "limit",
                reason: "must be an integer from 1 to 200".to_owned(),
            })
        })
        .collect()
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

    fn pointers(problem: &models::Problem) -> Vec<(Option<&str>, Option<&str>)> {
        problem
            .errors
            .iter()
            .flatten()
            .map(|e| (e.pointer.as_deref(), e.parameter.as_deref()))
            .collect()
    }

    #[rstest]
    #[case::empty(Route::Tickets, "", Some(""))]
    #[case::malformed(Route::Tickets, "{\"name\":", Some(""))]
    #[case::not_an_object(Route::Tickets, "[1]", Some(""))]
    #[case::missing_field(Route::Tickets, r#"{"name":"a","desc":""}"#, Some("/allocation"))]
    #[case::wrong_type(
        Route::Tickets,
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
        let problem = explain_bad_request(route, &Method::POST, None, body.as_bytes());
        assert_eq!(problem.status, 400);
        assert_eq!(pointers(&problem), [(pointer, None)]);
    }

    #[rstest]
    #[case::text(Route::Ticket { id: "abc" })]
    #[case::record(Route::Purchase { id: "x", purchase_id: "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b" })]
    #[case::negative(Route::Purchases { id: "-1" })]
    #[case::too_big(Route::Ticket { id: "99999999999999999999" })]
    fn path_parameter_errors_name_the_parameter(#[case] route: Route<'static>) {
        assert_eq!(
            pointers(&explain_bad_request(route, &Method::GET, None, b"")),
            [(None, Some("id"))]
        );
    }

    #[test]
    fn type_errors_speak_the_schema_not_rust() {
        let problem = explain_bad_request(
            Route::Tickets,
            &Method::POST,
            None,
            br#"{"name":"a","desc":"","allocation":1.5}"#,
        );
        let detail = &problem.errors.expect("errors")[0].detail;
        assert_eq!(
            detail,
            "invalid type: floating point `1.5`, expected a non-negative integer"
        );
    }

    #[rstest]
    #[case::not_a_uuid(Route::Purchase { id: "1", purchase_id: "nope" }, None, "purchase_id")]
    #[case::bad_limit(Route::Purchases { id: "1" }, Some("limit=-5"), "limit")]
    fn other_parameters_are_named(
        #[case] route: Route<'static>,
        #[case] query: Option<&str>,
        #[case] name: &str,
    ) {
        assert_eq!(
            pointers(&explain_bad_request(route, &Method::GET, query, b"")),
            [(None, Some(name))]
        );
    }

    #[rstest]
    #[case("a~b/c", "a~0b~1c")]
    #[case("plain", "plain")]
    fn pointer_tokens_are_escaped(#[case] token: &str, #[case] escaped: &str) {
        assert_eq!(escape_pointer_token(token), escaped);
    }
}
