//! `GET /api/tenants/{clientId}/{provider}/health`: one tenant as its actor
//! sees it (state, in-flight attempt, failures, rate-limit usage, restarts)
//! with its backlog from the store. A tenant whose actor is not running is
//! answered from the store alone, as `idle`, without starting one.

use axum::Json;
use axum::extract::State;
use orderhook_actors::domain::TenantKey;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::access::Caller;
use super::error::{ApiError, ApiPath};
use crate::app::AppState;
use crate::{client_id, providers};

pub async fn tenant_health(
    caller: Caller,
    State(app): State<AppState>,
    ApiPath((client, provider)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let not_found =
        || ApiError::not_found("unknown_tenant", format!("no tenant {provider}/{client}"));
    let Some(provider) = providers::find(&provider) else {
        return Err(not_found());
    };
    if !client_id::is_valid(&client) || !caller.may_see(&client) {
        return Err(not_found());
    }
    let key = TenantKey::new(client.as_str(), provider.name());
    let registration = app
        .store
        .find_registration(&key)
        .await?
        .ok_or_else(not_found)?;
    let backlog = app.store.tenant_backlog(&key).await?;
    let now = OffsetDateTime::now_utc();
    let timestamp = |at: OffsetDateTime| at.format(&Rfc3339).unwrap_or_default();
    let mut body = json!({
        "clientId": &*key.client_id,
        "provider": &*key.provider,
        "webhookId": registration.webhook_id,
        "queueDepth": backlog.undelivered,
        "oldestPendingAgeMs": backlog
            .oldest_undelivered_at
            .map(|at| (now - at).whole_milliseconds().max(0) as i64),
        "lastDeliveredAt": backlog.last_delivered_at.map(timestamp),
    });
    match app.engine.tenant_health(&key).await {
        Some(health) => {
            let fields = json!({
                "state": health.state,
                "actor": "running",
                "inMemory": health.queued,
                "inFlight": health.in_flight.map(|id| json!({
                    "eventId": id,
                    "attempt": health.in_flight_attempt,
                })),
                "consecutiveFailures": health.consecutive_failures,
                "lastError": health.last_error,
                "rateLimits": health.rate_limits,
                "rateLimited": health.rate_limited,
                "signatureValidation": health.signature_validation,
                "committed": health.committed,
                "restarts": health.restarts,
            });
            merge(&mut body, fields);
        }
        None => merge(&mut body, json!({ "state": "idle", "actor": "stopped" })),
    }
    Ok(Json(body))
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}
