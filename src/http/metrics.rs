//! `GET /metrics`: Prometheus text exposition of everything recorded.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::app::AppState;
use crate::telemetry;

/// Gauges that describe the moment are set at scrape time rather than on
/// every change; upkeep keeps histogram buckets from growing between scrapes.
pub async fn render(State(app): State<AppState>) -> impl IntoResponse {
    let handle = telemetry::prometheus();
    metrics::gauge!(telemetry::WRITER_QUEUE).set(app.engine.writer_queue_depth() as f64);
    metrics::gauge!(telemetry::TENANT_ACTORS).set(app.engine.running_tenants() as f64);
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}
