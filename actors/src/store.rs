//! The store port: what the engine and the HTTP edge need from durable storage.
//! `src/store/` implements it for Postgres and for the embedded single-node file.

use async_trait::async_trait;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{
    AppendedEvent, AttemptRecord, ClientConfig, EventCounts, EventFilter, EventId, EventPage,
    NewEvent, PendingEvent, Registration, RegistrationUpsert, Requeue, StoredAttempt, StoredEvent,
    TenantBacklog, TenantKey, Upserted,
};

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached or did not answer in time; the caller may try again later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store refused this data (a constraint or a value it cannot hold).
    #[error("store rejected the data: {0}")]
    Rejected(String),
    #[error("store failure: {0}")]
    Internal(String),
}

impl StoreError {
    /// True when the failure may be caused by one row of a batch, so committing
    /// the rows one by one would let the others through.
    pub fn may_be_row_specific(&self) -> bool {
        matches!(self, Self::Rejected(_))
    }
}

/// How long events are kept, and how the store lays them out in time.
#[derive(Clone, Debug)]
pub struct Retention {
    pub max_age: Duration,
    /// Postgres: the span of one partition.
    pub partition_span: Duration,
    /// Postgres: partitions kept ready ahead of now.
    pub partitions_ahead: u32,
}

/// A tenant with undelivered events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingTenant {
    pub tenant: TenantKey,
    /// The highest undelivered sequence number.
    pub up_to: i64,
    /// When a failed event was last put back by hand (shared stores only).
    pub requeued_at: Option<OffsetDateTime>,
}

/// What one maintenance pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maintenance {
    pub partitions_created: u32,
    pub partitions_dropped: u32,
    /// Expired partitions kept because they hold a pending or retrying event.
    pub partitions_kept: u32,
    /// The embedded store deletes rows instead of dropping partitions.
    pub rows_deleted: u64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Commits all rows in one transaction, giving each sequenced row its
    /// tenant's next sequence number in slice order. A row whose
    /// `body_sha256` matches an accepted row of its tenant within the store's
    /// dedup window (or an earlier row of the batch) is not stored: its
    /// outcome names the original. Returns one outcome per row, in order,
    /// only after the commit.
    async fn append_events(&self, events: &[NewEvent]) -> Result<Vec<AppendedEvent>, StoreError>;

    async fn upsert_registration(&self, upsert: RegistrationUpsert)
    -> Result<Upserted, StoreError>;

    async fn find_registration(
        &self,
        tenant: &TenantKey,
    ) -> Result<Option<Registration>, StoreError>;

    async fn find_event(&self, id: EventId) -> Result<Option<StoredEvent>, StoreError>;

    /// The tenant's sequenced events with `seq > after_seq`, in sequence order.
    async fn tenant_events(
        &self,
        tenant: &TenantKey,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// The tenant's events waiting for delivery (`pending` or `retrying`) with
    /// `seq > after_seq`, in sequence order.
    async fn pending_events(
        &self,
        tenant: &TenantKey,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<PendingEvent>, StoreError>;

    /// How much of the tenant's traffic waits for delivery, and since when.
    async fn tenant_backlog(&self, tenant: &TenantKey) -> Result<TenantBacklog, StoreError>;

    /// Every tenant with events waiting for delivery: to resume them at
    /// start-up, and to tell a lease holder cheaply whether the store has
    /// events it has not seen.
    async fn tenants_with_pending(&self) -> Result<Vec<PendingTenant>, StoreError>;

    /// Stores delivery attempts and moves their events to each attempt's
    /// outcome, in one transaction. Recording an attempt twice is harmless.
    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> Result<(), StoreError>;

    /// Every attempt at delivering the event, oldest first.
    async fn event_attempts(&self, id: EventId) -> Result<Vec<StoredAttempt>, StoreError>;

    /// Puts a `failed` event back to `pending` for a new round of attempts.
    async fn requeue_failed(&self, id: EventId) -> Result<Requeue, StoreError>;

    /// Replaces a registration's secret with `secret`; the old one stays valid
    /// until `old_valid_until`. `None` when there is no such registration.
    async fn rotate_secret(
        &self,
        webhook_id: uuid::Uuid,
        secret: secrecy::SecretString,
        old_valid_until: time::OffsetDateTime,
    ) -> Result<Option<Registration>, StoreError>;

    /// Registrations in (client_id, provider) order, optionally of one client,
    /// leaving out the tenants in `except`; with the count of all that match.
    async fn list_registrations(
        &self,
        client_id: Option<&str>,
        except: &[TenantKey],
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<Registration>, i64), StoreError>;

    /// Every registration of a client, one per provider.
    async fn client_registrations(&self, client_id: &str) -> Result<Vec<Registration>, StoreError>;

    /// The client's overrides of the server's defaults (empty when it has none).
    async fn client_config(&self, client_id: &str) -> Result<ClientConfig, StoreError>;

    async fn save_client_config(
        &self,
        client_id: &str,
        config: &ClientConfig,
    ) -> Result<(), StoreError>;

    /// Keeps a new client key (its SHA-256 only).
    async fn create_client_key(
        &self,
        key_id: uuid::Uuid,
        client_id: &str,
        key_sha256: [u8; 32],
    ) -> Result<(), StoreError>;

    /// The client a live (unrevoked) key belongs to, with the key's id.
    async fn find_client_key(
        &self,
        key_sha256: [u8; 32],
    ) -> Result<Option<(uuid::Uuid, String)>, StoreError>;

    /// Revokes a client's key; false when the client has no such live key.
    async fn revoke_client_key(
        &self,
        client_id: &str,
        key_id: uuid::Uuid,
    ) -> Result<bool, StoreError>;

    /// Events matching `filter`, newest first; `total` counts at most `count_cap`.
    async fn list_events(
        &self,
        filter: &EventFilter,
        limit: u32,
        offset: u32,
        count_cap: u32,
    ) -> Result<EventPage, StoreError>;

    /// Events matching `filter` counted per `bucket_seconds` of `created_at`:
    /// `(bucket start, events, refused or failed events)`, oldest first.
    async fn event_timeline(
        &self,
        filter: &EventFilter,
        bucket_seconds: u32,
    ) -> Result<Vec<(OffsetDateTime, i64, i64)>, StoreError>;

    /// Events matching `filter` counted by provider and status.
    async fn count_events(&self, filter: &EventFilter) -> Result<EventCounts, StoreError>;

    /// A cheap round trip, for health checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Whether several instances may share this store, and so need leases.
    fn is_shared(&self) -> bool;

    /// Renews `owner`'s live leases and takes those of `wanted` tenants that
    /// are free or expired, each for `ttl`. Returns every lease `owner` holds
    /// now, with its fencing token (new tokens are never reused).
    async fn claim_leases(
        &self,
        owner: Uuid,
        ttl: Duration,
        wanted: &[TenantKey],
    ) -> Result<Vec<(TenantKey, i64)>, StoreError>;

    /// Gives up all of `owner`'s leases.
    async fn release_leases(&self, owner: Uuid) -> Result<(), StoreError>;

    /// Keeps the data's size in check: prepares room for the events to come
    /// (Postgres: partitions ahead of time) and removes events older than
    /// `retention.max_age` with their attempts, never a pending or retrying one.
    async fn maintain(&self, retention: &Retention) -> Result<Maintenance, StoreError>;
}
