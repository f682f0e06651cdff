//! Who may call the operator API. The operator token (compared in constant
//! time) sees everything. A client key (`ohk_…`, created by an operator, kept
//! only as a SHA-256) sees only its own client's resources, and gets the same
//! 404 for another client's as for one that does not exist, so it cannot
//! probe which clients exist.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::app::AppState;
use crate::providers::verify::{bearer_token, secrets_match};

/// The prefix of client keys, so a key is recognisable in a leak scan.
pub const CLIENT_KEY_PREFIX: &str = "ohk_";

pub enum Caller {
    Operator,
    Client(String),
}

impl Caller {
    /// Whether the caller may see `client_id`'s resources.
    pub fn may_see(&self, client_id: &str) -> bool {
        match self {
            Self::Operator => true,
            Self::Client(own) => own == client_id,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token)
            .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
        if secrets_match(
            presented.as_bytes(),
            state.admin_token.expose_secret().as_bytes(),
        ) {
            return Ok(Self::Operator);
        }
        if presented.starts_with(CLIENT_KEY_PREFIX) {
            let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
            if let Some((_, client_id)) = state.store.find_client_key(hash).await? {
                return Ok(Self::Client(client_id));
            }
        }
        Err(ApiError::unauthorized("the token is not valid"))
    }
}

/// Present in a handler's arguments, it admits only operators.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Operator => Ok(Operator),
            Caller::Client(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "operator_only",
                "this needs the operator token",
            )),
        }
    }
}
