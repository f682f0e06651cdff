//! How a client's overrides combine with the server's defaults: the retry
//! policy its tenants use and the rate-limit windows they are held to.

use std::time::Duration;

use crate::domain::ClientConfig;
use crate::limiter::RateWindow;
use crate::retry::RetryPolicy;

/// The retry policy for the client: its own when it set one (keeping the
/// server's jitter), else the server's.
pub fn retry_policy(defaults: &RetryPolicy, config: &ClientConfig) -> RetryPolicy {
    match &config.retry_policy {
        Some(custom) => RetryPolicy {
            max_retries: custom.max_retries,
            delays: custom
                .retry_delays
                .iter()
                .map(|ms| Duration::from_millis(*ms))
                .collect(),
            exponential_backoff: custom.exponential_backoff,
            jitter: defaults.jitter,
        },
        None => defaults.clone(),
    }
}

/// The windows a tenant is held to: none when the client turned limiting
/// off, its single window when it set one, else the provider's.
pub fn rate_windows(provider_defaults: &[RateWindow], config: &ClientConfig) -> Vec<RateWindow> {
    match &config.rate_limiting {
        Some(limits) if !limits.enabled => Vec::new(),
        Some(limits) => match (limits.max_requests, limits.window_ms) {
            (Some(limit), Some(window_ms)) => vec![RateWindow {
                name: "client".into(),
                limit,
                period: Duration::from_millis(window_ms),
            }],
            _ => provider_defaults.to_vec(),
        },
        None => provider_defaults.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RateLimitOverride, RetryOverride};

    fn defaults() -> (RetryPolicy, Vec<RateWindow>) {
        (
            RetryPolicy {
                max_retries: 3,
                delays: vec![Duration::from_secs(1)],
                exponential_backoff: true,
                jitter: 0.1,
            },
            vec![RateWindow {
                name: "per_minute".into(),
                limit: 500,
                period: Duration::from_secs(60),
            }],
        )
    }

    #[test]
    fn no_overrides_keep_the_defaults() {
        let (retry, windows) = defaults();
        let config = ClientConfig::default();
        assert_eq!(retry_policy(&retry, &config), retry);
        assert_eq!(rate_windows(&windows, &config), windows);
    }

    #[test]
    fn overrides_replace_the_defaults() {
        let (retry, windows) = defaults();
        let config = ClientConfig {
            retry_policy: Some(RetryOverride {
                max_retries: 5,
                retry_delays: vec![100, 200],
                exponential_backoff: false,
            }),
            rate_limiting: Some(RateLimitOverride {
                enabled: true,
                max_requests: Some(2000),
                window_ms: Some(60_000),
            }),
            ..ClientConfig::default()
        };
        let policy = retry_policy(&retry, &config);
        assert_eq!(policy.max_retries, 5);
        assert_eq!(
            policy.delays,
            [Duration::from_millis(100), Duration::from_millis(200)]
        );
        assert_eq!(policy.jitter, 0.1);
        let limits = rate_windows(&windows, &config);
        assert_eq!((limits[0].name.as_str(), limits[0].limit), ("client", 2000));
    }

    #[test]
    fn disabled_limiting_means_no_windows() {
        let (_, windows) = defaults();
        let config = ClientConfig {
            rate_limiting: Some(RateLimitOverride {
                enabled: false,
                max_requests: Some(1),
                window_ms: Some(1),
            }),
            ..ClientConfig::default()
        };
        assert!(rate_windows(&windows, &config).is_empty());
    }
}
