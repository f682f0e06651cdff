//! Careem Now: `X-Careem-Signature` is hex HMAC-SHA256(secret,
//! `{X-Careem-Timestamp}.{raw body}`), the timestamp (unix seconds) must be
//! within ±300 s of now so a captured request cannot be replayed later, and
//! `X-Careem-Client-Id` must name the tenant in the path.

use super::verify::verify_hmac;
use super::{AuthError, Provider, SignedRequest, required_header};

pub const SIGNATURE: &str = "x-careem-signature";
pub const TIMESTAMP: &str = "x-careem-timestamp";
pub const CLIENT_ID: &str = "x-careem-client-id";
/// How far the signed timestamp may be from now, either way.
pub const WINDOW_S: i64 = 300;

pub struct Careem;

impl Provider for Careem {
    fn name(&self) -> &'static str {
        "careem"
    }

    fn authenticate(&self, request: &SignedRequest<'_>, secret: &[u8]) -> Result<(), AuthError> {
        let signature = required_header(request.headers, SIGNATURE)?;
        let timestamp = required_header(request.headers, TIMESTAMP)?;
        let client_id = required_header(request.headers, CLIENT_ID)?;
        let claimed =
            hex::decode(signature).map_err(|_| AuthError::Malformed(SIGNATURE, "not hex"))?;
        let signed_at: i64 = timestamp
            .parse()
            .map_err(|_| AuthError::Malformed(TIMESTAMP, "not unix seconds"))?;
        verify_hmac(
            secret,
            &[timestamp.as_bytes(), b".", request.body],
            &claimed,
        )?;
        // Checked after the signature, so an unsigned request learns nothing about the window.
        if (request.now - signed_at).abs() > WINDOW_S {
            return Err(AuthError::StaleTimestamp { window_s: WINDOW_S });
        }
        if client_id != request.client_id {
            return Err(AuthError::ClientMismatch { header: CLIENT_ID });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;
    use crate::providers::verify::hmac_sha256;

    const NOW: i64 = 1_727_433_000;
    const BODY: &[u8] = br#"{"event_type":"order.created"}"#;

    fn headers(secret: &[u8], ts: i64, client: &str, body: &[u8]) -> HeaderMap {
        let sig = hex::encode(hmac_sha256(
            secret,
            &[ts.to_string().as_bytes(), b".", body],
        ));
        let mut h = HeaderMap::new();
        h.insert(SIGNATURE, sig.parse().unwrap());
        h.insert(TIMESTAMP, ts.to_string().parse().unwrap());
        h.insert(CLIENT_ID, client.parse().unwrap());
        h
    }

    fn check(headers: &HeaderMap, body: &[u8]) -> Result<(), AuthError> {
        let request = SignedRequest {
            headers,
            body,
            client_id: "c1",
            now: NOW,
        };
        Careem.authenticate(&request, b"s3cret")
    }

    #[test]
    fn accepts_a_correct_signature_at_the_window_edges() {
        for ts in [NOW, NOW - WINDOW_S, NOW + WINDOW_S] {
            assert_eq!(check(&headers(b"s3cret", ts, "c1", BODY), BODY), Ok(()));
        }
    }

    #[test]
    fn rejects_one_second_outside_the_window() {
        let stale = Err(AuthError::StaleTimestamp { window_s: WINDOW_S });
        assert_eq!(
            check(&headers(b"s3cret", NOW - 301, "c1", BODY), BODY),
            stale
        );
        assert_eq!(
            check(&headers(b"s3cret", NOW + 301, "c1", BODY), BODY),
            stale
        );
    }

    #[test]
    fn rejects_wrong_secret_tampered_body_and_other_client() {
        let bad = Err(AuthError::BadSignature);
        assert_eq!(check(&headers(b"other", NOW, "c1", BODY), BODY), bad);
        assert_eq!(check(&headers(b"s3cret", NOW, "c1", BODY), b"{}"), bad);
        assert_eq!(
            check(&headers(b"s3cret", NOW, "c2", BODY), BODY),
            Err(AuthError::ClientMismatch { header: CLIENT_ID })
        );
    }

    #[test]
    fn rejects_missing_and_malformed_headers() {
        for name in [SIGNATURE, TIMESTAMP, CLIENT_ID] {
            let mut h = headers(b"s3cret", NOW, "c1", BODY);
            h.remove(name);
            assert_eq!(check(&h, BODY), Err(AuthError::MissingHeader(name)));
        }
        let mut h = headers(b"s3cret", NOW, "c1", BODY);
        h.insert(SIGNATURE, "zz".parse().unwrap());
        assert!(matches!(
            check(&h, BODY),
            Err(AuthError::Malformed(SIGNATURE, _))
        ));
        let mut h = headers(b"s3cret", NOW, "c1", BODY);
        h.insert(TIMESTAMP, "yesterday".parse().unwrap());
        assert!(matches!(
            check(&h, BODY),
            Err(AuthError::Malformed(TIMESTAMP, _))
        ));
    }
}
