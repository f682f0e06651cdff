//! `GET /api/tenants`: tenants with their state, paginated, filterable by
//! state and client. `GET /api/tenants/{clientId}/{provider}/health`: one tenant as its actor
//! sees it (state, in-flight attempt, failures, rate-limit usage, restarts)
//! with its backlog from the store. A tenant whose actor is not running is
//! answered from the store alone, as `idle`, without starting one.

use axum::Json;
use std::collections::HashMap;

use axum::extract::State;
use orderhook_actors::domain::TenantKey;
use orderhook_actors::tenant::{RUNNING_STATES, TenantHealth};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::access::Caller;
use super::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use super::rfc3339;
use crate::app::AppState;
use crate::{client_id, providers};

/// One tenant's state, backlog and delivery health.
#[utoipa::path(
    get,
    path = "/api/tenants/{client_id}/{provider}/health",
    tag = "operator",
    params(("client_id" = String, Path), ("provider" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody))
)]
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
    let mut body = json!({
        "clientId": &*key.client_id,
        "provider": &*key.provider,
        "webhookId": registration.webhook_id,
        "queueDepth": backlog.undelivered,
        "oldestPendingAgeMs": backlog
            .oldest_undelivered_at
            .map(|at| (now - at).whole_milliseconds().max(0) as i64),
        "lastDeliveredAt": backlog.last_delivered_at.map(rfc3339),
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
                "deliveringHere": health.delivering_here,
                "delivered": health.delivered,
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

/// Tenants with their state.
#[utoipa::path(
    get,
    path = "/api/tenants",
    tag = "operator",
    params(
        ("state" = Option<String>, Query, description = "healthy, degraded, failing, paused, idle"),
        ("clientId" = Option<String>, Query), ("limit" = Option<u32>, Query), ("offset" = Option<u32>, Query),
    ),
    security(("bearer" = [])),
    responses((status = 200, description = "{tenants, total, limit, offset}", body = Object), (status = 400, body = ErrorBody))
)]
pub async fn list_tenants(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let bad = |field, message: &str| ApiError::bad_field("invalid_query", field, message);
    let limit: u32 = match query.get("limit") {
        None => 50,
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| bad("limit", "must be 1 to 500"))?,
    };
    let offset: u32 = match query.get("offset") {
        None => 0,
        Some(text) => text
            .parse()
            .map_err(|_| bad("offset", "must be a whole number"))?,
    };
    let mut client = query.get("clientId").cloned();
    if let Caller::Client(own) = &caller {
        if client.as_ref().is_some_and(|asked| asked != own) {
            return Err(ApiError::not_found("unknown_client", "no such client"));
        }
        client = Some(own.clone());
    }
    let running: Vec<TenantHealth> = app
        .engine
        .running_tenant_health()
        .await
        .into_iter()
        .filter(|h| client.as_ref().is_none_or(|c| *c == h.client_id))
        .collect();
    let state = query.get("state").map(String::as_str);
    let (items, total): (Vec<Value>, i64) = match state {
        Some(wanted) if RUNNING_STATES.contains(&wanted) => {
            // Every tenant in these states has a running actor: the list is complete in memory.
            let mut matching: Vec<&TenantHealth> =
                running.iter().filter(|h| h.state == wanted).collect();
            matching.sort_by(|a, b| (&a.client_id, &a.provider).cmp(&(&b.client_id, &b.provider)));
            let total = matching.len() as i64;
            let page = matching
                .into_iter()
                .skip(offset as usize)
                .take(limit as usize)
                .map(running_view)
                .collect();
            (page, total)
        }
        Some("idle") | None => {
            let by_key: HashMap<(String, String), &TenantHealth> = running
                .iter()
                .map(|h| ((h.client_id.clone(), h.provider.clone()), h))
                .collect();
            // Idle: the registered tenants without a running actor.
            let except: Vec<TenantKey> = if state == Some("idle") {
                running
                    .iter()
                    .map(|h| TenantKey::new(h.client_id.as_str(), h.provider.as_str()))
                    .collect()
            } else {
                Vec::new()
            };
            let (registrations, total) = app
                .store
                .list_registrations(client.as_deref(), &except, limit, offset)
                .await?;
            let page = registrations
                .iter()
                .map(|r| {
                    let key = (
                        r.tenant.client_id.to_string(),
                        r.tenant.provider.to_string(),
                    );
                    match by_key.get(&key) {
                        Some(health) => running_view(health),
                        None => json!({
                            "clientId": &*r.tenant.client_id,
                            "provider": &*r.tenant.provider,
                            "state": "idle",
                        }),
                    }
                })
                .collect();
            (page, total)
        }
        Some(_) => {
            return Err(bad(
                "state",
                "must be one of healthy, degraded, failing, paused, idle",
            ));
        }
    };
    Ok(Json(
        json!({ "tenants": items, "total": total, "limit": limit, "offset": offset }),
    ))
}

fn running_view(health: &TenantHealth) -> Value {
    json!({
        "clientId": health.client_id,
        "provider": health.provider,
        "state": health.state,
        "inMemory": health.queued,
        "consecutiveFailures": health.consecutive_failures,
        "lastError": health.last_error,
        "restarts": health.restarts,
    })
}
