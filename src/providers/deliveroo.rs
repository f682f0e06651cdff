//! Deliveroo, in either of two schemes:
//! - the seed's: `X-Deliveroo-HMAC-SHA256` is base64 HMAC-SHA256(secret, raw body);
//! - Deliveroo's published one: with `X-Deliveroo-Sequence-Guid` present, the
//!   same header is hex HMAC-SHA256(secret, `{guid} {raw body}`), so a real
//!   Deliveroo account works unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::verify::verify_hmac;
use super::{AuthError, Provider, SignedRequest, required_header};

pub const SIGNATURE: &str = "x-deliveroo-hmac-sha256";
pub const SEQUENCE_GUID: &str = "x-deliveroo-sequence-guid";

pub struct Deliveroo;

impl Provider for Deliveroo {
    fn name(&self) -> &'static str {
        "deliveroo"
    }

    fn authenticate(&self, request: &SignedRequest<'_>, secret: &[u8]) -> Result<(), AuthError> {
        let signature = required_header(request.headers, SIGNATURE)?;
        match request.headers.get(SEQUENCE_GUID) {
            Some(guid) => {
                let guid = guid
                    .to_str()
                    .map_err(|_| AuthError::Malformed(SEQUENCE_GUID, "not visible ASCII"))?;
                let claimed = hex::decode(signature)
                    .map_err(|_| AuthError::Malformed(SIGNATURE, "not hex"))?;
                verify_hmac(secret, &[guid.as_bytes(), b" ", request.body], &claimed)
            }
            None => {
                let claimed = STANDARD
                    .decode(signature)
                    .map_err(|_| AuthError::Malformed(SIGNATURE, "not base64"))?;
                verify_hmac(secret, &[request.body], &claimed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;
    use crate::providers::verify::hmac_sha256;

    const BODY: &[u8] = br#"{"event_type":"order_event"}"#;

    fn check(headers: &HeaderMap, body: &[u8]) -> Result<(), AuthError> {
        let request = SignedRequest {
            headers,
            body,
            client_id: "c1",
            now: 0,
        };
        Deliveroo.authenticate(&request, b"dr_secret")
    }

    fn seed_scheme(secret: &[u8], body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            SIGNATURE,
            STANDARD
                .encode(hmac_sha256(secret, &[body]))
                .parse()
                .unwrap(),
        );
        h
    }

    fn published_scheme(secret: &[u8], guid: &str, body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        let mac = hmac_sha256(secret, &[guid.as_bytes(), b" ", body]);
        h.insert(SIGNATURE, hex::encode(mac).parse().unwrap());
        h.insert(SEQUENCE_GUID, guid.parse().unwrap());
        h
    }

    #[test]
    fn seed_scheme_base64_over_body() {
        assert_eq!(check(&seed_scheme(b"dr_secret", BODY), BODY), Ok(()));
        assert_eq!(
            check(&seed_scheme(b"wrong", BODY), BODY),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            check(&seed_scheme(b"dr_secret", BODY), b"{}"),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn published_scheme_hex_over_guid_space_body() {
        let guid = "3f1e5b2a-8c8d-4d61-9d7e-0c2b7d1d5e11";
        assert_eq!(
            check(&published_scheme(b"dr_secret", guid, BODY), BODY),
            Ok(())
        );
        // The guid is signed: swapping it breaks the signature.
        let mut h = published_scheme(b"dr_secret", guid, BODY);
        h.insert(SEQUENCE_GUID, "another-guid".parse().unwrap());
        assert_eq!(check(&h, BODY), Err(AuthError::BadSignature));
        // A seed-scheme signature is not accepted once a guid is present.
        let mut h = seed_scheme(b"dr_secret", BODY);
        h.insert(SEQUENCE_GUID, guid.parse().unwrap());
        assert!(check(&h, BODY).is_err());
    }

    #[test]
    fn missing_or_garbled_signature() {
        assert_eq!(
            check(&HeaderMap::new(), BODY),
            Err(AuthError::MissingHeader(SIGNATURE))
        );
        let mut h = HeaderMap::new();
        h.insert(SIGNATURE, "***".parse().unwrap());
        assert!(matches!(
            check(&h, BODY),
            Err(AuthError::Malformed(SIGNATURE, _))
        ));
    }
}
