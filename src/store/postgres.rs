//! The Postgres store (tokio-postgres over a deadpool pool).
//!
//! A batch of events is one statement, so one round trip and one implicit
//! transaction: it locks the batch's tenants' registration rows in id order
//! (so concurrent batches cannot deadlock), bumps each tenant's `last_seq` by
//! its number of sequenced rows, and inserts the rows numbered from there.
//! A failed batch rolls the counters back with the rows, so sequences stay
//! gap-free.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use orderhook_actors::domain::{
    AppendedEvent, AttemptRecord, ClientConfig, EventCounts, EventFilter, EventId, EventPage,
    EventStatus, NewEvent, PendingEvent, Registration, RegistrationUpsert, Requeue, StoredAttempt,
    StoredEvent, TenantBacklog, TenantKey, Upserted,
};
use orderhook_actors::store::{Maintenance, PendingTenant, Retention, Store, StoreError};
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};
use uuid::Uuid;

use super::filter::{FilterValue, where_clause};
use super::migrations::migrate_postgres;
use super::unavailable;
use super::{decode_client_config, encode_client_config};
use crate::cipher::{KEY_CHECK_NAME, SecretCipher, tenant_context};

const APPEND_EVENTS: &str = "
WITH input AS (
  SELECT t.*,
         -- The first row of the batch with this tenant and body: later ones repeat it.
         first_value(t.id) OVER (PARTITION BY t.client_id, t.provider, t.body_sha256 ORDER BY t.ord)
           AS first_in_batch
  FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::text[], $9::timestamptz[], $10::bool[], $11::bytea[])
    WITH ORDINALITY AS t(id, webhook_id, provider, client_id, event_type, status,
                         payload, error_message, created_at, sequenced, body_sha256, ord)
),
-- Accepted rows of the window with any of the batch's bodies. Looked up by
-- body alone, which only the body index answers: the plan cannot drift to a
-- scan of a tenant's recent rows, whatever the statistics say.
-- The window is applied outside this fence: inside, a created_at condition
-- would tempt the planner to AND in a scan of the whole window's rows.
seen AS MATERIALIZED (
  SELECT l.id, l.client_id, l.provider, l.body_sha256, l.created_at FROM webhook_logs l
  WHERE l.body_sha256 = ANY($11::bytea[])
),
repeats AS (
  SELECT i.ord, COALESCE(
    (SELECT s.id FROM seen s
     WHERE s.client_id = i.client_id AND s.provider = i.provider
       AND s.body_sha256 = i.body_sha256
       AND s.created_at > now() - make_interval(secs => $12)
     LIMIT 1),
    NULLIF(i.first_in_batch, i.id)) AS original
  FROM input i WHERE i.body_sha256 IS NOT NULL
),
fresh AS (
  SELECT i.* FROM input i
  WHERE NOT EXISTS (SELECT 1 FROM repeats r WHERE r.ord = i.ord AND r.original IS NOT NULL)
),
wanted AS (
  SELECT webhook_id, count(*) AS n FROM fresh
  WHERE sequenced AND webhook_id IS NOT NULL GROUP BY webhook_id
),
locked AS (
  SELECT id FROM webhooks WHERE id IN (SELECT webhook_id FROM wanted) ORDER BY id FOR UPDATE
),
bumped AS (
  UPDATE webhooks w SET last_seq = w.last_seq + wanted.n
  FROM wanted JOIN locked ON locked.id = wanted.webhook_id
  WHERE w.id = wanted.webhook_id
  RETURNING w.id, w.last_seq - wanted.n AS base
),
inserted AS (
  INSERT INTO webhook_logs
    (id, webhook_id, provider, client_id, event_type, status, seq, payload, error_message,
     created_at, body_sha256)
  SELECT i.id, i.webhook_id, i.provider, i.client_id, i.event_type, i.status,
         CASE WHEN i.sequenced THEN
           b.base + row_number() OVER (PARTITION BY i.webhook_id, i.sequenced ORDER BY i.ord)
         END,
         i.payload, i.error_message, i.created_at, i.body_sha256
  FROM fresh i LEFT JOIN bumped b ON b.id = i.webhook_id
  RETURNING id, seq
)
SELECT id, seq, NULL::uuid AS original FROM inserted
UNION ALL
SELECT i.id, NULL::bigint, r.original FROM repeats r JOIN input i ON i.ord = r.ord
WHERE r.original IS NOT NULL";

