use reqwest::StatusCode;

use crate::helpers::{TestApp, TestDatabase};

/// The value of the sample `name` (with its labels) in Prometheus text.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_sales_and_rejections() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;
    let ticket = app.create_ticket(3).await;
    assert_eq!(app.purchase(ticket, 2).await.status(), StatusCode::CREATED);
    assert_eq!(app.purchase(ticket, 2).await.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.get(&format!("/tickets/{ticket}")).await.status(),
        StatusCode::OK
    );

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/plain");
    let text = response.text().await.expect("text");

    assert_eq!(sample(&text, "tickets_created_total"), Some(1.0));
    assert_eq!(sample(&text, "tickets_purchases_total"), Some(1.0));
    assert_eq!(sample(&text, "tickets_sold_total"), Some(2.0));
    assert_eq!(
        sample(&text, "tickets_sold_out_rejections_total"),
        Some(1.0)
    );
    let purchases =
        r#"http_requests_total{method="POST",route="/tickets/{id}/purchases",status="201"}"#;
    assert_eq!(sample(&text, purchases), Some(1.0));
    let reads = r#"http_request_duration_seconds_count{route="/tickets/{id}"}"#;
    assert_eq!(sample(&text, reads), Some(1.0));
    assert!(sample(&text, "db_pool_connections").is_some_and(|open| open >= 1.0));
}
