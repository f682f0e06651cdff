//! The embedded single-node store: one SQLite file in the data directory,
//! used when no DATABASE_URL is set. SQLite's API blocks, so the connection
//! lives on a thread of its own and async callers send it closures.
//!
//! WAL mode with `synchronous = FULL`: every commit is fsynced before the
//! writer answers, the same promise Postgres gives.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use orderhook_actors::domain::{
    AppendedEvent, AttemptRecord, ClientConfig, EventCounts, EventFilter, EventId, EventPage,
    EventStatus, NewEvent, PendingEvent, Registration, RegistrationUpsert, Requeue, StoredAttempt,
    StoredEvent, TenantBacklog, TenantKey, Upserted,
};
use orderhook_actors::store::{Maintenance, PendingTenant, Retention, Store, StoreError};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::filter::{FilterValue, where_clause};
use super::migrations::migrate_sqlite;
use super::unavailable;
use super::{decode_client_config, encode_client_config};
use crate::cipher::{KEY_CHECK_NAME, SecretCipher, tenant_context};

const FILE_NAME: &str = "orderhook.db";

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

pub struct EmbeddedStore {
    jobs: mpsc::UnboundedSender<Job>,
    /// Seals tenants' secrets before they are written, opens them when read.
    cipher: Arc<SecretCipher>,
    /// How long an accepted body counts as seen: a repeat within it is a duplicate.
    dedup_window: std::time::Duration,
}

impl EmbeddedStore {
    pub async fn open(data_dir: &Path, cipher: Arc<SecretCipher>) -> Result<Self, anyhow::Error> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(FILE_NAME);
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let (ready, opened) = oneshot::channel();
        let checker = cipher.clone();
        std::thread::Builder::new()
            .name("orderhook-store".into())
            .spawn(move || {
                let mut conn = match open_connection(&path, &checker) {
                    Ok(conn) => {
                        let _ = ready.send(Ok(()));
                        conn
                    }
                    Err(err) => {
                        let _ = ready.send(Err(err));
                        return;
                    }
                };
                // Ends when the store (every sender) is dropped.
                while let Some(job) = queue.blocking_recv() {
                    job(&mut conn);
                }
            })?;
        opened.await??;
        Ok(Self {
            jobs,
            cipher,
            dedup_window: super::DEFAULT_DEDUP_WINDOW,
        })
    }

    pub fn with_dedup_window(mut self, window: std::time::Duration) -> Self {
        self.dedup_window = window;
        self
    }

    /// Runs `f` on the store's thread and waits for its answer.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = tx.send(f(conn).map_err(classify));
            }))
            .map_err(|_| unavailable("embedded store thread stopped"))?;
        rx.await
            .map_err(|_| unavailable("embedded store thread stopped"))?
    }
}

impl EmbeddedStore {
    /// Runs a query over one tenant's events in sequence order, taking
    /// `?1 client_id, ?2 provider, ?3 after_seq, ?4 limit`.
    async fn tenant_page<T: Send + 'static>(
        &self,
        sql: String,
        tenant: &TenantKey,
        after_seq: i64,
        limit: u32,
        read: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let tenant = tenant.clone();
        self.run(move |conn| {
            conn.prepare_cached(&sql)?
                .query_map(
                    params![&*tenant.client_id, &*tenant.provider, after_seq, limit],
                    read,
                )?
                .collect()
        })
        .await
    }
}

fn open_connection(path: &Path, cipher: &SecretCipher) -> Result<Connection, anyhow::Error> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    migrate_sqlite(&mut conn)?;
    check_key(&conn, cipher)?;
    Ok(conn)
}

/// Refuses to start with a key other than the one this file's secrets were sealed with.
fn check_key(conn: &Connection, cipher: &SecretCipher) -> Result<(), anyhow::Error> {
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM orderhook_meta WHERE key = ?1",
            params![KEY_CHECK_NAME],
            |row| row.get(0),
        )
        .optional()?;
    match cipher.check_key(stored.as_deref()) {
        Ok(Some(value)) => {
            conn.execute(
                "INSERT INTO orderhook_meta (key, value) VALUES (?1, ?2)",
                params![KEY_CHECK_NAME, value],
            )?;
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(_) => anyhow::bail!(
            "the encryption key (ORDERHOOK_ENCRYPTION_KEY or data/encryption.key) is not the one this store's secrets were sealed with"
        ),
    }
}

