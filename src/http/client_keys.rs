//! `POST /api/clients/{clientId}/keys` and `DELETE …/keys/{keyId}`: keys that
//! let a client manage its own resources and nothing else. The key is shown
//! once; only its SHA-256 is kept.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::ExposeSecret;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::access::{CLIENT_KEY_PREFIX, Caller, Operator};
use super::client_config::known_client;
use super::error::{ApiError, ApiPath, ErrorBody};
use crate::app::AppState;
use crate::secrets;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    key_id: Uuid,
    client_id: String,
    /// Shown this once.
    key: String,
}

/// A key that reaches only this client's resources; shown once.
#[utoipa::path(
    post,
    path = "/api/clients/{client_id}/keys",
    tag = "operator",
    params(("client_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 201, body = CreatedKey), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn create_client_key(
    _: Operator,
    State(app): State<AppState>,
    ApiPath(client): ApiPath<String>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    known_client(&app, &Caller::Operator, &client).await?;
    let key = format!("{CLIENT_KEY_PREFIX}{}", secrets::generate().expose_secret());
    let key_id = Uuid::now_v7();
    app.store
        .create_client_key(key_id, &client, Sha256::digest(key.as_bytes()).into())
        .await?;
    tracing::info!(client_id = %client, key_id = %key_id, "client key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key_id,
            client_id: client,
            key,
        }),
    ))
}

/// Revokes a client key at once.
#[utoipa::path(
    delete,
    path = "/api/clients/{client_id}/keys/{key_id}",
    tag = "operator",
    params(("client_id" = String, Path), ("key_id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody))
)]
pub async fn revoke_client_key(
    _: Operator,
    State(app): State<AppState>,
    ApiPath((client, key_id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let not_found = || ApiError::not_found("unknown_key", format!("no live key {key_id:?}"));
    let id = Uuid::parse_str(&key_id).map_err(|_| not_found())?;
    if !app.store.revoke_client_key(&client, id).await? {
        return Err(not_found());
    }
    tracing::info!(client_id = %client, key_id = %id, "client key revoked");
    Ok(StatusCode::NO_CONTENT)
}
