//! TenantActor: one per (clientId, provider). It owns the tenant's mutable
//! state, so nothing on the hot path is shared between tenants.
//!
//! Ingest: it passes each accepted event to the writer. Delivery: it hears
//! about each committed event, keeps the tenant's undelivered events in
//! sequence order (a bounded window, the rest paged from the store), and
//! delivers the head one attempt at a time. The HTTP call runs in a task of
//! its own and reports back; a failed head waits on a single timer and blocks
//! later events until it is delivered or dead. Attempts are recorded through
//! the writer's batches.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::delivery::{Deliverer, DeliveryConfig, DeliveryOutcome, DeliveryRequest};
use crate::domain::{
    AppendedEvent, AttemptRecord, ClientConfig, EventId, EventStatus, NewEvent, PendingEvent,
    Registration, TenantKey,
};
use crate::engine::IngestError;
use crate::lease::{Grant, Leases};
use crate::limiter::{RateLimiter, RateWindow, WindowUsage};
use crate::metrics;
use crate::overrides;
use crate::queue::DeliveryQueue;
use crate::retry::RetryPolicy;
use crate::sampler::RowSampler;
use crate::store::Store;
use crate::writer::{Admission, Append, WriterHandle};

/// Most of a client's answer kept with an attempt.
const RESPONSE_EXCERPT_BYTES: usize = 1024;

/// An accepted event on its way to the writer, with the request waiting for it.
pub struct Ingest {
    pub event: NewEvent,
    pub reply: RpcReplyPort<Result<AppendedEvent, IngestError>>,
    pub admission: Admission,
}

/// From the writer: one of this tenant's events is committed.
#[derive(Debug)]
pub struct Committed {
    pub appended: AppendedEvent,
    /// Set when the event is to be delivered (status `pending`).
    pub deliverable: Option<PendingEvent>,
}

pub enum TenantMessage {
    Ingest(Box<Ingest>),
    Committed(Box<Committed>),
    /// The delivery task's report on one attempt.
    AttemptFinished {
        event_id: EventId,
        attempt: i32,
        outcome: DeliveryOutcome,
    },
    /// The head event's retry time has come.
    RetryDue,
    /// Periodic: reread the store, and stop if idle.
    Tick,
    /// This instance holds the tenant's lease and the store has undelivered
    /// events of it up to sequence number `up_to`: look, if that is news
    /// (`i64::MAX` when the lease was just taken).
    Wake {
        up_to: i64,
        /// When a failed event was last put back by hand, possibly through
        /// another instance: an event older than any seen here to deliver.
        requeued_at: Option<OffsetDateTime>,
    },
    /// The tenant was registered again (new url, events or secret).
    RegistrationChanged(Arc<Registration>),
    /// A request that failed authentication, validation or the allowlist: logged, sampled.
    Rejected(Box<NewEvent>),
    /// A failed event was put back by hand.
    Requeued(Box<PendingEvent>),
    /// The client changed its configuration: new retry policy or rate limits, at once.
    ClientConfigChanged(Arc<ClientConfig>),
    Health(RpcReplyPort<TenantHealth>),
    /// Makes the actor panic, so tests can prove the supervisor restarts it.
    #[cfg(feature = "fault-injection")]
    Panic,
}

/// The states a running tenant actor reports (a tenant without one is `idle`).
pub const RUNNING_STATES: [&str; 4] = ["healthy", "degraded", "failing", "paused"];

/// What the tenant's actor knows about itself, for operators.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantHealth {
    pub client_id: String,
    pub provider: String,
    /// `healthy`; `degraded` after a failed attempt; `failing` once
    /// `failing_after` attempts in a row failed; `paused` with no registration to deliver to.
    pub state: &'static str,
    /// Events committed since this actor started.
    pub committed: u64,
    pub last_seq: Option<i64>,
    /// Undelivered events held in memory (more may wait in the store).
    pub queued: usize,
    /// Whether this instance delivers the tenant (holds its lease, or is alone on its store).
    pub delivering_here: bool,
    /// Attempts that succeeded since this actor started.
    pub delivered: u64,
    pub in_flight: Option<EventId>,
    /// The attempt number of the in-flight event.
    pub in_flight_attempt: Option<i32>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_delivered_at: Option<OffsetDateTime>,
    /// Each rate-limit window's usage now.
    pub rate_limits: Vec<WindowUsage>,
    /// Requests refused by the rate limits since this actor started.
    pub rate_limited: u64,
    /// False when the client turned signature validation off: loud on purpose.
    pub signature_validation: bool,
    /// How many times the supervisor has restarted this tenant's actor.
    pub restarts: u32,
}

