//! The API's own description, compiled into the binary: the OpenAPI
//! document and a Swagger UI page whose assets need no internet.

use std::sync::LazyLock;

use tickets_api::models::GetDocsAssetFileParameter;

/// `openapi.yaml` from the repository, byte for byte.
pub const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");

/// The same document as JSON, converted once.
pub static OPENAPI_JSON: LazyLock<serde_json::Value> = LazyLock::new(|| {
    serde_norway::from_str(OPENAPI_YAML)
        .expect("openapi.yaml is valid YAML (checked by a unit test)")
});

/// The reference page.
pub const DOCS_PAGE: &str = include_str!("../../assets/docs.html");

/// A vendored Swagger UI asset (see `scripts/vendor-swagger-ui.sh`).
pub fn asset(file: GetDocsAssetFileParameter) -> &'static str {
    match file {
        GetDocsAssetFileParameter::SwaggerUiBundleJs => {
            include_str!("../../assets/swagger-ui/swagger-ui-bundle.js")
        }
        GetDocsAssetFileParameter::SwaggerUiCss => {
            include_str!("../../assets/swagger-ui/swagger-ui.css")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_document_is_the_yaml_document() {
        assert_eq!(OPENAPI_JSON["openapi"], "3.0.3");
        assert_eq!(OPENAPI_JSON["info"]["title"], "Tickets API");
        assert!(OPENAPI_JSON["paths"]["/tickets/{id}/purchases"]["post"].is_object());
    }

    #[test]
    fn the_page_loads_only_assets_the_server_has() {
        for src in [
            "/docs/assets/swagger-ui.css",
            "/docs/assets/swagger-ui-bundle.js",
            "/openapi.json",
        ] {
            assert!(DOCS_PAGE.contains(src), "{src}");
        }
        assert!(
            !DOCS_PAGE.contains("https://"),
            "the page must not load anything from the internet"
        );
    }
}
