//! `GET /health`: whether this instance can take webhooks (503 when its store
//! is unreachable or its engine has stopped), and `GET /health/live`: whether the process answers at all.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::app::AppState;

/// A store slower than this to answer `SELECT 1` counts as down.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether this instance can take webhooks.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses(
        (status = 200, description = "{status, timestamp, services: {database, actors}}", body = Object),
        (status = 503, description = "Store unreachable or engine stopped", body = Object),
    )
)]
pub async fn health(State(app): State<AppState>) -> (StatusCode, Json<Value>) {
    let started = Instant::now();
    let ping = tokio::time::timeout(PING_TIMEOUT, app.store.ping()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let database = match ping {
        Ok(Ok(())) => json!({ "status": "up", "kind": app.store_kind, "latencyMs": latency_ms }),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "health check: store unreachable");
            json!({ "status": "down", "kind": app.store_kind, "error": "unreachable" })
        }
        Err(_) => json!({ "status": "down", "kind": app.store_kind, "error": "timed out" }),
    };
    let engine_up = app.engine.is_running();
    let mut by_state: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for health in app.engine.running_tenant_health().await {
        *by_state.entry(health.state).or_default() += 1;
    }
    let up = database["status"] == "up" && engine_up;
    let body = json!({
        "status": if up { "ok" } else { "unavailable" },
        "timestamp": super::rfc3339(OffsetDateTime::now_utc()),
        "services": {
            "database": database,
            "actors": {
                "status": if engine_up { "up" } else { "down" },
                "runningTenants": app.engine.running_tenants(),
                "tenantsByState": by_state,
                "writerQueueDepth": app.engine.writer_queue_depth(),
            },
            // Which tenants this instance delivers, when instances share the store.
            "leases": {
                "shared": app.engine.leases().is_shared(),
                "instance": app.engine.leases().owner(),
                "held": app.engine.leases().held_count(),
            },
        },
    });
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// No I/O at all: the load tester's baseline for the cost of HTTP alone.
/// Whether the process answers at all (no I/O).
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, body = Object)))]
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
