//! WriterActor: group commit. Rows from every tenant queue in its mailbox; each
//! batch is one store transaction, and every waiting request is answered only
//! after its COMMIT.
//!
//! Batching is drain-style by default: when the writer becomes free it commits
//! whatever has queued meanwhile (up to `max_rows`), instead of waiting on a
//! timer. A `max_delay` above zero holds the first row of a batch that long to
//! gather more; measured on two cores, a timer made ingest slower, so the
//! default is zero.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::domain::{AppendedEvent, AttemptRecord, EventStatus, NewEvent, PendingEvent};
use crate::engine::IngestError;
use crate::metrics;
use crate::store::{Store, StoreError};
use crate::tenant::{Committed, TenantMessage};

/// Attempt records held for a store that is down, at most; beyond it the
/// oldest are dropped (their events are then delivered again after a restart).
const MAX_HELD_RECORDS: usize = 100_000;

#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Most rows one transaction takes.
    pub max_rows: usize,
    /// How long the first row of a batch may wait for company; zero drains at once.
    pub max_delay: Duration,
    /// Rows accepted but not yet committed, across all tenants; beyond it ingest answers 503.
    pub queue_capacity: usize,
    /// Longest a batch may take in the store before its rows are answered 503.
    pub commit_timeout: Duration,
}

/// Places in the bounded queues a row occupies from admission until it is
/// committed (or refused). Dropping it frees them, wherever that happens.
pub struct Admission {
    _writer: OwnedSemaphorePermit,
    _tenant: Option<OwnedSemaphorePermit>,
}

impl Admission {
    /// Also holds one of the tenant's in-flight places until the commit.
    pub fn with_tenant_place(mut self, place: OwnedSemaphorePermit) -> Self {
        self._tenant = Some(place);
        self
    }
}

/// One row to commit, and who to tell once it is.
pub struct Append {
    pub event: NewEvent,
    /// The waiting request, answered after COMMIT (or with the error).
    pub reply: Option<RpcReplyPort<Result<AppendedEvent, IngestError>>>,
    /// The tenant actor to tell about the committed event, whether or not the
    /// request is still waiting: delivery never hangs off the request.
    pub notify: Option<ActorRef<TenantMessage>>,
    /// Released when the append is done with, so the bounds count rows, not requests.
    pub admission: Admission,
}

pub enum WriterMessage {
    Append(Box<Append>),
    /// A delivery attempt to record; batched like events, answered to no one.
    Record(Box<AttemptRecord>),
    Flush,
}

/// What the rest of the engine holds to reach the writer.
#[derive(Clone)]
pub struct WriterHandle {
    pub actor: ActorRef<WriterMessage>,
    capacity: Arc<Semaphore>,
    queue_capacity: usize,
}

impl WriterHandle {
    /// Reserves a place in the writer's queue, or `None` when it is full.
    pub fn try_reserve(&self) -> Option<Admission> {
        match self.capacity.clone().try_acquire_owned() {
            Ok(permit) => Some(Admission {
                _writer: permit,
                _tenant: None,
            }),
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => None,
        }
    }

    /// Rows admitted and not yet committed.
    pub fn queue_depth(&self) -> usize {
        self.queue_capacity - self.capacity.available_permits()
    }

    /// Records a delivery attempt in a coming batch. Best effort by design: a
    /// lost record means the event is delivered again after a restart, which
    /// the at-least-once promise allows.
    pub fn record(&self, attempt: AttemptRecord) {
        if self
            .actor
            .send_message(WriterMessage::Record(Box::new(attempt)))
            .is_err()
        {
            tracing::warn!("writer stopped; delivery attempt not recorded");
        }
    }

    /// Sends a row to the writer. When the writer has stopped, the row is
    /// refused at once (its requester gets the store-unavailable answer).
    pub fn append(&self, append: Append) {
        if let Err(ractor::MessagingErr::SendErr(WriterMessage::Append(append))) = self
            .actor
            .send_message(WriterMessage::Append(Box::new(append)))
        {
            append.settle(Err(StoreError::Unavailable("writer stopped".into())));
        }
    }
}

