//! The one place errors become HTTP answers. Every error body is
//! `{"success":false,"error":{"code","message"}}` (plus `field` when one field
//! is at fault); internal error text never reaches a client.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orderhook_actors::IngestError;
use orderhook_actors::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<&'static str>,
    /// Seconds, for 429 and 503 answers.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
        }
    }

    /// A 400 about one field of a query or a configuration change.
    pub fn bad_field(code: &'static str, field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            ..Self::new(StatusCode::BAD_REQUEST, code, message)
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

/// Every error answer: `{"success":false,"error":{"code","message","field"?}}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Always false.
    success: bool,
    error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `unauthorized`, `invalid_field`, `rate_limited`…
    code: &'static str,
    /// For people; never internal error text.
    message: String,
    /// The field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            success: false,
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "store unavailable");
                Self::unavailable(
                    "store_unavailable",
                    "the event store is unavailable; try again",
                )
            }
            StoreError::Rejected(detail) => {
                tracing::error!(error = %detail, "store refused a row that passed validation");
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unstorable",
                    "the request passed validation but could not be stored",
                )
            }
            StoreError::Internal(detail) => {
                tracing::error!(error = %detail, "store failure");
                Self::unavailable("store_error", "the event store failed; try again")
            }
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(err: IngestError) -> Self {
        match err {
            IngestError::TenantOverloaded => {
                Self::unavailable("tenant_overloaded", err.to_string())
            }
            IngestError::ServerOverloaded => Self::unavailable("overloaded", err.to_string()),
            IngestError::TenantUnavailable(_) => {
                tracing::warn!(error = %err, "tenant unavailable");
                Self::unavailable("tenant_unavailable", "the tenant is restarting; try again")
            }
            IngestError::Timeout => Self::unavailable("commit_timeout", err.to_string()),
            IngestError::RateLimited {
                ref window,
                retry_after,
            } => Self {
                // Whole seconds, rounded up: retrying any sooner would be refused again.
                retry_after: Some(retry_after.as_millis().div_ceil(1000).max(1) as u64),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("rate limit `{window}` reached for this tenant"),
                )
            },
            IngestError::Store(err) => err.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let code = match rejection.status() {
            StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            _ => "invalid_json",
        };
        Self::new(rejection.status(), code, rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_path", rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            rejection.body_text(),
        )
    }
}

/// `axum::extract::Query` whose rejections answer in our error format.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `axum::Json` whose rejections answer in our error format.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Path` whose rejections answer in our error format.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);
