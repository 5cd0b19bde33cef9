//! The end of a run on the terminal (DESIGN "Ending a run"): the counts per target (the
//! summary table), how long the run took, the first rows that failed or were invalid with
//! their cell and reason, and the next step. The same first errors go to the webhook
//! (`notify`), masked as the workbook masks them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::counts::Counts;
use super::safe;
use super::summary::summary_table;
use crate::model::{RowResult, Status, TargetStats};

/// How many failed or invalid rows the ending lists.
pub const FIRST: usize = 10;

/// The rows that need the operator: `invalid`, `failed` and `partial` (the rows the `Errors`
/// sheet holds), the first [`FIRST`] of them as lines naming the row, the cell and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failures {
    /// `roster.csv row 7 (invalid, powunity): E-Mail (D7): "x" is not an email address`.
    pub first: Vec<String>,
    /// All of them.
    pub count: usize,
}

impl Failures {
    /// Notes `result` when it needs the operator.
    pub fn add(&mut self, result: &RowResult) {
        let status = result.outcome.status;
        if !matches!(status, Status::Invalid | Status::Failed | Status::Partial) {
            return;
        }
        self.count += 1;
        if self.first.len() >= FIRST {
            return;
        }
        let row = &result.row;
        let layout = &row.layout;
        let place = if layout.is_workbook {
            format!("{}, {} row {}", layout.file, layout.sheet, row.line)
        } else {
            format!("{} row {}", layout.file, row.line)
        };
        let target = result
            .target
            .as_deref()
            .map(|t| format!(", {t}"))
            .unwrap_or_default();
        let secrets = safe::row_secrets(&row.cells, &safe::secret_columns(layout));
        let error = result
            .outcome
            .error
            .as_deref()
            .unwrap_or("no reason recorded");
        self.first.push(format!(
            "{place} ({}{target}): {}",
            status.key(),
            safe::redact(error, &secrets)
        ));
    }
}

/// Everything the ending says, kept for the demo and the webhook.
#[derive(Debug, Clone)]
pub struct Ending {
    /// `import` or `verify`.
    pub command: String,
    pub run_id: String,
    pub elapsed: Duration,
    pub counts: Counts,
    pub stats: Vec<TargetStats>,
    pub workbook: PathBuf,
    pub failures: Failures,
    /// The command line that feeds the workbook back, when rows need it.
    pub next: Option<String>,
}

impl Ending {
    /// The next step after rows failed: fix the `Errors` sheet and feed the workbook back
    /// with the same config (and journal, when it was not the default).
    pub fn next_step(
        command: &str,
        workbook: &Path,
        config: Option<&Path>,
        journal: Option<&Path>,
    ) -> String {
        let mut line = format!("muster {command} {}", shell_word(workbook));
        if let Some(c) = config {
            let _ = write!(line, " --config {}", shell_word(c));
        }
        if let Some(j) = journal {
            // A database URL's password is never shown (the environment has it too).
            let j = crate::secret::redact_url_password(&j.display().to_string());
            let _ = write!(line, " --journal {}", shell_word(Path::new(&j)));
        }
        let _ = write!(line, " --out {}", shell_word(&again(workbook)));
        line
    }

    /// Whether every row succeeded.
    pub fn succeeded(&self) -> bool {
        Status::ALL
            .into_iter()
            .filter(|s| !s.is_success())
            .all(|s| self.counts.total(s) == 0)
    }

    /// One line: the command, the run, the counts over all targets and the time taken.
    pub fn headline(&self) -> String {
        let statuses: Vec<String> = self
            .counts
            .present()
            .into_iter()
            .map(|s| format!("{} {}", self.counts.total(s), s.key()))
            .collect();
        format!(
            "muster {} run {}: {} rows ({}) in {}",
            self.command,
            self.run_id,
            self.counts.rows(),
            statuses.join(", "),
            seconds(self.elapsed)
        )
    }

    /// The terminal's ending: the table, the time, the first failures and the next step.
    pub fn text(&self) -> String {
        let mut out = summary_table(&self.counts, &self.stats, Some(&self.workbook));
        let _ = writeln!(
            out,
            "run {} finished in {}",
            self.run_id,
            seconds(self.elapsed)
        );
        let f = &self.failures;
        if f.count > 0 {
            let which = if f.count > f.first.len() {
                format!("the first {}", f.first.len())
            } else {
                "they are".into()
            };
            let rows = if f.count == 1 {
                "row needs"
            } else {
                "rows need"
            };
            let _ = writeln!(out, "{} {rows} fixing; {which}:", f.count);
            for line in &f.first {
                let _ = writeln!(out, "  {line}");
            }
            if f.count > f.first.len() {
                let _ = writeln!(
                    out,
                    "  … and {} more (sheet Errors)",
                    f.count - f.first.len()
                );
            }
        }
        if let Some(next) = &self.next {
            let _ = writeln!(
                out,
                "next: fix the Errors sheet in {} and run: {next}",
                self.workbook.display()
            );
        }
        out
    }
}

