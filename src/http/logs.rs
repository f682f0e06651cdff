//! `GET /api/webhooks/logs/{logId}`: one logged event with every delivery
//! attempt, in the seed's log shape.

use axum::Json;
use axum::extract::State;
use orderhook_actors::domain::EventId;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::access::Caller;
use super::error::{ApiError, ApiPath};
use crate::app::AppState;

pub async fn get_log(
    caller: Caller,
    State(app): State<AppState>,
    ApiPath(log_id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::not_found("unknown_event", format!("no event {log_id:?}"));
    let id = EventId(Uuid::parse_str(&log_id).map_err(|_| not_found())?);
    let event = app.store.find_event(id).await?.ok_or_else(not_found)?;
    if !caller.may_see(&event.tenant.client_id) {
        return Err(not_found());
    }
    let attempts = app.store.event_attempts(id).await?;
    let timestamp = |at: time::OffsetDateTime| at.format(&Rfc3339).unwrap_or_default();
    // The payload is kept as the provider sent it: JSON when it is JSON (a
    // refused body may not be), else the text itself.
    let payload = event.payload.as_deref().map(|text| {
        serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.into()))
    });
    Ok(Json(json!({
        "id": event.id,
        "provider": &*event.tenant.provider,
        "clientId": &*event.tenant.client_id,
        "event": event.event_type,
        "status": event.status.as_str(),
        "seq": event.seq,
        "responseTime": attempts.last().map(|a| a.response_time_ms),
        "timestamp": timestamp(event.created_at),
        "payload": payload,
        "error": event.error_message,
        "deliveredAt": event.delivered_at.map(timestamp),
        "nextRetryAt": event.next_retry_at.map(timestamp),
        "attempts": attempts.iter().map(|a| json!({
            "attempt": a.attempt,
            "statusCode": a.status_code,
            "responseTime": a.response_time_ms,
            "response": a.response_body,
            "error": a.error,
            "timestamp": timestamp(a.created_at),
        })).collect::<Vec<_>>(),
    })))
}
