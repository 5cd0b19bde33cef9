//! What to do after each attempt: decided from the kind of request and what came back,
//! never from the vendor. Backoff is capped exponential with full jitter.
//!
//! A create whose answer never came may have taken effect: it is never re-sent blindly but
//! handed back as `Unknown`, for the connector to reconcile by looking the user up first.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// How safe a request is to repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Reads: repeat freely.
    Read,
    /// Writes that can be repeated with the same effect (PUT, link twice).
    Idempotent,
    /// Creates: repeating one that took effect would make a duplicate.
    Create,
}

/// The decision after one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Hand the reply to the connector.
    Accept,
    /// Try again after the backoff (nothing was done on the platform).
    Retry,
    /// Try again after pausing the whole target this long (429; `None`: use the backoff).
    Pause(Option<Duration>),
    /// Whether it took effect is unknown: the connector must reconcile.
    Unknown,
}

/// What an attempt ended with, as far as classification cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Status(u16),
    /// The connection could not be made: nothing was sent.
    ConnectFailed,
    /// Sent (or maybe sent) but no answer: timeout or connection dropped.
    NoAnswer,
}

/// Decides what to do after an attempt of a request of `kind`.
pub fn decide(kind: Kind, attempt: Attempt, retry_after: Option<Duration>) -> Decision {
    match attempt {
        Attempt::Status(429) => Decision::Pause(retry_after),
        // 503 with Retry-After: the platform says when to come back, as with 429.
        Attempt::Status(503) if retry_after.is_some() => Decision::Pause(retry_after),
        // 503: the platform is not taking requests; nothing was done.
        Attempt::Status(503) => Decision::Retry,
        Attempt::Status(500 | 502 | 504) if kind == Kind::Create => Decision::Unknown,
        // Reads and idempotent writes are safe to repeat whatever happened.
        Attempt::Status(500 | 502 | 504) => Decision::Retry,
        Attempt::Status(_) => Decision::Accept,
        Attempt::ConnectFailed => Decision::Retry,
        Attempt::NoAnswer if kind == Kind::Create => Decision::Unknown,
        Attempt::NoAnswer => Decision::Retry,
    }
}

/// Capped exponential backoff with full jitter: a random wait in `[0, min(cap, base·2^n)]`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The wait before retry number `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX))
            .min(self.cap);
        let nanos = ceiling.as_nanos() as u64;
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

/// How long a reply asks the client to wait: `Retry-After`, else `X-RateLimit-Reset`
/// (epoch seconds, as Pegasus sends it, or seconds from now when small).
pub fn wait_from_headers(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ra) = text("retry-after").and_then(parse_retry_after) {
        return Some(ra);
    }
    let reset: f64 = text("x-ratelimit-reset")?.trim().parse().ok()?;
    if !reset.is_finite() || reset < 0.0 {
        return None;
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    // Values below a day are a count of seconds; larger ones are a moment.
    let secs = if reset < 86_400.0 {
        reset
    } else {
        (reset - now).max(0.0)
    };
    Some(Duration::from_secs_f64(secs.min(3600.0)))
}

/// Parses `Retry-After`: seconds, or an HTTP-date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs >= 0.0 && secs.is_finite())
            .then(|| Duration::from_secs_f64(secs.min(3600.0)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(3600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_503_with_retry_after_pauses_like_a_429() {
        let after = Some(Duration::from_secs(7));
        for kind in [Kind::Read, Kind::Idempotent, Kind::Create] {
            assert_eq!(
                decide(kind, Attempt::Status(503), after),
                Decision::Pause(after)
            );
            assert_eq!(decide(kind, Attempt::Status(503), None), Decision::Retry);
        }
    }

    #[test]
    fn classification_table() {
        use Attempt::*;
        use Decision::*;
        let cases = [
            (Kind::Create, Status(201), Accept),
            (Kind::Create, Status(400), Accept),
            (Kind::Create, Status(401), Accept),
            (Kind::Create, Status(429), Pause(None)),
            (Kind::Create, Status(503), Retry),
            (Kind::Create, Status(502), Unknown),
            (Kind::Create, Status(504), Unknown),
            (Kind::Create, Status(500), Unknown),
            (Kind::Create, ConnectFailed, Retry),
            (Kind::Create, NoAnswer, Unknown),
            (Kind::Read, NoAnswer, Retry),
            (Kind::Read, Status(500), Retry),
            (Kind::Read, Status(502), Retry),
            (Kind::Idempotent, Status(504), Retry),
            (Kind::Idempotent, Status(500), Retry),
            (Kind::Idempotent, NoAnswer, Retry),
        ];
        for (kind, attempt, want) in cases {
            assert_eq!(decide(kind, attempt, None), want, "{kind:?} {attempt:?}");
        }
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let b = Backoff::default();
        for n in 0..40 {
            assert!(b.delay(n) <= Duration::from_secs(10));
        }
        assert!(b.delay(0) <= Duration::from_millis(100));
    }

    #[test]
    fn rate_limit_reset_is_used_without_retry_after() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from_static("3"));
        assert_eq!(wait_from_headers(&h), Some(Duration::from_secs(3)));
        let soon = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 5;
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&soon.to_string()).unwrap(),
        );
        let wait = wait_from_headers(&h).unwrap();
        assert!(
            wait <= Duration::from_secs(5) && wait >= Duration::from_secs(3),
            "{wait:?}"
        );
        h.insert("retry-after", HeaderValue::from_static("1"));
        assert_eq!(wait_from_headers(&h), Some(Duration::from_secs(1)));
        assert_eq!(wait_from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