fn classify(err: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match err.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation | ErrorCode::TooBig | ErrorCode::TypeMismatch) => {
            StoreError::Rejected(err.to_string())
        }
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::SystemIoFailure,
        ) => StoreError::Unavailable(err.to_string()),
        _ => StoreError::Internal(err.to_string()),
    }
}

fn micros(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000) as i64
}

fn from_micros(micros: i64) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))
}

fn uuid_of(text: &str) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(text).map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))
}

fn conversion(message: String) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(message.into())
}

/// For each row, the event it repeats: an accepted row of the tenant with the
/// same body hash inside the window, or an earlier row of the same batch.
fn find_repeats(
    tx: &rusqlite::Transaction<'_>,
    events: &[NewEvent],
    since: i64,
) -> rusqlite::Result<Vec<Option<EventId>>> {
    let mut lookup = tx.prepare_cached(
        "SELECT id FROM webhook_logs INDEXED BY idx_webhook_logs_body
         WHERE body_sha256 = ?3 AND client_id = ?1 AND provider = ?2 AND created_at > ?4
         LIMIT 1",
    )?;
    let mut in_batch: HashMap<(&TenantKey, [u8; 32]), EventId> = HashMap::new();
    let mut repeats = Vec::with_capacity(events.len());
    for event in events {
        let Some(hash) = event.body_sha256 else {
            repeats.push(None);
            continue;
        };
        let stored: Option<String> = lookup
            .query_row(
                params![
                    &*event.tenant.client_id,
                    &*event.tenant.provider,
                    &hash[..],
                    since
                ],
                |row| row.get(0),
            )
            .optional()?;
        let original = match stored {
            Some(id) => Some(EventId(uuid_of(&id)?)),
            None => in_batch.get(&(&event.tenant, hash)).copied(),
        };
        if original.is_none() {
            in_batch.insert((&event.tenant, hash), event.id);
        }
        repeats.push(original);
    }
    Ok(repeats)
}

fn append(
    conn: &mut Connection,
    events: &[NewEvent],
    dedup_window: std::time::Duration,
) -> rusqlite::Result<Vec<AppendedEvent>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let since = micros(OffsetDateTime::now_utc() - dedup_window);
    let repeats = find_repeats(&tx, events, since)?;
    let fresh = || {
        events
            .iter()
            .zip(&repeats)
            .filter(|(_, repeat)| repeat.is_none())
            .map(|(event, _)| event)
    };
    let mut next_seq: HashMap<Uuid, i64> = HashMap::new();
    for event in fresh().filter(|e| e.status.is_sequenced()) {
        if let Some(webhook_id) = event.webhook_id {
            *next_seq.entry(webhook_id).or_default() += 1;
        }
    }
    // Reserve each tenant's block of numbers, then hand them out in slice order.
    // A row naming no registration keeps no number and fails its foreign key
    // below, as it does on Postgres.
    let mut unknown = Vec::new();
    for (webhook_id, count) in next_seq.iter_mut() {
        let base: Option<i64> = tx
            .query_row(
                "UPDATE webhooks SET last_seq = last_seq + ?1 WHERE id = ?2 RETURNING last_seq - ?1",
                params![*count, webhook_id.to_string()],
                |row| row.get(0),
            )
            .optional()?;
        match base {
            Some(base) => *count = base + 1,
            None => unknown.push(*webhook_id),
        }
    }
    for webhook_id in unknown {
        next_seq.remove(&webhook_id);
    }
    let mut appended = Vec::with_capacity(events.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO webhook_logs (id, webhook_id, provider, client_id, event_type, status,
                                       seq, payload, error_message, created_at, body_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for (event, repeat) in events.iter().zip(&repeats) {
            if let Some(original) = repeat {
                appended.push(AppendedEvent {
                    id: *original,
                    seq: None,
                    duplicate: true,
                });
                continue;
            }
            let next = match (event.status.is_sequenced(), event.webhook_id) {
                (true, Some(webhook_id)) => next_seq.get_mut(&webhook_id),
                _ => None,
            };
            let seq = next.map(|next| {
                *next += 1;
                *next - 1
            });
            insert.execute(params![
                event.id.0.to_string(),
                event.webhook_id.map(|id| id.to_string()),
                &*event.tenant.provider,
                &*event.tenant.client_id,
                event.event_type,
                event.status.as_str(),
                seq,
                event.payload,
                event.error_message,
                micros(event.received_at),
                event.body_sha256.as_ref().map(|h| &h[..]),
            ])?;
            appended.push(AppendedEvent {
                id: event.id,
                seq,
                duplicate: false,
            });
        }
    }
    tx.commit()?;
    Ok(appended)
}

