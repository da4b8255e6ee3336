//! The spec's own constraints, read from `openapi.yaml`, for the tests that
//! check each domain rule against the constraint the spec states for it.

use std::sync::LazyLock;

static SPEC: LazyLock<serde_json::Value> = LazyLock::new(|| {
    serde_norway::from_str(include_str!("../../../openapi.yaml")).expect("openapi.yaml parses")
});

/// The value at `pointer` (RFC 6901) in the spec.
pub fn at(pointer: &str) -> &'static serde_json::Value {
    SPEC.pointer(pointer)
        .unwrap_or_else(|| panic!("openapi.yaml has nothing at {pointer}"))
}

/// The `pattern` of the schema at `pointer`, compiled.
pub fn pattern(pointer: &str) -> regex::Regex {
    let pattern = at(pointer)["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("the schema at {pointer} has no pattern"));
    regex::Regex::new(pattern).expect("the spec's pattern compiles")
}
