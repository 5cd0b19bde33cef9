//! The ETA of one target, pure over a clock passed in: the work left over the pace the
//! target's limits allow (or the pace it is observed to keep, when slower), with the wait
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
/// The slowest limit the target was told of (its limiter, a per-minute window) lets
/// `burst` rows through each time it opens, once a `period` (`burst / pace`); the other
/// limits set how fast those rows then pass (`within`: `/apps` 5 a second under a window
/// of 20 a minute). From `now`, with `rows` left:
///
/// ```text
/// in flight = what the window open now still lets through: burst - rows done since it
///             opened (the last wait's end), at most rows
/// after     = rows - in flight, in k = ceil(after / burst) more openings, r in the last
/// ETA       = next opening + (k - 1) * period + r / within   (in flight alone: in flight / within)
/// ```
///
/// where the next opening is the end of the wait under way (Retry-After, the window), or a
/// period after the last one when no wait has been told yet.
///
/// When the platform is slower than its limits (the last [`RECENT_ROWS`] rows came at a
/// slower pace than the slowest limit), that observed pace counts instead, without bursts:
/// `wait left + rows / observed`. The observed pace is measured between the first and the
/// last of those rows since the last wait, so it does not decay while muster waits; a wait
/// is added once, as the wait it is. Unknown (`None`) until either pace is known.
#[derive(Debug, Clone, Default)]
pub struct Eta {
    allowed: Option<Pace>,
    /// The slowest of the other limits told, rows a second.
    within: Option<f64>,
    recent: VecDeque<Instant>,
    wait_until: Option<Instant>,
    /// When the slowest limit last opened (the last wait's end), if known.
    opened: Option<Instant>,
    /// Rows done, and rows done when the limit last opened.
    done: usize,
    done_at_open: usize,
}

impl Eta {
    /// A limit the target's rows pass: the slowest one told binds.
    pub fn allow(&mut self, pace: Pace) {
        let p = pace.per_second;
        if !(p.is_finite() && p > 0.0) {
            return;
        }
        let faster = match self.allowed {
            Some(a) if p >= a.per_second => p,
            Some(a) => {
                self.allowed = Some(pace);
                a.per_second
            }
            None => {
                self.allowed = Some(pace);
                return;
            }
        };
        self.within = Some(self.within.map_or(faster, |w| w.min(faster)));
    }

    /// Notes the end of a wait that ended by `now`: the limit opened then.
    fn settle(&mut self, now: Instant) {
        if let Some(u) = self.wait_until.filter(|u| *u <= now) {
            self.wait_until = None;
            self.opened = Some(u);
            self.done_at_open = self.done;
            // The pace observed is the pace between waits: a wait is counted on its own.
            self.recent.clear();
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
            Some(cur) => {
                self.wait_until = Some(until);
                until.duration_since(cur) > Duration::from_secs(1)
            }
            None => {
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

    /// The pace the ETA counts on, rows a second, and the rows that pass at once when the
    /// limit opens (none when the observed pace counts); `None` while unknown.
    fn binding(&self) -> Option<(f64, usize)> {
        match (self.observed(), self.allowed) {
            (Some(o), Some(a)) if o < a.per_second => Some((o, 0)),
            (_, Some(a)) => Some((a.per_second, a.burst.max(1) as usize)),
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
        let wait = self.wait_left(now);
        let secs = if burst == 0 {
            wait.unwrap_or_default().as_secs_f64() + rows as f64 / pace
        } else {
            let within = |n: usize| self.within.map_or(0.0, |w| n as f64 / w);
            let period = burst as f64 / pace;
            // A wait that ended by now opened the limit then, though no row said so yet.
            let (opened, done_at_open) = match self.wait_until {
                Some(u) if u <= now => (Some(u), self.done),
                _ => (self.opened, self.done_at_open),
            };
            let passed = self.done.saturating_sub(done_at_open);
            let in_flight = burst.saturating_sub(passed).min(rows);
            let after = rows - in_flight;
            if after == 0 {
                within(in_flight)
            } else {
                let next = match (wait, opened) {
                    (Some(wait), _) => wait.as_secs_f64(),
                    (None, Some(o)) => {
                        (period - now.saturating_duration_since(o).as_secs_f64()).max(0.0)
                    }
                    (None, None) => period,
                };
                let k = after.div_ceil(burst);
                let last = after - (k - 1) * burst;
                let eta = next + (k - 1) as f64 * period + within(last);
                eta.max(within(in_flight))
            }
        };
        let secs = Duration::try_from_secs_f64(secs).unwrap_or(LONGEST);
        Some(secs.min(LONGEST))
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
