//! Per-tenant rate limits: several windows at once (per minute, per hour, a
//! burst allowance…), each a GCRA (generic cell rate algorithm): one
//! "theoretical arrival time" per window, no per-request bookkeeping. A
//! request passes only if every window has room, and then counts in all of
//! them. Owned by the tenant's actor, so there is no lock; time is injected,
//! so tests are exact.

use std::time::Duration;

use tokio::time::Instant;

/// `limit` requests per `period`; the whole allowance may be used as a burst.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateWindow {
    /// How operators and errors name it: `per_minute`, `burst`…
    pub name: String,
    pub limit: u32,
    pub period: Duration,
}

/// A refusal: which window is full and when it frees a place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub window: String,
    pub retry_after: Duration,
}

/// A window's state, for the tenant's health.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowUsage {
    pub window: String,
    pub limit: u32,
    pub period_ms: u64,
    /// Places taken, as the algorithm counts them now.
    pub used: u32,
}

#[derive(Debug)]
struct Gcra {
    window: RateWindow,
    /// Time between requests at the sustained rate.
    interval: Duration,
    /// How far ahead of now the arrival time may run: the burst allowance.
    tolerance: Duration,
    /// When the window would be empty again; `None` before the first request.
    arrival: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Vec<Gcra>,
}

impl RateLimiter {
    pub fn new(windows: Vec<RateWindow>) -> Self {
        let windows = windows
            .into_iter()
            .filter(|w| w.limit > 0 && !w.period.is_zero())
            .map(|window| {
                let interval = window.period / window.limit;
                Gcra {
                    tolerance: window.period.saturating_sub(interval),
                    interval,
                    window,
                    arrival: None,
                }
            })
            .collect();
        Self { windows }
    }

    /// Takes a place in every window, or refuses naming the fullest one.
    pub fn check(&mut self, now: Instant) -> Result<(), Denied> {
        let mut denied: Option<Denied> = None;
        for gcra in &self.windows {
            let arrival = gcra.arrival.map_or(now, |at| at.max(now));
            let ahead = arrival - now;
            if ahead > gcra.tolerance {
                let retry_after = ahead - gcra.tolerance;
                if denied.as_ref().is_none_or(|d| retry_after > d.retry_after) {
                    denied = Some(Denied {
                        window: gcra.window.name.clone(),
                        retry_after,
                    });
                }
            }
        }
        if let Some(denied) = denied {
            return Err(denied);
        }
        for gcra in &mut self.windows {
            let arrival = gcra.arrival.map_or(now, |at| at.max(now));
            gcra.arrival = Some(arrival + gcra.interval);
        }
        Ok(())
    }

    pub fn usage(&self, now: Instant) -> Vec<WindowUsage> {
        self.windows
            .iter()
            .map(|gcra| {
                let ahead = gcra
                    .arrival
                    .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
                let used = ahead.as_nanos().div_ceil(gcra.interval.as_nanos().max(1));
                WindowUsage {
                    window: gcra.window.name.clone(),
                    limit: gcra.window.limit,
                    period_ms: gcra.window.period.as_millis() as u64,
                    used: used.min(u128::from(gcra.window.limit)) as u32,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(name: &str, limit: u32, period_ms: u64) -> RateWindow {
        RateWindow {
            name: name.into(),
            limit,
            period: Duration::from_millis(period_ms),
        }
    }

    #[test]
    fn the_whole_allowance_can_burst_then_places_free_at_the_sustained_rate() {
        let mut limiter = RateLimiter::new(vec![window("per_second", 10, 1000)]);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert!(limiter.check(t0).is_ok());
        }
        let denied = limiter.check(t0).unwrap_err();
        assert_eq!(denied.window, "per_second");
        assert_eq!(denied.retry_after, Duration::from_millis(100));
        assert!(limiter.check(t0 + Duration::from_millis(99)).is_err());
        assert!(limiter.check(t0 + Duration::from_millis(100)).is_ok());
        assert!(limiter.check(t0 + Duration::from_millis(100)).is_err());
        // A full period later the window is empty again.
        let later = t0 + Duration::from_millis(1100);
        assert_eq!(limiter.usage(later)[0].used, 0);
        for _ in 0..10 {
            assert!(limiter.check(later).is_ok());
        }
    }

    #[test]
    fn every_window_must_have_room_and_the_longest_wait_is_named() {
        let mut limiter = RateLimiter::new(vec![
            window("burst", 3, 100),
            window("per_minute", 5, 60_000),
        ]);
        let t0 = Instant::now();
        for _ in 0..3 {
            limiter.check(t0).unwrap();
        }
        assert_eq!(limiter.check(t0).unwrap_err().window, "burst");
        let t1 = t0 + Duration::from_millis(200);
        limiter.check(t1).unwrap();
        limiter.check(t1).unwrap();
        let denied = limiter.check(t1).unwrap_err();
        assert_eq!(denied.window, "per_minute");
        assert!(denied.retry_after > Duration::from_secs(10));
        let usage = limiter.usage(t1);
        assert_eq!(usage[1].used, 5);
        assert_eq!(usage[1].limit, 5);
    }

    #[test]
    fn a_refused_request_takes_no_place() {
        let mut limiter = RateLimiter::new(vec![window("a", 1, 1000), window("b", 100, 1000)]);
        let t0 = Instant::now();
        limiter.check(t0).unwrap();
        for _ in 0..50 {
            assert!(limiter.check(t0).is_err());
        }
        assert_eq!(
            limiter.usage(t0)[1].used,
            1,
            "refusals do not count against b"
        );
    }

    #[test]
    fn no_windows_means_no_limit() {
        let mut limiter = RateLimiter::new(vec![window("zero", 0, 1000)]);
        for _ in 0..1000 {
            assert!(limiter.check(Instant::now()).is_ok());
        }
    }
}
