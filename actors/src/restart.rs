//! When to restart a tenant actor that failed: at once the first time, then
//! with doubling delays while it keeps failing, so a tenant whose state makes
//! its actor panic cannot spin a core.

use std::time::Duration;

use tokio::time::Instant;

use crate::supervisor::TenantsConfig;

/// Failures closer together than this count as "keeps failing".
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct RestartHistory {
    total: u32,
    recent: u32,
    last_failure: Option<Instant>,
}

impl RestartHistory {
    /// Records a failure at `now` and returns how long to wait before restarting.
    pub fn record_failure(&mut self, now: Instant, config: &TenantsConfig) -> Duration {
        let within_window = self
            .last_failure
            .is_some_and(|last| now.duration_since(last) < FAILURE_WINDOW);
        self.recent = if within_window { self.recent + 1 } else { 1 };
        self.total += 1;
        self.last_failure = Some(now);
        if self.recent <= 1 {
            return Duration::ZERO;
        }
        let doublings = (self.recent - 2).min(16);
        config
            .restart_backoff
            .saturating_mul(1 << doublings)
            .min(config.restart_backoff_max)
    }

    /// Restarts so far.
    pub fn total(&self) -> u32 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TenantsConfig {
        TenantsConfig {
            max_in_flight: 1,
            idle_timeout: Duration::ZERO,
            restart_backoff: Duration::from_millis(100),
            restart_backoff_max: Duration::from_secs(1),
            refusal_log_interval: Duration::ZERO,
        }
    }

    #[test]
    fn first_failure_restarts_at_once_then_backoff_doubles_up_to_the_cap() {
        let config = config();
        let mut history = RestartHistory::default();
        let t0 = Instant::now();
        let delays: Vec<u128> = (0..7)
            .map(|i| {
                history
                    .record_failure(t0 + Duration::from_secs(i), &config)
                    .as_millis()
            })
            .collect();
        assert_eq!(delays, [0, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(history.total(), 7);
    }

    #[test]
    fn a_quiet_minute_forgives_earlier_failures() {
        let config = config();
        let mut history = RestartHistory::default();
        let t0 = Instant::now();
        history.record_failure(t0, &config);
        assert_eq!(
            history.record_failure(t0 + Duration::from_secs(1), &config),
            Duration::from_millis(100)
        );
        assert_eq!(
            history.record_failure(t0 + Duration::from_secs(120), &config),
            Duration::ZERO
        );
        assert_eq!(history.total(), 3);
    }
}
