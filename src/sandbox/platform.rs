//! What every simulated platform shares with the sandbox core: its counters, its fault
//! dice, its own rate limiter and a slot for the simulator's state. A simulator gets one
//! [`Platform`] in its `router` function and uses it to count what it did and to withhold
//! a create's answer (the timeout fault); the core uses it for everything else (requests,
//! drops, errors, latency, 429s). Knows no vendor.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Options;
use super::limiter::Bucket;

/// Counter names shared by every simulator; they are the keys of `GET /_sandbox/stats`
/// (DESIGN "The sandbox"). A simulator may add its own names with [`Platform::add`].
pub mod stat {
    /// Every request that reached this platform's prefix, faulted or not.
    pub const REQUESTS: &str = "requests";
    /// Requests with a writing method (POST, PUT, PATCH, DELETE), faulted or not.
    pub const WRITES: &str = "writes";
    /// Users created (including those whose answer was withheld by the timeout fault).
    pub const CREATED: &str = "created";
    /// Creates refused because the identity already exists.
    pub const DUPLICATES_REFUSED: &str = "duplicates_refused";
    /// Requests answered 429 by the platform's own rate limit.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// `errors_injected + timeouts_injected + drops_injected`.
    pub const FAULTS_INJECTED: &str = "faults_injected";
    /// Requests answered 500/503 without doing anything.
    pub const ERRORS_INJECTED: &str = "errors_injected";
    /// Creates done whose answer was withheld.
    pub const TIMEOUTS_INJECTED: &str = "timeouts_injected";
    /// Connections closed before anything was done.
    pub const DROPS_INJECTED: &str = "drops_injected";
    /// Users the platform holds now (a gauge the simulator keeps with [`super::Platform::set`]).
    pub const USERS: &str = "users";

    /// The counters every platform reports, even at zero.
    pub const ALL: [&str; 10] = [
        REQUESTS,
        WRITES,
        CREATED,
        DUPLICATES_REFUSED,
        RATE_LIMITED,
        FAULTS_INJECTED,
        ERRORS_INJECTED,
        TIMEOUTS_INJECTED,
        DROPS_INJECTED,
        USERS,
    ];
}

/// Marks a response the core must never send (the timeout fault): the connection is held
/// until the client gives up or the sandbox stops.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Withheld;

/// A simulator's state that `POST /_sandbox/reset` can put back to its seeded beginning.
pub trait Reset: Send + Sync {
    /// Forgets everything done since the start (users, links), keeps the seeded data.
    fn reset(&self);
}

/// One simulated platform's share of the sandbox. Cheap to clone.
#[derive(Clone)]
pub struct Platform {
    inner: Arc<Inner>,
}

struct Inner {
    key: &'static str,
    options: Options,
    counters: Mutex<BTreeMap<&'static str, u64>>,
    dice: Mutex<StdRng>,
    bucket: Mutex<Option<Bucket>>,
    state: Mutex<Option<Attached>>,
}

#[derive(Clone)]
struct Attached {
    any: Arc<dyn Any + Send + Sync>,
    reset: Arc<dyn Reset>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a handler must not take the whole sandbox down with a poisoned lock.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn fresh_counters() -> BTreeMap<&'static str, u64> {
    stat::ALL.iter().map(|k| (*k, 0)).collect()
}

impl Platform {
    /// The platform served under `/{key}`, with the faults and limit of `options`.
    pub(crate) fn new(key: &'static str, options: &Options) -> Platform {
        // Each platform rolls its own dice, so adding a vendor changes no other's sequence.
        let dice = match options.seed {
            Some(seed) => StdRng::seed_from_u64(seed ^ fnv1a(key)),
            None => StdRng::from_os_rng(),
        };
        Platform {
            inner: Arc::new(Inner {
                key,
                options: options.clone(),
                counters: Mutex::new(fresh_counters()),
                dice: Mutex::new(dice),
                bucket: Mutex::new(options.rate.and_then(Bucket::new)),
                state: Mutex::new(None),
            }),
        }
    }

