//! Browsers on the origins in `CORS_ALLOWED_ORIGINS` may call every route;
//! any other origin gets no CORS headers, so its browser refuses the call.

use reqwest::{Method, StatusCode};
use rstest::rstest;

use crate::helpers::{TestApp, TestDatabase, assert_problem};

const SHOP: &str = "https://shop.example";
const ELSEWHERE: &str = "https://elsewhere.example";

async fn app_for_the_shop(db: &TestDatabase) -> TestApp {
    TestApp::start_with(db, |config| {
        config.cors_allowed_origins =
            tickets_server::http::AllowedOrigins::parse(&format!("{SHOP}, http://localhost:5173"))
                .expect("valid origins");
    })
    .await
}

fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::RequestBuilder {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization, content-type, idempotency-key",
        )
}

#[rstest]
#[case::purchases("/tickets/1/purchases", "POST", "GET, HEAD, POST")]
#[case::hold(
    "/tickets/1/holds/0193a1b2-8d4e-7f80-9b1c-2d3e4f5a6b7c",
    "DELETE",
    "GET, HEAD, DELETE"
)]
#[case::confirm(
    "/tickets/1/holds/0193a1b2-8d4e-7f80-9b1c-2d3e4f5a6b7c/confirm",
    "POST",
    "POST"
)]
#[case::ticket("/tickets/1", "GET", "GET, HEAD")]
#[case::create("/tickets", "POST", "POST")]
#[tokio::test]
async fn a_listed_origin_s_preflight_is_answered_for_every_route(
    #[case] path: &str,
    #[case] method: &str,
    #[case] allowed: &str,
) {
    let db = TestDatabase::create().await;
    let app = app_for_the_shop(&db).await;

    let response = preflight(&app, path, SHOP, method)
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("ASCII").to_owned())
    };
    assert_eq!(header("access-control-allow-origin").as_deref(), Some(SHOP));
    assert_eq!(
        header("access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(
        header("access-control-allow-methods").as_deref(),
        Some(allowed)
    );
    let headers = header("access-control-allow-headers").expect("allowed headers");
    for name in [
        "Authorization",
        "Content-Type",
        "Idempotency-Key",
        "X-Request-Id",
    ] {
        assert!(headers.contains(name), "{name} not in {headers}");
    }
    assert!(header("access-control-max-age").is_some());
    app.stop().await;
}

#[rstest]
#[case::unlisted_origin(ELSEWHERE)]
#[case::listed_host_other_scheme("http://shop.example")]
#[case::listed_host_other_port("https://shop.example:8443")]
#[tokio::test]
async fn another_origin_s_preflight_is_refused_without_cors_headers(#[case] origin: &str) {
    let db = TestDatabase::create().await;
    let app = app_for_the_shop(&db).await;

    let response = preflight(&app, "/tickets/1/purchases", origin, "POST")
        .send()
        .await
        .expect("sent");

    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let problem = assert_problem(response, StatusCode::FORBIDDEN).await;
    assert_eq!(problem["type"], "/problems/origin-not-allowed");
    app.stop().await;
}

#[tokio::test]
async fn responses_to_a_listed_origin_expose_what_scripts_read_even_errors() {
    let db = TestDatabase::create().await;
    let app = app_for_the_shop(&db).await;
    let ticket = app.create_ticket(1).await;

    for (path, status) in [
        (format!("/tickets/{ticket}"), StatusCode::OK),
        ("/tickets/999999".to_owned(), StatusCode::NOT_FOUND),
    ] {
        let response = app
            .client
            .get(app.url(&path))
            .header("origin", SHOP)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), status);
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], SHOP);
        assert_eq!(headers["access-control-allow-credentials"], "true");
        let exposed = headers["access-control-expose-headers"]
            .to_str()
            .expect("ASCII");
        for name in [
            "Location",
            "X-Request-Id",
            "Retry-After",
            "RateLimit",
            "RateLimit-Policy",
            "WWW-Authenticate",
        ] {
            assert!(exposed.contains(name), "{name} not exposed: {exposed}");
        }
        assert!(headers.get_all("vary").iter().any(|v| v == "Origin"));
    }

    let elsewhere = app
        .client
        .get(app.url(&format!("/tickets/{ticket}")))
        .header("origin", ELSEWHERE)
        .send()
        .await
        .expect("sent");
    assert_eq!(elsewhere.status(), StatusCode::OK);
    assert!(
        elsewhere
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(
        elsewhere
            .headers()
            .get("access-control-expose-headers")
            .is_none()
    );
    app.stop().await;
}

/// With no origins configured (the default), no page elsewhere may call.
#[tokio::test]
async fn by_default_no_origin_is_allowed() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;

    let response = preflight(&app, "/tickets", SHOP, "POST")
        .send()
        .await
        .expect("sent");

    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_problem(response, StatusCode::FORBIDDEN).await;
    app.stop().await;
}
