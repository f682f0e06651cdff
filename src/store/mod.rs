//! The two implementations of the engine's [`Store`] port: Postgres for
//! production and every multi-instance deployment, and an embedded SQLite
//! file so `cargo run` works with nothing else installed.

pub mod embedded;
mod filter;
pub mod migrations;
mod partitions;
pub mod postgres;

use std::sync::Arc;
use std::time::Duration;

use orderhook_actors::domain::ClientConfig;
use orderhook_actors::store::{Store, StoreError};
use secrecy::ExposeSecret;

use crate::cipher::SecretCipher;
use crate::config::{Settings, StoreSettings};

/// How long an accepted body counts as seen when nothing else is configured.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Opens the store the settings name (Postgres when a URL is set), brings its
/// schema up to date, and checks the encryption key against it.
pub async fn open(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    use anyhow::Context;
    let store_settings = &settings.store;
    let cipher = Arc::new(
        SecretCipher::load(settings.encryption_key.as_ref(), &store_settings.data_dir)
            .context("loading the encryption key (ORDERHOOK_ENCRYPTION_KEY)")?,
    );
    match &store_settings.url {
        Some(url) => {
            if settings.encryption_key.is_none() {
                tracing::warn!(
                    "no ORDERHOOK_ENCRYPTION_KEY: secrets are sealed with a key kept in the data \
                     directory; instances sharing this database must share that key"
                );
            }
            let store = postgres::PostgresStore::connect(
                url.expose_secret(),
                store_settings.pool_size,
                Duration::from_millis(store_settings.connect_timeout_ms),
                settings.statement_timeout(),
                cipher,
                &settings.retention(),
            )
            .await
            .context("opening the Postgres store (store.url / DATABASE_URL)")?;
            Ok(Arc::new(store.with_dedup_window(settings.dedup_window())))
        }
        None => {
            let store = embedded::EmbeddedStore::open(&store_settings.data_dir, cipher)
                .await
                .with_context(|| {
                    format!(
                        "opening the embedded store in {}",
                        store_settings.data_dir.display()
                    )
                })?;
            Ok(Arc::new(store.with_dedup_window(settings.dedup_window())))
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

/// A client's stored configuration (none stored: no overrides).
pub(crate) fn decode_client_config(json: Option<&str>) -> Result<ClientConfig, StoreError> {
    json.map_or(Ok(ClientConfig::default()), |json| {
        serde_json::from_str(json)
            .map_err(|err| StoreError::Internal(format!("unreadable client config: {err}")))
    })
}

pub(crate) fn encode_client_config(config: &ClientConfig) -> Result<String, StoreError> {
    serde_json::to_string(config).map_err(|err| StoreError::Internal(err.to_string()))
}

pub(crate) fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(err.to_string())
}