    /// The vendor key, which is also the path prefix.
    pub fn key(&self) -> &'static str {
        self.inner.key
    }

    /// The options the sandbox was started with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Adds `n` to the counter `name` (see [`stat`]; other names appear in the stats too).
    pub fn add(&self, name: &'static str, n: u64) {
        *lock(&self.inner.counters).entry(name).or_insert(0) += n;
    }

    /// Makes the simulator's own counters appear in the stats from the start, at zero.
    pub fn declare(&self, names: &[&'static str]) {
        let mut counters = lock(&self.inner.counters);
        for name in names {
            counters.entry(name).or_insert(0);
        }
    }

    /// Adds one to the counter `name`.
    pub fn bump(&self, name: &'static str) {
        self.add(name, 1);
    }

    /// Sets a gauge such as [`stat::USERS`].
    pub fn set(&self, name: &'static str, value: u64) {
        lock(&self.inner.counters).insert(name, value);
    }

    /// The value of counter `name` (0 if never touched).
    pub fn get(&self, name: &str) -> u64 {
        lock(&self.inner.counters).get(name).copied().unwrap_or(0)
    }

    /// All counters, by name.
    pub fn counters(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.inner.counters).clone()
    }

    /// The timeout fault, for a simulator that has just created a user: with probability
    /// `timeout_rate` the answer is withheld (counted), otherwise `response` goes out as is.
    /// Call it only after the user is stored: the fault means "created, answer lost".
    pub fn answer_create(&self, mut response: Response) -> Response {
        if self.roll(self.inner.options.timeout_rate) {
            self.bump(stat::TIMEOUTS_INJECTED);
            self.bump(stat::FAULTS_INJECTED);
            response.extensions_mut().insert(Withheld);
        }
        response
    }

    /// Hands the simulator's state to the sandbox, so tests can reach it
    /// ([`Platform::state`]) and `POST /_sandbox/reset` can reset it.
    pub fn attach<T: Reset + Any>(&self, state: Arc<T>) {
        *lock(&self.inner.state) = Some(Attached {
            any: state.clone(),
            reset: state,
        });
    }

    /// The state a simulator attached, if it is a `T`.
    pub fn state<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let attached = lock(&self.inner.state).clone()?;
        attached.any.downcast::<T>().ok()
    }

    /// Zeroes the counters, refills the rate limiter and resets the attached state.
    /// The dice keep rolling: a reset does not replay the same faults.
    pub(crate) fn reset(&self) {
        let attached = lock(&self.inner.state).clone();
        if let Some(a) = attached {
            a.reset.reset();
        }
        for (name, value) in lock(&self.inner.counters).iter_mut() {
            if *name != stat::USERS {
                *value = 0;
            }
        }
        *lock(&self.inner.bucket) = self.inner.options.rate.and_then(Bucket::new);
    }

    /// True with probability `p`; never rolls (so never moves the sequence) when `p` is 0.
    pub(crate) fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        lock(&self.inner.dice).random_bool(p)
    }

    /// A second roll for which error status an injected error gets.
    pub(crate) fn coin(&self) -> bool {
        lock(&self.inner.dice).random_bool(0.5)
    }

    /// Takes a token from the platform's own limiter; `Err(seconds)` says when to retry.
    pub(crate) fn take_token(&self) -> Result<(), u64> {
        match lock(&self.inner.bucket).as_mut() {
            Some(bucket) => bucket.take(tokio::time::Instant::now()),
            None => Ok(()),
        }
    }
}

/// A small, stable hash so each vendor's dice differ under one seed.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// How long an injected latency lasts.
pub(crate) fn latency(options: &Options) -> Option<Duration> {
    (options.latency_ms > 0).then(|| Duration::from_millis(options.latency_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Db(Mutex<u32>);
    impl Reset for Db {
        fn reset(&self) {
            *lock(&self.0) = 0;
        }
    }

    #[test]
    fn every_design_counter_is_reported_at_zero() {
        let p = Platform::new("traccar", &Options::default());
        let c = p.counters();
        for key in [
            "requests",
            "created",
            "duplicates_refused",
            "rate_limited",
            "faults_injected",
        ] {
            assert_eq!(c.get(key), Some(&0), "{key}");
        }
    }

    #[test]
    fn the_same_seed_rolls_the_same_faults() {
        let options = Options {
            seed: Some(7),
            ..Options::default()
        };
        let a = Platform::new("traccar", &options);
        let b = Platform::new("traccar", &options);
        let rolls = |p: &Platform| (0..64).map(|_| p.roll(0.5)).collect::<Vec<_>>();
        let ra = rolls(&a);
        assert_eq!(ra, rolls(&b));
        assert!(ra.contains(&true) && ra.contains(&false));
        // Another vendor under the same seed rolls its own sequence.
        assert_ne!(ra, rolls(&Platform::new("motive", &options)));
    }

    #[test]
    fn certain_and_impossible_faults_do_not_roll() {
        let p = Platform::new("x", &Options::default());
        assert!(p.roll(1.0));
        assert!(!p.roll(0.0));
    }

    #[test]
    fn reset_zeroes_counters_and_resets_the_attached_state() {
        let p = Platform::new("x", &Options::default());
        let db = Arc::new(Db(Mutex::new(3)));
        p.attach(db.clone());
        p.declare(&["links_created"]);
        p.bump(stat::CREATED);
        p.bump("links_created");
        p.set(stat::USERS, 3);
        assert!(p.state::<Db>().is_some());
        assert!(p.state::<String>().is_none());
        p.reset();
        assert_eq!(*lock(&db.0), 0);
        assert_eq!(p.get(stat::CREATED), 0);
        assert_eq!(p.counters().get("links_created"), Some(&0));
        // The gauge is the simulator's to keep; its reset sets it again.
        assert_eq!(p.get(stat::USERS), 3);
    }
}
