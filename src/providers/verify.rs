//! The primitives every provider's check is built from.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AuthError;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 over the concatenation of `parts`.
pub fn hmac_sha256(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time check of a claimed MAC against the one computed over `parts`.
pub fn verify_hmac(secret: &[u8], parts: &[&[u8]], claimed: &[u8]) -> Result<(), AuthError> {
    let expected = hmac_sha256(secret, parts);
    if bool::from(expected.as_slice().ct_eq(claimed)) {
        Ok(())
    } else {
        Err(AuthError::BadSignature)
    }
}

/// Compares a presented secret with the expected one in time independent of
/// where they differ and of their lengths (both are hashed first).
pub fn secrets_match(presented: &[u8], expected: &[u8]) -> bool {
    let presented = Sha256::digest(presented);
    let expected = Sha256::digest(expected);
    bool::from(presented.as_slice().ct_eq(expected.as_slice()))
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verify_rejects_a_changed_or_shortened_mac() {
        let mac = hmac_sha256(b"k", &[b"body"]);
        assert!(verify_hmac(b"k", &[b"body"], &mac).is_ok());
        let mut changed = mac;
        changed[31] ^= 1;
        assert_eq!(
            verify_hmac(b"k", &[b"body"], &changed),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            verify_hmac(b"k", &[b"body"], &mac[..16]),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(secrets_match(b"abc", b"abc"));
        assert!(!secrets_match(b"abc", b"abd"));
        assert!(!secrets_match(b"abc", b"abcd"));
        assert!(!secrets_match(b"", b"abc"));
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header_value() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("abc"), None);
    }
}
