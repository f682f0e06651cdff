//! `GET` and `PUT /api/webhooks/config/{clientId}`: a client's configuration
//! in the seed's shape. PUT is a partial merge, validated field by field,
//! persisted, and put in force in the client's running tenant actors at once.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orderhook_actors::domain::{ClientConfig, RateLimitOverride, Registration, RetryOverride};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::client_ip::parse_net;
use axum::extract::rejection::JsonRejection;

use super::access::Caller;
use super::error::{ApiError, ApiPath, ErrorBody};
use super::rfc3339;
use crate::app::AppState;
use crate::client_id;

const MAX_RETRIES: u32 = 20;
const MAX_DELAYS: usize = 20;
const MAX_DELAY_MS: u64 = 24 * 3600 * 1000;
const MAX_ALLOWLIST: usize = 100;
const MAX_REQUESTS: u32 = 10_000_000;
const MIN_WINDOW_MS: u64 = 1000;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigView {
    client_id: String,
    webhooks: Vec<WebhookView>,
    retry_policy: RetryView,
    security: SecurityView,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct WebhookView {
    webhook_id: Uuid,
    provider: String,
    url: String,
    events: Vec<String>,
    status: &'static str,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryView {
    max_retries: Option<u32>,
    retry_delays: Option<Vec<u64>>,
    exponential_backoff: Option<bool>,
}

#[derive(Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecurityView {
    signature_validation: Option<bool>,
    ip_whitelist: Option<Vec<String>>,
    /// `maxRequests`/`windowMs` null: the provider's own windows apply.
    rate_limiting: Option<RateLimitView>,
}

#[derive(Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitView {
    enabled: Option<bool>,
    max_requests: Option<u32>,
    window_ms: Option<u64>,
}

/// A PUT body: every field optional, unknown fields refused.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigChange {
    retry_policy: Option<RetryView>,
    security: Option<SecurityView>,
}

/// A client's configuration, with the values in force.
#[utoipa::path(
    get,
    path = "/api/webhooks/config/{client_id}",
    tag = "operator",
    params(("client_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ConfigView), (status = 404, body = ErrorBody))
)]
pub async fn get_client_config(
    caller: Caller,
    State(app): State<AppState>,
    ApiPath(client): ApiPath<String>,
) -> Result<Json<ConfigView>, ApiError> {
    let registrations = known_client(&app, &caller, &client).await?;
    let config = app.store.client_config(&client).await?;
    Ok(Json(view(&app, client, &registrations, &config)))
}

/// Merges a partial change into a client's configuration; in force at once.
#[utoipa::path(
    put,
    path = "/api/webhooks/config/{client_id}",
    tag = "operator",
    params(("client_id" = String, Path)),
    request_body = ConfigChange,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ConfigView),
        (status = 400, description = "A value is wrong", body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
pub async fn put_client_config(
    caller: Caller,
    State(app): State<AppState>,
    ApiPath(client): ApiPath<String>,
    change: Result<Json<ConfigChange>, JsonRejection>,
) -> Result<Json<ConfigView>, ApiError> {
    let registrations = known_client(&app, &caller, &client).await?;
    // A value of the wrong type or sign is a bad value like any other: 400, and
    // serde's message names the field's path.
    let Json(change) = change.map_err(|rejection| match rejection {
        JsonRejection::JsonDataError(err) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_config", err.body_text())
        }
        other => ApiError::from(other),
    })?;
    let current = app.store.client_config(&client).await?;
    let merged = merge(&app, current, change)?;
    app.store.save_client_config(&client, &merged).await?;
    if merged.signature_validation == Some(false) {
        tracing::warn!(client_id = %client, "signature validation is OFF for this client");
    }
    app.registrations.put_client_config(&client, merged.clone());
    app.engine
        .client_config_changed(&client, Arc::new(merged.clone()));
    tracing::info!(client_id = %client, "client configuration changed");
    Ok(Json(view(&app, client, &registrations, &merged)))
}

/// A client is known once it has registered a webhook; others are 404, and so
/// is any client but its own for a client key.
pub async fn known_client(
    app: &AppState,
    caller: &Caller,
    client: &str,
) -> Result<Vec<Registration>, ApiError> {
    let not_found = || ApiError::not_found("unknown_client", format!("no client {client:?}"));
    if !client_id::is_valid(client) || !caller.may_see(client) {
        return Err(not_found());
    }
    let registrations = app.store.client_registrations(client).await?;
    if registrations.is_empty() {
        return Err(not_found());
    }
    Ok(registrations)
}

/// The server's retry policy, in the shape a client's override takes.
fn server_retry_policy(app: &AppState) -> RetryOverride {
    let defaults = &app.settings.retry;
    RetryOverride {
        max_retries: defaults.max_retries,
        retry_delays: defaults.retry_delays_ms.clone(),
        exponential_backoff: defaults.exponential_backoff,
    }
}

