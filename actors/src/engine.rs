//! The engine as the HTTP edge sees it: start it over a store, hand it events,
//! stop it. It admits work against the bounds (ractor mailboxes are unbounded,
//! so the bounds live here) and finds or starts the tenant's actor.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use ractor::{Actor, ActorRef, MessagingErr};
use tokio::sync::oneshot;

use std::collections::HashMap;

use crate::delivery::{Deliverer, DeliveryConfig};
use crate::domain::{AppendedEvent, ClientConfig, NewEvent, PendingEvent, Registration, TenantKey};
use crate::lease::{self, LeaseConfig, Leases};
use crate::limiter::RateWindow;
use crate::store::{PendingTenant, Store, StoreError};
use crate::supervisor::{
    StartError, SupervisorActor, SupervisorArgs, SupervisorMessage, TenantDeps, TenantMap,
    TenantRef, TenantsConfig,
};
use crate::tenant::{Ingest, TenantHealth, TenantMessage};
use crate::writer::{WriterActor, WriterConfig, WriterHandle};

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub writer: WriterConfig,
    pub tenants: TenantsConfig,
    pub delivery: DeliveryConfig,
    /// Each provider's default rate-limit windows, per tenant.
    pub rate_limits: HashMap<String, Vec<RateWindow>>,
    /// Longest a request waits for its event's commit before it is answered 503.
    pub ingest_timeout: Duration,
    /// Longest a request waits for the supervisor to start a tenant's actor.
    pub start_timeout: Duration,
    /// Delivery leases, when several instances share the store.
    pub leases: LeaseConfig,
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
    #[error("rate limit `{window}` reached; retry in {} ms", retry_after.as_millis())]
    RateLimited {
        window: String,
        retry_after: Duration,
    },
}

pub struct Engine {
    config: EngineConfig,
    writer: WriterHandle,
    supervisor: ActorRef<SupervisorMessage>,
    tenants: TenantMap,
    store: Arc<dyn Store>,
    leases: Arc<Leases>,
    heartbeat: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Engine {
    /// Starts the actors, then (in the background) a tenant actor for every
    /// tenant with undelivered events, so a restart resumes delivery. On a
    /// shared store the lease heartbeat does that, for the tenants it holds.
    pub async fn start(
        store: Arc<dyn Store>,
        deliverer: Arc<dyn Deliverer>,
        config: EngineConfig,
    ) -> Result<Arc<Self>, ractor::SpawnErr> {
        let (writer, _) = WriterActor::start(store.clone(), config.writer.clone()).await?;
        let tenants: TenantMap = Arc::new(DashMap::new());
        let leases = Arc::new(Leases::new(store.is_shared()));
        let deps = TenantDeps {
            leases: leases.clone(),
            writer: writer.clone(),
            store: store.clone(),
            deliverer,
            delivery: config.delivery.clone(),
            rate_limits: Arc::new(config.rate_limits.clone()),
        };
        let (supervisor, _) = Actor::spawn(
            None,
            SupervisorActor,
            SupervisorArgs {
                tenants: tenants.clone(),
                deps,
                config: config.tenants.clone(),
            },
        )
        .await?;
        let engine = Arc::new(Self {
            config,
            writer,
            supervisor,
            tenants,
            store: store.clone(),
            leases: leases.clone(),
            heartbeat: std::sync::Mutex::new(None),
        });
        if leases.is_shared() {
            let task = tokio::spawn(keep_leases(
                Arc::downgrade(&engine),
                store,
                leases,
                engine.config.leases.clone(),
            ));
            *engine.heartbeat.lock().expect("heartbeat lock") = Some(task);
        } else {
            tokio::spawn(resume_pending(Arc::downgrade(&engine), store));
        }
        Ok(engine)
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
            Ok(Ok(result)) => result,
            // The actor died with our event in its mailbox: it was never committed.
            Ok(Err(_)) => Err(IngestError::TenantUnavailable(
                "tenant actor failed before the event was committed".into(),
            )),
            Err(_) => Err(IngestError::Timeout),
        }
    }

