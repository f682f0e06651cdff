//! Which tenants this instance may deliver. Several instances share one
//! store; for each tenant only the holder of its lease delivers, so events go
//! out in order and once. A heartbeat renews the leases held, takes free or
//! expired ones of tenants with undelivered events, and wakes their actors.
//!
//! A lease is trusted locally only until `heartbeat start + ttl - margin`:
//! the store's expiry is at least `heartbeat start + ttl`, so delivery here
//! stops before any other instance can take the tenant over. The lease's
//! token fences what a stale holder writes: the store ignores an attempt
//! recorded under a token that is no longer the tenant's.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dashmap::{DashMap, DashSet};
use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

use crate::domain::TenantKey;
use crate::store::{PendingTenant, Store};

#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// How long a lease lasts in the store unless renewed.
    pub ttl: Duration,
    /// How often the heartbeat renews, claims and wakes tenants.
    pub heartbeat: Duration,
}

/// What a tenant actor may do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// A store of one instance: always deliver, no fencing.
    Sole,
    /// This instance holds the tenant's lease under this token.
    Held(i64),
    /// Another instance delivers this tenant, or nobody may yet.
    NotHeld,
}

impl Grant {
    pub fn may_deliver(self) -> bool {
        !matches!(self, Grant::NotHeld)
    }