const REGISTRATION_COLUMNS: &str = "id, client_id, provider, url, events, secret_key, is_active,
     created_at, updated_at, previous_secret_key, previous_secret_expires_at";

fn registration_from(row: &Row<'_>, cipher: &SecretCipher) -> rusqlite::Result<Registration> {
    let events: String = row.get("events")?;
    let client_id: String = row.get("client_id")?;
    let provider: String = row.get("provider")?;
    let context = tenant_context(&client_id, &provider);
    let open = |sealed: &str| {
        cipher
            .open(sealed, &context)
            .map_err(|err| conversion(err.to_string()))
    };
    let secret = open(&row.get::<_, String>("secret_key")?)?;
    let previous_secret = match (
        row.get::<_, Option<String>>("previous_secret_key")?,
        row.get::<_, Option<i64>>("previous_secret_expires_at")?,
    ) {
        (Some(sealed), Some(until)) => Some((open(&sealed)?, from_micros(until)?)),
        _ => None,
    };
    Ok(Registration {
        webhook_id: uuid_of(&row.get::<_, String>("id")?)?,
        tenant: TenantKey::new(client_id, provider),
        url: row.get("url")?,
        events: serde_json::from_str(&events).map_err(|err| conversion(err.to_string()))?,
        secret,
        previous_secret,
        is_active: row.get("is_active")?,
        created_at: from_micros(row.get("created_at")?)?,
        updated_at: from_micros(row.get("updated_at")?)?,
    })
}

fn find_registration(
    conn: &Connection,
    tenant: &TenantKey,
    cipher: &SecretCipher,
) -> rusqlite::Result<Option<Registration>> {
    conn.prepare_cached(&format!(
        "SELECT {REGISTRATION_COLUMNS} FROM webhooks WHERE client_id = ?1 AND provider = ?2"
    ))?
    .query_row(params![&*tenant.client_id, &*tenant.provider], |row| {
        registration_from(row, cipher)
    })
    .optional()
}

fn upsert(
    conn: &mut Connection,
    upsert: RegistrationUpsert,
    cipher: &SecretCipher,
) -> rusqlite::Result<Upserted> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = micros(OffsetDateTime::now_utc());
    let events =
        serde_json::to_string(&upsert.events).map_err(|err| conversion(err.to_string()))?;
    let context = tenant_context(&upsert.tenant.client_id, &upsert.tenant.provider);
    let given = upsert
        .secret
        .as_ref()
        .map(|s| cipher.seal(s.expose_secret(), &context));
    let created = find_registration(&tx, &upsert.tenant, cipher)?.is_none();
    if created {
        tx.execute(
            "INSERT INTO webhooks (id, client_id, provider, url, events, secret_key, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            params![
                upsert.new_webhook_id.to_string(),
                &*upsert.tenant.client_id,
                &*upsert.tenant.provider,
                upsert.url,
                events,
                given.unwrap_or_else(|| cipher.seal(upsert.generated_secret.expose_secret(), &context)),
                now,
            ],
        )?;
    } else {
        tx.execute(
            "UPDATE webhooks SET url = ?3, events = ?4, secret_key = COALESCE(?5, secret_key),
                                 is_active = 1, updated_at = ?6
             WHERE client_id = ?1 AND provider = ?2",
            params![
                &*upsert.tenant.client_id,
                &*upsert.tenant.provider,
                upsert.url,
                events,
                given,
                now,
            ],
        )?;
    }
    let registration = find_registration(&tx, &upsert.tenant, cipher)?
        .ok_or_else(|| conversion("registration vanished inside its transaction".into()))?;
    tx.commit()?;
    Ok(Upserted {
        registration,
        created,
    })
}

