//! Configuration from the environment: every variable, its default, its
//! allowed range and its meaning is here and in `docs/OPERATIONS.md`, whose
//! table a test holds to [`VARIABLES`]. Every value is checked at start-up,
//! so a bad one stops the server with a message naming the variable and
//! what it may be, rather than failing later.

use std::fmt::Display;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

use crate::domain::{HoldLifetimes, HoldTtl};
use crate::http::{AccessLogSettings, AllowedOrigins, Rate, RateLimitSettings, TrustedProxies};
use crate::storage::PoolSettings;

/// The server's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// `DATABASE_URL` (required): the PostgreSQL connection string. It may
    /// carry a password, so it is shown only where the pool is built.
    pub database_url: SecretString,
    /// `LISTEN_ADDR` (default `0.0.0.0:8080`): where the API listens.
    pub listen_addr: SocketAddr,
    /// `DATABASE_POOL_SIZE` (default 16, 1 to 1000): connections kept open
    /// to the database.
    pub pool_size: u32,
    /// `DATABASE_CONNECT_TIMEOUT_MS` (default 2000, 1 to 600000): the
    /// longest a request waits for a database connection before it is
    /// answered 503.
    pub connect_timeout: Duration,
    /// `DATABASE_STATEMENT_TIMEOUT_MS` (default 5000, 1 to 3600000): the
    /// longest a statement may run, waits for locks included, before
    /// PostgreSQL cancels it and the request is answered 503.
    pub statement_timeout: Duration,
    /// `SHUTDOWN_GRACE_MS` (default 10000, 0 to 3600000): how long requests
    /// in flight get to finish after SIGINT or SIGTERM.
    pub shutdown_grace: Duration,
    /// `MAX_CONNECTIONS` (default 1024, 1 to 100000): client connections
    /// kept open at once. Past it, new connections are still served, one
    /// request each, then closed.
    pub max_connections: usize,
    /// `BODY_READ_TIMEOUT_MS` (default 10000, 1 to 3600000): how long a
    /// client gets to send a request's body before it is answered 408.
    pub body_read_timeout: Duration,
    /// `IDEMPOTENCY_KEY_TTL_SECS` (default 86400, 1 to 31536000): how long an
    /// idempotency key's answer is kept for retries.
    pub idempotency_key_ttl: Duration,
    /// `HEADER_READ_TIMEOUT_MS` (default 10000, 1 to 3600000): how long a
    /// client gets to send a request's headers, and how long an idle
    /// keep-alive connection stays open, before it is closed.
    pub header_read_timeout: Duration,
    /// `HOLD_TTL_DEFAULT_SECS` (default 900), `HOLD_TTL_MIN_SECS` (default
    /// 60) and `HOLD_TTL_MAX_SECS` (default 3600), each 1 to 86400, with
    /// min <= default <= max: how long a hold lasts when the request asks for
    /// no time, and the range an asked-for time is moved into.
    pub hold_lifetimes: HoldLifetimes,
    /// `HOLD_SWEEP_INTERVAL_MS` (default 5000, 1 to 3600000): how often the
    /// tickets of expired holds are given back in the stored counts. They
    /// count as free from the moment their hold expires whatever this is.
    pub hold_sweep_interval: Duration,
    /// `QUEUE_DEPTH` (default 4096, 1 to 1000000): the most requests of one
    /// kind (purchases, ticket reads) that wait for the database at once;
    /// past it a request is answered 503 at once.
    pub queue_depth: usize,
    /// `CORS_ALLOWED_ORIGINS` (default none): a comma-separated list of the
    /// origins whose pages may call the API from a browser, each a scheme,
    /// a host and an optional port (`https://shop.example.com`); no `*`.
    pub cors_allowed_origins: AllowedOrigins,
    /// `TRUSTED_PROXIES` (default none): a comma-separated list of addresses
    /// and CIDR blocks of the proxies in front of the server (a load
    /// balancer, an ingress) whose `Forwarded` / `X-Forwarded-For` name the
    /// client. From any other peer those headers are ignored.
    pub trusted_proxies: TrustedProxies,
    /// `RATE_LIMITS` (default `on`; `off` turns every limit off, for
    /// benchmarks), with `RATE_LIMIT_ADDRESS_PER_MINUTE` (default 1200) and
    /// `RATE_LIMIT_ADDRESS_BURST` (default 200) for every request by one
    /// client address, and `RATE_LIMIT_BUYER_PER_MINUTE` (default 30) and
    /// `RATE_LIMIT_BUYER_BURST` (default 10) for the purchases, holds and
    /// confirmations of one buyer; each 1 to 1000000. Kept per replica.
    pub rate_limits: Option<RateLimitSettings>,
    /// `LOG_SLOW_REQUEST_MS` (default 250, 1 to 3600000): a request that
    /// takes longer is logged at `warn`. `ACCESS_LOG_SAMPLE` (default 0.001,
    /// 0 to 1): the share of other successful requests logged at `info`.
    /// Every answer of 400 or more is logged at `info` or above, every other
    /// request at `debug` (see `http::access_log`).
    pub access_log: AccessLogSettings,
}

