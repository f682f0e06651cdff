//! `POST /api/webhooks/retry/{logId}`: gives a failed (dead) event a fresh
//! round of delivery attempts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use orderhook_actors::domain::{EventId, Requeue};
use serde::Serialize;
use uuid::Uuid;

use super::access::Caller;
use super::error::{ApiError, ApiPath, ErrorBody};
use crate::app::AppState;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryStarted {
    success: bool,
    message: &'static str,
    #[schema(value_type = uuid::Uuid)]
    log_id: EventId,
}

/// Gives a failed (dead) event a fresh round of delivery attempts.
#[utoipa::path(
    post,
    path = "/api/webhooks/retry/{log_id}",
    tag = "operator",
    params(("log_id" = String, Path, description = "The eventId")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = RetryStarted),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The event is not failed", body = ErrorBody),
    )
)]
pub async fn retry_webhook(
    caller: Caller,
    State(app): State<AppState>,
    ApiPath(log_id): ApiPath<String>,
) -> Result<Json<RetryStarted>, ApiError> {
    let not_found = || ApiError::not_found("unknown_event", format!("no event {log_id:?}"));
    let id = EventId(Uuid::parse_str(&log_id).map_err(|_| not_found())?);
    // A client key may retry only its own client's events.
    if let Caller::Client(_) = caller {
        let event = app.store.find_event(id).await?.ok_or_else(not_found)?;
        if !caller.may_see(&event.tenant.client_id) {
            return Err(not_found());
        }
    }
    match app.store.requeue_failed(id).await? {
        Requeue::NotFound => Err(not_found()),
        Requeue::NotFailed(status) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_failed",
            format!("only failed events are retried; this one is {status}"),
        )),
        Requeue::Requeued(tenant, event) => {
            // The event is committed as pending: if the tenant cannot be reached
            // now, its actor finds the event in the store when it next starts.
            if let Err(err) = app.engine.requeue(&tenant, event).await {
                tracing::warn!(tenant = %tenant, error = %err, "requeued event waits for its tenant");
            }
            tracing::info!(tenant = %tenant, event = %id, "manual retry");
            Ok(Json(RetryStarted {
                success: true,
                message: "Webhook retry initiated",
                log_id: id,
            }))
        }
    }
}
