//! The ETA of one target, pure over a clock passed in: the work left over the pace the
//! target's limits allow (or the pace it is observed to keep, when slower), plus a wait
//! under way. Never a decaying average: waiting for a per-minute window does not make the
//! remaining work look slower, the wait is counted once, as the wait it is (issue 29).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::http::limiter::Pace;

/// How many of the latest rows the observed pace is measured over.
const RECENT_ROWS: usize = 50;
/// Rows needed before the observed pace is believed (a few rows say little).
const MIN_OBSERVED: usize = 3;
/// The longest ETA told; anything longer is as good as unknown.
const LONGEST: Duration = Duration::from_secs(100 * 24 * 3600);

/// What one target's ETA is made of.
///
/// `left(now, rows)` is:
///
/// ```text
/// wait left + max(0, rows - in flight - burst) / pace
/// ```
///
/// - `pace` is the slower of the *allowed* pace (the slowest limit the target was told of:
///   its limiter, a per-minute window) and the *observed* pace (the last [`RECENT_ROWS`]
///   rows: rows between the first and the last of them over the time between them). The
///   observed pace does not decay while muster waits: a wait is added once, on its own.
/// - `burst` counts only when the allowed pace binds: that many rows pass at once when a
///   limit opens (a window's whole quota), so a window of 20 a minute with 20 rows left and
///   its wait under way ends with that wait, not a minute after it.
/// - `wait left` is the wait under way of the whole target (Retry-After, a window), if any.
/// - `in flight` counts only while a wait is under way: the rows that passed the limit
///   before it but are not done yet. A limit that opened let `burst` rows through; those
///   not done since it opened (the last wait's end, or the start) are taken as in flight.
///
/// Unknown (`None`) until either pace is known.
#[derive(Debug, Clone, Default)]
pub struct Eta {
    allowed: Option<Pace>,
    recent: VecDeque<Instant>,
    wait_until: Option<Instant>,
    /// Rows done, and rows done when the limit last opened (the last wait's end).
    done: usize,
    done_at_open: usize,
}

impl Eta {
    /// A limit the target's rows pass: the slowest one told binds.
    pub fn allow(&mut self, pace: Pace) {
        if !(pace.per_second.is_finite() && pace.per_second > 0.0) {
            return;
        }
        if self.allowed.is_none_or(|a| pace.per_second < a.per_second) {
            self.allowed = Some(pace);
        }
    }

    /// Notes the end of a wait that ended by `now`: the limit opened then.
    fn settle(&mut self, now: Instant) {
        if self.wait_until.is_some_and(|u| u <= now) {
            self.wait_until = None;
            self.done_at_open = self.done;
        }
    }

    /// A row ended at `now`.
    pub fn row_done(&mut self, now: Instant) {
        self.settle(now);
        self.done += 1;
        if self.recent.len() == RECENT_ROWS {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
    }

    /// The whole target waits `wait` from `now`. Returns whether this begins a wait or
    /// extends the one under way by more than a second (worth telling).
    pub fn waiting(&mut self, now: Instant, wait: Duration) -> bool {
        self.settle(now);
        let Some(until) = now.checked_add(wait) else {
            return false;
        };
        match self.wait_until {
            Some(cur) if cur >= until => false,
            Some(cur) if cur > now => {
                self.wait_until = Some(until);
                until.duration_since(cur) > Duration::from_secs(1)
            }
            _ => {
                self.wait_until = Some(until);
                true
            }
        }
    }

    /// What is left of the wait under way at `now`, if one is.
    pub fn wait_left(&self, now: Instant) -> Option<Duration> {
        self.wait_until
            .map(|u| u.saturating_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// The pace the last rows were done at, rows a second.
    fn observed(&self) -> Option<f64> {
        let (first, last) = (self.recent.front()?, self.recent.back()?);
        let span = last.saturating_duration_since(*first).as_secs_f64();
        (self.recent.len() >= MIN_OBSERVED && span > 0.0)
            .then(|| (self.recent.len() - 1) as f64 / span)
    }

    /// The pace the ETA counts on, rows a second, and the rows that pass at once after a
    /// wait; `None` while unknown.
    fn binding(&self) -> Option<(f64, u32)> {
        match (self.observed(), self.allowed) {
            (Some(o), Some(a)) if o < a.per_second => Some((o, 0)),
            (_, Some(a)) => Some((a.per_second, a.burst)),
            (Some(o), None) => Some((o, 0)),
            (None, None) => None,
        }
    }

    /// The pace the ETA counts on, rows a second (shown as the rate).
    pub fn pace(&self) -> Option<f64> {
        self.binding().map(|(pace, _)| pace)
    }

    /// The time `rows` more rows take from `now`; `None` while no pace is known.
    pub fn left(&self, now: Instant, rows: usize) -> Option<Duration> {
        if rows == 0 {
            return Some(Duration::ZERO);
        }
        let (pace, burst) = self.binding()?;
        let burst = burst as usize;
        let (wait, in_flight) = match self.wait_left(now) {
            Some(wait) => {
                let passed = self.done.saturating_sub(self.done_at_open);
                (wait, burst.saturating_sub(passed))
            }
            None => (Duration::ZERO, 0),
        };
        let after = rows.saturating_sub(in_flight + burst) as f64 / pace;
        let after = Duration::try_from_secs_f64(after).unwrap_or(LONGEST);
        Some(wait.saturating_add(after).min(LONGEST))
    }
}

/// A rate for people: `12 rows/s`, `2.5 rows/s`, `20 rows/min`, `0.5 rows/min`, `3 rows/h`.
pub fn rate(per_second: f64) -> String {
    let one = |x: f64, unit: &str| {
        if x >= 9.95 {
            format!("{x:.0} rows/{unit}")
        } else {
            let text = format!("{x:.1}");
            format!("{} rows/{unit}", text.trim_end_matches(".0"))
        }
    };
    if !per_second.is_finite() || per_second <= 0.0 {
        "0 rows/s".to_string()
    } else if per_second >= 0.995 {
        one(per_second, "s")
    } else if per_second * 60.0 >= 0.095 {
        one(per_second * 60.0, "min")
    } else {
        one(per_second * 3600.0, "h")
    }
}

/// A duration for people, to the second: `45 s`, `2 min 05 s`, `3 h 20 min`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs() + u64::from(d.subsec_millis() >= 500);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}
