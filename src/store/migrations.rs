//! Schema migrations, embedded in the binary and applied at start-up.
//! Postgres: one transaction per file under an advisory lock, so instances
//! starting together apply each file once; a `schema_migrations` row with the
//! file's checksum catches a file edited after it was applied. SQLite: one
//! transaction per file, the version kept in `PRAGMA user_version`.

use sha2::{Digest, Sha256};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "delivery",
        sql: include_str!("../../migrations/postgres/0002_delivery.sql"),
    },
    Migration {
        version: 3,
        name: "dedup",
        sql: include_str!("../../migrations/postgres/0003_dedup.sql"),
    },
    Migration {
        version: 4,
        name: "meta",
        sql: include_str!("../../migrations/postgres/0004_meta.sql"),
    },
    Migration {
        version: 5,
        name: "client_configs",
        sql: include_str!("../../migrations/postgres/0005_client_configs.sql"),
    },
    Migration {
        version: 6,
        name: "rotation",
        sql: include_str!("../../migrations/postgres/0006_rotation.sql"),
    },
    Migration {
        version: 7,
        name: "client_keys",
        sql: include_str!("../../migrations/postgres/0007_client_keys.sql"),
    },
    Migration {
        version: 8,
        name: "log_indexes",
        sql: include_str!("../../migrations/postgres/0008_log_indexes.sql"),
    },
    Migration {
        version: 9,
        name: "fewer_log_indexes",
        sql: include_str!("../../migrations/postgres/0009_fewer_log_indexes.sql"),
    },
    Migration {
        version: 10,
        name: "tenant_leases",
        sql: include_str!("../../migrations/postgres/0010_tenant_leases.sql"),
    },
    Migration {
        version: 11,
        name: "partitions",
        sql: include_str!("../../migrations/postgres/0011_partitions.sql"),
    },
    Migration {
        version: 12,
        name: "requeue_marker",
        sql: include_str!("../../migrations/postgres/0012_requeue_marker.sql"),
    },
];

pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "delivery",
        sql: include_str!("../../migrations/sqlite/0002_delivery.sql"),
    },
    Migration {
        version: 3,
        name: "dedup",
        sql: include_str!("../../migrations/sqlite/0003_dedup.sql"),
    },
    Migration {
        version: 4,
        name: "meta",
        sql: include_str!("../../migrations/sqlite/0004_meta.sql"),
    },
    Migration {
        version: 5,
        name: "client_configs",
        sql: include_str!("../../migrations/sqlite/0005_client_configs.sql"),
    },
    Migration {
        version: 6,
        name: "rotation",
        sql: include_str!("../../migrations/sqlite/0006_rotation.sql"),
    },
    Migration {
        version: 7,
        name: "client_keys",
        sql: include_str!("../../migrations/sqlite/0007_client_keys.sql"),
    },
    Migration {
        version: 8,
        name: "log_indexes",
        sql: include_str!("../../migrations/sqlite/0008_log_indexes.sql"),
    },
    Migration {
        version: 9,
        name: "fewer_log_indexes",
        sql: include_str!("../../migrations/sqlite/0009_fewer_log_indexes.sql"),
    },
];

/// Any constant shared by every orderhook instance; "orderhook" in ASCII.
const ADVISORY_LOCK_KEY: i64 = 0x6f72_6465_7268_6f6f;

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("migration {version} ({name}) was changed after it was applied")]
    Changed { version: i64, name: &'static str },
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

pub async fn migrate_postgres(client: &mut tokio_postgres::Client) -> Result<(), MigrationError> {
    for migration in POSTGRES {
        let tx = client.transaction().await?;
        // Migrations may take longer than the statement timeout meant for batches.
        tx.batch_execute("SET LOCAL statement_timeout = 0").await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ADVISORY_LOCK_KEY])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
               version BIGINT PRIMARY KEY,
               name TEXT NOT NULL,
               checksum TEXT NOT NULL,
               applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await?;
        let sum = checksum(migration.sql);
        let applied = tx
            .query_opt(
                "SELECT checksum FROM schema_migrations WHERE version = $1",
                &[&migration.version],
            )
            .await?;
        match applied {
            Some(row) if row.get::<_, String>(0) == sum => {}
            Some(_) => {
                return Err(MigrationError::Changed {
                    version: migration.version,
                    name: migration.name,
                });
            }
            None => {
                tx.batch_execute(migration.sql).await?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    &[&migration.version, &migration.name, &sum],
                )
                .await?;
                tracing::info!(
                    version = migration.version,
                    name = migration.name,
                    "applied migration"
                );
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

pub fn migrate_sqlite(conn: &mut rusqlite::Connection) -> Result<(), MigrationError> {
    for migration in SQLITE {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if current < migration.version {
            tx.execute_batch(migration.sql)?;
            tx.pragma_update(None, "user_version", migration.version)?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "applied migration"
            );
        }
        tx.commit()?;
    }
    Ok(())
}