pub struct TenantArgs {
    pub key: TenantKey,
    pub writer: WriterHandle,
    pub store: Arc<dyn Store>,
    pub deliverer: Arc<dyn Deliverer>,
    pub delivery: DeliveryConfig,
    pub rate_limits: Vec<RateWindow>,
    /// At most one `rejected` and one `rate_limited` row per this interval.
    pub refusal_log_interval: Duration,
    pub idle_timeout: Duration,
    pub restarts: u32,
    pub leases: Arc<Leases>,
}

pub struct TenantState {
    key: TenantKey,
    writer: WriterHandle,
    store: Arc<dyn Store>,
    deliverer: Arc<dyn Deliverer>,
    config: DeliveryConfig,
    idle_timeout: Duration,
    restarts: u32,
    /// Where and how to deliver; `None` until it could be read from the store.
    registration: Option<Arc<Registration>>,
    queue: DeliveryQueue,
    leases: Arc<Leases>,
    /// The grant the queue was filled under. Delivering under a different
    /// one (a new lease token) means another instance may have delivered
    /// meanwhile, so the queue is refilled from the store. A lease that
    /// lapsed here and came back with the same token was nobody else's:
    /// the queue stays, and nothing whose record is still on its way to the
    /// store is read back as undelivered and sent twice.
    grant: Grant,
    /// Attempts that succeeded since this actor started.
    delivered: u64,
    /// The latest manual requeue this actor has acted on.
    requeue_seen: Option<OffsetDateTime>,
    /// Refill the queue from the store once no attempt is out.
    refill: bool,
    /// The event whose attempt is out, with its attempt number.
    in_flight: Option<(EventId, i32)>,
    /// The one retry timer and when it fires; replaced (the old one aborted)
    /// only when the head's due time changes.
    retry_timer: Option<(OffsetDateTime, RetryTimer)>,
    consecutive_failures: u32,
    last_error: Option<String>,
    last_delivered_at: Option<OffsetDateTime>,
    committed: u64,
    last_seq: Option<i64>,
    /// The provider's windows and the server's retry policy, before the client's overrides.
    provider_limits: Vec<RateWindow>,
    default_retry: RetryPolicy,
    limiter: RateLimiter,
    signature_validation: bool,
    rate_limited: u64,
    /// One `rate_limited` row and one `rejected` row per interval, with counts.
    rate_limited_rows: RowSampler,
    rejected_rows: RowSampler,
    last_activity: Instant,
    /// The periodic tick, aborted when the actor stops.
    ticker: Option<JoinHandle<()>>,
}

type RetryTimer = JoinHandle<Result<(), ractor::MessagingErr<TenantMessage>>>;

pub struct TenantActor;