/// The default for `LISTEN_ADDR`.
pub const DEFAULT_LISTEN_ADDR: &str = "0.0.0.0:8080";

/// Every variable [`Config::from_lookup`] reads, with its default as text
/// (`None`: required), in the order of the operator's table in
/// `docs/OPERATIONS.md`. Tests hold this list to `from_lookup` (the same
/// names, the same defaults) and to that table.
///
/// To add a setting: a field in [`Config`], its read in `from_lookup`, a line
/// here, and a row in the table (a required one also needs a sample value
/// in the tests' `REQUIRED`). The tests name whichever is missing.
pub const VARIABLES: &[(&str, Option<&str>)] = &[
    ("DATABASE_URL", None),
    ("LISTEN_ADDR", Some(DEFAULT_LISTEN_ADDR)),
    ("DATABASE_POOL_SIZE", Some("16")),
    ("DATABASE_CONNECT_TIMEOUT_MS", Some("2000")),
    ("DATABASE_STATEMENT_TIMEOUT_MS", Some("5000")),
    ("SHUTDOWN_GRACE_MS", Some("10000")),
    ("MAX_CONNECTIONS", Some("1024")),
    ("HEADER_READ_TIMEOUT_MS", Some("10000")),
    ("BODY_READ_TIMEOUT_MS", Some("10000")),
    ("IDEMPOTENCY_KEY_TTL_SECS", Some("86400")),
    ("HOLD_TTL_DEFAULT_SECS", Some("900")),
    ("HOLD_TTL_MIN_SECS", Some("60")),
    ("HOLD_TTL_MAX_SECS", Some("3600")),
    ("HOLD_SWEEP_INTERVAL_MS", Some("5000")),
    ("QUEUE_DEPTH", Some("4096")),
    ("CORS_ALLOWED_ORIGINS", Some("")),
    ("TRUSTED_PROXIES", Some("")),
    ("RATE_LIMITS", Some("on")),
    ("RATE_LIMIT_ADDRESS_PER_MINUTE", Some("1200")),
    ("RATE_LIMIT_ADDRESS_BURST", Some("200")),
    ("RATE_LIMIT_BUYER_PER_MINUTE", Some("30")),
    ("RATE_LIMIT_BUYER_BURST", Some("10")),
    ("LOG_SLOW_REQUEST_MS", Some("250")),
    ("ACCESS_LOG_SAMPLE", Some("0.001")),
];