pub struct WriterActor;

pub struct WriterArgs {
    pub store: Arc<dyn Store>,
    pub config: WriterConfig,
}

pub struct WriterState {
    store: Arc<dyn Store>,
    config: WriterConfig,
    /// Rows received and not yet handed to the store.
    buffer: Vec<Append>,
    /// Attempt records received and not yet stored.
    records: Vec<AttemptRecord>,
    /// A Flush is already on its way; avoids one Flush message per row.
    flush_scheduled: bool,
}

impl WriterActor {
    pub async fn start(
        store: Arc<dyn Store>,
        config: WriterConfig,
    ) -> Result<(WriterHandle, tokio::task::JoinHandle<()>), ractor::SpawnErr> {
        let queue_capacity = config.queue_capacity;
        let (actor, join) = Actor::spawn(None, WriterActor, WriterArgs { store, config }).await?;
        let handle = WriterHandle {
            actor,
            capacity: Arc::new(Semaphore::new(queue_capacity)),
            queue_capacity,
        };
        Ok((handle, join))
    }
}

impl Actor for WriterActor {
    type Msg = WriterMessage;
    type State = WriterState;
    type Arguments = WriterArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: WriterArgs,
    ) -> Result<WriterState, ActorProcessingErr> {
        Ok(WriterState {
            store: args.store,
            buffer: Vec::with_capacity(args.config.max_rows),
            records: Vec::new(),
            config: args.config,
            flush_scheduled: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: WriterMessage,
        state: &mut WriterState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            WriterMessage::Append(append) => {
                state.buffer.push(*append);
                if state.buffer.len() >= state.config.max_rows {
                    flush(state).await;
                } else {
                    schedule_flush(&myself, state)?;
                }
            }
            WriterMessage::Record(record) => {
                state.records.push(*record);
                schedule_flush(&myself, state)?;
            }
            WriterMessage::Flush => flush(state).await,
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut WriterState,
    ) -> Result<(), ActorProcessingErr> {
        // Rows still held when the writer is told to stop are committed, not dropped.
        flush(state).await;
        Ok(())
    }
}

fn schedule_flush(
    myself: &ActorRef<WriterMessage>,
    state: &mut WriterState,
) -> Result<(), ActorProcessingErr> {
    if !state.flush_scheduled {
        state.flush_scheduled = true;
        // A Flush sent now lands behind every message already queued, so it
        // commits all of them at once: that is the drain.
        if state.config.max_delay.is_zero() {
            myself.send_message(WriterMessage::Flush)?;
        } else {
            myself.send_after(state.config.max_delay, || WriterMessage::Flush);
        }
    }
    Ok(())
}

async fn flush(state: &mut WriterState) {
    state.flush_scheduled = false;
    while !state.buffer.is_empty() {
        let take = state.buffer.len().min(state.config.max_rows);
        let batch: Vec<Append> = state.buffer.drain(..take).collect();
        commit_batch(state.store.as_ref(), state.config.commit_timeout, batch).await;
    }
    if !state.records.is_empty() {
        store_records(state).await;
    }
}

/// Stores attempt records; on failure keeps them for the next flush, so a
/// short outage loses none.
async fn store_records(state: &mut WriterState) {
    let take = state.records.len().min(state.config.max_rows);
    let result = tokio::time::timeout(
        state.config.commit_timeout,
        state.store.record_attempts(&state.records[..take]),
    )
    .await;
    match result {
        Ok(Ok(())) => {
            state.records.drain(..take);
        }
        Ok(Err(err)) => tracing::error!(records = take, error = %err, "recording attempts failed"),
        Err(_) => tracing::error!(records = take, "recording attempts timed out"),
    }
    if state.records.len() > MAX_HELD_RECORDS {
        let excess = state.records.len() - MAX_HELD_RECORDS;
        tracing::error!(
            dropped = excess,
            "dropping attempt records the store could not take"
        );
        state.records.drain(..excess);
    }
}

async fn commit_batch(store: &dyn Store, timeout: Duration, batch: Vec<Append>) {
    let (events, waiting): (Vec<NewEvent>, Vec<Waiting>) = batch
        .into_iter()
        .map(|append| {
            let waiting = Waiting {
                reply: append.reply,
                notify: append.notify,
                _admission: append.admission,
            };
            (append.event, waiting)
        })
        .unzip();
    let started = tokio::time::Instant::now();
    let result = append_with_timeout(store, timeout, &events).await;
    ::metrics::histogram!(metrics::COMMIT_SECONDS).record(started.elapsed().as_secs_f64());
    ::metrics::histogram!(metrics::BATCH_ROWS).record(events.len() as f64);
    match result {
        Ok(outcomes) => {
            for ((waiting, event), outcome) in waiting.into_iter().zip(events).zip(outcomes) {
                waiting.settle(Ok(outcome), event);
            }
        }
        // One bad row must not fail the requests it happened to share a batch
        // with: commit them one by one so only the culprit is refused.
        Err(err) if err.may_be_row_specific() && events.len() > 1 => {
            tracing::warn!(rows = events.len(), error = %err, "batch refused; committing its rows one by one");
            for (waiting, event) in waiting.into_iter().zip(events) {
                let result = append_with_timeout(store, timeout, std::slice::from_ref(&event))
                    .await
                    .and_then(|mut outcomes| {
                        outcomes
                            .pop()
                            .ok_or_else(|| StoreError::Internal("store returned no row".into()))
                    });
                waiting.settle(result, event);
            }
        }
        Err(err) => {
            tracing::error!(rows = events.len(), error = %err, "batch commit failed");
            for (waiting, event) in waiting.into_iter().zip(events) {
                waiting.settle(Err(err.clone()), event);
            }
        }
    }
}

async fn append_with_timeout(
    store: &dyn Store,
    timeout: Duration,
    events: &[NewEvent],
) -> Result<Vec<AppendedEvent>, StoreError> {
    match tokio::time::timeout(timeout, store.append_events(events)).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable(format!(
            "commit did not finish within {} ms",
            timeout.as_millis()
        ))),
    }
}

