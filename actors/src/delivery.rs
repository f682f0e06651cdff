//! The delivery port: how a tenant actor's attempt reaches the client's
//! endpoint. `src/delivery/` implements it over HTTP; the actor only decides
//! when to call it and what the outcome means.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::domain::{PendingEvent, TenantKey};
use crate::retry::RetryPolicy;

/// One attempt to hand over.
#[derive(Clone, Debug)]
pub struct DeliveryRequest {
    pub tenant: TenantKey,
    pub url: String,
    pub secret: SecretString,
    /// During a rotation's grace period, the replaced secret: deliveries carry
    /// a signature by each, so the client may switch keys at its own pace.
    pub previous_secret: Option<SecretString>,
    pub event: PendingEvent,
    pub attempt: i32,
}

/// What an attempt came to.
#[derive(Clone, Debug, Default)]
pub struct DeliveryOutcome {
    /// The client's HTTP status, when it answered at all.
    pub status_code: Option<u16>,
    pub response_time: Duration,
    /// A bounded slice of the client's answer.
    pub response_body: Option<String>,
    /// Why there was no usable answer (timeout, refused connection, refused destination).
    pub error: Option<String>,
}

impl DeliveryOutcome {
    /// Only a 2xx delivers; anything else is a failed attempt.
    pub fn is_success(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
    }

    /// A one-line description of a failure, for logs and health.
    pub fn failure(&self) -> String {
        match (&self.error, self.status_code) {
            (Some(error), _) => error.clone(),
            (None, Some(code)) => format!("HTTP {code}"),
            (None, None) => "no answer".into(),
        }
    }
}

#[async_trait]
pub trait Deliverer: Send + Sync + 'static {
    /// Makes one attempt. Never fails: every failure is an outcome.
    async fn deliver(&self, request: DeliveryRequest) -> DeliveryOutcome;
}

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    pub retry: RetryPolicy,
    /// Events a tenant actor keeps in memory; the rest wait in the store.
    pub window: usize,
    /// Consecutive failed attempts after which a tenant counts as failing.
    pub failing_after: u32,
    /// While failing, attempts are at least this far apart: probes, not a hammering.
    pub probe_interval: Duration,
    /// How often an actor rereads the store for events it was not told about
    /// (its notifications lost to a restart, or accepted by another instance).
    pub reconcile_interval: Duration,
}
