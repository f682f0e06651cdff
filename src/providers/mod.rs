//! Provider authentication: each delivery platform signs its webhooks its own
//! way. Every check is a pure function of the request and the tenant's secret,
//! run in the HTTP handler (never in an actor), and every comparison is
//! constant-time.
//!
//! Adding a provider: one file implementing [`Provider`], one line in [`ALL`],
//! its event types and rate limits in config/default.toml, its tests.

mod careem;
mod deliveroo;
mod jahez;
pub mod payload;
mod talabat;
pub mod verify;

use axum::http::HeaderMap;

pub use careem::Careem;
pub use deliveroo::Deliveroo;
pub use jahez::Jahez;
pub use talabat::Talabat;

/// A provider's request as its authentication sees it.
pub struct SignedRequest<'a> {
    pub headers: &'a HeaderMap,
    /// The body exactly as received: signatures cover these bytes.
    pub body: &'a [u8],
    /// The clientId from the request path.
    pub client_id: &'a str,
    /// Now, in unix seconds (injected so tests control the clock).
    pub now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("header {0} is malformed: {1}")]
    Malformed(&'static str, &'static str),
    #[error("signature does not match")]
    BadSignature,
    #[error("credentials do not match")]
    BadCredentials,
    #[error("header {header} does not match the clientId in the path")]
    ClientMismatch { header: &'static str },
    #[error("timestamp is outside the allowed window of {window_s} s")]
    StaleTimestamp { window_s: i64 },
}

pub trait Provider: Send + Sync + 'static {
    /// The name in `/webhooks/{provider}/…` and in config's `[providers.*]`.
    fn name(&self) -> &'static str;

    /// Checks the request against the tenant's secret.
    fn authenticate(&self, request: &SignedRequest<'_>, secret: &[u8]) -> Result<(), AuthError>;
}

/// Every provider orderhook speaks.
pub static ALL: &[&dyn Provider] = &[&Careem, &Talabat, &Deliveroo, &Jahez];

pub fn find(name: &str) -> Option<&'static dyn Provider> {
    ALL.iter().copied().find(|provider| provider.name() == name)
}

/// The value of a header that must be present and printable.
fn required_header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, AuthError> {
    headers
        .get(name)
        .ok_or(AuthError::MissingHeader(name))?
        .to_str()
        .map_err(|_| AuthError::Malformed(name, "not visible ASCII"))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    #[test]
    fn provider_names_are_unique_and_found() {
        for provider in super::ALL {
            assert_eq!(
                super::find(provider.name()).unwrap().name(),
                provider.name()
            );
        }
        let mut names: Vec<_> = super::ALL.iter().map(|p| p.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), super::ALL.len());
        assert!(super::find("ubereats").is_none());
    }
}
