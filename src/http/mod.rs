//! The HTTP edge: routes, and the layers every request passes through.

mod access;
mod client_config;
pub mod client_ip;
mod client_keys;
mod dashboard;
mod error;
mod health;
mod ingest;
mod logs;
mod metrics;
mod openapi;
mod register;
mod retry;
mod rotate;
mod stats;
mod tenants;

use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{BoxError, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::app::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.server.body_limit_bytes;
    let timeout = Duration::from_millis(state.settings.server.request_timeout_ms);
    // Credentials never reach logs or traces.
    let sensitive = [
        header::AUTHORIZATION,
        HeaderName::from_static("x-talabat-api-key"),
        HeaderName::from_static("x-careem-signature"),
        HeaderName::from_static("x-deliveroo-hmac-sha256"),
    ];
    Router::new()
        .route(
            "/webhooks/{provider}/{client_id}",
            post(ingest::receive_webhook),
        )
        .route("/api/webhooks/register", post(register::register_webhook))
        .route("/api/webhooks/retry/{log_id}", post(retry::retry_webhook))
        .route("/api/webhooks/logs", get(logs::list_logs))
        .route("/api/webhooks/logs/{log_id}", get(logs::get_log))
        .route("/api/webhooks/stats", get(stats::get_stats))
        .route("/api/webhooks/stats/timeline", get(stats::get_timeline))
        .route("/api/tenants", get(tenants::list_tenants))
        .route(
            "/api/tenants/{client_id}/{provider}/health",
            get(tenants::tenant_health),
        )
        .route(
            "/api/clients/{client_id}/keys",
            post(client_keys::create_client_key),
        )
        .route(
            "/api/clients/{client_id}/keys/{key_id}",
            axum::routing::delete(client_keys::revoke_client_key),
        )
        .route(
            "/api/webhooks/{webhook_id}/rotate-secret",
            post(rotate::rotate_secret),
        )
        .route(
            "/api/webhooks/config/{client_id}",
            get(client_config::get_client_config).put(client_config::put_client_config),
        )
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/dashboard", get(dashboard::dashboard))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new(sensitive))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(HandleErrorLayer::new(timeout_response))
                .timeout(timeout),
        )
        .with_state(state)
}

/// Every request's span: its id, method and path, and (filled in by the
/// ingest handler) the provider, clientId and eventId it concerns. Never
/// headers or bodies: they carry credentials and customers' data.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        request_id,
        method = %request.method(),
        path = %request.uri().path(),
        provider = tracing::field::Empty,
        client_id = tracing::field::Empty,
        event_id = tracing::field::Empty,
    )
}

/// A time as every answer writes it. Formatting a real timestamp in RFC 3339
/// cannot fail (only years outside 0–9999 would).
pub(crate) fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

async fn timeout_response(err: BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request took too long",
        )
    } else {
        tracing::error!(error = %err, "unhandled middleware error");
        ApiError::unavailable("unavailable", "the request could not be served; try again")
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
    .into_response()
}
