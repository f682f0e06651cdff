//! The data lifecycle: a background pass every `retention.interval_ms` that
//! prepares room for new events and removes expired ones (the store decides
//! how: partitions on Postgres, row deletes on the embedded store).

use std::sync::Arc;
use std::time::Duration;

use orderhook_actors::store::{Retention, Store};
use tokio::task::JoinHandle;

/// Runs passes, the first at once, until aborted.
pub fn spawn(store: Arc<dyn Store>, retention: Retention, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            pass(&*store, &retention).await;
        }
    })
}

/// One pass; a failure is logged and retried at the next.
pub async fn pass(store: &dyn Store, retention: &Retention) {
    match store.maintain(retention).await {
        Ok(done) => {
            if done.partitions_dropped + done.partitions_kept > 0 || done.rows_deleted > 0 {
                tracing::info!(
                    created = done.partitions_created,
                    dropped = done.partitions_dropped,
                    kept_for_pending = done.partitions_kept,
                    rows_deleted = done.rows_deleted,
                    "retention pass"
                );
            }
        }
        Err(err) => tracing::warn!(error = %err, "retention pass failed; retrying later"),
    }
}