/// A setting that cannot be used, with what it may be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// The longest timeout any setting takes: an hour.
const HOUR_MS: u64 = 3_600_000;

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// How the service uses its database, from the settings above.
    pub fn pool_settings(&self) -> PoolSettings {
        PoolSettings {
            max_size: self.pool_size,
            connect_timeout: self.connect_timeout,
            statement_timeout: self.statement_timeout,
        }
    }

    /// Reads the configuration through `lookup`, which returns a variable's value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&lookup);
        let database_url = lookup("DATABASE_URL")
            .filter(|url| !url.is_empty())
            .ok_or_else(|| {
                ConfigError(
                    "DATABASE_URL is not set: give the PostgreSQL connection string".to_owned(),
                )
            })?;
        Ok(Self {
            database_url: database_url.into(),
            listen_addr: vars.parsed(
                "LISTEN_ADDR",
                DEFAULT_LISTEN_ADDR,
                "an address and port, such as 0.0.0.0:8080",
            )?,
            pool_size: vars.int("DATABASE_POOL_SIZE", 16, 1..=1000)?,
            connect_timeout: vars.millis("DATABASE_CONNECT_TIMEOUT_MS", 2000, 1..=600_000)?,
            statement_timeout: vars.millis("DATABASE_STATEMENT_TIMEOUT_MS", 5000, 1..=HOUR_MS)?,
            shutdown_grace: vars.millis("SHUTDOWN_GRACE_MS", 10_000, 0..=HOUR_MS)?,
            max_connections: vars.int("MAX_CONNECTIONS", 1024, 1..=100_000)?,
            header_read_timeout: vars.millis("HEADER_READ_TIMEOUT_MS", 10_000, 1..=HOUR_MS)?,
            body_read_timeout: vars.millis("BODY_READ_TIMEOUT_MS", 10_000, 1..=HOUR_MS)?,
            idempotency_key_ttl: Duration::from_secs(vars.int(
                "IDEMPOTENCY_KEY_TTL_SECS",
                86_400,
                1..=31_536_000,
            )?),
            hold_lifetimes: vars.hold_lifetimes()?,
            hold_sweep_interval: vars.millis("HOLD_SWEEP_INTERVAL_MS", 5000, 1..=HOUR_MS)?,
            queue_depth: vars.int("QUEUE_DEPTH", 4096, 1..=1_000_000)?,
            cors_allowed_origins: vars.list("CORS_ALLOWED_ORIGINS", AllowedOrigins::parse)?,
            trusted_proxies: vars.list("TRUSTED_PROXIES", TrustedProxies::parse)?,
            rate_limits: vars.rate_limits()?,
            access_log: AccessLogSettings {
                slow: vars.millis("LOG_SLOW_REQUEST_MS", 250, 1..=HOUR_MS)?,
                sample: vars.share("ACCESS_LOG_SAMPLE", 0.001)?,
            },
        })
    }
}

/// The environment, read one variable at a time.
struct Vars<'a, F>(&'a F);

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    /// An integer in `range`, or `default` when the variable is unset.
    fn int<T>(&self, name: &str, default: T, range: RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        let Some(raw) = (self.0)(name) else {
            return Ok(default);
        };
        match raw.trim().parse::<T>() {
            Ok(value) if range.contains(&value) => Ok(value),
            _ => Err(ConfigError(format!(
                "{name}={raw:?} is not valid: it must be an integer from {} to {}",
                range.start(),
                range.end()
            ))),
        }
    }

    /// A share from 0 to 1, or `default` when the variable is unset.
    fn share(&self, name: &str, default: f64) -> Result<f64, ConfigError> {
        let Some(raw) = (self.0)(name) else {
            return Ok(default);
        };
        match raw.trim().parse::<f64>() {
            Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
            _ => Err(ConfigError(format!(
                "{name}={raw:?} is not valid: it must be a number from 0 to 1, such as 0.001"
            ))),
        }
    }

    /// A duration in milliseconds, in `range`.
    fn millis(
        &self,
        name: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        self.int(name, default, range).map(Duration::from_millis)
    }

    /// The hold lifetimes: each within what the spec lets a request ask for,
    /// and in order.
    fn hold_lifetimes(&self) -> Result<HoldLifetimes, ConfigError> {
        let seconds = |name, default| {
            self.int(name, default, 1..=HoldTtl::MAX_SECONDS)
                .map(Duration::from_secs)
        };
        let lifetimes = HoldLifetimes {
            default: seconds("HOLD_TTL_DEFAULT_SECS", 900)?,
            min: seconds("HOLD_TTL_MIN_SECS", 60)?,
            max: seconds("HOLD_TTL_MAX_SECS", 3600)?,
        };
        if lifetimes.min <= lifetimes.default && lifetimes.default <= lifetimes.max {
            Ok(lifetimes)
        } else {
            Err(ConfigError(format!(
                "HOLD_TTL_MIN_SECS={}, HOLD_TTL_DEFAULT_SECS={} and HOLD_TTL_MAX_SECS={} are not valid: \
                 they must be in that order, each from 1 to {}",
                lifetimes.min.as_secs(),
                lifetimes.default.as_secs(),
                lifetimes.max.as_secs(),
                HoldTtl::MAX_SECONDS
            )))
        }
    }

    /// A comma-separated list, parsed by `parse` (empty when unset).
    fn list<T>(&self, name: &str, parse: fn(&str) -> Result<T, String>) -> Result<T, ConfigError> {
        let raw = (self.0)(name).unwrap_or_default();
        parse(&raw).map_err(|reason| ConfigError(format!("{name} is not valid: {reason}")))
    }

    /// The rate limits, or `None` with `RATE_LIMITS=off`.
    fn rate_limits(&self) -> Result<Option<RateLimitSettings>, ConfigError> {
        match (self.0)("RATE_LIMITS").as_deref().map(str::trim) {
            None | Some("on") => {}
            Some("off") => return Ok(None),
            Some(other) => {
                return Err(ConfigError(format!(
                    "RATE_LIMITS={other:?} is not valid: it must be on or off"
                )));
            }
        }
        let rate = |per_minute, per_minute_default, burst, burst_default| {
            Ok::<_, ConfigError>(Rate {
                per_minute: self.int(per_minute, per_minute_default, 1..=1_000_000)?,
                burst: self.int(burst, burst_default, 1..=1_000_000)?,
            })
        };
        Ok(Some(RateLimitSettings {
            address: rate(
                "RATE_LIMIT_ADDRESS_PER_MINUTE",
                1200,
                "RATE_LIMIT_ADDRESS_BURST",
                200,
            )?,
            buyer: rate(
                "RATE_LIMIT_BUYER_PER_MINUTE",
                30,
                "RATE_LIMIT_BUYER_BURST",
                10,
            )?,
        }))
    }

    /// Any value `T` parses, or `default` when the variable is unset.
    fn parsed<T: FromStr>(&self, name: &str, default: &str, what: &str) -> Result<T, ConfigError> {
        let raw = (self.0)(name).unwrap_or_else(|| default.to_owned());
        raw.parse()
            .map_err(|_| ConfigError(format!("{name}={raw:?} is not valid: it must be {what}")))
    }
}

