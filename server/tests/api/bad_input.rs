//! Bad input gets a clear 4xx problem and changes nothing.

use reqwest::StatusCode;
use rstest::rstest;

use crate::helpers::{TestApp, TestDatabase, assert_problem};

const BUYER: &str = "406c1d05-bbb2-4e94-b183-7d208c2692e1";

/// A snapshot of everything a request could change.
async fn state(db: &TestDatabase) -> (i64, i64, i64) {
    (
        db.count("SELECT count(*) FROM tickets").await,
        db.count("SELECT COALESCE(sum(remaining), 0)::bigint FROM tickets")
            .await,
        db.count("SELECT count(*) FROM purchases").await,
    )
}

/// Sends `body` with `content_type` to `path` and checks the problem: its
/// status, and the JSON pointer of its first error when one is expected.
async fn assert_refused(
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
    status: StatusCode,
    pointer: Option<&str>,
) {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(10).await;
    let before = state(&db).await;

    let response = app
        .client
        .post(app.url(&path.replace("{ticket}", &ticket.to_string())))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("sent");

    let problem = assert_problem(response, status).await;
    if let Some(pointer) = pointer {
        assert_eq!(
            problem["errors"][0]["pointer"], pointer,
            "problem: {problem}"
        );
    }
    assert_eq!(
        state(&db).await,
        before,
        "a refused request changed something"
    );
}

#[rstest]
#[case::empty("", Some(""))]
#[case::malformed(r#"{"name": "x""#, Some(""))]
#[case::not_an_object("[]", Some(""))]
#[case::null("null", Some(""))]
#[case::missing_name(r#"{"desc": "d", "allocation": 1}"#, Some("/name"))]
#[case::missing_allocation(r#"{"name": "n", "desc": "d"}"#, Some("/allocation"))]
#[case::empty_name(r#"{"name": "", "desc": "d", "allocation": 1}"#, Some("/name"))]
#[case::long_name(&format!(r#"{{"name": "{}", "desc": "d", "allocation": 1}}"#, "n".repeat(201)), Some("/name"))]
#[case::long_desc(&format!(r#"{{"name": "n", "desc": "{}", "allocation": 1}}"#, "d".repeat(2001)), Some("/desc"))]
#[case::nul_in_name(r#"{"name": "a\u0000b", "desc": "d", "allocation": 1}"#, Some("/name"))]
#[case::name_not_a_string(r#"{"name": 5, "desc": "d", "allocation": 1}"#, Some("/name"))]
#[case::negative_allocation(r#"{"name": "n", "desc": "d", "allocation": -1}"#, Some("/allocation"))]
#[case::allocation_beyond_integer(
    r#"{"name": "n", "desc": "d", "allocation": 2147483648}"#,
    Some("/allocation")
)]
#[case::allocation_huge(
    r#"{"name": "n", "desc": "d", "allocation": 1e40}"#,
    Some("/allocation")
)]
#[case::fractional_allocation(
    r#"{"name": "n", "desc": "d", "allocation": 1.5}"#,
    Some("/allocation")
)]
#[case::allocation_as_string(
    r#"{"name": "n", "desc": "d", "allocation": "10"}"#,
    Some("/allocation")
)]
// An optional limit may be left out, but the schema has no `null` for it.
#[case::null_per_purchase_limit(
    r#"{"name": "n", "desc": "d", "allocation": 1, "max_per_purchase": null}"#,
    Some("/max_per_purchase")
)]
#[case::null_per_user_limit(
    r#"{"name": "n", "desc": "d", "allocation": 1, "max_per_user": null}"#,
    Some("/max_per_user")
)]
#[tokio::test]
async fn creating_refuses_bad_bodies(#[case] body: &str, #[case] pointer: Option<&str>) {
    assert_refused(
        "/tickets",
        "application/json",
        body.to_owned(),
        StatusCode::BAD_REQUEST,
        pointer,
    )
    .await;
}

#[rstest]
#[case::empty("", Some(""))]
#[case::malformed("{", Some(""))]
#[case::zero_quantity(&format!(r#"{{"quantity": 0, "user_id": "{BUYER}"}}"#), Some("/quantity"))]
#[case::negative_quantity(&format!(r#"{{"quantity": -3, "user_id": "{BUYER}"}}"#), Some("/quantity"))]
#[case::quantity_beyond_integer(&format!(r#"{{"quantity": 2147483648, "user_id": "{BUYER}"}}"#), Some("/quantity"))]
#[case::quantity_as_string(&format!(r#"{{"quantity": "2", "user_id": "{BUYER}"}}"#), Some("/quantity"))]
#[case::missing_quantity(&format!(r#"{{"user_id": "{BUYER}"}}"#), Some("/quantity"))]
#[case::missing_user(r#"{"quantity": 1}"#, Some("/user_id"))]
#[case::user_not_a_uuid(r#"{"quantity": 1, "user_id": "bob"}"#, Some("/user_id"))]
#[case::user_not_a_string(r#"{"quantity": 1, "user_id": 7}"#, Some("/user_id"))]
#[tokio::test]
async fn purchasing_refuses_bad_bodies(#[case] body: &str, #[case] pointer: Option<&str>) {
    assert_refused(
        "/tickets/{ticket}/purchases",
        "application/json",
        body.to_owned(),
        StatusCode::BAD_REQUEST,
        pointer,
    )
    .await;
}

#[rstest]
#[case::create("/tickets")]
#[case::purchase("/tickets/{ticket}/purchases")]
#[tokio::test]
async fn a_body_that_is_not_json_is_415(#[case] path: &str) {
    let body = format!(
        r#"{{"quantity": 1, "user_id": "{BUYER}", "name": "n", "desc": "", "allocation": 1}}"#
    );
    assert_refused(
        path,
        "text/plain",
        body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        None,
    )
    .await;
}

#[rstest]
#[case::create("/tickets")]
#[case::purchase("/tickets/{ticket}/purchases")]
#[tokio::test]
async fn an_oversized_body_is_413(#[case] path: &str) {
    let body = format!(
        r#"{{"name": "n", "desc": "{}", "allocation": 1}}"#,
        " ".repeat(tickets_server::http::MAX_BODY_BYTES)
    );
    assert_refused(
        path,
        "application/json",
        body,
        StatusCode::PAYLOAD_TOO_LARGE,
        None,
    )
    .await;
}

#[tokio::test]
async fn an_invalid_path_id_on_purchase_is_400() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let response = app
        .post_json(
            "/tickets/zero/purchases",
            &serde_json::json!({"quantity": 1, "user_id": BUYER}),
        )
        .await;
    let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(problem["errors"][0]["parameter"], "id");
}

#[tokio::test]
async fn a_body_that_trickles_in_too_slowly_is_408_and_changes_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let db = TestDatabase::create().await;
    let app = TestApp::start_with(&db, |config| {
        config.body_read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let before = state(&db).await;
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connected");
    // Announce a body, send half of it, then stall.
    stream
        .write_all(b"POST /tickets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{\"name\":")
        .await
        .expect("sent");

    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await;

    assert!(read.is_ok(), "the server kept waiting for the body");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"));
    assert_eq!(state(&db).await, before);
}
