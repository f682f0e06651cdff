//! TenantActor: one per (clientId, provider). It owns the tenant's mutable
//! state, so nothing on the hot path is shared between tenants. For ingest it
//! passes each accepted event to the writer and hears back about each commit;
//! delivery, rate limiting and duplicate suppression hang off the same actor.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use time::OffsetDateTime;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::domain::{AppendedEvent, NewEvent, TenantKey};
use crate::store::StoreError;
use crate::writer::{Admission, Append, WriterHandle};

/// An accepted event on its way to the writer, with the request waiting for it.
pub struct Ingest {
    pub event: NewEvent,
    pub reply: RpcReplyPort<Result<AppendedEvent, StoreError>>,
    pub admission: Admission,
}

pub enum TenantMessage {
    Ingest(Box<Ingest>),
    /// From the writer: this tenant's event is committed.
    Committed(AppendedEvent),
    Health(RpcReplyPort<TenantHealth>),
    /// Periodic: stop when nothing has happened for the idle timeout.
    IdleCheck,
    /// Makes the actor panic, so tests can prove the supervisor restarts it.
    #[cfg(feature = "fault-injection")]
    Panic,
}

/// What the tenant's actor knows about itself, for operators.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantHealth {
    pub client_id: String,
    pub provider: String,
    /// Events committed since this actor started.
    pub committed: u64,
    pub last_seq: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_committed_at: Option<OffsetDateTime>,
    /// How many times the supervisor has restarted this tenant's actor.
    pub restarts: u32,
}

pub struct TenantArgs {
    pub key: TenantKey,
    pub writer: WriterHandle,
    pub idle_timeout: Duration,
    pub restarts: u32,
}

pub struct TenantState {
    key: TenantKey,
    writer: WriterHandle,
    idle_timeout: Duration,
    restarts: u32,
    committed: u64,
    last_seq: Option<i64>,
    last_committed_at: Option<OffsetDateTime>,
    last_activity: Instant,
    /// The idle check's timer, aborted when the actor stops.
    idle_timer: Option<JoinHandle<()>>,
}

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
        // Half the timeout between checks bounds how long an idle actor lingers
        // to 1.5x the timeout, with one timer per actor rather than one per message.
        let idle_timer = (!args.idle_timeout.is_zero())
            .then(|| myself.send_interval(args.idle_timeout / 2, || TenantMessage::IdleCheck));
        Ok(TenantState {
            key: args.key,
            writer: args.writer,
            idle_timeout: args.idle_timeout,
            restarts: args.restarts,
            committed: 0,
            last_seq: None,
            last_committed_at: None,
            last_activity: Instant::now(),
            idle_timer,
        })
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
                let append = Append {
                    event,
                    reply: Some(reply),
                    notify: Some(myself.clone()),
                    admission,
                };
                state.writer.append(append);
            }
            TenantMessage::Committed(committed) => {
                state.last_activity = Instant::now();
                state.committed += 1;
                if committed.seq.is_some() {
                    state.last_seq = state.last_seq.max(committed.seq);
                }
                state.last_committed_at = Some(OffsetDateTime::now_utc());
            }
            TenantMessage::Health(reply) => {
                let _ = reply.send(TenantHealth {
                    client_id: state.key.client_id.to_string(),
                    provider: state.key.provider.to_string(),
                    committed: state.committed,
                    last_seq: state.last_seq,
                    last_committed_at: state.last_committed_at,
                    restarts: state.restarts,
                });
            }
            TenantMessage::IdleCheck => {
                if state.last_activity.elapsed() >= state.idle_timeout {
                    tracing::debug!(tenant = %state.key, "stopping idle tenant actor");
                    // Drain rather than stop: an event that reached the mailbox
                    // just now is still handled; later senders are refused and
                    // ask the supervisor for a fresh actor.
                    myself.drain()?;
                }
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
        if let Some(timer) = state.idle_timer.take() {
            timer.abort();
        }
        Ok(())
    }
}
