//! Postgres partition upkeep for webhook_logs and webhook_attempts (see
//! migrations/postgres/0011_partitions.sql): both are partitioned by event id
//! (UUID v7, time-ordered) in spans of `retention.partition_span_s`, named
//! `<table>_p<from>_<to>` in unix seconds. One pass creates the partitions
//! the next `partitions_ahead` spans need and drops those wholly older than
//! `max_age`, unless one still holds a pending or retrying event.

use std::time::Duration;

use orderhook_actors::store::{Maintenance, Retention};
use tokio_postgres::Client;

const TABLES: [&str; 2] = ["webhook_logs", "webhook_attempts"];
/// Taken for a pass, so instances starting together do not race to create.
const ADVISORY_LOCK: i64 = 0x6f68_7061_7274; // "ohpart"
/// A drop waits at most this long for its lock, then tries again next pass,
/// so it never queues ingest behind a long-running query.
const LOCK_TIMEOUT: &str = "2s";

/// The smallest UUID v7 of unix second `secs`: every id created from then
/// on sorts at or after it, every earlier one before it.
pub fn bound(secs: u64) -> String {
    let hex = format!("{:012x}", secs * 1000);
    format!("{}-{}-7000-8000-000000000000", &hex[..8], &hex[8..])
}

/// `(from, to)` of a partition named `webhook_logs_p<from>_<to>`.
fn span_of(name: &str) -> Option<(u64, u64)> {
    let (from, to) = name.strip_prefix("webhook_logs_p")?.split_once('_')?;
    Some((from.parse().ok()?, to.parse().ok()?))
}

pub async fn maintain(
    client: &mut Client,
    retention: &Retention,
    now_s: u64,
) -> Result<Maintenance, tokio_postgres::Error> {
    let mut done = Maintenance::default();
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&ADVISORY_LOCK])
        .await?
        .get(0);
    if !locked {
        return Ok(done);
    }
    let result = pass(client, retention, now_s, &mut done).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&ADVISORY_LOCK])
        .await?;
    result.map(|()| done)
}

async fn pass(
    client: &mut Client,
    retention: &Retention,
    now_s: u64,
    done: &mut Maintenance,
) -> Result<(), tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'webhook_logs'::regclass",
            &[],
        )
        .await?;
    let mut spans: Vec<(u64, u64)> = rows
        .iter()
        .filter_map(|row| span_of(row.get::<_, &str>(0)))
        .collect();
    spans.sort_unstable();

    let span = retention.partition_span.as_secs().max(1);
    let horizon = now_s + span * u64::from(retention.partitions_ahead.max(1));
    let mut top = spans.last().map_or(now_s, |(_, to)| *to);
    while top < horizon {
        let next = top + span;
        let transaction = client.transaction().await?;
        for table in TABLES {
            transaction
                .batch_execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {table}_p{top}_{next} PARTITION OF {table}
                     FOR VALUES FROM ('{}') TO ('{}')",
                    bound(top),
                    bound(next)
                ))
                .await?;
        }
        transaction.commit().await?;
        done.partitions_created += 1;
        top = next;
    }

    let oldest_kept = now_s.saturating_sub(retention.max_age.as_secs());
    for (from, to) in spans.into_iter().filter(|(_, to)| *to <= oldest_kept) {
        let logs = format!("webhook_logs_p{from}_{to}");
        let waiting: bool = client
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM {logs} WHERE status IN ('pending', 'retrying'))"
                ),
                &[],
            )
            .await?
            .get(0);
        if waiting {
            done.partitions_kept += 1;
            continue;
        }
        let transaction = client.transaction().await?;
        transaction
            .batch_execute(&format!(
                "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
                 DROP TABLE IF EXISTS webhook_attempts_p{from}_{to};
                 DROP TABLE IF EXISTS {logs};"
            ))
            .await?;
        transaction.commit().await?;
        done.partitions_dropped += 1;
    }
    Ok(())
}

/// Unix seconds now.
pub fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_bound_sorts_between_the_ids_of_the_seconds_around_it() {
        let at = 1_733_356_800;
        let bound = Uuid::parse_str(&bound(at)).unwrap();
        let just_before = Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            at - 1,
            999_999_999,
        ));
        let at_the_second = Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, at, 0));
        // Postgres compares UUIDs byte by byte, as these do.
        assert!(just_before.as_bytes() < bound.as_bytes());
        assert!(bound.as_bytes() <= at_the_second.as_bytes());
    }

    #[test]
    fn partition_names_carry_their_span() {
        assert_eq!(span_of("webhook_logs_p0_86400"), Some((0, 86400)));
        assert_eq!(span_of("webhook_logs_p10_20"), Some((10, 20)));
        assert_eq!(span_of("webhook_attempts_p0_1"), None);
        assert_eq!(span_of("webhook_logs_legacy"), None);
    }
}