impl Actor for TenantActor {
    type Msg = TenantMessage;
    type State = TenantState;
    type Arguments = TenantArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: TenantArgs,
    ) -> Result<TenantState, ActorProcessingErr> {
        // One timer per actor, not one per message: reconciling and idle checks share it.
        let period = tick_period(&args.delivery, args.idle_timeout);
        let ticker = myself.send_interval(period, || TenantMessage::Tick);
        let default_retry = args.delivery.retry.clone();
        let grant = args.leases.grant(&args.key);
        let state = TenantState {
            key: args.key,
            writer: args.writer,
            store: args.store,
            deliverer: args.deliverer,
            queue: DeliveryQueue::new(args.delivery.window),
            grant,
            leases: args.leases,
            delivered: 0,
            requeue_seen: None,
            refill: false,
            config: args.delivery,
            idle_timeout: args.idle_timeout,
            restarts: args.restarts,
            registration: None,
            in_flight: None,
            retry_timer: None,
            consecutive_failures: 0,
            last_error: None,
            last_delivered_at: None,
            committed: 0,
            last_seq: None,
            limiter: RateLimiter::new(args.rate_limits.clone()),
            provider_limits: args.rate_limits,
            default_retry,
            signature_validation: true,
            rate_limited: 0,
            rate_limited_rows: RowSampler::new(args.refusal_log_interval),
            rejected_rows: RowSampler::new(args.refusal_log_interval),
            last_activity: Instant::now(),
            ticker: Some(ticker),
        };
        Ok(state)
    }

    /// Reads the tenant's registration and client configuration here, not in
    /// `pre_start`: the supervisor waits for `pre_start`, so store reads there
    /// would start tenants one round trip at a time. Messages wait for this.
    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut TenantState,
    ) -> Result<(), ActorProcessingErr> {
        // A store that is down now only delays delivery: the tick tries again.
        load_registration(state).await;
        match state.store.client_config(&state.key.client_id).await {
            Ok(config) => apply_client_config(state, &config),
            Err(err) => tracing::warn!(tenant = %state.key, error = %err,
                "cannot read the client's configuration; using the defaults"),
        }
        pump(&myself, state).await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: TenantMessage,
        state: &mut TenantState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            TenantMessage::Ingest(ingest) => {
                state.last_activity = Instant::now();
                let Ingest {
                    event,
                    reply,
                    admission,
                } = *ingest;
                if let Err(denied) = state.limiter.check(Instant::now()) {
                    drop(admission);
                    note_refusal(state, event, &denied.window);
                    let _ = reply.send(Err(IngestError::RateLimited {
                        window: denied.window,
                        retry_after: denied.retry_after,
                    }));
                    return Ok(());
                }
                state.writer.append(Append {
                    event,
                    reply: Some(reply),
                    notify: Some(myself.clone()),
                    admission,
                });
            }
            TenantMessage::Committed(committed) => {
                state.last_activity = Instant::now();
                state.committed += 1;
                state.last_seq = state.last_seq.max(committed.appended.seq);
                if let Some(seq) = committed.appended.seq {
                    state.queue.offer_committed(seq, committed.deliverable);
                    pump(&myself, state).await;
                }
            }
            TenantMessage::AttemptFinished {
                event_id,
                attempt,
                outcome,
            } => {
                state.last_activity = Instant::now();
                if state.in_flight == Some((event_id, attempt)) {
                    state.in_flight = None;
                    settle_attempt(state, event_id, attempt, outcome);
                }
                pump(&myself, state).await;
            }
            TenantMessage::RetryDue => {
                state.retry_timer = None;
                pump(&myself, state).await;
            }
            TenantMessage::Wake { up_to, requeued_at } => {
                // Events another instance committed are news to nobody here;
                // reading the store only when there are some keeps a heartbeat
                // over thousands of tenants from costing a query each.
                if up_to > state.queue.high_water() {
                    state.queue.mark_stale();
                }
                if requeued_at > state.requeue_seen {
                    state.requeue_seen = requeued_at;
                    state.refill = true;
                }
                pump(&myself, state).await;
            }
            TenantMessage::Tick => {
                if state.registration.is_none() {
                    load_registration(state).await;
                }
                state.queue.mark_stale();
                pump(&myself, state).await;
                if is_idle(state) {
                    tracing::debug!(tenant = %state.key, "stopping idle tenant actor");
                    // Drain rather than stop: an event that reached the mailbox
                    // just now is still handled; later senders are refused and
                    // ask the supervisor for a fresh actor.
                    myself.drain()?;
                }
            }
            TenantMessage::RegistrationChanged(registration) => {
                state.registration = Some(registration);
                pump(&myself, state).await;
            }
            TenantMessage::Rejected(event) => {
                if let Some(suppressed) = state.rejected_rows.admit(Instant::now()) {
                    let mut event = *event;
                    if suppressed > 0 {
                        let note =
                            format!(" ({suppressed} similar refusal(s) since the last such row)");
                        event.error_message.get_or_insert_default().push_str(&note);
                    }
                    log_row(state, event);
                }
            }
            TenantMessage::Requeued(event) => {
                state.last_activity = Instant::now();
                state.queue.requeue(*event);
                pump(&myself, state).await;
            }
            TenantMessage::ClientConfigChanged(config) => {
                apply_client_config(state, &config);
                pump(&myself, state).await;
            }
            TenantMessage::Health(reply) => {
                let _ = reply.send(health(state));
            }
            #[cfg(feature = "fault-injection")]
            TenantMessage::Panic => panic!("fault injected into tenant {}", state.key),
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut TenantState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(ticker) = state.ticker.take() {
            ticker.abort();
        }
        if let Some((_, timer)) = state.retry_timer.take() {
            timer.abort();
        }
        Ok(())
    }
}

