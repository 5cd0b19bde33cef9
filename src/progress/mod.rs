//! The only indicatif user: one bar per target (done/total, rate, ETA, failures, the wait
//! under way), or plain log lines when stderr is not a terminal, or nothing with `--quiet`.
//! A finished target's line stays, with its final counts.
//!
//! The ETA is the work left over the pace the target's limits allow (`eta`), not an average
//! of the time so far, which decays while muster waits for a per-minute window (issue 29).

mod eta;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::http::Paced;
use crate::model::Status;
use crate::submit::Reporter;
pub use eta::Eta;

/// How often plain log lines are printed when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);
/// A wait at least this long is shown (on the line, or as a log line of its own).
const SHOW_WAIT: Duration = Duration::from_secs(3);

/// One target's line: what it has done and what its ETA is made of. Pure over the `now`
/// it is given, so tests pass their own clock.
#[derive(Debug)]
struct Line {
    total: usize,
    done: usize,
    manual: usize,
    /// Failed, invalid or partial.
    failed: usize,
    not_attempted: usize,
    started: Instant,
    last_log: Instant,
    /// What the connector last said it is doing.
    note: String,
    /// Why the target waits, for a wait worth showing.
    why: String,
    eta: Eta,
}

impl Line {
    fn new(total: usize, now: Instant) -> Line {
        Line {
            total,
            done: 0,
            manual: 0,
            failed: 0,
            not_attempted: 0,
            started: now,
            last_log: now,
            note: String::new(),
            why: String::new(),
            eta: Eta::default(),
        }
    }

    fn row_done(&mut self, status: Status, now: Instant) {
        self.done += 1;
        match status {
            Status::Manual => self.manual += 1,
            Status::NotAttempted => self.not_attempted += 1,
            s if !s.is_success() => self.failed += 1,
            _ => {}
        }
        self.eta.row_done(now);
    }

    /// Takes in a pace or a wait; returns the wait to tell on a log line of its own (a wait
    /// worth showing that begins, or grows by more than a second).
    fn paced(&mut self, event: &Paced, now: Instant) -> Option<Duration> {
        match event {
            Paced::Allowed(pace) => {
                self.eta.allow(*pace);
                None
            }
            Paced::Waiting { wait, why } => {
                let news = self.eta.waiting(now, *wait);
                if *wait >= SHOW_WAIT {
                    self.why.clone_from(why);
                    return news.then_some(*wait);
                }
                None
            }
        }
    }

    /// Whether every row so far was left to be made by hand (AROBS): nothing was sent, so
    /// there is no rate and no ETA to tell.
    fn only_manual(&self) -> bool {
        self.done > 0 && self.manual == self.done
    }

    /// The live line after `done/total`: `20 rows/min, ETA 1 min 02 s, 3 failed, waiting
    /// 40 s: Retry-After`, or `12 manual`.
    fn status(&self, now: Instant) -> String {
        if self.only_manual() {
            return format!("{} manual", self.manual);
        }
        let mut parts = Vec::new();
        if let Some(pace) = self.eta.pace() {
            parts.push(eta::rate(pace));
        }
        if self.done < self.total {
            if let Some(left) = self.eta.left(now, self.total - self.done) {
                parts.push(format!("ETA {}", eta::duration(left)));
            }
        }
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        match self.eta.wait_left(now) {
            Some(wait) if !self.why.is_empty() => {
                parts.push(format!("waiting {}: {}", eta::duration(wait), self.why));
            }
            _ if !self.note.is_empty() => parts.push(self.note.clone()),
            _ => {}
        }
        parts.join(", ")
    }

