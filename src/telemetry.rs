//! Prometheus metrics: the one recorder for the process, the names and their
//! descriptions. Metrics are recorded where things happen (the ingest handler,
//! the writer, the tenant actors) through the `metrics` facade.
//!
//! Label cardinality: `provider` and `status`/`outcome` are small fixed sets.
//! `client_id` (on `webhook_requests_total` only, as the seed asks) adds one
//! series per tenant and status; set `metrics.client_id_label = false` for
//! many thousands of tenants. Requests for unknown tenants are labelled `-`,
//! so a caller cannot mint series by inventing clientIds.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub const REQUESTS: &str = "webhook_requests_total";
pub const PROCESSING: &str = "webhook_processing_duration_seconds";
pub const WRITER_QUEUE: &str = "orderhook_writer_queue_depth";
pub const TENANT_ACTORS: &str = "orderhook_tenant_actors";
pub const DELIVERY_QUEUE: &str = "orderhook_delivery_queue_depth";

/// Seconds: from a millisecond to ten seconds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use.
pub fn prometheus() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
        }
        describe();
        // Histogram samples pile up until upkeep drains them into buckets,
        // which otherwise happens only when /metrics is scraped: unscraped,
        // the 10-minute soak grew by 10 MB a minute. A thread, not a task:
        // the recorder outlives any one runtime.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            })
            .expect("spawning the metrics upkeep thread");
        handle
    })
}

const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    use orderhook_actors::metrics as engine;
    describe_counter!(
        REQUESTS,
        "Provider webhook requests, by provider, client and outcome"
    );
    describe_histogram!(PROCESSING, "Time to answer a provider webhook, in seconds");
    describe_gauge!(WRITER_QUEUE, "Rows admitted and not yet committed");
    describe_gauge!(TENANT_ACTORS, "Tenant actors running, by state");
    describe_gauge!(
        DELIVERY_QUEUE,
        "Undelivered events held by running tenant actors (each holds at most delivery.window)"
    );
    describe_histogram!(engine::BATCH_ROWS, "Rows per committed batch");
    describe_histogram!(
        engine::COMMIT_SECONDS,
        "Time to commit one batch, in seconds"
    );
    describe_counter!(
        engine::DELIVERY_ATTEMPTS,
        "Delivery attempts, by provider and outcome"
    );
    describe_histogram!(
        engine::DELIVERY_SECONDS,
        "Time of one delivery attempt, in seconds"
    );
    describe_counter!(
        engine::RATE_LIMITED,
        "Requests refused by a tenant's rate limits"
    );
}
