//! Names of the metrics the engine records (descriptions live with the
//! exporter in the HTTP edge).

pub const BATCH_ROWS: &str = "orderhook_writer_batch_rows";
pub const COMMIT_SECONDS: &str = "orderhook_writer_commit_seconds";
pub const DELIVERY_ATTEMPTS: &str = "webhook_delivery_attempts_total";
pub const DELIVERY_SECONDS: &str = "webhook_delivery_duration_seconds";
pub const RATE_LIMITED: &str = "webhook_rate_limited_total";