fn tick_period(config: &DeliveryConfig, idle_timeout: Duration) -> Duration {
    let mut period = config.reconcile_interval;
    if !idle_timeout.is_zero() {
        // Half the idle timeout bounds how long an idle actor lingers to 1.5x it.
        period = period.min(idle_timeout / 2);
    }
    period.max(Duration::from_millis(10))
}

fn is_idle(state: &TenantState) -> bool {
    // A tenant another instance delivers has nothing to do here but ingest.
    let nothing_to_deliver = (state.queue.is_empty() && state.queue.is_caught_up())
        || !state.leases.grant(&state.key).may_deliver();
    !state.idle_timeout.is_zero()
        && state.last_activity.elapsed() >= state.idle_timeout
        && state.in_flight.is_none()
        && nothing_to_deliver
}

async fn load_registration(state: &mut TenantState) {
    match state.store.find_registration(&state.key).await {
        Ok(registration) => state.registration = registration.map(Arc::new),
        Err(err) => tracing::warn!(tenant = %state.key, error = %err, "cannot read registration"),
    }
}

/// Moves delivery forward as far as it can go now: pages events in from the
/// store when the window runs low, and starts an attempt for the head event
/// when it is due, or sets the timer for when it will be.
async fn pump(myself: &ActorRef<TenantMessage>, state: &mut TenantState) {
    if state.in_flight.is_some() {
        return;
    }
    let grant = state.leases.grant(&state.key);
    if !grant.may_deliver() {
        if !state.queue.is_empty() || !state.queue.is_caught_up() {
            state.leases.want(&state.key);
        }
        return;
    }
    if grant != state.grant || state.refill {
        state.grant = grant;
        state.refill = false;
        state.queue = DeliveryQueue::new(state.config.window);
        if let Some((_, timer)) = state.retry_timer.take() {
            timer.abort();
        }
    }
    if state.queue.wants_page() {
        let (after_seq, limit) = state.queue.next_page();
        match state
            .store
            .pending_events(&state.key, after_seq, limit as u32)
            .await
        {
            Ok(page) => state.queue.add_page(page, limit),
            Err(err) => {
                tracing::warn!(tenant = %state.key, error = %err, "cannot read pending events");
            }
        }
    }
    let (Some(head), Some(registration)) = (state.queue.head(), &state.registration) else {
        return;
    };
    let now = OffsetDateTime::now_utc();
    if let Some(due) = head.next_retry_at.filter(|due| *due > now) {
        let already_set = state
            .retry_timer
            .as_ref()
            .is_some_and(|(at, timer)| *at == due && !timer.is_finished());
        if !already_set {
            if let Some((_, old)) = state.retry_timer.take() {
                old.abort();
            }
            let wait = Duration::try_from(due - now).unwrap_or_default();
            state.retry_timer = Some((due, myself.send_after(wait, || TenantMessage::RetryDue)));
        }
        return;
    }
    let attempt = head.attempts + 1;
    let request = DeliveryRequest {
        tenant: state.key.clone(),
        url: registration.url.clone(),
        secret: registration.secret.clone(),
        previous_secret: registration.previous_secret_at(now).cloned(),
        event: head.clone(),
        attempt,
    };
    state.in_flight = Some((head.id, attempt));
    let deliverer = state.deliverer.clone();
    let reply_to = myself.clone();
    // The HTTP call runs outside the actor, which stays free for its mailbox.
    tokio::spawn(async move {
        let event_id = request.event.id;
        let outcome = deliverer.deliver(request).await;
        let _ = reply_to.send_message(TenantMessage::AttemptFinished {
            event_id,
            attempt,
            outcome,
        });
    });
}