fn bad(field: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::bad_field("invalid_config", field, message)
}

fn merge(
    app: &AppState,
    current: ClientConfig,
    change: ConfigChange,
) -> Result<ClientConfig, ApiError> {
    let mut merged = current;
    if let Some(retry) = change.retry_policy {
        let base = merged
            .retry_policy
            .take()
            .unwrap_or_else(|| server_retry_policy(app));
        let policy = RetryOverride {
            max_retries: retry.max_retries.unwrap_or(base.max_retries),
            retry_delays: retry.retry_delays.unwrap_or(base.retry_delays),
            exponential_backoff: retry
                .exponential_backoff
                .unwrap_or(base.exponential_backoff),
        };
        if policy.max_retries > MAX_RETRIES {
            return Err(bad(
                "retryPolicy.maxRetries",
                format!("must be at most {MAX_RETRIES}"),
            ));
        }
        if policy.retry_delays.is_empty() || policy.retry_delays.len() > MAX_DELAYS {
            return Err(bad(
                "retryPolicy.retryDelays",
                format!("must list 1 to {MAX_DELAYS} delays"),
            ));
        }
        if policy
            .retry_delays
            .iter()
            .any(|ms| *ms == 0 || *ms > MAX_DELAY_MS)
        {
            return Err(bad(
                "retryPolicy.retryDelays",
                "each delay must be 1 ms to 24 h",
            ));
        }
        merged.retry_policy = Some(policy);
    }
    let Some(security) = change.security else {
        return Ok(merged);
    };
    if let Some(validate) = security.signature_validation {
        if !validate && !app.settings.security.allow_disabling_signatures {
            return Err(bad(
                "security.signatureValidation",
                "this server does not allow turning signature validation off",
            ));
        }
        merged.signature_validation = Some(validate);
    }
    if let Some(list) = security.ip_whitelist {
        if list.len() > MAX_ALLOWLIST {
            return Err(bad(
                "security.ipWhitelist",
                format!("at most {MAX_ALLOWLIST} entries"),
            ));
        }
        if let Some(wrong) = list.iter().find(|entry| parse_net(entry).is_none()) {
            return Err(bad(
                "security.ipWhitelist",
                format!("{wrong:?} is not an IP address or CIDR"),
            ));
        }
        merged.ip_whitelist = Some(list);
    }
    if let Some(limits) = security.rate_limiting {
        let base = merged.rate_limiting.take().unwrap_or(RateLimitOverride {
            enabled: true,
            max_requests: None,
            window_ms: None,
        });
        let limits = RateLimitOverride {
            enabled: limits.enabled.unwrap_or(base.enabled),
            max_requests: limits.max_requests.or(base.max_requests),
            window_ms: limits.window_ms.or(base.window_ms),
        };
        match (limits.max_requests, limits.window_ms) {
            (Some(n), _) if n == 0 || n > MAX_REQUESTS => {
                return Err(bad(
                    "security.rateLimiting.maxRequests",
                    format!("must be 1 to {MAX_REQUESTS}"),
                ));
            }
            (_, Some(ms)) if !(MIN_WINDOW_MS..=MAX_DELAY_MS).contains(&ms) => {
                return Err(bad("security.rateLimiting.windowMs", "must be 1 s to 24 h"));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(bad(
                    "security.rateLimiting",
                    "maxRequests and windowMs are set together",
                ));
            }
            _ => {}
        }
        merged.rate_limiting = Some(limits);
    }
    Ok(merged)
}

fn view(
    app: &AppState,
    client: String,
    registrations: &[Registration],
    config: &ClientConfig,
) -> ConfigView {
    let retry = config
        .retry_policy
        .clone()
        .unwrap_or_else(|| server_retry_policy(app));
    let limits = config.rate_limiting.clone();
    ConfigView {
        client_id: client,
        webhooks: registrations
            .iter()
            .map(|r| WebhookView {
                webhook_id: r.webhook_id,
                provider: r.tenant.provider.to_string(),
                url: r.url.clone(),
                events: r.events.clone(),
                status: if r.is_active { "active" } else { "inactive" },
                created_at: rfc3339(r.created_at),
                updated_at: rfc3339(r.updated_at),
            })
            .collect(),
        retry_policy: RetryView {
            max_retries: Some(retry.max_retries),
            retry_delays: Some(retry.retry_delays),
            exponential_backoff: Some(retry.exponential_backoff),
        },
        security: SecurityView {
            signature_validation: Some(config.signature_validation.unwrap_or(true)),
            ip_whitelist: Some(config.ip_whitelist.clone().unwrap_or_default()),
            rate_limiting: Some(RateLimitView {
                enabled: Some(limits.as_ref().is_none_or(|l| l.enabled)),
                max_requests: limits.as_ref().and_then(|l| l.max_requests),
                window_ms: limits.as_ref().and_then(|l| l.window_ms),
            }),
        },
    }
}