const UPSERT_REGISTRATION: &str = "
INSERT INTO webhooks (id, client_id, provider, url, events, secret_key)
VALUES ($1, $2, $3, $4, $5, COALESCE($6, $7))
ON CONFLICT (client_id, provider) DO UPDATE
  SET url = EXCLUDED.url, events = EXCLUDED.events,
      secret_key = COALESCE($6, webhooks.secret_key), is_active = true, updated_at = now()
RETURNING id, client_id, provider, url, events, secret_key, is_active, created_at, updated_at,
          previous_secret_key, previous_secret_expires_at, (xmax = 0) AS created";

const REGISTRATION_COLUMNS: &str = "id, client_id, provider, url, events, secret_key, is_active,
     created_at, updated_at, previous_secret_key, previous_secret_expires_at";

const EVENT_COLUMNS: &str = "id, webhook_id, provider, client_id, seq, event_type, status, payload,
     error_message, created_at, attempts, next_retry_at, delivered_at, response_time";

const PENDING_COLUMNS: &str =
    "id, seq, event_type, payload, created_at, attempts, round_attempts, next_retry_at";

const RECORD_ATTEMPTS: &str = "
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::int[], $5::int[], $6::int[],
                       $7::text[], $8::text[], $9::timestamptz[], $10::text[], $11::timestamptz[],
                       $12::bigint[])
    AS t(id, event_id, attempt, round_attempts, status_code, response_time, response_body,
         error, attempted_at, outcome, next_retry_at, lease_token)
),
stored AS (
  INSERT INTO webhook_attempts
    (id, webhook_log_id, attempt, status_code, response_time, response_body, error_message, created_at)
  SELECT id, event_id, attempt, status_code, response_time, response_body, error, attempted_at
  FROM input
  ON CONFLICT (webhook_log_id, attempt) DO NOTHING
),
latest AS (
  SELECT DISTINCT ON (event_id) * FROM input ORDER BY event_id, attempt DESC
)
UPDATE webhook_logs l
SET status = latest.outcome,
    attempts = GREATEST(l.attempts, latest.attempt),
    round_attempts = latest.round_attempts,
    next_retry_at = latest.next_retry_at,
    response_time = latest.response_time,
    error_message = latest.error,
    delivered_at = CASE WHEN latest.outcome = 'delivered' THEN latest.attempted_at ELSE l.delivered_at END
FROM latest
WHERE l.id = latest.event_id AND l.attempts <= latest.attempt
  -- Fencing: an instance whose lease was taken over records nothing.
  AND (latest.lease_token IS NULL OR EXISTS (
    SELECT 1 FROM tenant_leases tl
    WHERE tl.client_id = l.client_id AND tl.provider = l.provider
      AND tl.token = latest.lease_token))";

const CLAIM_LEASES: &str = "
WITH renewed AS (
  UPDATE tenant_leases SET expires_at = now() + make_interval(secs => $2)
  WHERE owner = $1 AND expires_at > now()
  RETURNING client_id, provider, token
),
claimed AS (
  INSERT INTO tenant_leases (client_id, provider, owner, token, expires_at)
  SELECT w.client_id, w.provider, $1, nextval('tenant_lease_tokens'),
         now() + make_interval(secs => $2)
  FROM unnest($3::text[], $4::text[]) AS w(client_id, provider)
  -- Leases renewed above are not claimed again: one statement may not touch a row twice.
  WHERE NOT EXISTS (
    SELECT 1 FROM tenant_leases t
    WHERE t.client_id = w.client_id AND t.provider = w.provider
      AND t.owner = $1 AND t.expires_at > now())
  ON CONFLICT (client_id, provider) DO UPDATE
    SET owner = EXCLUDED.owner,
        -- Our own lapsed lease, untaken: nobody else delivered meanwhile, so
        -- the token stays and our attempts still on their way are not fenced.
        token = CASE WHEN tenant_leases.owner = EXCLUDED.owner
                     THEN tenant_leases.token ELSE EXCLUDED.token END,
        expires_at = EXCLUDED.expires_at
    WHERE tenant_leases.expires_at <= now()
  RETURNING client_id, provider, token
)
SELECT client_id, provider, token FROM renewed
UNION ALL
SELECT client_id, provider, token FROM claimed";

