//! Jahez: `Authorization: Bearer {secret}`. (The seed's predictable
//! `jahez_bearer_token_{clientId}` is replaced by a per-tenant secret.)

use super::verify::{bearer_token, secrets_match};
use super::{AuthError, Provider, SignedRequest, required_header};

pub const AUTHORIZATION: &str = "authorization";

pub struct Jahez;

impl Provider for Jahez {
    fn name(&self) -> &'static str {
        "jahez"
    }

    fn authenticate(&self, request: &SignedRequest<'_>, secret: &[u8]) -> Result<(), AuthError> {
        let value = required_header(request.headers, AUTHORIZATION)?;
        let token = bearer_token(value).ok_or(AuthError::Malformed(
            AUTHORIZATION,
            "expected `Bearer <token>`",
        ))?;
        if secrets_match(token.as_bytes(), secret) {
            Ok(())
        } else {
            Err(AuthError::BadCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;

    fn check(value: Option<&str>) -> Result<(), AuthError> {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(AUTHORIZATION, value.parse().unwrap());
        }
        let request = SignedRequest {
            headers: &headers,
            body: b"{}",
            client_id: "c1",
            now: 0,
        };
        Jahez.authenticate(&request, b"jz_secret")
    }

    #[test]
    fn accepts_only_the_tenants_bearer_token() {
        assert_eq!(check(Some("Bearer jz_secret")), Ok(()));
        assert_eq!(check(Some("bearer jz_secret")), Ok(()));
        assert_eq!(
            check(Some("Bearer jz_secreT")),
            Err(AuthError::BadCredentials)
        );
        assert!(matches!(
            check(Some("Basic jz_secret")),
            Err(AuthError::Malformed(..))
        ));
        assert!(matches!(
            check(Some("jz_secret")),
            Err(AuthError::Malformed(..))
        ));
        assert_eq!(check(None), Err(AuthError::MissingHeader(AUTHORIZATION)));
    }
}
