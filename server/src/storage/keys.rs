//! Idempotency keys kept outside the order batches (ticket creation): the
//! first answer to a request sent with a key is stored in the same
//! transaction as the change it answers, and replayed to retries. A retry
//! while the first is in flight is told so; a key used for a different
//! request is refused. (Orders keep theirs in their batch: `orders`.)

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::future::BoxFuture;

use super::schema::idempotency_keys;
use super::{Pool, StorageError};
use crate::domain::orders::{OrderKey, StoredResponse};

/// What became of a request sent with an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent {
    /// The request ran now, and this is its answer.
    Done(StoredResponse),
    /// The request ran before; this is the answer it got then.
    Replayed(StoredResponse),
    /// A request with this key is still running.
    InFlight,
    /// The key was used before for a request with another fingerprint.
    KeyReused,
}

/// Runs `operation` once per `key` within `ttl`: its changes and its stored
/// answer commit together, or neither does.
pub async fn run_once(
    pool: &Pool,
    key: OrderKey,
    ttl: Duration,
    // Owning what it uses ('static): the future it returns borrows only the
    // connection.
    operation: impl for<'c> FnOnce(
        &'c mut AsyncPgConnection,
    ) -> BoxFuture<'c, QueryResult<StoredResponse>>
    + Send
    + 'static,
) -> Result<Idempotent, StorageError> {
    let OrderKey { key, fingerprint } = key;
    let (key, fingerprint) = (key.as_str(), fingerprint.as_str());
    let mut conn = pool.get().await?;
    let outcome = conn
        .transaction(async |conn| {
            // Held until this transaction ends, in any replica: a concurrent
            // retry finds it taken and is answered "in flight".
            let locked: bool = diesel::select(
                diesel::dsl::sql::<Bool>("pg_try_advisory_xact_lock(hashtextextended(")
                    .bind::<Text, _>(key)
                    .sql(", 0))"),
            )
            .get_result(conn)
            .await?;
            if !locked {
                return Ok(Idempotent::InFlight);
            }
            let cutoff = chrono::Utc::now() - ttl;
            let earlier = idempotency_keys::table
                .find(key)
                .filter(idempotency_keys::created_at.gt(cutoff))
                .select((
                    idempotency_keys::fingerprint,
                    idempotency_keys::status,
                    idempotency_keys::location,
                    idempotency_keys::body,
                ))
                .first::<(String, i16, Option<String>, Option<String>)>(conn)
                .await
                .optional()?;
            if let Some((earlier_fingerprint, status, location, body)) = earlier {
                if earlier_fingerprint != fingerprint {
                    return Ok(Idempotent::KeyReused);
                }
                return Ok(Idempotent::Replayed(StoredResponse {
                    status: status.unsigned_abs(),
                    location,
                    body,
                }));
            }

            let response = operation(conn).await?;
            let status = i16::try_from(response.status).unwrap_or(i16::MAX);
            // An expired row for the same key is replaced.
            diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::key.eq(key),
                    idempotency_keys::fingerprint.eq(fingerprint),
                    idempotency_keys::status.eq(status),
                    idempotency_keys::location.eq(&response.location),
                    idempotency_keys::body.eq(&response.body),
                ))
                .on_conflict(idempotency_keys::key)
                .do_update()
                .set((
                    idempotency_keys::fingerprint.eq(fingerprint),
                    idempotency_keys::status.eq(status),
                    idempotency_keys::location.eq(&response.location),
                    idempotency_keys::body.eq(&response.body),
                    idempotency_keys::created_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            Ok::<_, diesel::result::Error>(Idempotent::Done(response))
        })
        .await?;
    Ok(outcome)
}

/// Deletes the keys older than `ttl`; returns how many.
pub async fn forget_expired(pool: &Pool, ttl: Duration) -> Result<usize, StorageError> {
    let mut conn = pool.get().await?;
    let cutoff = chrono::Utc::now() - ttl;
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.le(cutoff)))
            .execute(&mut conn)
            .await?,
    )
}
