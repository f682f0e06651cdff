//! Operator access: `Authorization: Bearer <admin token>`, compared in constant time.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use secrecy::ExposeSecret;

use super::error::ApiError;
use crate::app::AppState;
use crate::providers::verify::{bearer_token, secrets_match};

/// Present in a handler's arguments, it admits only operators.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token)
            .ok_or_else(|| ApiError::unauthorized("an operator bearer token is required"))?;
        if secrets_match(
            presented.as_bytes(),
            state.admin_token.expose_secret().as_bytes(),
        ) {
            Ok(Operator)
        } else {
            Err(ApiError::unauthorized("the operator token is not valid"))
        }
    }
}