    /// The fencing token to record attempts under.
    pub fn token(self) -> Option<i64> {
        match self {
            Grant::Held(token) => Some(token),
            Grant::Sole | Grant::NotHeld => None,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Lease {
    token: i64,
    trusted_until: Instant,
}

/// The leases this instance holds, as its tenant actors see them.
pub struct Leases {
    owner: Uuid,
    /// False for a store only one instance can use: every tenant is ours.
    shared: bool,
    held: DashMap<TenantKey, Lease>,
    /// Tenants another instance held at the last heartbeat.
    elsewhere: DashSet<TenantKey>,
    /// Tenants here with work and no holder, to be claimed at once.
    wanting: DashSet<TenantKey>,
    claim_soon: Notify,
    /// Shutting down: no new attempts anywhere, whatever is held.
    closing: AtomicBool,
}

impl Leases {
    pub fn new(shared: bool) -> Self {
        Self {
            owner: Uuid::now_v7(),
            shared,
            held: DashMap::new(),
            elsewhere: DashSet::new(),
            wanting: DashSet::new(),
            claim_soon: Notify::new(),
            closing: AtomicBool::new(false),
        }
    }

    /// This instance's id in the lease table.
    pub fn owner(&self) -> Uuid {
        self.owner
    }

    pub fn is_shared(&self) -> bool {
        self.shared
    }

    pub fn grant(&self, key: &TenantKey) -> Grant {
        if self.closing.load(Ordering::Relaxed) {
            return Grant::NotHeld;
        }
        if !self.shared {
            return Grant::Sole;
        }
        match self.held.get(key) {
            Some(lease) if Instant::now() < lease.trusted_until => Grant::Held(lease.token),
            _ => Grant::NotHeld,
        }
    }

    /// A tenant here has events to deliver and no lease: unless another
    /// instance was seen holding it, claim it now rather than at the next
    /// heartbeat (a new tenant's first events would wait for it otherwise).
    pub fn want(&self, key: &TenantKey) {
        if self.shared
            && !self.elsewhere.contains(key)
            && !self.held.contains_key(key)
            && self.wanting.insert(key.clone())
        {
            self.claim_soon.notify_one();
        }
    }

    /// Resolves when a tenant asked to be claimed at once.
    pub async fn claim_requested(&self) {
        self.claim_soon.notified().await;
    }

    fn take_wanting(&self) -> Vec<TenantKey> {
        let keys: Vec<TenantKey> = self.wanting.iter().map(|k| k.clone()).collect();
        for key in &keys {
            self.wanting.remove(key);
        }
        keys
    }

    /// Leases trusted now.
    pub fn held_count(&self) -> usize {
        let now = Instant::now();
        self.held.iter().filter(|l| now < l.trusted_until).count()
    }

    /// Replaces what is held with what the store just granted; returns the
    /// tenants newly held (or held under a new token).
    fn settle(&self, granted: Vec<(TenantKey, i64)>, trusted_until: Instant) -> Vec<TenantKey> {
        let granted_keys: HashSet<&TenantKey> = granted.iter().map(|(key, _)| key).collect();
        self.held.retain(|key, _| granted_keys.contains(key));
        let mut fresh = Vec::new();
        for (key, token) in granted {
            let previous = self.held.insert(
                key.clone(),
                Lease {
                    token,
                    trusted_until,
                },
            );
            if previous.is_none_or(|p| p.token != token) {
                fresh.push(key);
            }
        }
        fresh
    }

    /// Stops every tenant starting another attempt, ahead of shutdown.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Relaxed);
    }

    pub fn forget_all(&self) {
        self.held.clear();
    }
}

/// One heartbeat: renew what is held, claim free tenants with work, and
/// return the held tenants that have undelivered events (to be woken).
pub async fn heartbeat(
    store: &dyn Store,
    leases: &Leases,
    config: &LeaseConfig,
) -> Result<Vec<PendingTenant>, crate::store::StoreError> {
    // Renewal first, on its own: the search for tenants with work reads the
    // undelivered events, which takes longer as a backlog grows, and must not
    // hold up the renewal until held leases lapse.
    let started = Instant::now();
    let renewed = store.claim_leases(leases.owner, config.ttl, &[]).await?;
    // A tenth of the TTL covers the clocks' drift and the statement's own time.
    leases.settle(renewed, started + config.ttl - config.ttl / 10);

    let pending = store.tenants_with_pending().await?;
    let wanted: Vec<TenantKey> = pending.iter().map(|p| p.tenant.clone()).collect();
    let started = Instant::now();
    let granted = store
        .claim_leases(leases.owner, config.ttl, &wanted)
        .await?;
    let fresh = leases.settle(granted, started + config.ttl - config.ttl / 10);
    leases.elsewhere.clear();
    for key in wanted {
        if !leases.held.contains_key(&key) {
            leases.elsewhere.insert(key);
        }
    }
    if !fresh.is_empty() {
        tracing::info!(count = fresh.len(), "took over tenant leases");
    }
    Ok(pending
        .into_iter()
        .filter(|p| leases.grant(&p.tenant).may_deliver())
        .collect())
}

/// Claims just the tenants that asked (no search for work): returns those
/// now held here, to be woken and to read the store.
pub async fn claim_wanted(
    store: &dyn Store,
    leases: &Leases,
    config: &LeaseConfig,
) -> Result<Vec<PendingTenant>, crate::store::StoreError> {
    let wanted = leases.take_wanting();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let started = Instant::now();
    let granted = store
        .claim_leases(leases.owner, config.ttl, &wanted)
        .await?;
    leases.settle(granted, started + config.ttl - config.ttl / 10);
    for key in &wanted {
        if !leases.held.contains_key(key) {
            leases.elsewhere.insert(key.clone());
        }
    }
    Ok(wanted
        .into_iter()
        .filter(|key| leases.grant(key).may_deliver())
        .map(|tenant| PendingTenant {
            tenant,
            up_to: i64::MAX,
            requeued_at: None,
        })
        .collect())
}

/// Gives the leases up at shutdown so others take the tenants over at once.
pub async fn release(store: &dyn Store, leases: &Leases) {
    if !leases.shared {
        return;
    }
    leases.forget_all();
    if let Err(err) = store.release_leases(leases.owner).await {
        tracing::warn!(error = %err, "could not release tenant leases; they expire by themselves");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: &str) -> TenantKey {
        TenantKey::new(c, "careem")
    }

    #[test]
    fn an_unshared_store_grants_every_tenant_without_a_token() {
        let leases = Leases::new(false);
        assert_eq!(leases.grant(&key("a")), Grant::Sole);
        assert!(Grant::Sole.may_deliver());
        assert_eq!(Grant::Sole.token(), None);
    }

    #[test]
    fn a_lease_is_trusted_until_its_local_deadline_only() {
        let leases = Leases::new(true);
        assert_eq!(leases.grant(&key("a")), Grant::NotHeld);
        let later = Instant::now() + Duration::from_secs(9);
        assert_eq!(leases.settle(vec![(key("a"), 7)], later), vec![key("a")]);
        assert_eq!(leases.grant(&key("a")), Grant::Held(7));
        assert_eq!(leases.held_count(), 1);
        let lapsed = Instant::now() - Duration::from_millis(1);
        leases.settle(vec![(key("a"), 7)], lapsed);
        assert_eq!(leases.grant(&key("a")), Grant::NotHeld, "lapsed locally");
        assert_eq!(leases.held_count(), 0);
    }

    #[test]
    fn settling_drops_what_was_not_renewed_and_reports_new_tokens() {
        let leases = Leases::new(true);
        let until = Instant::now() + Duration::from_secs(9);
        leases.settle(vec![(key("a"), 1), (key("b"), 1)], until);
        let fresh = leases.settle(vec![(key("b"), 1), (key("c"), 4)], until);
        assert_eq!(fresh, vec![key("c")], "b was renewed, not new");
        assert_eq!(leases.grant(&key("a")), Grant::NotHeld);
        let fresh = leases.settle(vec![(key("b"), 2)], until);
        assert_eq!(fresh, vec![key("b")], "a new token is a new lease");
    }
}
