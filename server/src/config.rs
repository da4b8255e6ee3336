//! Configuration from the environment: every variable, its default and its
//! meaning is here and in the README.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};

/// The server's settings.
#[derive(Clone)]
pub struct Config {
    /// `DATABASE_URL` (required): the PostgreSQL connection string.
    pub database_url: String,
    /// `LISTEN_ADDR` (default `0.0.0.0:8080`): where the API listens.
    pub listen_addr: SocketAddr,
    /// `DATABASE_POOL_SIZE` (default 16): connections kept open to the database.
    pub pool_size: u32,
    /// `DATABASE_CONNECT_TIMEOUT_MS` (default 2000): how long a request waits for
    /// a pooled connection before it is answered 503.
    pub connect_timeout: Duration,
    /// `DATABASE_STATEMENT_TIMEOUT_MS` (default 5000): the longest a statement
    /// may run, waits for locks included, before PostgreSQL cancels it and
    /// the request is answered 503.
    pub statement_timeout: Duration,
    /// `SHUTDOWN_GRACE_MS` (default 10000): how long requests in flight get to
    /// finish after SIGINT or SIGTERM.
    pub shutdown_grace: Duration,
    /// `MAX_CONNECTIONS` (default 1024): client connections served at once;
    /// more wait in the listen backlog.
    pub max_connections: usize,
    /// `BODY_READ_TIMEOUT_MS` (default 10000): how long a client gets to send
    /// a request's body before it is answered 408.
    pub body_read_timeout: Duration,
    /// `IDEMPOTENCY_KEY_TTL_SECS` (default 86400): how long an idempotency
    /// key's answer is kept for retries.
    pub idempotency_key_ttl: Duration,
    /// `HEADER_READ_TIMEOUT_MS` (default 10000): how long a client gets to
    /// send a request's headers before its connection is closed.
    pub header_read_timeout: Duration,
}

impl std::fmt::Debug for Config {
    // The database URL may carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &"<redacted>")
            .field("listen_addr", &self.listen_addr)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("max_connections", &self.max_connections)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("idempotency_key_ttl", &self.idempotency_key_ttl)
            .finish()
    }
}

/// The default for `LISTEN_ADDR`.
pub const DEFAULT_LISTEN_ADDR: &str = "0.0.0.0:8080";

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which returns a variable's value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let Some(database_url) = lookup("DATABASE_URL").filter(|url| !url.is_empty()) else {
            bail!("DATABASE_URL is not set: give the PostgreSQL connection string");
        };
        let listen_addr = parse_or(&lookup, "LISTEN_ADDR", DEFAULT_LISTEN_ADDR.parse()?)?;
        let pool_size = parse_or(&lookup, "DATABASE_POOL_SIZE", 16)?;
        if pool_size == 0 {
            bail!("DATABASE_POOL_SIZE must be at least 1");
        }
        let max_connections = parse_or(&lookup, "MAX_CONNECTIONS", 1024)?;
        if max_connections == 0 {
            bail!("MAX_CONNECTIONS must be at least 1");
        }
        let millis = |name, default| parse_or(&lookup, name, default).map(Duration::from_millis);
        Ok(Self {
            database_url,
            listen_addr,
            pool_size,
            connect_timeout: millis("DATABASE_CONNECT_TIMEOUT_MS", 2000)?,
            statement_timeout: millis("DATABASE_STATEMENT_TIMEOUT_MS", 5000)?,
            shutdown_grace: millis("SHUTDOWN_GRACE_MS", 10_000)?,
            max_connections,
            header_read_timeout: millis("HEADER_READ_TIMEOUT_MS", 10_000)?,
            body_read_timeout: millis("BODY_READ_TIMEOUT_MS", 10_000)?,
            idempotency_key_ttl: Duration::from_secs(parse_or(
                &lookup,
                "IDEMPOTENCY_KEY_TTL_SECS",
                86_400,
            )?),
        })
    }
}

fn parse_or<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> anyhow::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match lookup(name) {
        None => Ok(default),
        Some(value) => value
            .parse()
            .with_context(|| format!("{name}={value:?} is not valid")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn config(vars: &[(&str, &str)]) -> anyhow::Result<Config> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_apply_when_only_the_database_is_given() {
        let config = config(&[("DATABASE_URL", "postgres://localhost/db")]).expect("valid");
        assert_eq!(config.listen_addr.to_string(), DEFAULT_LISTEN_ADDR);
        assert_eq!(config.pool_size, 16);
        assert_eq!(config.connect_timeout, Duration::from_secs(2));
        assert_eq!(config.statement_timeout, Duration::from_secs(5));
        assert_eq!(config.max_connections, 1024);
    }

    #[rstest]
    #[case::no_database(&[])]
    #[case::empty_database(&[("DATABASE_URL", "")])]
    #[case::bad_listen_addr(&[("DATABASE_URL", "postgres://x/db"), ("LISTEN_ADDR", "nowhere")])]
    #[case::zero_pool(&[("DATABASE_URL", "postgres://x/db"), ("DATABASE_POOL_SIZE", "0")])]
    #[case::bad_timeout(&[("DATABASE_URL", "postgres://x/db"), ("DATABASE_CONNECT_TIMEOUT_MS", "-1")])]
    #[case::zero_connections(&[("DATABASE_URL", "postgres://x/db"), ("MAX_CONNECTIONS", "0")])]
    fn invalid_settings_are_refused(#[case] vars: &[(&str, &str)]) {
        assert!(config(vars).is_err());
    }

    #[test]
    fn debug_output_hides_the_database_url() {
        let config = config(&[("DATABASE_URL", "postgres://user:secret@host/db")]).expect("valid");
        assert!(!format!("{config:?}").contains("secret"));
    }
}
