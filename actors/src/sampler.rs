//! Diagnostic rows under a flood: one row per interval, counting the
//! occurrences it stands for, so a flood of refused requests cannot flood
//! the store. Pure, with time injected.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct RowSampler {
    interval: Duration,
    /// Occurrences since the last row that got no row of their own.
    suppressed: u64,
    last: Option<Instant>,
}

impl RowSampler {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            suppressed: 0,
            last: None,
        }
    }

    /// An occurrence at `now`: `Some(n)` when it may be written as a row,
    /// `n` being how many were suppressed since the last row.
    pub fn admit(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .last
            .is_none_or(|last| now.duration_since(last) >= self.interval);
        if due {
            self.last = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_interval_carrying_the_count_of_the_rest() {
        let mut sampler = RowSampler::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(sampler.admit(t0), Some(0));
        for i in 1..=5 {
            assert_eq!(sampler.admit(t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(sampler.admit(t0 + Duration::from_secs(10)), Some(5));
        assert_eq!(sampler.admit(t0 + Duration::from_secs(11)), None);
    }

    #[test]
    fn a_zero_interval_writes_every_row() {
        let mut sampler = RowSampler::new(Duration::ZERO);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(sampler.admit(t0), Some(0));
        }
    }
}
