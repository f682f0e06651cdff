//! The seed's log API: `GET /api/webhooks/logs` (filtered, newest first,
//! paginated) and `GET /api/webhooks/logs/{logId}` (one event with every
//! delivery attempt). A client key sees only its own client's events.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use orderhook_actors::domain::{EventFilter, EventId, EventStatus, StoredEvent};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Iso8601;
use uuid::Uuid;

use super::access::Caller;
use super::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use super::rfc3339;
use crate::app::AppState;
use crate::{client_id, providers};

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;
/// Deeper pages cost a longer index walk each; past this, narrow the filter.
const MAX_OFFSET: u32 = 100_000;
/// `total` counts up to this many matches, so a count never walks millions of rows.
const COUNT_CAP: u32 = 10_000;

/// Logged events, newest first, in the seed's log shape.
#[utoipa::path(
    get,
    path = "/api/webhooks/logs",
    tag = "operator",
    params(
        ("provider" = Option<String>, Query), ("clientId" = Option<String>, Query),
        ("status" = Option<String>, Query, description = "success (= delivered), pending, retrying, failed, ignored, rejected, rate_limited"),
        ("startDate" = Option<String>, Query, description = "ISO 8601"), ("endDate" = Option<String>, Query),
        ("limit" = Option<u32>, Query, description = "1-100, default 20"), ("offset" = Option<u32>, Query),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "{logs, total, totalCapped, limit, offset}", body = Object),
        (status = 400, description = "A filter is wrong", body = ErrorBody),
    )
)]
pub async fn list_logs(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let filter = filter_from(&caller, &query)?;
    let limit = number(&query, "limit", DEFAULT_LIMIT, 1..=MAX_LIMIT)?;
    let offset = number(&query, "offset", 0, 0..=MAX_OFFSET)?;
    let page = app
        .store
        .list_events(&filter, limit, offset, COUNT_CAP)
        .await?;
    Ok(Json(json!({
        "logs": page.events.iter().map(log_view).collect::<Vec<_>>(),
        "total": page.total,
        "totalCapped": page.total_capped,
        "limit": limit,
        "offset": offset,
    })))
}

/// One event with every delivery attempt.
#[utoipa::path(
    get,
    path = "/api/webhooks/logs/{log_id}",
    tag = "operator",
    params(("log_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody))
)]
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
    let mut view = log_view(&event);
    view["seq"] = json!(event.seq);
    view["error"] = json!(event.error_message);
    view["deliveredAt"] = json!(event.delivered_at.map(rfc3339));
    view["nextRetryAt"] = json!(event.next_retry_at.map(rfc3339));
    view["attempts"] = attempts
        .iter()
        .map(|a| {
            json!({
                "attempt": a.attempt,
                "statusCode": a.status_code,
                "responseTime": a.response_time_ms,
                "response": a.response_body,
                "error": a.error,
                "timestamp": rfc3339(a.created_at),
            })
        })
        .collect();
    Ok(Json(view))
}

/// One event in the seed's log shape.
pub fn log_view(event: &StoredEvent) -> Value {
    // The payload is kept as the provider sent it: JSON when it is JSON (a
    // refused body may not be), else the text itself.
    let payload = event.payload.as_deref().map(|text| {
        serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.into()))
    });
    json!({
        "id": event.id,
        "provider": &*event.tenant.provider,
        "clientId": &*event.tenant.client_id,
        "event": event.event_type,
        "status": event.status.as_str(),
        "responseTime": event.response_time,
        "timestamp": rfc3339(event.created_at),
        "payload": payload,
        "response": event.error_message.as_ref().map(|error| json!({ "error": error })),
    })
}

fn bad(field: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::bad_field("invalid_query", field, message)
}

/// The filters the seed names, validated: an unknown value is an error, not ignored.
pub fn filter_from(
    caller: &Caller,
    query: &HashMap<String, String>,
) -> Result<EventFilter, ApiError> {
    let mut filter = EventFilter::default();
    if let Some(provider) = query.get("provider") {
        let known = providers::find(provider)
            .ok_or_else(|| bad("provider", format!("unknown provider {provider:?}")))?;
        filter.provider = Some(known.name().to_owned());
    }
    if let Some(client) = query.get("clientId") {
        if !client_id::is_valid(client) {
            return Err(bad("clientId", client_id::RULE));
        }
        filter.client_id = Some(client.clone());
    }
    if let Caller::Client(own) = caller {
        // A client key's view is its own client; naming another is a 404, as elsewhere.
        if filter.client_id.as_ref().is_some_and(|asked| asked != own) {
            return Err(ApiError::not_found("unknown_client", "no such client"));
        }
        filter.client_id = Some(own.clone());
    }
    if let Some(status) = query.get("status") {
        // The seed's `success` is our `delivered`.
        let wanted = if status == "success" {
            "delivered"
        } else {
            status.as_str()
        };
        filter.status = Some(EventStatus::parse(wanted).ok_or_else(|| {
            bad("status", "must be one of success, delivered, pending, retrying, failed, ignored, rejected, rate_limited")
        })?);
    }
    filter.since = date(query, "startDate")?;
    filter.until = date(query, "endDate")?;
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since > until
    {
        return Err(bad("endDate", "must not be before startDate"));
    }
    Ok(filter)
}

fn date(
    query: &HashMap<String, String>,
    field: &'static str,
) -> Result<Option<OffsetDateTime>, ApiError> {
    query
        .get(field)
        .map(|text| {
            OffsetDateTime::parse(text, &Iso8601::DEFAULT).map_err(|_| {
                bad(
                    field,
                    "must be an ISO 8601 date-time with an offset, e.g. 2024-09-27T10:30:00Z",
                )
            })
        })
        .transpose()
}

fn number(
    query: &HashMap<String, String>,
    field: &'static str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, ApiError> {
    match query.get(field) {
        None => Ok(default),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                bad(
                    field,
                    format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}
