//! The only indicatif user: one bar per target (done/total, rate, ETA, failures), or plain
//! log lines every few seconds when stderr is not a terminal, or nothing with `--quiet`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::Status;
use crate::submit::Reporter;

/// How often plain log lines are printed when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

struct TargetLine {
    bar: ProgressBar,
    total: usize,
    done: usize,
    failed: usize,
    started: Instant,
    last_log: Instant,
    note: String,
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

    fn with<R>(&self, target: &str, f: impl FnOnce(&mut TargetLine) -> R) -> Option<R> {
        let mut t = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        t.get_mut(target).map(f)
    }

    fn log_line(target: &str, t: &TargetLine) -> String {
        let secs = t.started.elapsed().as_secs_f64().max(0.001);
        let rate = t.done as f64 / secs;
        let eta = if rate > 0.0 {
            format!("{:.0} s", (t.total - t.done) as f64 / rate)
        } else {
            "?".into()
        };
        format!(
            "{target}: {}/{} rows, {} failed, {rate:.1} rows/s, ETA {eta}{}",
            t.done,
            t.total,
            t.failed,
            if t.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", t.note)
            }
        )
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Reporter for Progress {
    fn start(&self, target: &str, total: usize) {
        let bar = self.multi.add(ProgressBar::new(total as u64));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
            )
            .expect("the progress template is valid")
            .progress_chars("=> "),
        );
        bar.set_prefix(target.to_string());
        if self.terminal {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        let now = Instant::now();
        self.targets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                target.to_string(),
                TargetLine {
                    bar,
                    total,
                    done: 0,
                    failed: 0,
                    started: now,
                    last_log: now,
                    note: String::new(),
                },
            );
    }

    fn row_done(&self, target: &str, status: Status) {
        let terminal = self.terminal;
        self.with(target, |t| {
            t.done += 1;
            if !status.is_success() {
                t.failed += 1;
                t.bar.set_message(format!("{} failed", t.failed));
            }
            t.bar.inc(1);
            if !terminal && t.last_log.elapsed() >= LOG_EVERY {
                t.last_log = Instant::now();
                crate::say!("{}", Progress::log_line(target, t));
            }
        });
    }

    fn note(&self, target: &str, message: &str) {
        self.with(target, |t| {
            t.note = message.to_string();
            t.bar.set_message(message.to_string());
        });
    }

    fn finish(&self, target: &str) {
        let terminal = self.terminal;
        self.with(target, |t| {
            t.note.clear();
            t.bar.finish_and_clear();
            if !terminal && t.total > 0 {
                crate::say!("{}", Progress::log_line(target, t));
            }
        });
    }
}
