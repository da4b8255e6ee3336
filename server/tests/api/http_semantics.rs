//! HTTP as the spec and RFC 9110 describe it: HEAD wherever GET is, exact
//! routes, problem details even for requests hyper refuses itself, bodies
//! that are one JSON value, and a body limit every valid body fits.

use std::time::Duration;

use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, TestDatabase, assert_problem};

#[rstest]
#[case::health("/healthz")]
#[case::ticket("/tickets/{ticket}")]
#[case::unknown_ticket("/tickets/999999")]
#[case::purchases("/tickets/{ticket}/purchases")]
#[case::spec("/openapi.yaml")]
#[case::docs("/docs")]
#[case::asset("/docs/assets/swagger-ui.css")]
#[case::metrics("/metrics")]
#[tokio::test]
async fn head_is_answered_wherever_get_is(#[case] path: &str) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;
    let url = app.url(&path.replace("{ticket}", &ticket.to_string()));

    let get = app.client.get(&url).send().await.expect("GET sent");
    let head = app.client.head(&url).send().await.expect("HEAD sent");

    assert_eq!(head.status(), get.status());
    for header in ["content-type", "content-length"] {
        if header == "content-length" && path == "/metrics" {
            continue; // the metrics count the GET itself, so their length moves
        }
        assert_eq!(
            head.headers().get(header),
            get.headers().get(header),
            "{header}"
        );
    }
    assert!(head.headers().contains_key("x-request-id"));
    assert!(
        head.bytes().await.expect("read").is_empty(),
        "HEAD has no body"
    );
}

#[tokio::test]
async fn head_on_a_post_only_route_is_405_naming_the_methods() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let response = app
        .client
        .head(app.url("/tickets"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
}

#[rstest]
#[case::x_for_the_dot("/openapiXjson")]
#[case::underscore_for_the_dot("/openapi_yaml")]
#[case::trailing_slash("/healthz/")]
#[case::too_deep("/tickets/1/purchases/0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b/x")]
#[tokio::test]
async fn routes_match_exactly(#[case] path: &str) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let problem = assert_problem(app.get(path).await, StatusCode::NOT_FOUND).await;
    assert_eq!(problem["type"], "/problems/not-found");
}

/// Sends `request` as raw bytes and returns the whole answer.
async fn raw_exchange(app: &TestApp, request: &[u8]) -> String {
    let address = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connected");
    // The server may answer and close before reading all of a large request.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn many_headers(count: usize) -> Vec<u8> {
    let mut request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..count {
        request.extend_from_slice(format!("X-Header-{i}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request
}

#[rstest]
#[case::malformed_request_line(b"GET\x01 / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), 400)]
#[case::not_http(b"hello there\r\n\r\n".to_vec(), 400)]
#[case::uri_of_90_kb(
    [b"GET /".as_slice(), &b"a".repeat(90_000), b" HTTP/1.1\r\nHost: x\r\n\r\n"].concat(),
    414
)]
#[case::too_many_headers(many_headers(150), 431)]
#[case::a_header_of_1_mb(
    [b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ".as_slice(), &b"b".repeat(1 << 20), b"\r\n\r\n"].concat(),
    431
)]
#[tokio::test]
async fn requests_hyper_cannot_parse_get_problem_details(
    #[case] request: Vec<u8>,
    #[case] status: u16,
) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;

    let answer = raw_exchange(&app, &request).await;

    let (head, body) = answer.split_once("\r\n\r\n").expect("a complete answer");
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with(&format!("http/1.1 {status} ")), "{answer}");
    assert!(
        head.contains("\r\ncontent-type: application/problem+json\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nx-request-id: "), "{head}");
    let problem: Value = serde_json::from_str(body).expect("a JSON problem");
    assert_eq!(problem["status"], status);
    for member in ["type", "title", "detail"] {
        assert!(problem[member].is_string(), "{member}: {problem}");
    }
}

#[rstest]
#[case::words_after_a_ticket("/tickets", r#"{"name":"a","desc":"","allocation":5} xyz"#)]
#[case::a_second_object("/tickets", r#"{"name":"a","desc":"","allocation":5}{}"#)]
#[case::words_after_a_purchase(
    "/tickets/{ticket}/purchases",
    r#"{"quantity":1,"user_id":"406c1d05-bbb2-4e94-b183-7d208c2692e1"} xyz"#
)]
#[case::a_second_purchase(
    "/tickets/{ticket}/purchases",
    r#"{"quantity":1,"user_id":"406c1d05-bbb2-4e94-b183-7d208c2692e1"}{"quantity":1}"#
)]
#[tokio::test]
async fn anything_after_the_json_value_is_refused_and_changes_nothing(
    #[case] path: &str,
    #[case] body: &'static str,
) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(5).await;
    let response = app
        .client
        .post(app.url(&path.replace("{ticket}", &ticket.to_string())))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("sent");

    let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem["errors"][0]["pointer"], "");
    assert_eq!(db.count("SELECT count(*) FROM tickets").await, 1);
    assert_eq!(db.count("SELECT count(*) FROM purchases").await, 0);
    assert_eq!(app.remaining(ticket).await, 5);
}

#[tokio::test]
async fn whitespace_after_the_json_value_is_fine() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let response = app
        .client
        .post(app.url("/tickets"))
        .header("content-type", "application/json")
        .body("{\"name\":\"a\",\"desc\":\"\",\"allocation\":5}\r\n\t ")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn unknown_body_members_are_ignored_without_an_undocumented_header() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let response = app
        .post_json(
            "/tickets",
            &json!({"name": "a", "desc": "", "allocation": 5, "colour": "blue"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().get("warning").is_none());
}

/// `s` as a JSON string with every character `\u`-escaped, as some clients
/// serialise (the openapi-generator Python client, for one).
fn escaped_json_string(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("\"");
    for unit in s.encode_utf16() {
        let _ = write!(out, "\\u{unit:04x}");
    }
    out.push('"');
    out
}

#[tokio::test]
async fn the_largest_valid_body_fits_the_limit() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    // Every string at its longest, every character outside the BMP: 12
    // bytes a character once escaped.
    let name = "🎟".repeat(200);
    let desc = "🎉".repeat(2000);
    let body = format!(
        r#"{{"name": {}, "desc": {}, "allocation": 2147483647}}"#,
        escaped_json_string(&name),
        escaped_json_string(&desc)
    );
    assert!(body.len() > 26_000, "the test sends {} bytes", body.len());
    assert!(body.len() <= tickets_server::http::MAX_BODY_BYTES);

    let response = app
        .client
        .post(app.url("/tickets"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("JSON");
    assert_eq!(created["name"], name.as_str());
    assert_eq!(created["desc"], desc.as_str());
}
