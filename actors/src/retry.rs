//! The retry policy: how long the head event waits before its next attempt,
//! and when it is dead. Pure arithmetic, so it is tested without actors.

use std::time::Duration;

/// The longest any single wait grows to under exponential backoff.
const MAX_DELAY: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; attempts in a round are `max_retries + 1`.
    pub max_retries: u32,
    /// Waits before retry 1, 2, …; past the list the last one repeats (or doubles).
    pub delays: Vec<Duration>,
    /// Past the listed delays, each wait doubles the one before.
    pub exponential_backoff: bool,
    /// Each wait is scaled by a random factor in `[1 - jitter, 1 + jitter]`, so
    /// clients that failed together do not retry together.
    pub jitter: f64,
}

impl RetryPolicy {
    /// Whether a round with `attempts_made` attempts has retries left.
    pub fn has_retry_left(&self, attempts_made: u32) -> bool {
        attempts_made <= self.max_retries
    }

    /// The wait before retry number `retry` (1-based), before jitter.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let Some(last) = self.delays.last().copied() else {
            return Duration::ZERO;
        };
        let index = retry.saturating_sub(1) as usize;
        if let Some(delay) = self.delays.get(index) {
            return *delay;
        }
        if !self.exponential_backoff {
            return last;
        }
        let doublings = (index + 1 - self.delays.len()).min(32) as u32;
        last.saturating_mul(1 << doublings.min(31))
            .min(MAX_DELAY.max(last))
    }

    /// The wait before retry number `retry`, with jitter; `unit` is a random
    /// number in `[0, 1)` (injected so tests are deterministic).
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let factor = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        self.base_delay(retry).mul_f64(factor.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_policy(exponential_backoff: bool) -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            delays: [1000, 5000, 10000].map(Duration::from_millis).to_vec(),
            exponential_backoff,
            jitter: 0.1,
        }
    }

    #[test]
    fn listed_delays_then_doubling() {
        let policy = seed_policy(true);
        let delays: Vec<u64> = (1..=6)
            .map(|r| policy.base_delay(r).as_millis() as u64)
            .collect();
        assert_eq!(delays, [1000, 5000, 10000, 20000, 40000, 80000]);
        assert_eq!(policy.base_delay(60), MAX_DELAY);
    }

    #[test]
    fn without_backoff_the_last_delay_repeats() {
        let policy = seed_policy(false);
        assert_eq!(policy.base_delay(5), Duration::from_secs(10));
    }

    #[test]
    fn jitter_stays_within_its_band() {
        let policy = seed_policy(true);
        assert_eq!(policy.delay(1, 0.0), Duration::from_millis(900));
        assert_eq!(policy.delay(1, 0.5), Duration::from_millis(1000));
        assert!(policy.delay(1, 0.999_999) <= Duration::from_millis(1100));
    }

    #[test]
    fn three_retries_mean_four_attempts() {
        let policy = seed_policy(true);
        assert!(policy.has_retry_left(1));
        assert!(policy.has_retry_left(3));
        assert!(!policy.has_retry_left(4));
    }
}
