//! Who made each change, as the audit columns keep it: read for organisers
//! (written with the changes themselves, by the batches and ticket
//! creation).

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::schema::{holds, purchases};
use super::{Pool, StorageError};

/// Who made a row, and who ended it (cancelled a purchase; confirmed,
/// released or let expire a hold), where recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    pub made_by: Option<String>,
    pub ended_by: Option<String>,
}

/// The audit of each of `ids` among the purchases.
pub async fn of_purchases(pool: &Pool, ids: &[Uuid]) -> Result<HashMap<Uuid, Audit>, StorageError> {
    let mut conn = pool.get().await?;
    let rows: Vec<(Uuid, Option<String>, Option<String>)> = purchases::table
        .filter(purchases::id.eq_any(ids))
        .select((purchases::id, purchases::made_by, purchases::cancelled_by))
        .load(&mut conn)
        .await?;
    Ok(audits(rows))
}

/// The audit of the hold `id`.
pub async fn of_hold(pool: &Pool, id: Uuid) -> Result<Audit, StorageError> {
    let mut conn = pool.get().await?;
    let rows: Vec<(Uuid, Option<String>, Option<String>)> = holds::table
        .find(id)
        .select((holds::id, holds::made_by, holds::ended_by))
        .load(&mut conn)
        .await?;
    Ok(audits(rows).remove(&id).unwrap_or_default())
}

fn audits(rows: Vec<(Uuid, Option<String>, Option<String>)>) -> HashMap<Uuid, Audit> {
    rows.into_iter()
        .map(|(id, made_by, ended_by)| (id, Audit { made_by, ended_by }))
        .collect()
}