    /// The line a finished target keeps: `57 done, 3 failed in 2 min 03 s`, or `12 manual`.
    fn finished(&self, now: Instant) -> String {
        if self.only_manual() && self.done == self.total {
            return format!("{} manual", self.manual);
        }
        let ok = self.done - self.manual - self.failed - self.not_attempted;
        let parts: Vec<String> = [
            (ok, "done"),
            (self.manual, "manual"),
            (self.failed, "failed"),
            (self.not_attempted, "not attempted"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        let took = eta::duration(now.saturating_duration_since(self.started));
        match parts.is_empty() {
            true => format!("nothing to do in {took}"),
            false => format!("{} in {took}", parts.join(", ")),
        }
    }

    /// A plain log line (stderr not a terminal).
    fn log(&self, target: &str, now: Instant) -> String {
        let status = self.status(now);
        let sep = if status.is_empty() { "" } else { ", " };
        format!("{target}: {}/{} rows{sep}{status}", self.done, self.total)
    }
}

struct TargetLine {
    bar: ProgressBar,
    line: Arc<Mutex<Line>>,
}

/// Progress on stderr.
pub struct Progress {
    multi: MultiProgress,
    terminal: bool,
    targets: Mutex<HashMap<String, TargetLine>>,
}

impl Progress {
    /// Bars when stderr is a terminal, log lines otherwise.
    pub fn new() -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if terminal {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Progress {
            multi,
            terminal,
            targets: Mutex::new(HashMap::new()),
        }
    }

    /// The target's bar and line. The line is locked only after the map is let go, and the
    /// bar is drawn only once the line is let go (drawing locks it: `{status}`).
    fn get(&self, target: &str) -> Option<(ProgressBar, Arc<Mutex<Line>>)> {
        let t = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        t.get(target).map(|t| (t.bar.clone(), t.line.clone()))
    }
}

fn lock(line: &Mutex<Line>) -> std::sync::MutexGuard<'_, Line> {
    line.lock().unwrap_or_else(|p| p.into_inner())
}

/// The bar's look while the target works: its status drawn afresh at every tick, so the
/// ETA and a wait count down between rows.
fn live_style(line: Arc<Mutex<Line>>) -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {status}")
        .expect("the progress template is valid")
        .with_key(
            "status",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&lock(&line).status(Instant::now()));
            },
        )
        .progress_chars("=> ")
}

/// The bar's look once the target is finished: its final counts.
fn finished_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg}")
        .expect("the progress template is valid")
        .progress_chars("=> ")
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Reporter for Progress {
    fn start(&self, target: &str, total: usize) {
        let line = Arc::new(Mutex::new(Line::new(total, Instant::now())));
        let bar = self.multi.add(ProgressBar::new(total as u64));
        bar.set_style(live_style(line.clone()));
        bar.set_prefix(target.to_string());
        if self.terminal {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        self.targets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(target.to_string(), TargetLine { bar, line });
    }

    fn row_done(&self, target: &str, status: Status) {
        let Some((bar, line)) = self.get(target) else {
            return;
        };
        let log = {
            let mut l = lock(&line);
            let now = Instant::now();
            l.row_done(status, now);
            (!self.terminal && now.saturating_duration_since(l.last_log) >= LOG_EVERY).then(|| {
                l.last_log = now;
                l.log(target, now)
            })
        };
        bar.inc(1);
        if let Some(log) = log {
            crate::say!("{log}");
        }
    }

    fn note(&self, target: &str, message: &str) {
        if let Some((_, line)) = self.get(target) {
            lock(&line).note = message.to_string();
        }
    }

    fn paced(&self, target: &str, event: &Paced) {
        let Some((_, line)) = self.get(target) else {
            return;
        };
        let told = lock(&line).paced(event, Instant::now());
        if let (Some(wait), Paced::Waiting { why, .. }) = (told, event) {
            if !self.terminal {
                crate::say!("{target}: waiting {}: {why}", eta::duration(wait));
            }
        }
    }

    fn finish(&self, target: &str) {
        let Some((bar, line)) = self.get(target) else {
            return;
        };
        let (message, log) = {
            let l = lock(&line);
            let now = Instant::now();
            let message = l.finished(now);
            let log = format!("{target}: {}/{} rows: {message}", l.done, l.total);
            (message, (!self.terminal && l.total > 0).then_some(log))
        };
        bar.set_style(finished_style());
        bar.finish_with_message(message);
        if let Some(log) = log {
            crate::say!("{log}");
        }
    }
}

#[cfg(test)]
mod tests;