pub struct PostgresStore {
    pool: Pool,
    /// Seals tenants' secrets before they are written, opens them when read.
    cipher: Arc<SecretCipher>,
    /// How long an accepted body counts as seen: a repeat within it is a duplicate.
    dedup_window: Duration,
}

impl PostgresStore {
    /// `statement_timeout` bounds every statement on the server side: a batch
    /// the writer gives up on is cancelled there too, rather than committing
    /// after its requests were already answered 503.
    /// `jit=off`: a large batch (a backlog after a restart) is estimated
    /// expensive enough to be JIT-compiled, and compiling took 1.5 s per batch
    /// where running it takes 60 ms; no statement of ours gains from JIT.
    pub async fn connect(
        url: &str,
        pool_size: usize,
        connect_timeout: Duration,
        statement_timeout: Duration,
        cipher: Arc<SecretCipher>,
        retention: &Retention,
    ) -> Result<Self, anyhow::Error> {
        let mut config = tokio_postgres::Config::from_str(url)?;
        config.connect_timeout(connect_timeout);
        config.application_name("orderhook");
        config.options(format!(
            "-c statement_timeout={} -c jit=off",
            statement_timeout.as_millis()
        ));
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A dead connection shows up as an error on its next use and is
                // then discarded; checking every checkout would cost a round trip.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            // Bounded waits, so an unreachable database turns into 503s, not hung requests.
            .wait_timeout(Some(connect_timeout))
            .create_timeout(Some(connect_timeout))
            .recycle_timeout(Some(connect_timeout))
            .build()?;
        let mut client = pool.get().await?;
        migrate_postgres(&mut client).await?;
        check_key(&client, &cipher).await?;
        // Before any event is written: a new database has no partition for now yet.
        super::partitions::maintain(&mut client, retention, super::partitions::now_s()).await?;
        Ok(Self {
            pool,
            cipher,
            dedup_window: super::DEFAULT_DEDUP_WINDOW,
        })
    }

    pub fn with_dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window = window;
        self
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(unavailable)
    }

    /// Runs a query over one tenant's events in sequence order, taking
    /// `$1 client_id, $2 provider, $3 after_seq, $4 limit`.
    async fn tenant_page(
        &self,
        sql: &str,
        tenant: &TenantKey,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(classify)?;
        client
            .query(
                &statement,
                &[
                    &&*tenant.client_id,
                    &&*tenant.provider,
                    &after_seq,
                    &i64::from(limit),
                ],
            )
            .await
            .map_err(classify)
    }
}

