//! `GET /metrics`: Prometheus text exposition of everything recorded.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::app::AppState;
use crate::telemetry;

/// Gauges that describe the moment are set at scrape time rather than on
/// every change; upkeep keeps histogram buckets from growing between scrapes.
/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "text/plain; version=0.0.4", body = String)))]
pub async fn render(State(app): State<AppState>) -> impl IntoResponse {
    let handle = telemetry::prometheus();
    metrics::gauge!(telemetry::WRITER_QUEUE).set(app.engine.writer_queue_depth() as f64);
    let tenants = app.engine.running_tenant_health().await;
    let mut by_state: std::collections::BTreeMap<&'static str, usize> =
        orderhook_actors::tenant::RUNNING_STATES
            .into_iter()
            .map(|state| (state, 0))
            .collect();
    for tenant in &tenants {
        *by_state.entry(tenant.state).or_default() += 1;
    }
    for (state, count) in by_state {
        metrics::gauge!(telemetry::TENANT_ACTORS, "state" => state).set(count as f64);
    }
    let queued: usize = tenants.iter().map(|tenant| tenant.queued).sum();
    metrics::gauge!(telemetry::DELIVERY_QUEUE).set(queued as f64);
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}
