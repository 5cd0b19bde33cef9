//! One target's request pacer: a governor GCRA limiter on tokio's clock (so tests can use
//! paused time), shared by all the target's workers.
//!
//! governor with a burst of 1 falls short of its quota at high rates: each waiter wakes a
//! little late and, with no burst to absorb it, the lateness is lost for good. The limiter
//! therefore runs with an internal burst of at least 2: a late wake-up of less than one
//! period is absorbed and the long-run rate stays at the quota (never above it).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::config::Rate;

/// governor's clock on `tokio::time`, measured from the limiter's creation.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.base.elapsed()
    }
}

type Inner = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// The most a limit lets through: `per_second` sends a second in the long run, and
/// `burst` at once after a wait (the limiter's burst; a per-minute window's whole quota).
/// What the progress display divides the work left by ([`crate::http::Paced`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    pub per_second: f64,
    pub burst: u32,
}

impl Pace {
    /// The pace of `rate` with `burst`; `None` when unlimited.
    pub fn of(rate: Rate, burst: NonZeroU32) -> Option<Pace> {
        match rate {
            Rate::Unlimited => None,
            Rate::Every { count, per } => {
                let per_second = f64::from(count.get()) / per.as_secs_f64();
                (per_second.is_finite() && per_second > 0.0).then_some(Pace {
                    per_second,
                    burst: burst.get(),
                })
            }
        }
    }
}

/// A rate limiter; `Rate::Unlimited` never waits.
#[derive(Debug)]
pub struct Limiter {
    inner: Option<Inner>,
    clock: TokioClock,
    pace: Option<Pace>,
}

impl Limiter {
    /// A limiter for `rate` with the configured `burst`.
    pub fn new(rate: Rate, burst: NonZeroU32) -> Limiter {
        let clock = TokioClock {
            base: tokio::time::Instant::now(),
        };
        let inner = match rate {
            Rate::Unlimited => None,
            Rate::Every { count, per } => {
                let period = per / count.get();
                let burst = burst.max(NonZeroU32::new(2).expect("2 > 0"));
                Quota::with_period(period)
                    .map(|q| q.allow_burst(burst))
                    .map(|q| RateLimiter::direct_with_clock(q, clock))
            }
        };
        Limiter {
            inner,
            clock,
            pace: Pace::of(rate, burst),
        }
    }

    /// The most this limiter lets through; `None` when unlimited.
    pub fn pace(&self) -> Option<Pace> {
        self.pace
    }

    /// Waits until one request may be sent.
    pub async fn acquire(&self) {
        let Some(inner) = &self.inner else { return };
        loop {
            match inner.check() {
                Ok(()) => return,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn delivers_its_quota_and_no_more() {
        let limiter = Limiter::new(Rate::parse("200/s").unwrap(), NonZeroU32::new(1).unwrap());
        let start = tokio::time::Instant::now();
        for _ in 0..1000 {
            limiter.acquire().await;
        }
        let secs = start.elapsed().as_secs_f64();
        // 1000 requests at 200/s: 5 s, minus the internal burst of 2 (one period).
        assert!((4.98..=5.0).contains(&secs), "took {secs} s");
    }

    #[test]
    fn a_limiter_tells_its_pace() {
        let one = NonZeroU32::new(1).unwrap();
        let pace = Limiter::new(Rate::parse("600/min").unwrap(), one).pace();
        assert_eq!(
            pace,
            Some(Pace {
                per_second: 10.0,
                burst: 1
            })
        );
        assert_eq!(Limiter::new(Rate::Unlimited, one).pace(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let limiter = Limiter::new(Rate::Unlimited, NonZeroU32::new(1).unwrap());
        let start = tokio::time::Instant::now();
        for _ in 0..10_000 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
