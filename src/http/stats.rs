//! `GET /api/webhooks/stats?provider&clientId&period=hour|day|week|month`:
//! the seed's summary of a period. Computed from the events of the period
//! (an index range scan on created_at, grouped by provider and status), not
//! from a table scan; rollups kept by the writer would make month-long
//! periods on very large tables cheaper, and are not built yet.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use orderhook_actors::domain::EventStatus;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::access::Caller;
use super::error::{ApiError, ApiQuery, ErrorBody};
use super::logs::{filter_from, log_view};
use crate::app::AppState;

const RECENT_EVENTS: u32 = 5;
/// The timeline covers the last hour in one-minute buckets.
const TIMELINE_SPAN: Duration = Duration::from_secs(3600);
const TIMELINE_BUCKET_S: u32 = 60;

/// Events and refused-or-failed events per minute over the last hour (the
/// dashboard's chart).
#[utoipa::path(
    get,
    path = "/api/webhooks/stats/timeline",
    tag = "operator",
    params(("provider" = Option<String>, Query), ("clientId" = Option<String>, Query)),
    security(("bearer" = [])),
    responses((status = 200, description = "{bucketSeconds, points: [{at, events, errors}]}", body = Object))
)]
pub async fn get_timeline(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut filter = filter_from(&caller, &query)?;
    filter.since = Some(OffsetDateTime::now_utc() - TIMELINE_SPAN);
    filter.until = None;
    filter.status = None;
    let points = app.store.event_timeline(&filter, TIMELINE_BUCKET_S).await?;
    Ok(Json(json!({
        "bucketSeconds": TIMELINE_BUCKET_S,
        "points": points
            .into_iter()
            .map(|(at, events, errors)| json!({
                "at": super::rfc3339(at),
                "events": events,
                "errors": errors,
            }))
            .collect::<Vec<_>>(),
    })))
}

/// A period's totals by status and provider.
#[utoipa::path(
    get,
    path = "/api/webhooks/stats",
    tag = "operator",
    params(
        ("provider" = Option<String>, Query), ("clientId" = Option<String>, Query),
        ("period" = Option<String>, Query, description = "hour, day (default), week, month"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "{total, successful, failed, pending, avgResponseTime, providers, recentEvents, period}", body = Object),
        (status = 400, body = ErrorBody),
    )
)]
pub async fn get_stats(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let period = query.get("period").map_or("day", String::as_str);
    let span = match period {
        "hour" => Duration::from_secs(3600),
        "day" => Duration::from_secs(86_400),
        "week" => Duration::from_secs(7 * 86_400),
        "month" => Duration::from_secs(30 * 86_400),
        _ => {
            return Err(ApiError::bad_field(
                "invalid_query",
                "period",
                "must be one of hour, day, week, month",
            ));
        }
    };
    let mut filter = filter_from(&caller, &query)?;
    filter.since = Some(OffsetDateTime::now_utc() - span);
    filter.until = None;
    filter.status = None;
    let counts = app.store.count_events(&filter).await?;
    let recent = app
        .store
        .list_events(&filter, RECENT_EVENTS, 0, RECENT_EVENTS)
        .await?;

    let (mut total, mut successful, mut failed, mut pending) = (0i64, 0i64, 0i64, 0i64);
    let (mut timed_sum, mut timed_count) = (0i64, 0i64);
    let mut providers: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for (provider, status, events, time_sum, time_count) in counts.rows {
        let entry = providers.entry(provider).or_default();
        total += events;
        entry.0 += events;
        timed_sum += time_sum;
        timed_count += time_count;
        match status {
            EventStatus::Delivered => {
                successful += events;
                entry.1 += events;
            }
            EventStatus::Failed => {
                failed += events;
                entry.2 += events;
            }
            EventStatus::Pending | EventStatus::Retrying => pending += events,
            _ => {}
        }
    }
    Ok(Json(json!({
        "total": total,
        "successful": successful,
        "failed": failed,
        "pending": pending,
        "avgResponseTime": if timed_count > 0 { timed_sum / timed_count } else { 0 },
        "providers": providers
            .into_iter()
            .map(|(name, (total, successful, failed))| {
                (name, json!({ "total": total, "successful": successful, "failed": failed }))
            })
            .collect::<serde_json::Map<_, _>>(),
        "recentEvents": recent.events.iter().map(log_view).collect::<Vec<_>>(),
        "period": period,
    })))
}