/// Applies one attempt's outcome to the queue and records it.
fn settle_attempt(
    state: &mut TenantState,
    event_id: EventId,
    attempt: i32,
    outcome: DeliveryOutcome,
) {
    let now = OffsetDateTime::now_utc();
    let failing_before = state.consecutive_failures >= state.config.failing_after;
    let Some(event) = state.queue.get_mut(event_id) else {
        return;
    };
    event.attempts = attempt;
    event.round_attempts += 1;
    let round_attempts = event.round_attempts;
    let (status, next_retry_at) = if outcome.is_success() {
        state.consecutive_failures = 0;
        state.delivered += 1;
        state.last_delivered_at = Some(now);
        if failing_before {
            tracing::info!(tenant = %state.key, "deliveries succeed again");
        }
        (EventStatus::Delivered, None)
    } else {
        state.consecutive_failures += 1;
        state.last_error = Some(outcome.failure());
        if state.config.retry.has_retry_left(round_attempts as u32) {
            let mut wait = state
                .config
                .retry
                .delay(round_attempts as u32, rand::random());
            if state.consecutive_failures >= state.config.failing_after {
                if !failing_before {
                    tracing::warn!(tenant = %state.key, failures = state.consecutive_failures,
                        "deliveries keep failing; probing at a slow interval");
                }
                wait = wait.max(state.config.probe_interval);
            }
            let due = now + wait;
            event.next_retry_at = Some(due);
            (EventStatus::Retrying, Some(due))
        } else {
            tracing::warn!(tenant = %state.key, event = %event_id, attempts = attempt, "event is dead");
            (EventStatus::Failed, None)
        }
    };
    if status != EventStatus::Retrying {
        state.queue.remove(event_id);
    }
    let provider = state.key.provider.to_string();
    ::metrics::counter!(metrics::DELIVERY_ATTEMPTS, "provider" => provider.clone(), "outcome" => status.as_str())
        .increment(1);
    ::metrics::histogram!(metrics::DELIVERY_SECONDS, "provider" => provider)
        .record(outcome.response_time.as_secs_f64());
    state.writer.record(AttemptRecord {
        event_id,
        attempt,
        round_attempts,
        status_code: outcome.status_code.map(i32::from),
        response_time_ms: outcome.response_time.as_millis().min(i32::MAX as u128) as i32,
        response_body: outcome
            .response_body
            .map(|body| excerpt(body, RESPONSE_EXCERPT_BYTES)),
        error: outcome.error,
        attempted_at: now,
        outcome: status,
        next_retry_at,
        lease_token: state.grant.token(),
    });
}

fn excerpt(mut text: String, limit: usize) -> String {
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// Puts the client's retry policy and rate limits in force (the limiter
/// starts afresh under its new windows).
fn apply_client_config(state: &mut TenantState, config: &ClientConfig) {
    state.config.retry = overrides::retry_policy(&state.default_retry, config);
    state.limiter = RateLimiter::new(overrides::rate_windows(&state.provider_limits, config));
    state.signature_validation = config.signature_validation != Some(false);
    if !state.signature_validation {
        tracing::warn!(tenant = %state.key, "signature validation is OFF for this tenant");
    }
}

/// Counts a rate-limited request and, at most once per interval, logs a
/// `rate_limited` row (without the body) saying how many were refused.
fn note_refusal(state: &mut TenantState, event: NewEvent, window: &str) {
    state.rate_limited += 1;
    ::metrics::counter!(metrics::RATE_LIMITED, "provider" => state.key.provider.to_string())
        .increment(1);
    let Some(suppressed) = state.rate_limited_rows.admit(Instant::now()) else {
        return;
    };
    let refused = suppressed + 1;
    log_row(
        state,
        NewEvent {
            status: EventStatus::RateLimited,
            payload: None,
            error_message: Some(format!(
                "rate limit `{window}` reached: {refused} request(s) refused since the last such row"
            )),
            ..event
        },
    );
}

/// Writes a diagnostic row if the writer has room; such rows never crowd out events.
fn log_row(state: &TenantState, event: NewEvent) {
    if let Some(admission) = state.writer.try_reserve() {
        state.writer.append(Append {
            event,
            reply: None,
            notify: None,
            admission,
        });
    }
}

fn health(state: &TenantState) -> TenantHealth {
    let condition = if state.registration.is_none() {
        "paused"
    } else if state.consecutive_failures >= state.config.failing_after {
        "failing"
    } else if state.consecutive_failures > 0 {
        "degraded"
    } else {
        "healthy"
    };
    TenantHealth {
        client_id: state.key.client_id.to_string(),
        provider: state.key.provider.to_string(),
        state: condition,
        committed: state.committed,
        last_seq: state.last_seq,
        queued: state.queue.len(),
        delivering_here: state.leases.grant(&state.key).may_deliver(),
        delivered: state.delivered,
        in_flight: state.in_flight.map(|(id, _)| id),
        in_flight_attempt: state.in_flight.map(|(_, attempt)| attempt),
        consecutive_failures: state.consecutive_failures,
        last_error: state.last_error.clone(),
        last_delivered_at: state.last_delivered_at,
        rate_limits: state.limiter.usage(Instant::now()),
        rate_limited: state.rate_limited,
        signature_validation: state.signature_validation,
        restarts: state.restarts,
    }
}
