//! The words of DESIGN.md as types: tenants, events, registrations.

use std::fmt;
use std::sync::Arc;

use secrecy::SecretString;
use time::OffsetDateTime;
use uuid::Uuid;

/// One (clientId, provider) pair: the unit of isolation, ordering and rate limiting.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantKey {
    pub client_id: Arc<str>,
    pub provider: Arc<str>,
}

impl TenantKey {
    pub fn new(client_id: impl Into<Arc<str>>, provider: impl Into<Arc<str>>) -> Self {
        Self {
            client_id: client_id.into(),
            provider: provider.into(),
        }
    }
}

impl fmt::Display for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.client_id)
    }
}

/// The id of a `webhook_logs` row; the `eventId` a provider gets back.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct EventId(pub Uuid);

impl EventId {
    /// UUID v7 keeps ids roughly time-ordered, which keeps the primary-key index append-mostly.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a logged event stands. Stored as its lower-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventStatus {
    /// Committed, not yet delivered.
    Pending,
    Delivered,
    Retrying,
    /// Dead after the retry policy.
    Failed,
    /// Accepted but the tenant did not subscribe to its type.
    Ignored,
    /// Authentication or validation failed; kept so operators can see why.
    Rejected,
    RateLimited,
}

impl EventStatus {
    pub const ALL: [EventStatus; 7] = [
        Self::Pending,
        Self::Delivered,
        Self::Retrying,
        Self::Failed,
        Self::Ignored,
        Self::Rejected,
        Self::RateLimited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Ignored => "ignored",
            Self::Rejected => "rejected",
            Self::RateLimited => "rate_limited",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// Accepted events take the tenant's next sequence number; rejected and
    /// rate-limited rows are diagnostics and stand outside the tenant's order.
    pub fn is_sequenced(self) -> bool {
        !matches!(self, Self::Rejected | Self::RateLimited)
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row on its way into `webhook_logs`.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub id: EventId,
    /// The tenant's registration; `None` only for rows rejected before a tenant was known.
    pub webhook_id: Option<Uuid>,
    pub tenant: TenantKey,
    pub event_type: String,
    pub status: EventStatus,
    /// The body exactly as the provider sent it (truncated for rejected rows).
    pub payload: Option<String>,
    pub error_message: Option<String>,
    pub received_at: OffsetDateTime,
    /// SHA-256 of the raw body, for accepted rows: a provider's retry of the
    /// same request is recognised by it.
    pub body_sha256: Option<[u8; 32]>,
}

/// What the store answers for each appended row, after COMMIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendedEvent {
    /// The new row's id, or for a duplicate the id of the event it repeats.
    pub id: EventId,
    /// The tenant's sequence number, for sequenced statuses.
    pub seq: Option<i64>,
    /// The body repeats one accepted for the tenant within the dedup window;
    /// nothing was stored.
    pub duplicate: bool,
}

/// An event as the store keeps it.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub id: EventId,
    pub webhook_id: Option<Uuid>,
    pub tenant: TenantKey,
    pub seq: Option<i64>,
    pub event_type: String,
    pub status: EventStatus,
    pub payload: Option<String>,
    pub error_message: Option<String>,
    pub created_at: OffsetDateTime,
    /// Delivery attempts made so far.
    pub attempts: i32,
    /// How long the client took to answer the latest attempt, in ms.
    pub response_time: Option<i32>,
    pub next_retry_at: Option<OffsetDateTime>,
    pub delivered_at: Option<OffsetDateTime>,
}

