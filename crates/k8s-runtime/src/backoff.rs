//! Exponential backoff with jitter, shared by the work queue (per key) and the watcher.

use std::time::Duration;

/// Exponential backoff with jitter: attempt `n` (from 0) waits `base * 2^n`, plus up to 10 %
/// random jitter, never more than `max`.
///
/// ```
/// use std::time::Duration;
/// use k8s_runtime::Backoff;
///
/// let b = Backoff::new(Duration::from_millis(5), Duration::from_secs(1000));
/// assert!(b.delay(0) >= Duration::from_millis(5) && b.delay(0) <= Duration::from_micros(5500));
/// assert!(b.delay(3) >= Duration::from_millis(40));
/// assert_eq!(b.delay(60), Duration::from_secs(1000));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Backoff {
    /// A backoff from `base`, doubling, capped at `max`.
    pub const fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max }
    }

    /// The delay before retry number `attempt` (0 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.min(40)));
        if exp >= self.max {
            return self.max;
        }
        exp.mul_f64(1.0 + fastrand::f64() / 10.0).min(self.max)
    }
}
