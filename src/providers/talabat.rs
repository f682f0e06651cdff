//! Talabat: the tenant's secret is sent as `X-Talabat-API-Key`. (The seed's
//! predictable `talabat_api_key_{clientId}` is replaced by a per-tenant secret.)

use super::verify::secrets_match;
use super::{AuthError, Provider, SignedRequest, required_header};

pub const API_KEY: &str = "x-talabat-api-key";

pub struct Talabat;

impl Provider for Talabat {
    fn name(&self) -> &'static str {
        "talabat"
    }

    fn authenticate(&self, request: &SignedRequest<'_>, secret: &[u8]) -> Result<(), AuthError> {
        let presented = required_header(request.headers, API_KEY)?;
        if secrets_match(presented.as_bytes(), secret) {
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

    fn check(key: Option<&str>) -> Result<(), AuthError> {
        let mut headers = HeaderMap::new();
        if let Some(key) = key {
            headers.insert(API_KEY, key.parse().unwrap());
        }
        let request = SignedRequest {
            headers: &headers,
            body: b"{}",
            client_id: "c1",
            now: 0,
        };
        Talabat.authenticate(&request, b"tk_secret")
    }

    #[test]
    fn accepts_only_the_tenants_key() {
        assert_eq!(check(Some("tk_secret")), Ok(()));
        assert_eq!(check(Some("tk_secreT")), Err(AuthError::BadCredentials));
        assert_eq!(
            check(Some("talabat_api_key_c1")),
            Err(AuthError::BadCredentials)
        );
        assert_eq!(check(None), Err(AuthError::MissingHeader(API_KEY)));
    }
}