impl Append {
    fn settle(self, result: Result<AppendedEvent, StoreError>) {
        Waiting {
            reply: self.reply,
            notify: self.notify,
            _admission: self.admission,
        }
        .settle(result, self.event);
    }
}

/// Who waits on a row while the store has it.
struct Waiting {
    reply: Option<RpcReplyPort<Result<AppendedEvent, IngestError>>>,
    notify: Option<ActorRef<TenantMessage>>,
    /// Dropped after settling, freeing the row's places in the bounds.
    _admission: Admission,
}

impl Waiting {
    fn settle(self, result: Result<AppendedEvent, StoreError>, event: NewEvent) {
        if let (Ok(appended), Some(tenant)) = (&result, &self.notify)
            && !appended.duplicate
        {
            let deliverable = (event.status == EventStatus::Pending)
                .then(|| appended.seq.map(|seq| deliverable(event, seq)))
                .flatten();
            // A stopped tenant actor rereads its pending events from the store
            // when it starts again, so a failed notification loses nothing.
            let _ = tenant.send_message(TenantMessage::Committed(Box::new(Committed {
                appended: *appended,
                deliverable,
            })));
        }
        if let Some(reply) = self.reply {
            // The requester may have hung up; the row is committed either way.
            let _ = reply.send(result.map_err(IngestError::from));
        }
    }
}

fn deliverable(event: NewEvent, seq: i64) -> PendingEvent {
    PendingEvent {
        id: event.id,
        seq,
        event_type: event.event_type,
        payload: event.payload.unwrap_or_default(),
        received_at: event.received_at,
        attempts: 0,
        round_attempts: 0,
        next_retry_at: None,
    }
}