/// A tenant's registration: where its events go and the secret both sides sign with.
#[derive(Clone, Debug)]
pub struct Registration {
    pub webhook_id: Uuid,
    pub tenant: TenantKey,
    pub url: String,
    pub events: Vec<String>,
    pub secret: SecretString,
    /// The secret a rotation replaced, and until when it still counts.
    pub previous_secret: Option<(SecretString, OffsetDateTime)>,
    pub is_active: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Registration {
    pub fn subscribes_to(&self, event_type: &str) -> bool {
        self.events.iter().any(|e| e == event_type)
    }

    /// The replaced secret, while its grace period lasts.
    pub fn previous_secret_at(&self, now: OffsetDateTime) -> Option<&SecretString> {
        self.previous_secret
            .as_ref()
            .filter(|(_, until)| now < *until)
            .map(|(secret, _)| secret)
    }
}

/// A register call: creates the tenant's registration or updates it in place.
#[derive(Clone, Debug)]
pub struct RegistrationUpsert {
    /// Used only when the tenant has no registration yet.
    pub new_webhook_id: Uuid,
    pub tenant: TenantKey,
    pub url: String,
    pub events: Vec<String>,
    /// A secret the caller chose; replaces the stored one when present.
    pub secret: Option<SecretString>,
    /// The secret a new registration gets when the caller chose none.
    pub generated_secret: SecretString,
}

/// The outcome of a register call.
#[derive(Clone, Debug)]
pub struct Upserted {
    pub registration: Registration,
    pub created: bool,
}

/// An event waiting for delivery, as its tenant's actor queues it.
#[derive(Clone, Debug)]
pub struct PendingEvent {
    pub id: EventId,
    pub seq: i64,
    pub event_type: String,
    /// The provider's body as received; the envelope's `data` comes from it.
    pub payload: String,
    pub received_at: OffsetDateTime,
    /// Attempts made in all; the next attempt is numbered one more.
    pub attempts: i32,
    /// Attempts in the current round, which the retry policy counts.
    pub round_attempts: i32,
    pub next_retry_at: Option<OffsetDateTime>,
}

/// One delivery attempt and where it leaves its event.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub event_id: EventId,
    pub attempt: i32,
    pub round_attempts: i32,
    pub status_code: Option<i32>,
    pub response_time_ms: i32,
    /// A bounded slice of what the client answered.
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub attempted_at: OffsetDateTime,
    /// `Delivered`, `Retrying` or `Failed`.
    pub outcome: EventStatus,
    pub next_retry_at: Option<OffsetDateTime>,
    /// The lease token it was made under: the store ignores the outcome when
    /// the tenant's lease has moved on since (`None`: a store of one instance).
    pub lease_token: Option<i64>,
}

/// An attempt as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAttempt {
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub response_time_ms: i32,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub created_at: OffsetDateTime,
}

/// What asking for a manual retry of an event came to.
#[derive(Clone, Debug)]
pub enum Requeue {
    NotFound,
    /// Only failed events are retried by hand; this one is in another state.
    NotFailed(EventStatus),
    Requeued(TenantKey, PendingEvent),
}

/// What a client changed of the server's defaults; `None` keeps the default.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientConfig {
    pub retry_policy: Option<RetryOverride>,
    pub signature_validation: Option<bool>,
    /// IPs and CIDRs allowed to post the client's webhooks; empty allows all.
    pub ip_whitelist: Option<Vec<String>>,
    pub rate_limiting: Option<RateLimitOverride>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryOverride {
    pub max_retries: u32,
    /// Milliseconds.
    pub retry_delays: Vec<u64>,
    pub exponential_backoff: bool,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitOverride {
    pub enabled: bool,
    /// With `window_ms`, replaces the provider's windows; `None` keeps them.
    pub max_requests: Option<u32>,
    pub window_ms: Option<u64>,
}

/// A tenant's delivery backlog as the store sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantBacklog {
    /// Events waiting for delivery (`pending` or `retrying`).
    pub undelivered: i64,
    pub oldest_undelivered_at: Option<OffsetDateTime>,
    pub last_delivered_at: Option<OffsetDateTime>,
}

/// Which events an operator's log query wants. Every field narrows.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub provider: Option<String>,
    pub client_id: Option<String>,
    pub status: Option<EventStatus>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

/// A page of events, newest first.
#[derive(Clone, Debug)]
pub struct EventPage {
    pub events: Vec<StoredEvent>,
    /// Matching events, counted up to a cap so a count never scans millions of rows.
    pub total: i64,
    /// True when there are more than `total` (the count stopped at the cap).
    pub total_capped: bool,
}

/// Counts of a period's events by provider and status, for stats.
#[derive(Clone, Debug, Default)]
pub struct EventCounts {
    /// (provider, status, events, summed response time in ms, events with a response time)
    pub rows: Vec<(String, EventStatus, i64, i64, i64)>,
}