/// How requests are authenticated: `AUTH_MODE` and the `OIDC_*` settings
/// (docs/AUTH.md). Read apart from [`Config`] until the operations check
/// credentials; then it joins it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSettings {
    /// `AUTH_MODE=open`: no credentials are asked for. For local
    /// experiments only; the server warns at start.
    Open,
    /// Buyers by OpenID Connect tokens, organisers by API tokens.
    Required(crate::auth::OidcSettings),
}

impl AuthSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `AUTH_MODE` is `open`, `required`, or unset (required). Required
    /// takes `OIDC_ISSUER` and `OIDC_AUDIENCE`; with neither and no
    /// `AUTH_MODE` the server refuses to start, saying what to set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        use crate::auth::{KeySource, OidcSettings, check_url_is_safe};
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        match set("AUTH_MODE").as_deref().map(str::trim) {
            Some("open") => return Ok(Self::Open),
            None | Some("required") => {}
            Some(other) => {
                return Err(ConfigError(format!(
                    "AUTH_MODE={other:?} is not valid: it must be required (the default) or open"
                )));
            }
        }
        let (Some(issuer), Some(audience)) = (set("OIDC_ISSUER"), set("OIDC_AUDIENCE")) else {
            return Err(ConfigError(
                "authentication is not configured: set OIDC_ISSUER (the buyers' OpenID \
                 Connect issuer) and OIDC_AUDIENCE (this service's client id), and \
                 OIDC_JWKS_FILE if the issuer cannot be reached; organisers' tokens come \
                 from `tickets-server tokens create`. Or set AUTH_MODE=open to run \
                 without credentials, for a local experiment only"
                    .to_owned(),
            ));
        };
        check_url_is_safe(&issuer)
            .map_err(|e| ConfigError(format!("OIDC_ISSUER is not valid: {e}")))?;
        let vars = Vars(&lookup);
        Ok(Self::Required(OidcSettings {
            issuer,
            audience,
            keys: set("OIDC_JWKS_FILE")
                .map_or(KeySource::Discovery, |path| KeySource::File(path.into())),
            leeway: Duration::from_secs(vars.int("OIDC_LEEWAY_SECS", 30, 0..=300)?),
            refresh_min_interval: vars.millis("OIDC_JWKS_REFRESH_MIN_MS", 10_000, 0..=HOUR_MS)?,
            keys_max_age: Duration::from_secs(vars.int(
                "OIDC_JWKS_MAX_AGE_SECS",
                3600,
                1..=86_400,
            )?),
        }))
    }

    /// The start-up check: warns loudly in open mode; otherwise checks the
    /// OpenID Connect settings and reads the keys file if one is set, so an
    /// unusable one stops the server.
    pub fn check_at_start(&self) -> Result<(), String> {
        match self {
            Self::Open => {
                tracing::warn!(
                    "AUTH_MODE=open: every request is served without credentials; \
                     anyone can create tickets and act on any purchase or hold. \
                     For local experiments only (docs/AUTH.md)"
                );
                Ok(())
            }
            Self::Required(oidc) => crate::auth::OidcVerifier::new(oidc.clone()).map(drop),
        }
    }
}

