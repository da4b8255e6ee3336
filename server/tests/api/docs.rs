use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, TestDatabase, assert_problem};

const SPEC: &str = include_str!("../../../openapi.yaml");

#[tokio::test]
async fn the_spec_is_served_byte_for_byte_and_as_json() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;

    let yaml = app.get("/openapi.yaml").await;
    assert_eq!(yaml.status(), StatusCode::OK);
    assert_eq!(
        yaml.headers()["content-type"],
        "application/vnd.oai.openapi"
    );
    assert_eq!(yaml.text().await.expect("text"), SPEC);

    let json = app.get("/openapi.json").await;
    assert_eq!(json.status(), StatusCode::OK);
    let document: Value = json.json().await.expect("JSON");
    assert_eq!(
        document,
        serde_norway::from_str::<Value>(SPEC).expect("YAML")
    );
}

#[tokio::test]
async fn the_reference_page_and_its_assets_are_served() {
    let db = TestDatabase::create().await;
    let app = TestApp::start(&db).await;

    let page = app.get("/docs").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html");
    assert!(page.text().await.expect("text").contains("SwaggerUIBundle"));

    for (file, content_type) in [
        ("swagger-ui-bundle.js", "application/javascript"),
        ("swagger-ui.css", "text/css"),
    ] {
        let asset = app.get(&format!("/docs/assets/{file}")).await;
        assert_eq!(asset.status(), StatusCode::OK, "{file}");
        assert_eq!(asset.headers()["content-type"], content_type);
        assert!(
            asset.bytes().await.expect("body").len() > 10_000,
            "{file} is the real asset"
        );
    }
    assert_problem(
        app.get("/docs/assets/secret.txt").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}
