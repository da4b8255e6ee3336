use diesel_async::AsyncMigrationHarness;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::Pool;
use super::pool::ServerConnection;

/// The project's migrations, compiled into the binary.
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// Applies the migrations the database has not had yet. Safe to run from
/// several replicas at once: an advisory lock lets one apply them while the
/// others wait.
pub async fn run_pending_migrations(pool: &Pool) -> anyhow::Result<()> {
    use diesel_async::RunQueryDsl;

    // A dedicated connection: the harness blocks its thread while it runs.
    let mut conn = pool.dedicated_connection().await?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .execute(&mut conn)
        .await?;
    let conn = tokio::task::spawn_blocking(move || -> anyhow::Result<ServerConnection> {
        let mut harness = AsyncMigrationHarness::new(conn);
        let applied = harness
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("applying migrations failed: {e}"))?;
        for version in applied {
            tracing::info!(%version, "applied migration");
        }
        Ok(harness.into_inner())
    })
    .await??;
    let mut conn = conn;
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// The advisory lock key that serialises migrations across replicas.
const MIGRATION_LOCK: i64 = 0x0074_6963_6b65_7473; // "tickets" in ASCII