#[cfg(test)]
mod auth_settings_tests {
    use super::*;
    use crate::auth::KeySource;

    fn auth(vars: &[(&str, &str)]) -> Result<AuthSettings, ConfigError> {
        AuthSettings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn with_no_auth_settings_the_server_is_told_what_to_set() {
        for vars in [
            &[][..],
            &[("AUTH_MODE", "")],
            &[("OIDC_ISSUER", "https://id.example.com")],
        ] {
            let error = auth(vars).expect_err("refused").to_string();
            for says in [
                "OIDC_ISSUER",
                "OIDC_AUDIENCE",
                "AUTH_MODE=open",
                "tokens create",
            ] {
                assert!(error.contains(says), "{error:?} does not say {says}");
            }
        }
    }

    #[test]
    fn open_mode_is_asked_for_by_name_only() {
        assert_eq!(auth(&[("AUTH_MODE", "open")]), Ok(AuthSettings::Open));
        for other in ["OPEN", "off", "none", "1", "true"] {
            let error = auth(&[("AUTH_MODE", other)]).expect_err(other).to_string();
            assert!(error.contains("AUTH_MODE"), "{error}");
        }
    }

    #[test]
    fn oidc_settings_are_read_with_their_defaults() {
        let Ok(AuthSettings::Required(oidc)) = auth(&[
            ("OIDC_ISSUER", "https://id.example.com"),
            ("OIDC_AUDIENCE", "tickets"),
        ]) else {
            panic!("required settings expected");
        };
        assert_eq!(oidc.keys, KeySource::Discovery);
        assert_eq!(oidc.leeway, Duration::from_secs(30));
        assert_eq!(oidc.refresh_min_interval, Duration::from_secs(10));
        let Ok(AuthSettings::Required(oidc)) = auth(&[
            ("AUTH_MODE", "required"),
            ("OIDC_ISSUER", "https://id.example.com"),
            ("OIDC_AUDIENCE", "tickets"),
            ("OIDC_JWKS_FILE", "/etc/tickets/jwks.json"),
        ]) else {
            panic!("required settings expected");
        };
        assert_eq!(oidc.keys, KeySource::File("/etc/tickets/jwks.json".into()));
    }

    #[test]
    fn an_issuer_over_plain_http_elsewhere_than_this_machine_is_refused() {
        let error = auth(&[
            ("OIDC_ISSUER", "http://id.example.com"),
            ("OIDC_AUDIENCE", "tickets"),
        ])
        .expect_err("refused")
        .to_string();
        assert!(error.contains("OIDC_ISSUER"), "{error}");
        let error = auth(&[
            ("OIDC_ISSUER", "https://id.example.com"),
            ("OIDC_AUDIENCE", "tickets"),
            ("OIDC_LEEWAY_SECS", "3600"),
        ])
        .expect_err("refused")
        .to_string();
        assert!(error.contains("OIDC_LEEWAY_SECS"), "{error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
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
        // docs/OPERATIONS.md and docs/HA.md give these figures.
        assert_eq!(
            config.pool_settings().answer_timeout(),
            Duration::from_secs(12)
        );
        assert_eq!(
            config.pool_settings().request_deadline(),
            Duration::from_secs(14)
        );
        assert_eq!(config.max_connections, 1024);
        assert_eq!(config.idempotency_key_ttl, Duration::from_secs(86_400));
        assert_eq!(config.queue_depth, 4096);
        assert_eq!(config.access_log.slow, Duration::from_millis(250));
        assert!((config.access_log.sample - 0.001).abs() < f64::EPSILON);
        assert_eq!(config.hold_lifetimes.default, Duration::from_secs(900));
        assert_eq!(config.hold_lifetimes.min, Duration::from_secs(60));
        assert_eq!(config.hold_lifetimes.max, Duration::from_secs(3600));
        assert!(config.cors_allowed_origins.is_empty());
        assert!(config.trusted_proxies.is_empty());
        let limits = config.rate_limits.expect("rate limits are on by default");
        assert_eq!(
            (limits.address.per_minute, limits.address.burst),
            (1200, 200)
        );
        assert_eq!((limits.buyer.per_minute, limits.buyer.burst), (30, 10));
    }

    #[test]
    fn rate_limits_can_be_turned_off() {
        let config =
            config(&[("DATABASE_URL", "postgres://x/db"), ("RATE_LIMITS", "off")]).expect("valid");
        assert_eq!(config.rate_limits, None);
    }

    #[rstest]
    #[case::lowest_values(&[
        ("DATABASE_POOL_SIZE", "1"), ("DATABASE_CONNECT_TIMEOUT_MS", "1"),
        ("SHUTDOWN_GRACE_MS", "0"), ("MAX_CONNECTIONS", "1"), ("IDEMPOTENCY_KEY_TTL_SECS", "1"),
        ("QUEUE_DEPTH", "1"), ("LOG_SLOW_REQUEST_MS", "1"), ("ACCESS_LOG_SAMPLE", "0"),
    ])]
    #[case::highest_values(&[
        ("DATABASE_POOL_SIZE", "1000"), ("DATABASE_CONNECT_TIMEOUT_MS", "600000"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "3600000"), ("MAX_CONNECTIONS", "100000"),
        ("IDEMPOTENCY_KEY_TTL_SECS", "31536000"), ("QUEUE_DEPTH", "1000000"),
        ("LOG_SLOW_REQUEST_MS", "3600000"), ("ACCESS_LOG_SAMPLE", "1"),
    ])]
    fn values_at_the_ends_of_their_ranges_are_taken(#[case] vars: &[(&str, &str)]) {
        let mut all = vec![("DATABASE_URL", "postgres://x/db")];
        all.extend_from_slice(vars);
        assert!(config(&all).is_ok());
    }

    /// Each refusal names the variable and says what it may be.
    #[rstest]
    #[case::no_database(&[], "DATABASE_URL")]
    #[case::empty_database(&[("DATABASE_URL", "")], "DATABASE_URL")]
    #[case::bad_listen_addr(&[("LISTEN_ADDR", "nowhere")], "LISTEN_ADDR")]
    #[case::zero_pool(&[("DATABASE_POOL_SIZE", "0")], "from 1 to 1000")]
    #[case::negative_timeout(&[("DATABASE_CONNECT_TIMEOUT_MS", "-1")], "DATABASE_CONNECT_TIMEOUT_MS")]
    #[case::zero_connect_timeout(&[("DATABASE_CONNECT_TIMEOUT_MS", "0")], "from 1 to 600000")]
    #[case::zero_connections(&[("MAX_CONNECTIONS", "0")], "MAX_CONNECTIONS")]
    #[case::huge_connections(&[("MAX_CONNECTIONS", "18446744073709551615")], "from 1 to 100000")]
    #[case::huge_key_ttl(&[("IDEMPOTENCY_KEY_TTL_SECS", "18446744073709551615")], "IDEMPOTENCY_KEY_TTL_SECS")]
    #[case::zero_key_ttl(&[("IDEMPOTENCY_KEY_TTL_SECS", "0")], "from 1 to 31536000")]
    #[case::zero_statement_timeout(&[("DATABASE_STATEMENT_TIMEOUT_MS", "0")], "DATABASE_STATEMENT_TIMEOUT_MS")]
    #[case::huge_grace(&[("SHUTDOWN_GRACE_MS", "99999999999")], "SHUTDOWN_GRACE_MS")]
    #[case::zero_queue(&[("QUEUE_DEPTH", "0")], "QUEUE_DEPTH")]
    #[case::words(&[("HEADER_READ_TIMEOUT_MS", "ten seconds")], "HEADER_READ_TIMEOUT_MS")]
    #[case::zero_slow_request(&[("LOG_SLOW_REQUEST_MS", "0")], "LOG_SLOW_REQUEST_MS")]
    #[case::sample_over_one(&[("ACCESS_LOG_SAMPLE", "1.5")], "from 0 to 1")]
    #[case::negative_sample(&[("ACCESS_LOG_SAMPLE", "-0.1")], "ACCESS_LOG_SAMPLE")]
    #[case::sample_not_a_number(&[("ACCESS_LOG_SAMPLE", "NaN")], "ACCESS_LOG_SAMPLE")]
    #[case::sample_percent(&[("ACCESS_LOG_SAMPLE", "1%")], "ACCESS_LOG_SAMPLE")]
    #[case::hold_longer_than_a_day(&[("HOLD_TTL_MAX_SECS", "86401")], "HOLD_TTL_MAX_SECS")]
    #[case::hold_default_past_the_most(&[("HOLD_TTL_DEFAULT_SECS", "7200")], "in that order")]
    #[case::hold_least_past_the_default(&[("HOLD_TTL_MIN_SECS", "1000")], "in that order")]
    #[case::cors_wildcard(&[("CORS_ALLOWED_ORIGINS", "*")], "CORS_ALLOWED_ORIGINS")]
    #[case::cors_path(&[("CORS_ALLOWED_ORIGINS", "https://a.example/x")], "CORS_ALLOWED_ORIGINS")]
    #[case::proxy_not_an_address(&[("TRUSTED_PROXIES", "nginx")], "TRUSTED_PROXIES")]
    #[case::rate_limits_maybe(&[("RATE_LIMITS", "maybe")], "on or off")]
    #[case::zero_rate(&[("RATE_LIMIT_BUYER_PER_MINUTE", "0")], "RATE_LIMIT_BUYER_PER_MINUTE")]
    fn invalid_settings_are_refused_by_name(#[case] vars: &[(&str, &str)], #[case] says: &str) {
        let mut all = if vars.iter().any(|(k, _)| *k == "DATABASE_URL") || vars.is_empty() {
            Vec::new()
        } else {
            vec![("DATABASE_URL", "postgres://x/db")]
        };
        all.extend_from_slice(vars);
        let error = config(&all).expect_err("refused").to_string();
        assert!(error.contains(says), "{error:?} does not say {says:?}");
    }

    /// A usable value for each required variable.
    const REQUIRED: &[(&str, &str)] = &[("DATABASE_URL", "postgres://x/db")];

    /// `from_lookup` reads exactly the variables [`VARIABLES`] names.
    #[test]
    fn the_list_names_every_variable_read_and_no_other() {
        let asked = std::cell::RefCell::new(Vec::new());
        Config::from_lookup(|name| {
            asked.borrow_mut().push(name.to_owned());
            REQUIRED
                .iter()
                .find(|(required, _)| *required == name)
                .map(|(_, value)| (*value).to_owned())
        })
        .expect("valid");
        let mut asked = asked.into_inner();
        asked.sort();
        asked.dedup();
        let mut listed: Vec<String> = VARIABLES
            .iter()
            .map(|(name, _)| (*name).to_owned())
            .collect();
        listed.sort();
        assert_eq!(asked, listed);
    }

    /// Setting every variable to its listed default changes nothing.
    #[test]
    fn the_listed_defaults_are_the_ones_applied() {
        let unset = format!("{:?}", config(REQUIRED).expect("valid"));
        let mut all = REQUIRED.to_vec();
        all.extend(
            VARIABLES
                .iter()
                .filter_map(|(name, default)| default.map(|default| (*name, default))),
        );
        let spelled_out = format!("{:?}", config(&all).expect("valid"));
        assert_eq!(unset, spelled_out);
    }

    #[test]
    fn debug_output_hides_the_database_url() {
        let config = config(&[("DATABASE_URL", "postgres://user:secret@host/db")]).expect("valid");
        assert!(!format!("{config:?}").contains("secret"));
    }
}
