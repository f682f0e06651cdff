//! Tenants' registrations as ingest reads them: from the store, then kept for
//! a short time so a busy tenant costs no store round trip per request.
//! Another instance's change to a registration is seen within the TTL; this
//! instance's own registrations replace the cached copy at once.
//!
//! Misses are not cached: a flood of requests for random clientIds would
//! otherwise grow the cache without bound.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use orderhook_actors::domain::{Registration, TenantKey};
use orderhook_actors::store::{Store, StoreError};
use tokio::time::Instant;

pub struct Registrations {
    store: Arc<dyn Store>,
    cache: DashMap<TenantKey, (Arc<Registration>, Instant)>,
    ttl: Duration,
}

impl Registrations {
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        Self {
            store,
            cache: DashMap::new(),
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
}