/// Refuses to start with a key other than the one this database's secrets
/// were sealed with.
async fn check_key(
    client: &tokio_postgres::Client,
    cipher: &SecretCipher,
) -> Result<(), anyhow::Error> {
    let stored: Option<String> = client
        .query_opt(
            "SELECT value FROM orderhook_meta WHERE key = $1",
            &[&KEY_CHECK_NAME],
        )
        .await?
        .map(|row| row.get(0));
    match cipher.check_key(stored.as_deref()) {
        Ok(Some(value)) => {
            client
                .execute(
                    "INSERT INTO orderhook_meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&KEY_CHECK_NAME, &value],
                )
                .await?;
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(_) => anyhow::bail!(
            "the encryption key (ORDERHOOK_ENCRYPTION_KEY) is not the one this database's secrets were sealed with"
        ),
    }
}

/// Sorts database errors into the engine's categories: data the store refused
/// (possibly one row of a batch), the store being away, anything else.
fn classify(err: tokio_postgres::Error) -> StoreError {
    let Some(code) = err.code() else {
        // No SQLSTATE: either the connection failed (closed, or an I/O error
        // underneath), or our side could not encode or decode a value, which
        // no retry will fix.
        let connection = err.is_closed()
            || std::error::Error::source(&err).is_some_and(|source| source.is::<std::io::Error>());
        return if connection {
            StoreError::Unavailable(err.to_string())
        } else {
            StoreError::Internal(err.to_string())
        };
    };
    let class = &code.code()[..2];
    if matches!(class, "22" | "23") {
        StoreError::Rejected(err.to_string())
    } else if matches!(class, "08" | "40" | "53" | "57")
        || *code == SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE
    {
        StoreError::Unavailable(err.to_string())
    } else {
        StoreError::Internal(err.to_string())
    }
}

fn registration_from(row: &Row, cipher: &SecretCipher) -> Result<Registration, StoreError> {
    let client_id: &str = row.get("client_id");
    let provider: &str = row.get("provider");
    let context = tenant_context(client_id, provider);
    let open = |sealed: &str| {
        cipher
            .open(sealed, &context)
            .map_err(|err| StoreError::Internal(err.to_string()))
    };
    let secret = open(row.get("secret_key"))?;
    let previous_secret = match (
        row.get::<_, Option<&str>>("previous_secret_key"),
        row.get::<_, Option<OffsetDateTime>>("previous_secret_expires_at"),
    ) {
        (Some(sealed), Some(until)) => Some((open(sealed)?, until)),
        _ => None,
    };
    Ok(Registration {
        webhook_id: row.get("id"),
        tenant: TenantKey::new(client_id, provider),
        url: row.get("url"),
        events: row.get("events"),
        secret,
        previous_secret,
        is_active: row.get("is_active"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    })
}

fn event_from(row: &Row) -> Result<StoredEvent, StoreError> {
    let status: &str = row.get("status");
    Ok(StoredEvent {
        id: EventId(row.get("id")),
        webhook_id: row.get("webhook_id"),
        tenant: TenantKey::new(
            row.get::<_, &str>("client_id"),
            row.get::<_, &str>("provider"),
        ),
        seq: row.get("seq"),
        event_type: row.get("event_type"),
        status: EventStatus::parse(status)
            .ok_or_else(|| StoreError::Internal(format!("unknown status {status:?}")))?,
        payload: row.get("payload"),
        error_message: row.get("error_message"),
        created_at: row.get("created_at"),
        attempts: row.get("attempts"),
        response_time: row.get("response_time"),
        next_retry_at: row.get("next_retry_at"),
        delivered_at: row.get("delivered_at"),
    })
}

/// A filter's values as Postgres parameters.
fn pg_params(values: &[FilterValue]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|value| match value {
            FilterValue::Text(text) => text as &(dyn ToSql + Sync),
            FilterValue::Time(at) => at as &(dyn ToSql + Sync),
        })
        .collect()
}

fn pending_from(row: &Row) -> PendingEvent {
    PendingEvent {
        id: EventId(row.get("id")),
        seq: row.get("seq"),
        event_type: row.get("event_type"),
        payload: row.get::<_, Option<String>>("payload").unwrap_or_default(),
        received_at: row.get("created_at"),
        attempts: row.get("attempts"),
        round_attempts: row.get("round_attempts"),
        next_retry_at: row.get("next_retry_at"),
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn append_events(&self, events: &[NewEvent]) -> Result<Vec<AppendedEvent>, StoreError> {
        let ids: Vec<Uuid> = events.iter().map(|e| e.id.0).collect();
        let webhook_ids: Vec<Option<Uuid>> = events.iter().map(|e| e.webhook_id).collect();
        let providers: Vec<&str> = events.iter().map(|e| &*e.tenant.provider).collect();
        let clients: Vec<&str> = events.iter().map(|e| &*e.tenant.client_id).collect();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        let statuses: Vec<&str> = events.iter().map(|e| e.status.as_str()).collect();
        let payloads: Vec<Option<&str>> = events.iter().map(|e| e.payload.as_deref()).collect();
        let errors: Vec<Option<&str>> = events.iter().map(|e| e.error_message.as_deref()).collect();
        let received: Vec<OffsetDateTime> = events.iter().map(|e| e.received_at).collect();
        let sequenced: Vec<bool> = events.iter().map(|e| e.status.is_sequenced()).collect();
        let hashes: Vec<Option<&[u8]>> = events
            .iter()
            .map(|e| e.body_sha256.as_ref().map(|h| &h[..]))
            .collect();
        let window = self.dedup_window.as_secs_f64();

        let client = self.client().await?;
        let statement = client
            .prepare_cached(APPEND_EVENTS)
            .await
            .map_err(classify)?;
        let rows = client
            .query(
                &statement,
                &[
                    &ids,
                    &webhook_ids,
                    &providers,
                    &clients,
                    &types,
                    &statuses,
                    &payloads,
                    &errors,
                    &received,
                    &sequenced,
                    &hashes,
                    &window,
                ],
            )
            .await
            .map_err(classify)?;
        // RETURNING does not promise input order; match rows back by id.
        let mut outcomes: HashMap<Uuid, (Option<i64>, Option<Uuid>)> = rows
            .iter()
            .map(|row| (row.get(0), (row.get(1), row.get(2))))
            .collect();
        events
            .iter()
            .map(|e| {
                let (seq, original) = outcomes.remove(&e.id.0).ok_or_else(|| {
                    StoreError::Internal(format!("event {} was not stored", e.id))
                })?;
                Ok(match original {
                    Some(original) => AppendedEvent {
                        id: EventId(original),
                        seq: None,
                        duplicate: true,
                    },
                    None => AppendedEvent {
                        id: e.id,
                        seq,
                        duplicate: false,
                    },
                })
            })
            .collect()
    }

    async fn upsert_registration(
        &self,
        upsert: RegistrationUpsert,
    ) -> Result<Upserted, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(UPSERT_REGISTRATION)
            .await
            .map_err(classify)?;
        let context = tenant_context(&upsert.tenant.client_id, &upsert.tenant.provider);
        let given = upsert
            .secret
            .as_ref()
            .map(|s| self.cipher.seal(s.expose_secret(), &context));
        let generated = self
            .cipher
            .seal(upsert.generated_secret.expose_secret(), &context);
        let row = client
            .query_one(
                &statement,
                &[
                    &upsert.new_webhook_id,
                    &&*upsert.tenant.client_id,
                    &&*upsert.tenant.provider,
                    &upsert.url,
                    &upsert.events,
                    &given,
                    &generated,
                ],
            )
            .await
            .map_err(classify)?;
        Ok(Upserted {
            registration: registration_from(&row, &self.cipher)?,
            created: row.get("created"),
        })
    }

    async fn find_registration(
        &self,
        tenant: &TenantKey,
    ) -> Result<Option<Registration>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {REGISTRATION_COLUMNS} FROM webhooks WHERE client_id = $1 AND provider = $2"
        );
        let statement = client.prepare_cached(&sql).await.map_err(classify)?;
        let row = client
            .query_opt(&statement, &[&&*tenant.client_id, &&*tenant.provider])
            .await
            .map_err(classify)?;
        row.as_ref()
            .map(|row| registration_from(row, &self.cipher))
            .transpose()
    }

    async fn find_event(&self, id: EventId) -> Result<Option<StoredEvent>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {EVENT_COLUMNS} FROM webhook_logs WHERE id = $1");
        let statement = client.prepare_cached(&sql).await.map_err(classify)?;
        let row = client
            .query_opt(&statement, &[&id.0])
            .await
            .map_err(classify)?;
        row.as_ref().map(event_from).transpose()
    }

    async fn tenant_events(
        &self,
        tenant: &TenantKey,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM webhook_logs
             WHERE client_id = $1 AND provider = $2 AND seq > $3
             ORDER BY seq LIMIT $4"
        );
        let rows = self.tenant_page(&sql, tenant, after_seq, limit).await?;
        rows.iter().map(event_from).collect()
    }

    async fn pending_events(
        &self,
        tenant: &TenantKey,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<PendingEvent>, StoreError> {
        let sql = format!(
            "SELECT {PENDING_COLUMNS} FROM webhook_logs
             WHERE client_id = $1 AND provider = $2 AND seq > $3
               AND status IN ('pending', 'retrying')
             ORDER BY seq LIMIT $4"
        );
        let rows = self.tenant_page(&sql, tenant, after_seq, limit).await?;
        Ok(rows.iter().map(pending_from).collect())
    }

    async fn tenant_backlog(&self, tenant: &TenantKey) -> Result<TenantBacklog, StoreError> {
        let client = self.client().await?;
        // Both aggregates use the tenant's partial index of undelivered events
        // (and the tenant index for the last delivery), not a table scan.
        let row = client
            .query_one(
                "SELECT
                   (SELECT count(*) FROM webhook_logs WHERE client_id = $1 AND provider = $2
                      AND status IN ('pending', 'retrying')),
                   (SELECT min(created_at) FROM webhook_logs WHERE client_id = $1 AND provider = $2
                      AND status IN ('pending', 'retrying')),
                   (SELECT max(delivered_at) FROM webhook_logs WHERE client_id = $1 AND provider = $2
                      AND status = 'delivered')",
                &[&&*tenant.client_id, &&*tenant.provider],
            )
            .await
            .map_err(classify)?;
        Ok(TenantBacklog {
            undelivered: row.get(0),
            oldest_undelivered_at: row.get(1),
            last_delivered_at: row.get(2),
        })
    }

    async fn tenants_with_pending(&self) -> Result<Vec<PendingTenant>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT p.client_id, p.provider, p.up_to, w.requeued_at
                 FROM (SELECT client_id, provider, max(seq) AS up_to FROM webhook_logs
                       WHERE status IN ('pending', 'retrying') GROUP BY client_id, provider) p
                 LEFT JOIN webhooks w ON w.client_id = p.client_id AND w.provider = p.provider",
                &[],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|row| PendingTenant {
                tenant: TenantKey::new(row.get::<_, &str>(0), row.get::<_, &str>(1)),
                up_to: row.get(2),
                requeued_at: row.get(3),
            })
            .collect())
    }

    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = attempts.iter().map(|_| Uuid::now_v7()).collect();
        let events: Vec<Uuid> = attempts.iter().map(|a| a.event_id.0).collect();
        let numbers: Vec<i32> = attempts.iter().map(|a| a.attempt).collect();
        let rounds: Vec<i32> = attempts.iter().map(|a| a.round_attempts).collect();
        let codes: Vec<Option<i32>> = attempts.iter().map(|a| a.status_code).collect();
        let times: Vec<i32> = attempts.iter().map(|a| a.response_time_ms).collect();
        let bodies: Vec<Option<&str>> = attempts
            .iter()
            .map(|a| a.response_body.as_deref())
            .collect();
        let errors: Vec<Option<&str>> = attempts.iter().map(|a| a.error.as_deref()).collect();
        let at: Vec<OffsetDateTime> = attempts.iter().map(|a| a.attempted_at).collect();
        let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
        let next: Vec<Option<OffsetDateTime>> = attempts.iter().map(|a| a.next_retry_at).collect();
        let tokens: Vec<Option<i64>> = attempts.iter().map(|a| a.lease_token).collect();
        let client = self.client().await?;
        let statement = client
            .prepare_cached(RECORD_ATTEMPTS)
            .await
            .map_err(classify)?;
        client
            .execute(
                &statement,
                &[
                    &ids, &events, &numbers, &rounds, &codes, &times, &bodies, &errors, &at,
                    &outcomes, &next, &tokens,
                ],
            )
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn event_attempts(&self, id: EventId) -> Result<Vec<StoredAttempt>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT attempt, status_code, response_time, response_body, error_message, created_at
                 FROM webhook_attempts WHERE webhook_log_id = $1 ORDER BY attempt",
                &[&id.0],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|row| StoredAttempt {
                attempt: row.get(0),
                status_code: row.get(1),
                response_time_ms: row.get::<_, Option<i32>>(2).unwrap_or_default(),
                response_body: row.get(3),
                error: row.get(4),
                created_at: row.get(5),
            })
            .collect())
    }

    async fn requeue_failed(&self, id: EventId) -> Result<Requeue, StoreError> {
        let client = self.client().await?;
        // One statement: the status check and the change cannot interleave with
        // an attempt being recorded.
        let sql = format!(
            "WITH target AS (SELECT id, status FROM webhook_logs WHERE id = $1 FOR UPDATE),
             requeued AS (
               UPDATE webhook_logs l SET status = 'pending', round_attempts = 0, next_retry_at = NULL
               FROM target WHERE l.id = target.id AND target.status = 'failed'
               RETURNING l.client_id, l.provider, {}
             ),
             marked AS (
               UPDATE webhooks w SET requeued_at = now() FROM requeued
               WHERE w.client_id = requeued.client_id AND w.provider = requeued.provider
             )
             SELECT target.status, requeued.* FROM target LEFT JOIN requeued ON true",
            PENDING_COLUMNS
                .split(", ")
                .map(|c| format!("l.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let row = client.query_opt(&sql, &[&id.0]).await.map_err(classify)?;
        let Some(row) = row else {
            return Ok(Requeue::NotFound);
        };
        let status: &str = row.get(0);
        if row.get::<_, Option<Uuid>>("id").is_none() {
            let status = EventStatus::parse(status)
                .ok_or_else(|| StoreError::Internal(format!("unknown status {status:?}")))?;
            return Ok(Requeue::NotFailed(status));
        }
        let tenant = TenantKey::new(
            row.get::<_, &str>("client_id"),
            row.get::<_, &str>("provider"),
        );
        Ok(Requeue::Requeued(tenant, pending_from(&row)))
    }

    async fn rotate_secret(
        &self,
        webhook_id: Uuid,
        secret: secrecy::SecretString,
        old_valid_until: OffsetDateTime,
    ) -> Result<Option<Registration>, StoreError> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                "SELECT client_id, provider FROM webhooks WHERE id = $1",
                &[&webhook_id],
            )
            .await
            .map_err(classify)?
        else {
            return Ok(None);
        };
        let context = tenant_context(row.get(0), row.get(1));
        let sealed = self.cipher.seal(secret.expose_secret(), &context);
        let sql = format!(
            "UPDATE webhooks SET previous_secret_key = secret_key, previous_secret_expires_at = $3,
                                 secret_key = $2, updated_at = now()
             WHERE id = $1 RETURNING {REGISTRATION_COLUMNS}"
        );
        let row = client
            .query_opt(&sql, &[&webhook_id, &sealed, &old_valid_until])
            .await
            .map_err(classify)?;
        row.as_ref()
            .map(|row| registration_from(row, &self.cipher))
            .transpose()
    }

    async fn list_registrations(
        &self,
        client_id: Option<&str>,
        except: &[TenantKey],
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<Registration>, i64), StoreError> {
        let except_clients: Vec<&str> = except.iter().map(|k| &*k.client_id).collect();
        let except_providers: Vec<&str> = except.iter().map(|k| &*k.provider).collect();
        let matching = "($1::text IS NULL OR client_id = $1)
             AND (client_id, provider) NOT IN (SELECT * FROM unnest($2::text[], $3::text[]))";
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {REGISTRATION_COLUMNS} FROM webhooks WHERE {matching}
                     ORDER BY client_id, provider LIMIT $4 OFFSET $5"
                ),
                &[
                    &client_id,
                    &except_clients,
                    &except_providers,
                    &i64::from(limit),
                    &i64::from(offset),
                ],
            )
            .await
            .map_err(classify)?;
        let total: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM webhooks WHERE {matching}"),
                &[&client_id, &except_clients, &except_providers],
            )
            .await
            .map_err(classify)?
            .get(0);
        let registrations = rows
            .iter()
            .map(|row| registration_from(row, &self.cipher))
            .collect::<Result<_, _>>()?;
        Ok((registrations, total))
    }

    async fn client_registrations(&self, client_id: &str) -> Result<Vec<Registration>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {REGISTRATION_COLUMNS} FROM webhooks WHERE client_id = $1 ORDER BY provider"
        );
        let rows = client.query(&sql, &[&client_id]).await.map_err(classify)?;
        rows.iter()
            .map(|row| registration_from(row, &self.cipher))
            .collect()
    }

    async fn client_config(&self, client_id: &str) -> Result<ClientConfig, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT config FROM client_configs WHERE client_id = $1",
                &[&client_id],
            )
            .await
            .map_err(classify)?;
        decode_client_config(row.as_ref().map(|row| row.get(0)))
    }

    async fn save_client_config(
        &self,
        client_id: &str,
        config: &ClientConfig,
    ) -> Result<(), StoreError> {
        let json = encode_client_config(config)?;
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO client_configs (client_id, config) VALUES ($1, $2)
                 ON CONFLICT (client_id) DO UPDATE SET config = EXCLUDED.config, updated_at = now()",
                &[&client_id, &json],
            )
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn create_client_key(
        &self,
        key_id: Uuid,
        client_id: &str,
        key_sha256: [u8; 32],
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO client_keys (id, client_id, key_sha256) VALUES ($1, $2, $3)",
                &[&key_id, &client_id, &&key_sha256[..]],
            )
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn find_client_key(
        &self,
        key_sha256: [u8; 32],
    ) -> Result<Option<(Uuid, String)>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT id, client_id FROM client_keys WHERE key_sha256 = $1 AND revoked_at IS NULL",
                &[&&key_sha256[..]],
            )
            .await
            .map_err(classify)?;
        Ok(row.map(|row| (row.get(0), row.get(1))))
    }

    async fn revoke_client_key(&self, client_id: &str, key_id: Uuid) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let revoked = client
            .execute(
                "UPDATE client_keys SET revoked_at = now()
                 WHERE id = $1 AND client_id = $2 AND revoked_at IS NULL",
                &[&key_id, &client_id],
            )
            .await
            .map_err(classify)?;
        Ok(revoked == 1)
    }

    async fn list_events(
        &self,
        filter: &EventFilter,
        limit: u32,
        offset: u32,
        count_cap: u32,
    ) -> Result<EventPage, StoreError> {
        let (clause, values) = where_clause(filter, |i| format!("${i}"));
        let params = pg_params(&values);
        let n = params.len();
        let mut page_params: Vec<&(dyn ToSql + Sync)> = params.clone();
        let (limit, offset, cap) = (
            i64::from(limit),
            i64::from(offset),
            i64::from(count_cap) + 1,
        );
        page_params.push(&limit);
        page_params.push(&offset);
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {EVENT_COLUMNS} FROM webhook_logs {clause}
                     ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
                    n + 1,
                    n + 2
                ),
                &page_params,
            )
            .await
            .map_err(classify)?;
        let mut count_params = params;
        count_params.push(&cap);
        let counted: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM (SELECT 1 FROM webhook_logs {clause} LIMIT ${}) capped",
                    n + 1
                ),
                &count_params,
            )
            .await
            .map_err(classify)?
            .get(0);
        Ok(EventPage {
            events: rows.iter().map(event_from).collect::<Result<_, _>>()?,
            total: counted.min(i64::from(count_cap)),
            total_capped: counted > i64::from(count_cap),
        })
    }

    async fn event_timeline(
        &self,
        filter: &EventFilter,
        bucket_seconds: u32,
    ) -> Result<Vec<(OffsetDateTime, i64, i64)>, StoreError> {
        let (clause, values) = where_clause(filter, |i| format!("${i}"));
        let mut params = pg_params(&values);
        let bucket = f64::from(bucket_seconds.max(1));
        params.push(&bucket);
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT to_timestamp(floor(extract(epoch FROM created_at)::float8 / ${n}::float8)
                                         * ${n}::float8) AS bucket,
                            count(*),
                            count(*) FILTER (WHERE status IN ('rejected', 'failed', 'rate_limited'))
                     FROM webhook_logs {clause} GROUP BY 1 ORDER BY 1",
                    n = values.len() + 1
                ),
                &params,
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect())
    }

    async fn count_events(&self, filter: &EventFilter) -> Result<EventCounts, StoreError> {
        let (clause, values) = where_clause(filter, |i| format!("${i}"));
        let params = pg_params(&values);
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT provider, status, count(*), COALESCE(sum(response_time), 0)::bigint,
                            count(response_time)
                     FROM webhook_logs {clause} GROUP BY provider, status"
                ),
                &params,
            )
            .await
            .map_err(classify)?;
        let mut counts = EventCounts::default();
        for row in rows {
            let status: &str = row.get(1);
            let status = EventStatus::parse(status)
                .ok_or_else(|| StoreError::Internal(format!("unknown status {status:?}")))?;
            counts
                .rows
                .push((row.get(0), status, row.get(2), row.get(3), row.get(4)));
        }
        Ok(counts)
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn claim_leases(
        &self,
        owner: Uuid,
        ttl: Duration,
        wanted: &[TenantKey],
    ) -> Result<Vec<(TenantKey, i64)>, StoreError> {
        // One order for every instance, so two claiming together cannot deadlock.
        let mut wanted: Vec<&TenantKey> = wanted.iter().collect();
        wanted.sort_by(|a, b| (&a.client_id, &a.provider).cmp(&(&b.client_id, &b.provider)));
        let clients: Vec<&str> = wanted.iter().map(|k| &*k.client_id).collect();
        let providers: Vec<&str> = wanted.iter().map(|k| &*k.provider).collect();
        let client = self.client().await?;
        let statement = client
            .prepare_cached(CLAIM_LEASES)
            .await
            .map_err(classify)?;
        let rows = client
            .query(
                &statement,
                &[&owner, &ttl.as_secs_f64(), &clients, &providers],
            )
            .await
            .map_err(classify)?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    TenantKey::new(row.get::<_, &str>(0), row.get::<_, &str>(1)),
                    row.get(2),
                )
            })
            .collect())
    }

    async fn maintain(&self, retention: &Retention) -> Result<Maintenance, StoreError> {
        let mut client = self.client().await?;
        super::partitions::maintain(&mut client, retention, super::partitions::now_s())
            .await
            .map_err(classify)
    }

    async fn release_leases(&self, owner: Uuid) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM tenant_leases WHERE owner = $1", &[&owner])
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(classify)?;
        Ok(())
    }
}