/// `results.xlsx` → `results-2.xlsx` → `results-3.xlsx`: feeding a workbook back writes a
/// new one beside it (`--out` may not be a roster file of the run).
fn again(workbook: &Path) -> PathBuf {
    let stem = workbook
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into());
    let next = match stem.rsplit_once('-') {
        Some((base, n)) if !base.is_empty() => match n.parse::<u32>() {
            // A small number is this counter; a larger one (a date) is part of the name.
            Ok(n) if n < 1000 => format!("{base}-{}", n + 1),
            _ => format!("{stem}-2"),
        },
        _ => format!("{stem}-2"),
    };
    workbook.with_file_name(format!("{next}.xlsx"))
}

/// `12.3 s`, `2 min 05 s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let whole = d.as_secs();
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

/// A path as one shell word: as it is when it is plain, else in single quotes.
fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Action, Outcome, VendorKind};
    use crate::rules::testing::row;

    fn result(status: Status, error: &str) -> RowResult {
        let mut outcome = Outcome::new(status, Action::Create);
        outcome.error = Some(error.into());
        RowResult {
            row: row(&[(crate::model::Field::Email, "x")]),
            target: Some("powunity".into()),
            vendor: Some(VendorKind::Traccar),
            outcome,
        }
    }

    #[test]
    fn the_ending_lists_the_first_failures_and_the_next_step() {
        let mut failures = Failures::default();
        let mut counts = Counts::default();
        for i in 0..12 {
            let r = result(
                Status::Invalid,
                &format!("email (A7): \"x{i}\" is not an email address"),
            );
            failures.add(&r);
            counts.add(&r);
        }
        let ok = result(Status::Created, "");
        failures.add(&ok);
        counts.add(&ok);
        let ending = Ending {
            command: "import".into(),
            run_id: "20261206-021300-abcd".into(),
            elapsed: Duration::from_millis(12_340),
            counts,
            stats: Vec::new(),
            workbook: "results.xlsx".into(),
            failures,
            next: Some(Ending::next_step(
                "import",
                Path::new("results.xlsx"),
                Some(Path::new("my config.toml")),
                None,
            )),
        };
        let text = ending.text();
        assert!(
            text.contains("run 20261206-021300-abcd finished in 12.3 s\n"),
            "{text}"
        );
        assert!(text.contains("12 rows need fixing; the first 10:\n  roster.csv row 7 (invalid, powunity): email (A7): \"x0\" is not an email address\n"), "{text}");
        assert!(text.contains("  … and 2 more (sheet Errors)\n"), "{text}");
        assert!(text.ends_with("next: fix the Errors sheet in results.xlsx and run: muster import results.xlsx --config 'my config.toml' --out results-2.xlsx\n"), "{text}");
        assert_eq!(
            ending.headline(),
            "muster import run 20261206-021300-abcd: 13 rows (1 created, 12 invalid) in 12.3 s"
        );
        assert!(!ending.succeeded());
    }

    #[test]
    fn a_failure_quoting_a_password_is_masked() {
        let mut r = result(Status::Invalid, "password (B7): \"hunter2\" is too short");
        r.row = row(&[
            (crate::model::Field::Email, "x"),
            (crate::model::Field::Password, "hunter2"),
        ]);
        let mut failures = Failures::default();
        failures.add(&r);
        assert!(
            !failures.first[0].contains("hunter2"),
            "{:?}",
            failures.first
        );
        assert!(
            failures.first[0].contains("\"***\""),
            "{:?}",
            failures.first
        );
    }

    #[test]
    fn each_workbook_fed_back_writes_the_next_number() {
        for (from, to) in [
            ("results.xlsx", "results-2.xlsx"),
            ("out/results-2.xlsx", "out/results-3.xlsx"),
            ("verify-2026.xlsx", "verify-2026-2.xlsx"),
            ("my-run.xlsx", "my-run-2.xlsx"),
        ] {
            assert_eq!(again(Path::new(from)), PathBuf::from(to), "{from}");
        }
    }

    #[test]
    fn durations_read_as_seconds_or_minutes() {
        assert_eq!(seconds(Duration::from_millis(450)), "0.5 s");
        assert_eq!(seconds(Duration::from_secs(125)), "2 min 05 s");
    }
}