const EVENT_COLUMNS: &str = "id, webhook_id, provider, client_id, seq, event_type, status, payload,
     error_message, created_at, attempts, next_retry_at, delivered_at, response_time";

const PENDING_COLUMNS: &str =
    "id, seq, event_type, payload, created_at, attempts, round_attempts, next_retry_at";

fn event_from(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    let status: String = row.get("status")?;
    Ok(StoredEvent {
        id: EventId(uuid_of(&row.get::<_, String>("id")?)?),
        webhook_id: row
            .get::<_, Option<String>>("webhook_id")?
            .map(|id| uuid_of(&id))
            .transpose()?,
        tenant: TenantKey::new(
            row.get::<_, String>("client_id")?,
            row.get::<_, String>("provider")?,
        ),
        seq: row.get("seq")?,
        event_type: row.get("event_type")?,
        status: EventStatus::parse(&status)
            .ok_or_else(|| conversion(format!("unknown status {status:?}")))?,
        payload: row.get("payload")?,
        error_message: row.get("error_message")?,
        created_at: from_micros(row.get("created_at")?)?,
        attempts: row.get("attempts")?,
        response_time: row.get("response_time")?,
        next_retry_at: optional_micros(row.get("next_retry_at")?)?,
        delivered_at: optional_micros(row.get("delivered_at")?)?,
    })
}

/// A filter's values as SQLite parameters (times as unix microseconds).
fn sqlite_values(values: Vec<FilterValue>) -> Vec<rusqlite::types::Value> {
    values
        .into_iter()
        .map(|value| match value {
            FilterValue::Text(text) => text.into(),
            FilterValue::Time(at) => micros(at).into(),
        })
        .collect()
}

fn optional_micros(micros: Option<i64>) -> rusqlite::Result<Option<OffsetDateTime>> {
    micros.map(from_micros).transpose()
}

fn pending_from(row: &Row<'_>) -> rusqlite::Result<PendingEvent> {
    Ok(PendingEvent {
        id: EventId(uuid_of(&row.get::<_, String>("id")?)?),
        seq: row.get("seq")?,
        event_type: row.get("event_type")?,
        payload: row.get::<_, Option<String>>("payload")?.unwrap_or_default(),
        received_at: from_micros(row.get("created_at")?)?,
        attempts: row.get("attempts")?,
        round_attempts: row.get("round_attempts")?,
        next_retry_at: optional_micros(row.get("next_retry_at")?)?,
    })
}

fn record_attempts(conn: &mut Connection, attempts: &[AttemptRecord]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO webhook_attempts (id, webhook_log_id, attempt, status_code, response_time,
                                           response_body, error_message, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (webhook_log_id, attempt) DO NOTHING",
        )?;
        // Applied in order, so the latest attempt of an event decides its state.
        let mut update = tx.prepare_cached(
            "UPDATE webhook_logs SET status = ?2, attempts = max(attempts, ?3), round_attempts = ?4,
                    next_retry_at = ?5, response_time = ?6, error_message = ?7,
                    delivered_at = CASE WHEN ?2 = 'delivered' THEN ?8 ELSE delivered_at END
             WHERE id = ?1 AND attempts <= ?3",
        )?;
        let mut ordered: Vec<&AttemptRecord> = attempts.iter().collect();
        ordered.sort_by_key(|a| a.attempt);
        for a in ordered {
            let event_id = a.event_id.0.to_string();
            insert.execute(params![
                Uuid::now_v7().to_string(),
                event_id,
                a.attempt,
                a.status_code,
                a.response_time_ms,
                a.response_body,
                a.error,
                micros(a.attempted_at),
            ])?;
            update.execute(params![
                event_id,
                a.outcome.as_str(),
                a.attempt,
                a.round_attempts,
                a.next_retry_at.map(micros),
                a.response_time_ms,
                a.error,
                micros(a.attempted_at),
            ])?;
        }
    }
    tx.commit()
}

