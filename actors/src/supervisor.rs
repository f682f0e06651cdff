//! Supervisor: starts one TenantActor per tenant on first use, restarts a
//! failed one (with backoff when it keeps failing), and forgets one that
//! stopped because it was idle. Handlers find running tenant actors in a
//! concurrent map the supervisor keeps, so the hot path takes no shared lock;
//! ractor's process-wide name registry is avoided because names collide
//! between engines in one process (every test starts its own).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, ActorStatus, RpcReplyPort,
    SupervisionEvent,
};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::delivery::{Deliverer, DeliveryConfig};
use crate::domain::TenantKey;
use crate::lease::Leases;
use crate::limiter::RateWindow;
use crate::restart::RestartHistory;
use crate::store::Store;
use crate::tenant::{TenantActor, TenantArgs, TenantMessage};
use crate::writer::WriterHandle;

#[derive(Clone, Debug)]
pub struct TenantsConfig {
    /// Events of one tenant admitted and not yet committed; beyond it that tenant gets 503.
    pub max_in_flight: usize,
    /// A tenant actor with nothing to do for this long stops; zero keeps actors forever.
    pub idle_timeout: Duration,
    /// First delay before restarting an actor that failed again soon after a restart.
    pub restart_backoff: Duration,
    pub restart_backoff_max: Duration,
    /// At most one `rejected` and one `rate_limited` row per tenant per interval.
    pub refusal_log_interval: Duration,
}

/// A running tenant actor and its in-flight bound.
#[derive(Clone)]
pub struct TenantRef {
    pub actor: ActorRef<TenantMessage>,
    /// Survives restarts, so a restart does not hand a flooding tenant a fresh allowance.
    pub in_flight: Arc<Semaphore>,
}

pub type TenantMap = Arc<DashMap<TenantKey, TenantRef>>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StartError {
    #[error("tenant {0} is restarting after repeated failures")]
    BackingOff(TenantKey),
    #[error("tenant actor could not start: {0}")]
    Spawn(String),
}

pub enum SupervisorMessage {
    Start(TenantKey, RpcReplyPort<Result<TenantRef, StartError>>),
    /// A backed-off restart is due.
    Restart(TenantKey),
}

/// What every tenant actor is started with.
#[derive(Clone)]
pub struct TenantDeps {
    pub writer: WriterHandle,
    pub store: Arc<dyn Store>,
    pub deliverer: Arc<dyn Deliverer>,
    pub delivery: DeliveryConfig,
    /// Rate-limit windows by provider name.
    pub rate_limits: Arc<HashMap<String, Vec<RateWindow>>>,
    pub leases: Arc<Leases>,
}

pub struct SupervisorArgs {
    pub tenants: TenantMap,
    pub deps: TenantDeps,
    pub config: TenantsConfig,
}

pub struct SupervisorState {
    tenants: TenantMap,
    deps: TenantDeps,
    config: TenantsConfig,
    /// Which tenant each child actor serves, to read supervision events.
    children: HashMap<ActorId, TenantKey>,
    history: HashMap<TenantKey, RestartHistory>,
    /// Tenants waiting out a restart delay; requests for them get 503 meanwhile.
    backing_off: HashSet<TenantKey>,
    /// In-flight bounds of tenants that are between actors (backing off).
    parked_bounds: HashMap<TenantKey, Arc<Semaphore>>,
}

pub struct SupervisorActor;

impl Actor for SupervisorActor {
    type Msg = SupervisorMessage;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: SupervisorArgs,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        Ok(SupervisorState {
            tenants: args.tenants,
            deps: args.deps,
            config: args.config,
            children: HashMap::new(),
            history: HashMap::new(),
            backing_off: HashSet::new(),
            parked_bounds: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: SupervisorMessage,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMessage::Start(key, reply) => {
                let result = if state.backing_off.contains(&key) {
                    Err(StartError::BackingOff(key))
                } else {
                    match running(&state.tenants, &key) {
                        Some(tenant) => Ok(tenant),
                        None => spawn_tenant(&myself, state, key).await,
                    }
                };
                let _ = reply.send(result);
            }
            SupervisorMessage::Restart(key) => {
                state.backing_off.remove(&key);
                if running(&state.tenants, &key).is_none()
                    && let Err(err) = spawn_tenant(&myself, state, key.clone()).await
                {
                    tracing::error!(tenant = %key, error = %err, "tenant restart failed");
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        // The default would stop the supervisor, and every tenant with it, when one child exits.
        match event {
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some(key) = forget_child(state, &cell) else {
                    return Ok(());
                };
                let delay = state
                    .history
                    .entry(key.clone())
                    .or_default()
                    .record_failure(Instant::now(), &state.config);
                tracing::error!(tenant = %key, error = %err, restart_in_ms = delay.as_millis() as u64, "tenant actor failed");
                if delay.is_zero() {
                    if let Err(err) = spawn_tenant(&myself, state, key.clone()).await {
                        tracing::error!(tenant = %key, error = %err, "tenant restart failed");
                    }
                } else {
                    state.backing_off.insert(key.clone());
                    myself.send_after(delay, move || SupervisorMessage::Restart(key));
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                if let Some(key) = forget_child(state, &cell) {
                    tracing::debug!(tenant = %key, reason = ?reason, "tenant actor stopped");
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The tenant's actor if it is alive and taking messages. One still starting
/// counts: starting a second would give the tenant two actors delivering at once.
fn running(tenants: &TenantMap, key: &TenantKey) -> Option<TenantRef> {
    let tenant = tenants.get(key)?;
    (tenant.actor.get_status() < ActorStatus::Draining).then(|| tenant.clone())
}

/// Drops a child that exited from the map (if the map still points at it),
/// keeping its in-flight bound for the next actor of the same tenant.
fn forget_child(state: &mut SupervisorState, cell: &ActorCell) -> Option<TenantKey> {
    let key = state.children.remove(&cell.get_id())?;
    if let Some((_, tenant)) = state
        .tenants
        .remove_if(&key, |_, tenant| tenant.actor.get_id() == cell.get_id())
    {
        state.parked_bounds.insert(key.clone(), tenant.in_flight);
    }
    Some(key)
}

async fn spawn_tenant(
    myself: &ActorRef<SupervisorMessage>,
    state: &mut SupervisorState,
    key: TenantKey,
) -> Result<TenantRef, StartError> {
    let restarts = state.history.get(&key).map_or(0, |h| h.total());
    let args = TenantArgs {
        key: key.clone(),
        writer: state.deps.writer.clone(),
        store: state.deps.store.clone(),
        deliverer: state.deps.deliverer.clone(),
        delivery: state.deps.delivery.clone(),
        rate_limits: state
            .deps
            .rate_limits
            .get(&*key.provider)
            .cloned()
            .unwrap_or_default(),
        refusal_log_interval: state.config.refusal_log_interval,
        idle_timeout: state.config.idle_timeout,
        restarts,
        leases: state.deps.leases.clone(),
    };
    let (actor, _join) = Actor::spawn_linked(None, TenantActor, args, myself.get_cell())
        .await
        .map_err(|err| StartError::Spawn(err.to_string()))?;
    let in_flight = state
        .parked_bounds
        .remove(&key)
        .unwrap_or_else(|| Arc::new(Semaphore::new(state.config.max_in_flight)));
    let tenant = TenantRef { actor, in_flight };
    state.children.insert(tenant.actor.get_id(), key.clone());
    state.tenants.insert(key, tenant.clone());
    Ok(tenant)
}
