//! A setting the server cannot use stops it at start, with exit code 2 and
//! a message naming the variable and what it may be, instead of a panic
//! later; and the operator's table of settings says what the server reads.

use std::collections::BTreeMap;

use rstest::rstest;
use tickets_server::config::VARIABLES;

use crate::helpers::TestDatabase;
use crate::process::run_to_exit;

#[rstest]
#[case::a_key_ttl_that_overflows("IDEMPOTENCY_KEY_TTL_SECS", "18446744073709551615")]
#[case::more_connections_than_can_be_counted("MAX_CONNECTIONS", "18446744073709551615")]
#[case::a_zero_connect_timeout("DATABASE_CONNECT_TIMEOUT_MS", "0")]
#[case::a_negative_pool("DATABASE_POOL_SIZE", "-3")]
#[case::an_empty_queue("QUEUE_DEPTH", "0")]
#[tokio::test]
async fn an_unusable_setting_stops_the_server_at_start(#[case] name: &str, #[case] value: &str) {
    let db = TestDatabase::create().await;
    let (code, stderr) = run_to_exit(&db, &[(name, value)]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(name), "the message names {name}: {stderr}");
    assert!(
        stderr.contains(" to "),
        "the message gives the range: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The line in `docs/OPERATIONS.md` just above the table of settings.
const TABLE_MARKER: &str = "<!-- checked against VARIABLES in server/src/config.rs -->";

/// The table's rows: each variable with its default (`None`: required;
/// an empty list: `(none)`).
fn documented_settings() -> BTreeMap<String, Option<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/OPERATIONS.md");
    let text = std::fs::read_to_string(path).expect("docs/OPERATIONS.md");
    let (_, table) = text
        .split_once(TABLE_MARKER)
        .unwrap_or_else(|| panic!("docs/OPERATIONS.md has no line {TABLE_MARKER:?}"));
    table
        .trim_start()
        .lines()
        .take_while(|line| line.starts_with('|'))
        // The header and the line under it.
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let code = |cell: &str| cell.strip_prefix('`')?.strip_suffix('`').map(str::to_owned);
            let name = code(cells[1]).unwrap_or_else(|| panic!("no `NAME` first in {row:?}"));
            let default = match cells[2] {
                "(required)" => None,
                "(none)" => Some(String::new()),
                cell => Some(code(cell).unwrap_or_else(|| panic!("no `default` in {row:?}"))),
            };
            (name, default)
        })
        .collect()
}

/// A default as the table writes it.
fn shown(default: Option<&str>) -> &str {
    default.unwrap_or("(required)")
}

#[test]
fn the_table_of_settings_matches_config_rs() {
    let documented = documented_settings();
    let read: BTreeMap<String, Option<String>> = VARIABLES
        .iter()
        .map(|(name, default)| ((*name).to_owned(), default.map(str::to_owned)))
        .collect();
    let mut wrong = Vec::new();
    for (name, default) in &read {
        match documented.get(name) {
            None => wrong.push(format!("{name} is read but not in the table")),
            Some(documented) if documented != default => wrong.push(format!(
                "{name}: the table says {}, config.rs {}",
                shown(documented.as_deref()),
                shown(default.as_deref())
            )),
            Some(_) => {}
        }
    }
    for name in documented.keys().filter(|name| !read.contains_key(*name)) {
        wrong.push(format!(
            "{name} is in the table but config.rs does not read it"
        ));
    }
    assert!(wrong.is_empty(), "docs/OPERATIONS.md: {}", wrong.join("; "));
}
