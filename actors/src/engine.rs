//! The engine as the HTTP edge sees it: start it over a store, hand it events,
//! stop it. It admits work against the bounds (ractor mailboxes are unbounded,
//! so the bounds live here) and finds or starts the tenant's actor.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use ractor::{Actor, ActorRef, MessagingErr};
use tokio::sync::oneshot;

use crate::domain::{AppendedEvent, NewEvent, TenantKey};
use crate::store::{Store, StoreError};
use crate::supervisor::{
    StartError, SupervisorActor, SupervisorArgs, SupervisorMessage, TenantMap, TenantRef,
    TenantsConfig,
};
use crate::tenant::{Ingest, TenantHealth, TenantMessage};
use crate::writer::{Append, WriterActor, WriterConfig, WriterHandle};

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub writer: WriterConfig,
    pub tenants: TenantsConfig,
    /// Longest a request waits for its event's commit before it is answered 503.
    pub ingest_timeout: Duration,
    /// Longest a request waits for the supervisor to start a tenant's actor.
    pub start_timeout: Duration,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    #[error("too many of this tenant's events are waiting to be committed")]
    TenantOverloaded,
    #[error("too many events are waiting to be committed")]
    ServerOverloaded,
    #[error("tenant is unavailable: {0}")]
    TenantUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the commit did not finish in time")]
    Timeout,
}

pub struct Engine {
    config: EngineConfig,
    writer: WriterHandle,
    supervisor: ActorRef<SupervisorMessage>,
    tenants: TenantMap,
}

impl Engine {
    pub async fn start(
        store: Arc<dyn Store>,
        config: EngineConfig,
    ) -> Result<Self, ractor::SpawnErr> {
        let (writer, _) = WriterActor::start(store, config.writer.clone()).await?;
        let tenants: TenantMap = Arc::new(DashMap::new());
        let (supervisor, _) = Actor::spawn(
            None,
            SupervisorActor,
            SupervisorArgs {
                tenants: tenants.clone(),
                writer: writer.clone(),
                config: config.tenants.clone(),
            },
        )
        .await?;
        Ok(Self {
            config,
            writer,
            supervisor,
            tenants,
        })
    }

    /// Commits an accepted event through its tenant's actor and the writer;
    /// returns only after the commit.
    pub async fn ingest(&self, event: NewEvent) -> Result<AppendedEvent, IngestError> {
        let mut tenant = self.tenant(&event.tenant).await?;
        let place = tenant
            .in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| IngestError::TenantOverloaded)?;
        let admission = self
            .writer
            .try_reserve()
            .ok_or(IngestError::ServerOverloaded)?
            .with_tenant_place(place);

        let (reply, answer) = oneshot::channel();
        let mut ingest = Box::new(Ingest {
            event,
            reply: reply.into(),
            admission,
        });
        // An actor that stopped (idle, or failed) since we looked it up refuses
        // the message; the supervisor then starts a fresh one. Once is enough.
        for attempt in 0..2 {
            match tenant.actor.send_message(TenantMessage::Ingest(ingest)) {
                Ok(()) => break,
                Err(MessagingErr::SendErr(TenantMessage::Ingest(returned))) if attempt == 0 => {
                    ingest = returned;
                    tenant = self.start_tenant(&ingest.event.tenant).await?;
                }
                Err(_) => {
                    return Err(IngestError::TenantUnavailable(
                        "tenant actor stopped".into(),
                    ));
                }
            }
        }

        match tokio::time::timeout(self.config.ingest_timeout, answer).await {
            Ok(Ok(result)) => result.map_err(IngestError::from),
            // The actor died with our event in its mailbox: it was never committed.
            Ok(Err(_)) => Err(IngestError::TenantUnavailable(
                "tenant actor failed before the event was committed".into(),
            )),
            Err(_) => Err(IngestError::Timeout),
        }
    }

    /// Logs a rejected request without waiting for its commit. Best effort: when
    /// the writer's queue is full the row is dropped (returns false), so a flood
    /// of bad requests cannot crowd out good ones.
    pub fn log_rejected(&self, event: NewEvent) -> bool {
        let Some(admission) = self.writer.try_reserve() else {
            return false;
        };
        self.writer.append(Append {
            event,
            reply: None,
            notify: None,
            admission,
        });
        true
    }

    /// The tenant's running actor, started if needed.
    pub async fn tenant(&self, key: &TenantKey) -> Result<TenantRef, IngestError> {
        if let Some(tenant) = self.tenants.get(key) {
            return Ok(tenant.clone());
        }
        self.start_tenant(key).await
    }

    async fn start_tenant(&self, key: &TenantKey) -> Result<TenantRef, IngestError> {
        let key = key.clone();
        let reply = self
            .supervisor
            .call(
                |reply| SupervisorMessage::Start(key, reply),
                Some(self.config.start_timeout),
            )
            .await
            .map_err(|err| IngestError::TenantUnavailable(err.to_string()))?;
        match reply {
            ractor::rpc::CallResult::Success(Ok(tenant)) => Ok(tenant),
            ractor::rpc::CallResult::Success(Err(err @ StartError::BackingOff(_)))
            | ractor::rpc::CallResult::Success(Err(err @ StartError::Spawn(_))) => {
                Err(IngestError::TenantUnavailable(err.to_string()))
            }
            ractor::rpc::CallResult::Timeout | ractor::rpc::CallResult::SenderError => Err(
                IngestError::TenantUnavailable("supervisor did not answer".into()),
            ),
        }
    }

    /// Asks a running tenant actor about itself; `None` when it is not running.
    pub async fn tenant_health(&self, key: &TenantKey) -> Option<TenantHealth> {
        let actor = self.tenants.get(key)?.actor.clone();
        match actor
            .call(TenantMessage::Health, Some(self.config.start_timeout))
            .await
        {
            Ok(ractor::rpc::CallResult::Success(health)) => Some(health),
            _ => None,
        }
    }

    /// Whether the writer and the supervisor are both up, so events can be taken.
    pub fn is_running(&self) -> bool {
        self.writer.actor.get_status() == ractor::ActorStatus::Running
            && self.supervisor.get_status() == ractor::ActorStatus::Running
    }

    /// Tenant actors running now.
    pub fn running_tenants(&self) -> usize {
        self.tenants.len()
    }

    /// Rows admitted and not yet committed.
    pub fn writer_queue_depth(&self) -> usize {
        self.writer.queue_depth()
    }

    /// Stops tenant actors, then lets the writer commit everything it holds.
    pub async fn shutdown(&self, timeout: Duration) {
        let _ = self
            .supervisor
            .stop_and_wait(Some("shutdown".into()), Some(timeout))
            .await;
        // Drain, not stop: a stop signal would overtake rows still in the mailbox.
        let _ = self.writer.actor.drain_and_wait(Some(timeout)).await;
    }

    /// Sends a message to a running tenant actor (tests use it to inject faults).
    pub fn send_to_tenant(&self, key: &TenantKey, message: TenantMessage) -> bool {
        self.tenants
            .get(key)
            .is_some_and(|tenant| tenant.actor.send_message(message).is_ok())
    }
}
