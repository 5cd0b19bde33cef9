//! A simulated platform's own rate limit: a token bucket holding one period's worth of
//! requests (`50/s` → 50 tokens, refilled continuously at 50 a second). Uses tokio's clock
//! so tests with paused time can step over a `Retry-After`.

use tokio::time::Instant;

use crate::config::Rate;

/// A token bucket.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl Bucket {
    /// `None` for an unlimited rate.
    pub(crate) fn new(rate: Rate) -> Option<Bucket> {
        let Rate::Every { count, .. } = rate else {
            return None;
        };
        let capacity = f64::from(count.get());
        Some(Bucket {
            capacity,
            per_second: rate.per_second()?,
            tokens: capacity,
            last: None,
        })
    }

    /// Takes one token at `now`, or says in how many whole seconds (at least 1) one will
    /// be there: the `Retry-After` value.
    pub(crate) fn take(&mut self, now: Instant) -> Result<(), u64> {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        }
        self.last = Some(now);
        // Tolerate float dust: 20 s then 10 s at 2/min must make a whole token.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            return Ok(());
        }
        let wait = (1.0 - self.tokens) / self.per_second;
        // `as` saturates; a wait is at most one period, so it always fits.
        Err(((wait - 1e-9).ceil() as u64).max(1))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn bucket(rate: &str) -> Bucket {
        Bucket::new(Rate::parse(rate).unwrap()).unwrap()
    }

    #[test]
    fn unlimited_has_no_bucket() {
        assert!(Bucket::new(Rate::Unlimited).is_none());
    }

    #[test]
    fn a_period_worth_passes_then_retry_after_says_when() {
        let cases = [("3/s", 3, 1), ("2/min", 2, 30), ("1/h", 1, 3600)];
        for (rate, passes, retry_after) in cases {
            let mut b = bucket(rate);
            let t = Instant::now();
            for i in 0..passes {
                assert_eq!(b.take(t), Ok(()), "{rate} request {i}");
            }
            assert_eq!(b.take(t), Err(retry_after), "{rate}");
        }
    }

    #[test]
    fn tokens_come_back_with_time_up_to_the_capacity() {
        let mut b = bucket("2/min");
        let t = Instant::now();
        assert!(b.take(t).is_ok());
        assert!(b.take(t).is_ok());
        assert_eq!(b.take(t + Duration::from_secs(20)), Err(10));
        assert_eq!(b.take(t + Duration::from_secs(30)), Ok(()));
        // An hour idle refills two tokens, not sixty.
        let later = t + Duration::from_secs(3600);
        assert!(b.take(later).is_ok());
        assert!(b.take(later).is_ok());
        assert!(b.take(later).is_err());
    }
}
