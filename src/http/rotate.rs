//! `POST /api/webhooks/{webhookId}/rotate-secret`: a new secret for a tenant,
//! without downtime. The old one keeps verifying the provider's requests and
//! co-signs deliveries for `security.rotation_grace_s`, so both sides can
//! switch at their own pace.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use secrecy::ExposeSecret;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::Caller;
use super::error::{ApiError, ApiPath, ErrorBody};
use crate::app::AppState;
use crate::secrets;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rotated {
    webhook_id: Uuid,
    /// Shown this once.
    secret_key: String,
    previous_secret_valid_until: String,
}

/// A new secret; the old one stays valid for the grace period.
#[utoipa::path(
    post,
    path = "/api/webhooks/{webhook_id}/rotate-secret",
    tag = "operator",
    params(("webhook_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Rotated), (status = 404, body = ErrorBody))
)]
pub async fn rotate_secret(
    caller: Caller,
    State(app): State<AppState>,
    ApiPath(webhook_id): ApiPath<String>,
) -> Result<Json<Rotated>, ApiError> {
    let not_found = || ApiError::not_found("unknown_webhook", format!("no webhook {webhook_id:?}"));
    let id = Uuid::parse_str(&webhook_id).map_err(|_| not_found())?;
    // A client key may rotate only its own client's secrets.
    if let Caller::Client(client) = &caller {
        let own = app.store.client_registrations(client).await?;
        if !own.iter().any(|r| r.webhook_id == id) {
            return Err(not_found());
        }
    }
    let grace = Duration::from_secs(app.settings.security.rotation_grace_s);
    let until = OffsetDateTime::now_utc() + grace;
    let registration = app
        .store
        .rotate_secret(id, secrets::generate(), until)
        .await?
        .ok_or_else(not_found)?;
    let registration = Arc::new(registration);
    app.registrations.put(registration.clone());
    app.engine.registration_changed(registration.clone());
    tracing::info!(tenant = %registration.tenant, "secret rotated");
    Ok(Json(Rotated {
        webhook_id: id,
        secret_key: registration.secret.expose_secret().to_owned(),
        previous_secret_valid_until: super::rfc3339(until),
    }))
}
