//! `POST /webhooks/{provider}/{clientId}`: a provider's webhook. Authenticated
//! the way that provider signs, validated, committed, and only then answered.

use std::net::SocketAddr;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use http_body_util::LengthLimitError;
use orderhook_actors::domain::{EventId, EventStatus, NewEvent, Registration, TenantKey};
use secrecy::ExposeSecret;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::client_ip;
use super::error::{ApiError, ApiPath, ErrorBody};
use crate::app::AppState;
use crate::providers::payload::{self, PayloadError};
use crate::providers::{self, AuthError, Provider, SignedRequest};
use crate::{client_id, telemetry};

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    success: bool,
    #[schema(value_type = uuid::Uuid)]
    event_id: EventId,
    processed_at: String,
    /// `pending` (will be delivered), `ignored` (the tenant did not subscribe)
    /// or `duplicate` (a repeat of `eventId`, which was accepted earlier).
    status: &'static str,
}

/// A provider's webhook, authenticated the way that provider signs it.
#[utoipa::path(
    post,
    path = "/webhooks/{provider}/{client_id}",
    tag = "ingest",
    params(
        ("provider" = String, Path, description = "careem, talabat, deliveroo or jahez"),
        ("client_id" = String, Path, description = "The restaurant client, [A-Za-z0-9_.-]{1,128}"),
    ),
    request_body(content = String, content_type = "application/json",
        description = "{event_type, timestamp, data}, signed per the provider's scheme"),
    responses(
        (status = 200, description = "Committed (or a repeat of an earlier event)", body = Accepted),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Bad or missing credentials", body = ErrorBody),
        (status = 403, description = "Caller address not on the client's allowlist", body = ErrorBody),
        (status = 404, description = "Unknown provider or tenant", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 422, description = "A field is wrong", body = ErrorBody),
        (status = 429, description = "Over a rate limit; see Retry-After", body = ErrorBody),
        (status = 503, description = "Store unavailable or a bound reached; see Retry-After", body = ErrorBody),
    )
)]
pub async fn receive_webhook(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiPath((provider_name, client_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Accepted>, ApiError> {
    let started = tokio::time::Instant::now();
    let span = tracing::Span::current();
    span.record("provider", provider_name.as_str());
    span.record("client_id", client_id.as_str());
    let result = ingest(&app, peer, &provider_name, &client_id, headers, body).await;
    match &result {
        Ok(Json(accepted)) => {
            span.record("event_id", tracing::field::display(accepted.event_id));
            tracing::debug!(status = accepted.status, "webhook accepted");
        }
        Err(err) => tracing::debug!(code = err.code, "webhook refused"),
    }
    record(&app, &provider_name, &client_id, &result, started);
    result
}

/// Counts the request and times it (`webhook_requests_total`,
/// `webhook_processing_duration_seconds`).
fn record(
    app: &AppState,
    provider: &str,
    client_id: &str,
    result: &Result<Json<Accepted>, ApiError>,
    started: tokio::time::Instant,
) {
    let status = match result {
        Ok(Json(accepted)) => accepted.status,
        Err(err) => err.code,
    };
    // Only registered tenants get their own series: anything else could be
    // an invented clientId minting label values.
    let known = !matches!(status, "unknown_provider" | "unknown_tenant" | "bad_path");
    let provider = if known {
        provider.to_owned()
    } else {
        "-".to_owned()
    };
    let client = if known && app.settings.metrics.client_id_label {
        client_id.to_owned()
    } else {
        "-".to_owned()
    };
    metrics::counter!(telemetry::REQUESTS, "provider" => provider.clone(), "client_id" => client, "status" => status)
        .increment(1);
    metrics::histogram!(telemetry::PROCESSING, "provider" => provider, "status" => status)
        .record(started.elapsed().as_secs_f64());
}

async fn ingest(
    app: &AppState,
    peer: SocketAddr,
    provider_name: &str,
    client_id: &str,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Accepted>, ApiError> {
    let received_at = OffsetDateTime::now_utc();
    let provider = providers::find(provider_name).ok_or_else(|| {
        ApiError::not_found(
            "unknown_provider",
            format!("no provider named {provider_name:?}"),
        )
    })?;
    let unknown_tenant = || {
        ApiError::not_found(
            "unknown_tenant",
            format!(
                "no webhook is registered for {}/{client_id}",
                provider.name()
            ),
        )
    };
    // A clientId that could never have been registered is not looked up.
    if !client_id::is_valid(client_id) {
        return Err(unknown_tenant());
    }
    let tenant = TenantKey::new(client_id, provider.name());
    let registration = app
        .registrations
        .get(&tenant)
        .await?
        .filter(|registration| registration.is_active)
        .ok_or_else(unknown_tenant)?;

    let rules = app.registrations.client_rules(&tenant.client_id).await?;
    let caller = client_ip::client_ip(peer.ip(), &headers, &app.trusted_proxies);
    if !client_ip::allowed(caller, &rules.allowlist) {
        // Refused before its body is read: a stranger's upload costs nothing.
        let reason = format!("address {caller} is not on the client's allowlist");
        log_rejected(app, &registration, &[], received_at, reason).await;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("address {caller} may not post this client's webhooks"),
        ));
    }
    let body = read_body(body, app.settings.server.body_limit_bytes).await?;
    // Off only when the client asked for it and the server allows it.
    let verify = rules.signatures_required() || !app.settings.security.allow_disabling_signatures;
    let request = SignedRequest {
        headers: &headers,
        body: &body,
        client_id: &tenant.client_id,
        now: received_at.unix_timestamp(),
    };
    if verify && let Err(err) = authenticate(provider, &request, &registration, received_at) {
        log_rejected(
            app,
            &registration,
            &body,
            received_at,
            format!("authentication failed: {err}"),
        )
        .await;
        return Err(auth_error(err));
    }
    let payload = match payload::validate(&body) {
        Ok(payload) => payload,
        Err(err) => {
            log_rejected(
                app,
                &registration,
                &body,
                received_at,
                format!("invalid payload: {err}"),
            )
            .await;
            return Err(payload_error(err));
        }
    };

    let status = if registration.subscribes_to(&payload.event_type) {
        EventStatus::Pending
    } else {
        EventStatus::Ignored
    };
    let event = NewEvent {
        id: EventId::generate(),
        webhook_id: Some(registration.webhook_id),
        tenant,
        event_type: payload.event_type,
        status,
        // validate() checked the body is UTF-8 JSON.
        payload: Some(String::from_utf8_lossy(&body).into_owned()),
        error_message: None,
        received_at,
        body_sha256: Some(Sha256::digest(&body).into()),
    };
    let committed = app.engine.ingest(event).await?;
    Ok(Json(Accepted {
        success: true,
        event_id: committed.id,
        processed_at: super::rfc3339(OffsetDateTime::now_utc()),
        status: if committed.duplicate {
            "duplicate"
        } else {
            status.as_str()
        },
    }))
}

/// Reads the body only once the request is known to be for a registered
/// tenant from an allowed address, up to the size limit.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        if err.into_inner().is::<LengthLimitError>() {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the body is over the size limit",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_body",
                "the body could not be read",
            )
        }
    })
}

