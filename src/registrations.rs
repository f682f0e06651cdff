//! Tenants' registrations and clients' configurations as ingest reads them:
//! from the store, then kept for a short time so a busy tenant costs no store
//! round trip per request.
//! Another instance's change to a registration is seen within the TTL; this
//! instance's own registrations replace the cached copy at once.
//!
//! Misses are not cached: a flood of requests for random clientIds would
//! otherwise grow the cache without bound.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use ipnet::IpNet;
use orderhook_actors::domain::{ClientConfig, Registration, TenantKey};
use orderhook_actors::store::{Store, StoreError};
use tokio::time::Instant;

pub struct Registrations {
    store: Arc<dyn Store>,
    cache: DashMap<TenantKey, (Arc<Registration>, Instant)>,
    /// Only clients with a registration are looked up, so this stays bounded too.
    clients: DashMap<Arc<str>, (Arc<ClientRules>, Instant)>,
    ttl: Duration,
}

/// A client's configuration as ingest applies it.
#[derive(Debug, Default)]
pub struct ClientRules {
    pub config: ClientConfig,
    /// `ip_whitelist`, parsed.
    pub allowlist: Vec<IpNet>,
}

impl ClientRules {
    pub fn new(config: ClientConfig) -> Self {
        let allowlist = config
            .ip_whitelist
            .iter()
            .flatten()
            .filter_map(|entry| crate::http::client_ip::parse_net(entry))
            .collect();
        Self { config, allowlist }
    }

    pub fn signatures_required(&self) -> bool {
        self.config.signature_validation != Some(false)
    }
}

impl Registrations {
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        Self {
            store,
            cache: DashMap::new(),
            clients: DashMap::new(),
            ttl,
        }
    }

    pub async fn get(&self, key: &TenantKey) -> Result<Option<Arc<Registration>>, StoreError> {
        if let Some(entry) = self.cache.get(key)
            && entry.1.elapsed() < self.ttl
        {
            return Ok(Some(entry.0.clone()));
        }
        match self.store.find_registration(key).await? {
            Some(registration) => {
                let registration = Arc::new(registration);
                self.put(registration.clone());
                Ok(Some(registration))
            }
            None => {
                self.cache.remove(key);
                Ok(None)
            }
        }
    }

    pub fn put(&self, registration: Arc<Registration>) {
        self.cache
            .insert(registration.tenant.clone(), (registration, Instant::now()));
    }

    pub async fn client_rules(&self, client_id: &Arc<str>) -> Result<Arc<ClientRules>, StoreError> {
        if let Some(entry) = self.clients.get(client_id)
            && entry.1.elapsed() < self.ttl
        {
            return Ok(entry.0.clone());
        }
        let config = self.store.client_config(client_id).await?;
        let rules = Arc::new(ClientRules::new(config));
        self.clients
            .insert(client_id.clone(), (rules.clone(), Instant::now()));
        Ok(rules)
    }

    pub fn put_client_config(&self, client_id: &str, config: ClientConfig) {
        self.clients.insert(
            Arc::from(client_id),
            (Arc::new(ClientRules::new(config)), Instant::now()),
        );
    }
}
