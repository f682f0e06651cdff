//! The two implementations of the engine's [`Store`] port: Postgres for
//! production and every multi-instance deployment, and an embedded SQLite
//! file so `cargo run` works with nothing else installed.

pub mod embedded;
pub mod migrations;
pub mod postgres;

use std::sync::Arc;
use std::time::Duration;

use orderhook_actors::store::{Store, StoreError};
use secrecy::ExposeSecret;

use crate::config::StoreSettings;

/// How long an accepted body counts as seen when nothing else is configured.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Opens the store the settings name (Postgres when a URL is set) and brings
/// its schema up to date. `statement_timeout` bounds each statement (a batch
/// commit) on the database server.
pub async fn open(
    settings: &StoreSettings,
    statement_timeout: Duration,
    dedup_window: Duration,
) -> anyhow::Result<Arc<dyn Store>> {
    use anyhow::Context;
    match &settings.url {
        Some(url) => {
            let store = postgres::PostgresStore::connect(
                url.expose_secret(),
                settings.pool_size,
                Duration::from_millis(settings.connect_timeout_ms),
                statement_timeout,
            )
            .await
            .context("opening the Postgres store (store.url / DATABASE_URL)")?;
            Ok(Arc::new(store.with_dedup_window(dedup_window)))
        }
        None => {
            let store = embedded::EmbeddedStore::open(&settings.data_dir)
                .await
                .with_context(|| {
                    format!(
                        "opening the embedded store in {}",
                        settings.data_dir.display()
                    )
                })?;
            Ok(Arc::new(store.with_dedup_window(dedup_window)))
        }
    }
}

/// Which kind of store is in use, for health output.
pub fn kind(settings: &StoreSettings) -> &'static str {
    if settings.url.is_some() {
        "postgres"
    } else {
        "embedded"
    }
}

pub(crate) fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(err.to_string())
}