fn requeue_failed(conn: &mut Connection, id: EventId) -> rusqlite::Result<Requeue> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id_text = id.0.to_string();
    let found: Option<(String, String, String)> = tx
        .query_row(
            "SELECT status, client_id, provider FROM webhook_logs WHERE id = ?1",
            params![id_text],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let Some((status, client_id, provider)) = found else {
        return Ok(Requeue::NotFound);
    };
    let status = EventStatus::parse(&status)
        .ok_or_else(|| conversion(format!("unknown status {status:?}")))?;
    if status != EventStatus::Failed {
        return Ok(Requeue::NotFailed(status));
    }
    tx.execute(
        "UPDATE webhook_logs SET status = 'pending', round_attempts = 0, next_retry_at = NULL
         WHERE id = ?1",
        params![id_text],
    )?;
    let event = tx.query_row(
        &format!("SELECT {PENDING_COLUMNS} FROM webhook_logs WHERE id = ?1"),
        params![id_text],
        pending_from,
    )?;
    tx.commit()?;
    Ok(Requeue::Requeued(
        TenantKey::new(client_id, provider),
        event,
    ))
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn append_events(&self, events: &[NewEvent]) -> Result<Vec<AppendedEvent>, StoreError> {
        let events = events.to_vec();
        let window = self.dedup_window;
        self.run(move |conn| append(conn, &events, window)).await
    }

    async fn upsert_registration(
        &self,
        registration: RegistrationUpsert,
    ) -> Result<Upserted, StoreError> {
        let cipher = self.cipher.clone();
        self.run(move |conn| upsert(conn, registration, &cipher))
            .await
    }

    async fn find_registration(
        &self,
        tenant: &TenantKey,
    ) -> Result<Option<Registration>, StoreError> {
        let tenant = tenant.clone();
        let cipher = self.cipher.clone();
        self.run(move |conn| find_registration(conn, &tenant, &cipher))
            .await
    }

    async fn find_event(&self, id: EventId) -> Result<Option<StoredEvent>, StoreError> {
        self.run(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM webhook_logs WHERE id = ?1"
            ))?
            .query_row(params![id.0.to_string()], event_from)
            .optional()
        })
        .await
    }

    async fn tenant_events(
        &self,
        tenant: &TenantKey,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM webhook_logs
             WHERE client_id = ?1 AND provider = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4"
        );
        self.tenant_page(sql, tenant, after_seq, limit, event_from)
            .await
    }

    async fn pending_events(
        &self,
        tenant: &TenantKey,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<PendingEvent>, StoreError> {
        let sql = format!(
            "SELECT {PENDING_COLUMNS} FROM webhook_logs
             WHERE client_id = ?1 AND provider = ?2 AND seq > ?3
               AND status IN ('pending', 'retrying')
             ORDER BY seq LIMIT ?4"
        );
        self.tenant_page(sql, tenant, after_seq, limit, pending_from)
            .await
    }

    async fn tenant_backlog(&self, tenant: &TenantKey) -> Result<TenantBacklog, StoreError> {
        let tenant = tenant.clone();
        self.run(move |conn| {
            conn.query_row(
                "SELECT
                   (SELECT count(*) FROM webhook_logs WHERE client_id = ?1 AND provider = ?2
                      AND status IN ('pending', 'retrying')),
                   (SELECT min(created_at) FROM webhook_logs WHERE client_id = ?1 AND provider = ?2
                      AND status IN ('pending', 'retrying')),
                   (SELECT max(delivered_at) FROM webhook_logs WHERE client_id = ?1 AND provider = ?2
                      AND status = 'delivered')",
                params![&*tenant.client_id, &*tenant.provider],
                |row| {
                    Ok(TenantBacklog {
                        undelivered: row.get(0)?,
                        oldest_undelivered_at: optional_micros(row.get(1)?)?,
                        last_delivered_at: optional_micros(row.get(2)?)?,
                    })
                },
            )
        })
        .await
    }

    async fn tenants_with_pending(&self) -> Result<Vec<PendingTenant>, StoreError> {
        self.run(|conn| {
            conn.prepare_cached(
                "SELECT client_id, provider, max(seq) FROM webhook_logs
                 WHERE status IN ('pending', 'retrying') GROUP BY client_id, provider",
            )?
            .query_map([], |row| {
                Ok(PendingTenant {
                    tenant: TenantKey::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
                    up_to: row.get::<_, i64>(2)?,
                    // One instance: its own actor is told of a requeue directly.
                    requeued_at: None,
                })
            })?
            .collect()
        })
        .await
    }

    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> Result<(), StoreError> {
        let attempts = attempts.to_vec();
        self.run(move |conn| record_attempts(conn, &attempts)).await
    }

    async fn event_attempts(&self, id: EventId) -> Result<Vec<StoredAttempt>, StoreError> {
        self.run(move |conn| {
            conn.prepare_cached(
                "SELECT attempt, status_code, response_time, response_body, error_message, created_at
                 FROM webhook_attempts WHERE webhook_log_id = ?1 ORDER BY attempt",
            )?
            .query_map(params![id.0.to_string()], |row| {
                Ok(StoredAttempt {
                    attempt: row.get(0)?,
                    status_code: row.get(1)?,
                    response_time_ms: row.get::<_, Option<i32>>(2)?.unwrap_or_default(),
                    response_body: row.get(3)?,
                    error: row.get(4)?,
                    created_at: from_micros(row.get(5)?)?,
                })
            })?
            .collect()
        })
        .await
    }

    async fn requeue_failed(&self, id: EventId) -> Result<Requeue, StoreError> {
        self.run(move |conn| requeue_failed(conn, id)).await
    }

    async fn rotate_secret(
        &self,
        webhook_id: Uuid,
        secret: secrecy::SecretString,
        old_valid_until: OffsetDateTime,
    ) -> Result<Option<Registration>, StoreError> {
        let cipher = self.cipher.clone();
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let id = webhook_id.to_string();
            let tenant: Option<(String, String)> = tx
                .query_row(
                    "SELECT client_id, provider FROM webhooks WHERE id = ?1",
                    params![id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let Some((client_id, provider)) = tenant else {
                return Ok(None);
            };
            let sealed = cipher.seal(secret.expose_secret(), &tenant_context(&client_id, &provider));
            tx.execute(
                "UPDATE webhooks SET previous_secret_key = secret_key, previous_secret_expires_at = ?3,
                                     secret_key = ?2, updated_at = ?4
                 WHERE id = ?1",
                params![id, sealed, micros(old_valid_until), micros(OffsetDateTime::now_utc())],
            )?;
            let registration =
                find_registration(&tx, &TenantKey::new(client_id, provider), &cipher)?;
            tx.commit()?;
            Ok(registration)
        })
        .await
    }

    async fn list_registrations(
        &self,
        client_id: Option<&str>,
        except: &[TenantKey],
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<Registration>, i64), StoreError> {
        let client_id = client_id.map(str::to_owned);
        let except: std::collections::HashSet<TenantKey> = except.iter().cloned().collect();
        let cipher = self.cipher.clone();
        self.run(move |conn| {
            // The embedded store is single-node and small: filter in memory.
            let all: Vec<Registration> = conn
                .prepare_cached(&format!(
                    "SELECT {REGISTRATION_COLUMNS} FROM webhooks
                     WHERE ?1 IS NULL OR client_id = ?1 ORDER BY client_id, provider"
                ))?
                .query_map(params![client_id], |row| registration_from(row, &cipher))?
                .collect::<rusqlite::Result<_>>()?;
            let matching: Vec<Registration> = all
                .into_iter()
                .filter(|r| !except.contains(&r.tenant))
                .collect();
            let total = matching.len() as i64;
            let page = matching
                .into_iter()
                .skip(offset as usize)
                .take(limit as usize)
                .collect();
            Ok((page, total))
        })
        .await
    }

    async fn client_registrations(&self, client_id: &str) -> Result<Vec<Registration>, StoreError> {
        let client_id = client_id.to_owned();
        let cipher = self.cipher.clone();
        self.run(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {REGISTRATION_COLUMNS} FROM webhooks WHERE client_id = ?1 ORDER BY provider"
            ))?
            .query_map(params![client_id], |row| registration_from(row, &cipher))?
            .collect()
        })
        .await
    }

    async fn client_config(&self, client_id: &str) -> Result<ClientConfig, StoreError> {
        let client_id = client_id.to_owned();
        let json: Option<String> = self
            .run(move |conn| {
                conn.query_row(
                    "SELECT config FROM client_configs WHERE client_id = ?1",
                    params![client_id],
                    |row| row.get(0),
                )
                .optional()
            })
            .await?;
        decode_client_config(json.as_deref())
    }

    async fn save_client_config(
        &self,
        client_id: &str,
        config: &ClientConfig,
    ) -> Result<(), StoreError> {
        let json = encode_client_config(config)?;
        let client_id = client_id.to_owned();
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO client_configs (client_id, config, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (client_id) DO UPDATE SET config = excluded.config,
                                                       updated_at = excluded.updated_at",
                params![client_id, json, micros(OffsetDateTime::now_utc())],
            )
            .map(|_| ())
        })
        .await
    }

    async fn create_client_key(
        &self,
        key_id: Uuid,
        client_id: &str,
        key_sha256: [u8; 32],
    ) -> Result<(), StoreError> {
        let client_id = client_id.to_owned();
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO client_keys (id, client_id, key_sha256, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![key_id.to_string(), client_id, &key_sha256[..], micros(OffsetDateTime::now_utc())],
            )
            .map(|_| ())
        })
        .await
    }

    async fn find_client_key(
        &self,
        key_sha256: [u8; 32],
    ) -> Result<Option<(Uuid, String)>, StoreError> {
        let found: Option<(String, String)> = self
            .run(move |conn| {
                conn.query_row(
                    "SELECT id, client_id FROM client_keys WHERE key_sha256 = ?1 AND revoked_at IS NULL",
                    params![&key_sha256[..]],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
            })
            .await?;
        found
            .map(|(id, client)| {
                Ok((
                    uuid_of(&id).map_err(|err| StoreError::Internal(err.to_string()))?,
                    client,
                ))
            })
            .transpose()
    }

    async fn revoke_client_key(&self, client_id: &str, key_id: Uuid) -> Result<bool, StoreError> {
        let client_id = client_id.to_owned();
        self.run(move |conn| {
            conn.execute(
                "UPDATE client_keys SET revoked_at = ?3 WHERE id = ?1 AND client_id = ?2 AND revoked_at IS NULL",
                params![key_id.to_string(), client_id, micros(OffsetDateTime::now_utc())],
            )
            .map(|changed| changed == 1)
        })
        .await
    }

    async fn list_events(
        &self,
        filter: &EventFilter,
        limit: u32,
        offset: u32,
        count_cap: u32,
    ) -> Result<EventPage, StoreError> {
        let (clause, values) = where_clause(filter, |i| format!("?{i}"));
        let values = sqlite_values(values);
        self.run(move |conn| {
            let n = values.len();
            let mut page: Vec<rusqlite::types::Value> = values.clone();
            page.push(i64::from(limit).into());
            page.push(i64::from(offset).into());
            let events = conn
                .prepare(&format!(
                    "SELECT {EVENT_COLUMNS} FROM webhook_logs {clause}
                     ORDER BY created_at DESC, id DESC LIMIT ?{} OFFSET ?{}",
                    n + 1,
                    n + 2
                ))?
                .query_map(rusqlite::params_from_iter(page), event_from)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut count = values;
            count.push((i64::from(count_cap) + 1).into());
            let counted: i64 = conn.query_row(
                &format!(
                    "SELECT count(*) FROM (SELECT 1 FROM webhook_logs {clause} LIMIT ?{})",
                    n + 1
                ),
                rusqlite::params_from_iter(count),
                |row| row.get(0),
            )?;
            Ok(EventPage {
                events,
                total: counted.min(i64::from(count_cap)),
                total_capped: counted > i64::from(count_cap),
            })
        })
        .await
    }

    async fn event_timeline(
        &self,
        filter: &EventFilter,
        bucket_seconds: u32,
    ) -> Result<Vec<(OffsetDateTime, i64, i64)>, StoreError> {
        let (clause, values) = where_clause(filter, |i| format!("?{i}"));
        let values = sqlite_values(values);
        let bucket = i64::from(bucket_seconds.max(1)) * 1_000_000;
        self.run(move |conn| {
            let sql = format!(
                "SELECT (created_at / {bucket}) * {bucket}, count(*),
                        sum(status IN ('rejected', 'failed', 'rate_limited'))
                 FROM webhook_logs {clause} GROUP BY 1 ORDER BY 1"
            );
            let mut statement = conn.prepare(&sql)?;
            let mut rows = statement.query(rusqlite::params_from_iter(values))?;
            let mut timeline = Vec::new();
            while let Some(row) = rows.next()? {
                timeline.push((from_micros(row.get(0)?)?, row.get(1)?, row.get(2)?));
            }
            Ok(timeline)
        })
        .await
    }

    async fn count_events(&self, filter: &EventFilter) -> Result<EventCounts, StoreError> {
        let (clause, values) = where_clause(filter, |i| format!("?{i}"));
        let values = sqlite_values(values);
        self.run(move |conn| {
            let mut counts = EventCounts::default();
            let mut statement = conn.prepare(&format!(
                "SELECT provider, status, count(*), COALESCE(sum(response_time), 0), count(response_time)
                 FROM webhook_logs {clause} GROUP BY provider, status"
            ))?;
            let mut rows = statement.query(rusqlite::params_from_iter(values))?;
            while let Some(row) = rows.next()? {
                let status: String = row.get(1)?;
                let status = EventStatus::parse(&status)
                    .ok_or_else(|| conversion(format!("unknown status {status:?}")))?;
                counts.rows.push((row.get(0)?, status, row.get(2)?, row.get(3)?, row.get(4)?));
            }
            Ok(counts)
        })
        .await
    }

    /// One process owns the file: no other instance can deliver its tenants.
    fn is_shared(&self) -> bool {
        false
    }

    async fn claim_leases(
        &self,
        _owner: Uuid,
        _ttl: Duration,
        _wanted: &[TenantKey],
    ) -> Result<Vec<(TenantKey, i64)>, StoreError> {
        Ok(Vec::new())
    }

    async fn release_leases(&self, _owner: Uuid) -> Result<(), StoreError> {
        Ok(())
    }

    /// Deletes expired events (and their attempts) a chunk per transaction,
    /// so ingest, which shares the one writer, waits at most for one chunk.
    async fn maintain(&self, retention: &Retention) -> Result<Maintenance, StoreError> {
        const CHUNK: i64 = 5000;
        let cutoff = micros(OffsetDateTime::now_utc() - retention.max_age);
        let mut done = Maintenance::default();
        loop {
            let deleted = self
                .run(move |conn| {
                    let tx = conn.transaction()?;
                    tx.execute(
                        "CREATE TEMP TABLE IF NOT EXISTS expired (id TEXT PRIMARY KEY)",
                        [],
                    )?;
                    tx.execute("DELETE FROM expired", [])?;
                    tx.execute(
                        "INSERT INTO expired SELECT id FROM webhook_logs
                         WHERE created_at < ?1 AND status NOT IN ('pending', 'retrying')
                         LIMIT ?2",
                        params![cutoff, CHUNK],
                    )?;
                    tx.execute(
                        "DELETE FROM webhook_attempts WHERE webhook_log_id IN (SELECT id FROM expired)",
                        [],
                    )?;
                    let deleted = tx.execute(
                        "DELETE FROM webhook_logs WHERE id IN (SELECT id FROM expired)",
                        [],
                    )?;
                    tx.commit()?;
                    Ok(deleted as u64)
                })
                .await?;
            done.rows_deleted += deleted;
            if deleted < CHUNK as u64 {
                return Ok(done);
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }
}