/// Checks the request against the tenant's secret and, during a rotation's
/// grace period, the secret it replaced.
fn authenticate(
    provider: &dyn Provider,
    request: &SignedRequest<'_>,
    registration: &Registration,
    now: OffsetDateTime,
) -> Result<(), AuthError> {
    let current = provider.authenticate(request, registration.secret.expose_secret().as_bytes());
    match (current, registration.previous_secret_at(now)) {
        (Err(_), Some(previous)) => provider
            .authenticate(request, previous.expose_secret().as_bytes())
            .map_err(|_| AuthError::BadCredentials),
        (result, _) => result,
    }
}

fn auth_error(err: AuthError) -> ApiError {
    ApiError::unauthorized(err.to_string())
}

fn payload_error(err: PayloadError) -> ApiError {
    match err.field() {
        Some(field) => ApiError::invalid_field(field, err.to_string()),
        None if matches!(err, PayloadError::NotJson(_)) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", err.to_string())
        }
        None => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_payload",
            err.to_string(),
        ),
    }
}

/// Keeps a `rejected` row so operators can see why a provider is failing.
/// The body is cut to a bounded size; the tenant's actor writes at most one
/// such row per interval (counting the others), best effort.
async fn log_rejected(
    app: &AppState,
    registration: &Registration,
    body: &[u8],
    received_at: OffsetDateTime,
    reason: String,
) {
    let limit = app.settings.ingest.rejected_body_bytes;
    let kept = &body[..body.len().min(limit)];
    let event = NewEvent {
        id: EventId::generate(),
        webhook_id: Some(registration.webhook_id),
        tenant: registration.tenant.clone(),
        event_type: payload::event_type_hint(body).unwrap_or_else(|| "unknown".into()),
        status: EventStatus::Rejected,
        // Postgres text cannot hold NUL, and a refused body may be anything.
        payload: Some(String::from_utf8_lossy(kept).replace('\0', "\u{FFFD}")),
        error_message: Some(reason),
        received_at,
        body_sha256: None,
    };
    if !app.engine.log_rejected(event).await {
        tracing::warn!(tenant = %registration.tenant, "tenant unavailable; rejected request not logged");
    }
}
