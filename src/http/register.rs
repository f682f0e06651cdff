//! `POST /api/webhooks/register`: creates a tenant's registration, or updates
//! its url and events (and its secret, when one is given) keeping its webhookId.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orderhook_actors::domain::{RegistrationUpsert, TenantKey};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

use super::access::Operator;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::app::AppState;
use crate::delivery::destination;
use crate::{client_id, providers, secrets};

const MIN_SECRET_LEN: usize = 16;
const MAX_SECRET_LEN: usize = 256;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    client_id: String,
    provider: String,
    url: String,
    events: Vec<String>,
    secret_key: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    webhook_id: Uuid,
    /// Where the provider must post this tenant's webhooks.
    url: String,
    /// Shown only when it was created or replaced by this call.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_key: Option<String>,
    status: &'static str,
}

/// Registers a tenant, or updates its url, events (and secret, when given) in place.
#[utoipa::path(
    post,
    path = "/api/webhooks/register",
    tag = "operator",
    request_body = RegisterRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; the secret is shown", body = Registered),
        (status = 200, description = "Updated in place", body = Registered),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
    )
)]
pub async fn register_webhook(
    _: Operator,
    State(app): State<AppState>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let provider = providers::find(&request.provider)
        .filter(|p| app.settings.providers.contains_key(p.name()))
        .ok_or_else(|| {
            ApiError::invalid_field(
                "provider",
                format!("unknown provider {:?}", request.provider),
            )
        })?;
    validate_client_id(&request.client_id)?;
    validate_url(&app, &request.url).await?;
    let events = validate_events(&app, provider.name(), request.events)?;
    let secret = request.secret_key.map(validate_secret).transpose()?;

    let tenant = TenantKey::new(request.client_id, provider.name());
    let secret_given = secret.is_some();
    let upserted = app
        .store
        .upsert_registration(RegistrationUpsert {
            new_webhook_id: Uuid::now_v7(),
            tenant: tenant.clone(),
            url: request.url,
            events,
            secret,
            generated_secret: secrets::generate(),
        })
        .await?;
    let registration = Arc::new(upserted.registration);
    app.registrations.put(registration.clone());
    app.engine.registration_changed(registration.clone());
    tracing::info!(tenant = %tenant, created = upserted.created, "registered webhook");

    let status = if upserted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(Registered {
            webhook_id: registration.webhook_id,
            url: format!(
                "{}/webhooks/{}/{}",
                app.settings.base_url(),
                tenant.provider,
                tenant.client_id
            ),
            secret_key: (upserted.created || secret_given)
                .then(|| registration.secret.expose_secret().to_owned()),
            status: "active",
        }),
    ))
}

fn validate_client_id(client_id: &str) -> Result<(), ApiError> {
    if client_id::is_valid(client_id) {
        Ok(())
    } else {
        Err(ApiError::invalid_field("clientId", client_id::RULE))
    }
}

/// The destination must be http(s) and, unless private destinations are
/// allowed, resolve only to public addresses (no SSRF into our own network).
async fn validate_url(app: &AppState, url: &str) -> Result<(), ApiError> {
    let parsed = url::Url::parse(url)
        .map_err(|err| ApiError::invalid_field("url", format!("not a valid URL: {err}")))?;
    if parsed.host().is_none() {
        return Err(ApiError::invalid_field("url", "must have a host"));
    }
    destination::check(url, app.settings.delivery.allow_private_destinations)
        .await
        .map_err(|err| ApiError::invalid_field("url", format!("destination refused: {err}")))
}

fn validate_events(
    app: &AppState,
    provider: &str,
    events: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    if events.is_empty() {
        return Err(ApiError::invalid_field(
            "events",
            "must list at least one event type",
        ));
    }
    let known = &app.settings.providers[provider].events;
    let mut accepted: Vec<String> = Vec::with_capacity(events.len());
    for event in events {
        if !known.contains(&event) {
            return Err(ApiError::invalid_field(
                "events",
                format!(
                    "{provider} sends no event {event:?}; known: {}",
                    known.join(", ")
                ),
            ));
        }
        if !accepted.contains(&event) {
            accepted.push(event);
        }
    }
    Ok(accepted)
}

/// Secrets travel in headers (Talabat, Jahez), so they must be visible ASCII.
fn validate_secret(secret: String) -> Result<SecretString, ApiError> {
    let ok = (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len())
        && secret.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(SecretString::from(secret))
    } else {
        Err(ApiError::invalid_field(
            "secretKey",
            format!("must be {MIN_SECRET_LEN} to {MAX_SECRET_LEN} visible ASCII characters"),
        ))
    }
}
