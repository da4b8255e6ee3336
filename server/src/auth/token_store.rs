//! Organiser tokens in the database: created, listed, revoked, and checked
//! on each request.
//!
//! A check looks the token's hash up by its unique index. Its answer may be
//! kept in the process for at most [`TokenStore::MAX_CACHE_AGE`], so a token
//! revoked on one replica is refused by every replica within that time
//! (docs/AUTH.md has the measured cost with and without the cache).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::organiser_token::{OrganiserToken, TokenHash};
use super::permissions::{Permissions, TicketScope};
use crate::storage::schema::{organiser_tokens, organisers, tickets};
use crate::storage::{Pool, StorageError};

/// Who a valid organiser token speaks for, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganiserPrincipal {
    /// The token's id: what audit columns record.
    pub token_id: i64,
    pub organiser_id: i64,
    pub organiser: String,
    pub permissions: Permissions,
    pub scope: TicketScope,
}

/// A token as `tokens list` shows it: never its text or hash.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: i64,
    pub organiser: String,
    pub permissions: Permissions,
    pub scope: TicketScope,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenRefusal {
    /// Not a token's shape, unknown, or revoked: the caller answers 401
    /// without saying which.
    #[error("the organiser token is not valid")]
    Invalid,
    /// The database could not be asked: the caller answers 503.
    #[error("organiser tokens cannot be checked now")]
    Unavailable(#[source] StorageError),
}

/// Why a token could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("no ticket with id {0} belongs to this organiser")]
    NoSuchTicket(i64),
    #[error("the organiser's name must have 1 to 200 characters")]
    BadOrganiserName,
    #[error("the system's random generator failed: {0}")]
    Random(getrandom::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What [`revoke`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Revoked,
    AlreadyRevoked,
    NoSuchToken,
}

/// Checks organiser tokens against the database.
#[derive(Debug)]
pub struct TokenStore {
    pool: Pool,
    cache_age: Duration,
    cache: Mutex<HashMap<TokenHash, (Instant, OrganiserPrincipal)>>,
}

type PrincipalRow = (i64, i64, String, Vec<u8>, PermissionFlags, Option<Vec<i64>>);

/// The permission columns, in [`Permissions::from_columns`]' order.
const PERMISSION_COLUMNS: (
    organiser_tokens::can_create_tickets,
    organiser_tokens::can_read_orders,
    organiser_tokens::can_change_orders,
    organiser_tokens::can_sell_for_buyer,
    organiser_tokens::can_read_metrics,
) = (
    organiser_tokens::can_create_tickets,
    organiser_tokens::can_read_orders,
    organiser_tokens::can_change_orders,
    organiser_tokens::can_sell_for_buyer,
    organiser_tokens::can_read_metrics,
);

/// The values of [`PERMISSION_COLUMNS`].
type PermissionFlags = (bool, bool, bool, bool, bool);

impl Permissions {
    fn from_columns(
        (create_tickets, read_orders, change_orders, sell_for_buyer, read_metrics): PermissionFlags,
    ) -> Self {
        Self {
            create_tickets,
            read_orders,
            change_orders,
            sell_for_buyer,
            read_metrics,
        }
    }

    /// The values to insert.
    #[allow(clippy::type_complexity)]
    fn to_columns(
        self,
    ) -> (
        diesel::dsl::Eq<organiser_tokens::can_create_tickets, bool>,
        diesel::dsl::Eq<organiser_tokens::can_read_orders, bool>,
        diesel::dsl::Eq<organiser_tokens::can_change_orders, bool>,
        diesel::dsl::Eq<organiser_tokens::can_sell_for_buyer, bool>,
        diesel::dsl::Eq<organiser_tokens::can_read_metrics, bool>,
    ) {
        (
            organiser_tokens::can_create_tickets.eq(self.create_tickets),
            organiser_tokens::can_read_orders.eq(self.read_orders),
            organiser_tokens::can_change_orders.eq(self.change_orders),
            organiser_tokens::can_sell_for_buyer.eq(self.sell_for_buyer),
            organiser_tokens::can_read_metrics.eq(self.read_metrics),
        )
    }
}

impl TokenStore {
    /// The longest an answer is reused: revocation must reach every replica
    /// within a second.
    pub const MAX_CACHE_AGE: Duration = Duration::from_millis(500);
    /// Valid tokens remembered at once; past it the cache starts again.
    /// Unknown tokens are never remembered, so guessing cannot fill it.
    const CACHE_CAPACITY: usize = 10_000;

    /// `cache_age` is capped at [`Self::MAX_CACHE_AGE`]; zero turns the
    /// cache off.
    pub fn new(pool: Pool, cache_age: Duration) -> Self {
        Self {
            pool,
            cache_age: cache_age.min(Self::MAX_CACHE_AGE),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The principal `presented` (an `Authorization: Bearer` value) speaks
    /// for, if it is a live token.
    pub async fn authenticate(&self, presented: &str) -> Result<OrganiserPrincipal, TokenRefusal> {
        let token = OrganiserToken::parse(presented).ok_or(TokenRefusal::Invalid)?;
        let hash = token.hash();
        if let Some(principal) = self.cached(&hash) {
            return Ok(principal);
        }
        let principal = self.look_up(&hash).await?;
        if !self.cache_age.is_zero() {
            let mut cache = self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.len() >= Self::CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(hash, (Instant::now(), principal.clone()));
        }
        Ok(principal)
    }

    fn cached(&self, hash: &TokenHash) -> Option<OrganiserPrincipal> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(hash)
            .filter(|(at, _)| at.elapsed() < self.cache_age)
            .map(|(_, principal)| principal.clone())
    }

    async fn look_up(&self, hash: &TokenHash) -> Result<OrganiserPrincipal, TokenRefusal> {
        let unavailable = |e: StorageError| TokenRefusal::Unavailable(e);
        let mut conn = self.pool.get().await.map_err(|e| unavailable(e.into()))?;
        let row: Option<PrincipalRow> = organiser_tokens::table
            .inner_join(organisers::table)
            .filter(organiser_tokens::secret_hash.eq(hash.as_bytes().as_slice()))
            .filter(organiser_tokens::revoked_at.is_null())
            .select((
                organiser_tokens::id,
                organisers::id,
                organisers::name,
                organiser_tokens::secret_hash,
                PERMISSION_COLUMNS,
                organiser_tokens::ticket_ids,
            ))
            .first(&mut conn)
            .await
            .optional()
            .map_err(|e| unavailable(e.into()))?;
        let Some((token_id, organiser_id, organiser, stored, flags, ids)) = row else {
            return Err(TokenRefusal::Invalid);
        };
        if !hash.matches(&stored) {
            return Err(TokenRefusal::Invalid);
        }
        Ok(OrganiserPrincipal {
            token_id,
            organiser_id,
            organiser,
            permissions: Permissions::from_columns(flags),
            scope: TicketScope::from_column(ids),
        })
    }
}

/// Creates a token for `organiser` (created too if new) and returns it with
/// its record. The token's text exists only in the value returned.
pub async fn create(
    pool: &Pool,
    organiser: &str,
    permissions: Permissions,
    scope: &TicketScope,
) -> Result<(OrganiserToken, TokenRecord), CreateError> {
    let organiser = organiser.trim();
    if organiser.is_empty() || organiser.chars().count() > 200 {
        return Err(CreateError::BadOrganiserName);
    }
    let token = OrganiserToken::generate().map_err(CreateError::Random)?;
    let hash = token.hash();
    let mut conn = pool.get().await.map_err(StorageError::from)?;
    let record = conn
        .transaction::<_, CreateFailure, _>(async |conn| {
            let organiser_id: i64 = diesel::insert_into(organisers::table)
                .values(organisers::name.eq(organiser))
                .on_conflict(organisers::name)
                .do_update()
                .set(organisers::name.eq(organiser))
                .returning(organisers::id)
                .get_result(conn)
                .await?;
            if let TicketScope::Listed(ids) = scope {
                let found: Vec<i64> = tickets::table
                    .filter(tickets::id.eq_any(ids))
                    .filter(tickets::organiser_id.eq(organiser_id))
                    .select(tickets::id)
                    .load(conn)
                    .await?;
                if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
                    return Err(CreateFailure::NoSuchTicket(*missing));
                }
            }
            let (id, created_at): (i64, DateTime<Utc>) =
                diesel::insert_into(organiser_tokens::table)
                    .values((
                        organiser_tokens::organiser_id.eq(organiser_id),
                        organiser_tokens::secret_hash.eq(hash.as_bytes().as_slice()),
                        permissions.to_columns(),
                        organiser_tokens::ticket_ids.eq(scope.to_column()),
                    ))
                    .returning((organiser_tokens::id, organiser_tokens::created_at))
                    .get_result(conn)
                    .await?;
            Ok(TokenRecord {
                id,
                organiser: organiser.to_owned(),
                permissions,
                scope: scope.clone(),
                created_at,
                revoked_at: None,
            })
        })
        .await
        .map_err(|failure| match failure {
            CreateFailure::NoSuchTicket(id) => CreateError::NoSuchTicket(id),
            CreateFailure::Query(e) => CreateError::Storage(e.into()),
        })?;
    Ok((token, record))
}

/// Inside [`create`]'s transaction, which rolls back on either.
#[derive(Debug)]
enum CreateFailure {
    NoSuchTicket(i64),
    Query(diesel::result::Error),
}

impl From<diesel::result::Error> for CreateFailure {
    fn from(error: diesel::result::Error) -> Self {
        Self::Query(error)
    }
}

/// A row of [`list`].
type ListedRow = (
    i64,
    String,
    PermissionFlags,
    Option<Vec<i64>>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// Every token, oldest first.
pub async fn list(pool: &Pool) -> Result<Vec<TokenRecord>, StorageError> {
    let mut conn = pool.get().await?;
    let rows: Vec<ListedRow> = organiser_tokens::table
        .inner_join(organisers::table)
        .order(organiser_tokens::id)
        .select((
            organiser_tokens::id,
            organisers::name,
            PERMISSION_COLUMNS,
            organiser_tokens::ticket_ids,
            organiser_tokens::created_at,
            organiser_tokens::revoked_at,
        ))
        .load(&mut conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, organiser, flags, ids, created_at, revoked_at)| TokenRecord {
                id,
                organiser,
                permissions: Permissions::from_columns(flags),
                scope: TicketScope::from_column(ids),
                created_at,
                revoked_at,
            },
        )
        .collect())
}

/// Revokes token `id`; every replica refuses it within
/// [`TokenStore::MAX_CACHE_AGE`].
pub async fn revoke(pool: &Pool, id: i64) -> Result<Revocation, StorageError> {
    let mut conn = pool.get().await?;
    let revoked = diesel::update(organiser_tokens::table)
        .filter(organiser_tokens::id.eq(id))
        .filter(organiser_tokens::revoked_at.is_null())
        .set(organiser_tokens::revoked_at.eq(diesel::dsl::now))
        .execute(&mut conn)
        .await?;
    if revoked == 1 {
        return Ok(Revocation::Revoked);
    }
    let exists: i64 = organiser_tokens::table
        .filter(organiser_tokens::id.eq(id))
        .count()
        .get_result(&mut conn)
        .await?;
    Ok(if exists == 0 {
        Revocation::NoSuchToken
    } else {
        Revocation::AlreadyRevoked
    })
}