    /// Logs a rejected request through its tenant's actor, which writes one
    /// row per interval (counting the rest) and only while the writer has
    /// room, so a flood of bad requests can neither flood the store nor crowd
    /// out good ones. Returns false when the tenant could not be reached.
    pub async fn log_rejected(&self, event: NewEvent) -> bool {
        match self.tenant(&event.tenant).await {
            Ok(tenant) => tenant
                .actor
                .send_message(TenantMessage::Rejected(Box::new(event)))
                .is_ok(),
            Err(_) => false,
        }
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

    /// Tells the tenant's running actor (if any) about a changed registration;
    /// an actor started later reads it from the store.
    pub fn registration_changed(&self, registration: Arc<Registration>) {
        if let Some(tenant) = self.tenants.get(&registration.tenant) {
            let _ = tenant
                .actor
                .send_message(TenantMessage::RegistrationChanged(registration.clone()));
        }
    }

    /// Puts a client's changed configuration in force in its running tenant
    /// actors; actors started later read it from the store.
    pub fn client_config_changed(&self, client_id: &str, config: Arc<ClientConfig>) {
        for tenant in self.tenants.iter() {
            if &*tenant.key().client_id == client_id {
                let _ = tenant
                    .actor
                    .send_message(TenantMessage::ClientConfigChanged(config.clone()));
            }
        }
    }

    /// Hands a manually requeued event to its tenant's actor, starting it if needed
    /// (a freshly started actor finds the event in the store by itself).
    pub async fn requeue(
        &self,
        tenant: &TenantKey,
        event: PendingEvent,
    ) -> Result<(), IngestError> {
        let actor = self.tenant(tenant).await?.actor;
        if actor
            .send_message(TenantMessage::Requeued(Box::new(event)))
            .is_err()
        {
            // Stopped meanwhile: its successor reads the event from the store.
            self.start_tenant(tenant).await?;
        }
        Ok(())
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

    /// Every running tenant actor's health, asked all at once; an actor too
    /// busy to answer within the start timeout is left out.
    pub async fn running_tenant_health(&self) -> Vec<TenantHealth> {
        let actors: Vec<ActorRef<TenantMessage>> = self
            .tenants
            .iter()
            .map(|tenant| tenant.actor.clone())
            .collect();
        let mut asks = tokio::task::JoinSet::new();
        for actor in actors {
            let timeout = self.config.start_timeout;
            asks.spawn(async move { actor.call(TenantMessage::Health, Some(timeout)).await });
        }
        let mut healths = Vec::new();
        while let Some(answer) = asks.join_next().await {
            if let Ok(Ok(ractor::rpc::CallResult::Success(health))) = answer {
                healths.push(health);
            }
        }
        healths
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
        if let Some(heartbeat) = self.heartbeat.lock().expect("heartbeat lock").take() {
            heartbeat.abort();
        }
        // Let attempts already out finish and be recorded: an attempt cut off
        // here would be delivered again by whoever delivers the tenant next.
        self.leases.close();
        let deadline = tokio::time::Instant::now() + timeout / 2;
        while self
            .running_tenant_health()
            .await
            .iter()
            .any(|health| health.in_flight.is_some())
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = self
            .supervisor
            .stop_and_wait(Some("shutdown".into()), Some(timeout))
            .await;
        // Drain, not stop: a stop signal would overtake rows still in the mailbox.
        let _ = self.writer.actor.drain_and_wait(Some(timeout)).await;
        // Last: the attempts recorded above were made under these leases.
        lease::release(&*self.store, &self.leases).await;
    }

    /// This instance's leases.
    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    /// Sends a message to a running tenant actor (tests use it to inject faults).
    pub fn send_to_tenant(&self, key: &TenantKey, message: TenantMessage) -> bool {
        self.tenants
            .get(key)
            .is_some_and(|tenant| tenant.actor.send_message(message).is_ok())
    }
}

/// How long an early claim waits for other tenants asking for one.
const EARLY_CLAIM_COALESCE: Duration = Duration::from_millis(20);

/// Heartbeats until the engine goes away: renews and claims leases, and wakes
/// the actor of every held tenant with undelivered events.
async fn keep_leases(
    engine: std::sync::Weak<Engine>,
    store: Arc<dyn Store>,
    leases: Arc<Leases>,
    config: LeaseConfig,
) {
    let mut ticker = tokio::time::interval(config.heartbeat);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let to_wake = tokio::select! {
            _ = ticker.tick() => lease::heartbeat(&*store, &leases, &config).await,
            () = leases.claim_requested() => {
                // Requests in a burst (many new tenants) share one claim.
                tokio::time::sleep(EARLY_CLAIM_COALESCE).await;
                lease::claim_wanted(&*store, &leases, &config).await
            }
        };
        match to_wake {
            Ok(pending) => {
                for PendingTenant {
                    tenant: key,
                    up_to,
                    requeued_at,
                } in pending
                {
                    let Some(engine) = engine.upgrade() else {
                        return;
                    };
                    match engine.tenant(&key).await {
                        Ok(tenant) => {
                            let _ = tenant
                                .actor
                                .send_message(TenantMessage::Wake { up_to, requeued_at });
                        }
                        Err(err) => {
                            tracing::warn!(tenant = %key, error = %err, "cannot wake tenant");
                        }
                    }
                }
            }
            // Leases not renewed lapse here before they can lapse in the store.
            Err(err) => tracing::warn!(error = %err, "lease heartbeat or claim failed"),
        }
        if engine.strong_count() == 0 {
            return;
        }
    }
}

/// Starts an actor for every tenant with undelivered events, retrying while
/// the store is unavailable. Ends early if the engine is dropped.
async fn resume_pending(engine: std::sync::Weak<Engine>, store: Arc<dyn Store>) {
    let mut wait = Duration::from_millis(200);
    loop {
        match store.tenants_with_pending().await {
            Ok(tenants) => {
                for PendingTenant { tenant, .. } in tenants {
                    let Some(engine) = engine.upgrade() else {
                        return;
                    };
                    if let Err(err) = engine.tenant(&tenant).await {
                        tracing::warn!(tenant = %tenant, error = %err, "cannot resume tenant");
                    }
                }
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot list tenants to resume; retrying");
                if engine.strong_count() == 0 {
                    return;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    }
}
