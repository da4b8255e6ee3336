//! A setting the server cannot use stops it at start, with exit code 2 and
//! a message naming the variable and what it may be, instead of a panic
//! later.

use rstest::rstest;

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
