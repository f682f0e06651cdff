//! Outbound signatures, per Standard Webhooks: `webhook-signature` is
//! `v1,` + base64 HMAC-SHA256(key, `{webhook-id}.{webhook-timestamp}.{body}`).
//! The key is the tenant's secret; a secret written `whsec_<base64>` (the
//! spec's own format) is keyed by its decoded bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::providers::verify::hmac_sha256;

const SPEC_PREFIX: &str = "whsec_";

/// The HMAC key a secret stands for.
pub fn signing_key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix(SPEC_PREFIX)
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// The `webhook-signature` header value.
pub fn sign(secret: &str, message_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = hmac_sha256(
        &signing_key(secret),
        &[
            message_id.as_bytes(),
            b".",
            timestamp.to_string().as_bytes(),
            b".",
            body,
        ],
    );
    format!("v1,{}", STANDARD.encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // The example from the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn plain_secrets_are_used_as_they_are() {
        assert_eq!(signing_key("plain-secret"), b"plain-secret");
        assert_eq!(signing_key("whsec_not*base64"), b"whsec_not*base64");
        assert_ne!(
            sign("a-secret", "id", 1, b"{}"),
            sign("b-secret", "id", 1, b"{}")
        );
    }
}
