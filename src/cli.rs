//! The command line (clap derive). The doc comments are the help text. No I/O here.

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::config::NotifyOn;
pub use crate::model::Mode;

/// Provision users on fleet-telematics platforms from spreadsheets, exactly once.
#[derive(Debug, Parser)]
#[command(name = "muster", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate, plan, submit and write the result workbook.
    #[command(
        after_help = "Examples:\n  muster import roster.xlsx --config muster.toml\n  muster import roster.xlsx --dry-run\n  muster import results.xlsx --config muster.toml --out results-2.xlsx   # feed the fixed Errors sheet back\n  muster import roster.xlsx --mode upsert --plan-only --out plan.xlsx"
    )]
    Import(ImportArgs),
    /// Read, map and validate only; writes the validation workbook.
    #[command(
        after_help = "Examples:\n  muster validate roster.xlsx\n  muster validate roster.csv --config muster.toml --out validation.xlsx\n  muster validate big.csv --errors-only --quiet\n  muster validate roster.csv --json | jq 'select(.status == \"invalid\")'"
    )]
    Validate(ValidateArgs),
    /// Write an xlsx template per vendor: headers, drop-downs, notes, an example row.
    #[command(
        after_help = "Examples:\n  muster template motive\n  muster template all --out templates/"
    )]
    Template(TemplateArgs),
    /// AROBS: log each manually made API user in and compare its vehicles with the roster.
    #[command(
        after_help = "Examples:\n  muster verify roster.xlsx --config muster.toml\n  muster verify roster.xlsx --config muster.toml --secrets passwords.csv --out verify.xlsx"
    )]
    Verify(VerifyArgs),
    /// Serve simulators of the five platforms on loopback.
    #[command(
        after_help = "Examples:\n  muster sandbox\n  muster sandbox --listen 127.0.0.1:0 --write-config muster.toml\n  muster sandbox --error-rate 0.1 --latency-ms 200 --rate 20/s\n  muster sandbox --arobs-users users.csv --seed-users 100000"
    )]
    Sandbox(SandboxArgs),
    /// Start the sandbox and import samples/fleet.xlsx into it, in one command.
    #[command(
        after_help = "Examples:\n  muster demo\n  muster demo --roster my-roster.xlsx --out demo.xlsx"
    )]
    Demo(DemoArgs),
    /// Show or rebuild the workbook of a past run from the journal.
    #[command(
        after_help = "Examples:\n  muster report --list\n  muster report --last\n  muster report 20261206-021300-ab12 --out again.xlsx"
    )]
    Report(ReportArgs),
    /// Read-only: compare rosters with what each platform holds (same, different, missing,
    /// extra, protected, manual) and write the audit workbook.
    #[command(
        after_help = "Examples:\n  muster audit roster.xlsx --config muster.toml\n  muster audit roster.xlsx --fail-on-drift --quiet        # exit 1 on drift, for cron or CI\n  muster audit roster.xlsx --json > audit.jsonl"
    )]
    Audit(AuditArgs),
    /// Carry out a plan written by `import --plan-only`, if no platform changed since.
    #[command(
        after_help = "Examples:\n  muster apply plan.xlsx\n  muster apply plan.xlsx --out results.xlsx --yes"
    )]
    Apply(ApplyArgs),
    /// Work on journals: copy a local history into the team's shared journal.
    #[command(
        after_help = "Examples:\n  muster journal copy --from .muster/journal.db --to postgres://muster@db.example/muster\n  muster journal copy --from old-laptop/journal.db --to .muster/journal.db"
    )]
    Journal(JournalArgs),
    /// List every roster field with its aliases, and how headers are matched.
    #[command(after_help = "Examples:\n  muster fields\n  muster fields | grep -i mail")]
    Fields,
}

/// Options shared by commands that read rosters.
#[derive(Debug, Args, Clone, Default)]
pub struct InputArgs {
    /// Roster files: CSV, TSV, xlsx, xlsm, xlsb, xls, ods.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Configuration file (targets, credentials' env var names, rates).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Send every row to this target (overrides the `target` column).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Header mapping overrides: TOML lines `"Header" = "field"` or `"Header" = "ignore"`;
    /// laid over the config's `[mapping]`.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Read only this sheet as roster (repeatable); the others are skipped.
    #[arg(long, value_name = "NAME")]
    pub sheet: Vec<String>,
    /// Run even while a column that looks like a field is ignored (import refuses by
    /// default; validate and audit only warn).
    #[arg(long)]
    pub allow_unmapped: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where to write the validation workbook.
    #[arg(long, value_name = "FILE", default_value = "validation.xlsx")]
    pub out: PathBuf,
    /// Print one JSON object per row on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress or summary on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
    /// Write only Summary and Errors, no Results sheet — for large files.
    #[arg(long)]
    pub errors_only: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ImportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where to write the result workbook.
    #[arg(long, value_name = "FILE", default_value = "results.xlsx")]
    pub out: PathBuf,
    /// Plan (including read-only look-ups) and write the workbook; send no write.
    #[arg(long)]
    pub dry_run: bool,
    /// What to do with users that already exist.
    #[arg(long, value_enum, default_value_t = Mode::Create)]
    pub mode: Mode,
    /// Continue the last unfinished run of these files.
    #[arg(long)]
    pub resume: bool,
    /// When another run is importing to a target this run needs: wait for it (at most
    /// DURATION, e.g. `--wait=10m`; without one, until it ends) instead of refusing.
    #[arg(long, value_name = "DURATION", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub wait: Option<String>,
    /// The journal: a SQLite file (default .muster/journal.db) or a postgres:// URL a
    /// team shares (password from PGPASSWORD); else MUSTER_JOURNAL, else the config's
    /// `journal`.
    #[arg(long, value_name = "FILE|URL")]
    pub journal: Option<PathBuf>,
    /// Write passwords muster generated to this new file (mode 0600; an existing path is
    /// refused).
    #[arg(long, value_name = "FILE")]
    pub secrets_out: Option<PathBuf>,
    /// With --secrets-out: add to that file when it exists (it must be a regular file of
    /// yours with mode 0600), e.g. when a run resumes.
    #[arg(long, requires = "secrets_out")]
    pub secrets_append: bool,
    /// No progress or summary on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the rows and summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Stop the run cleanly after this many seconds; unsent rows become not_attempted.
    #[arg(long, value_name = "SECONDS")]
    pub deadline: Option<f64>,
    /// Stop a target once the platform has refused more than N of its rows, or P% of them
    /// (`10`, `5%`); the rest become not_attempted: failure budget spent.
    #[arg(long, value_name = "N|P%")]
    pub max_failures: Option<crate::model::FailureBudget>,
    /// Allow plain http:// to hosts other than loopback.
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// With --mode sync: remove (or deactivate) users the platform has and the roster lacks.
    #[arg(long)]
    pub prune: bool,
    /// Refuse to prune more than N users of a target (default: 10% of its users).
    #[arg(long, value_name = "N")]
    pub max_prune: Option<usize>,
    /// With --mode sync --prune: refuse to remove more than N device links (or group
    /// memberships) of a target (default: 10% of the links its users hold).
    #[arg(long, value_name = "N")]
    pub max_unlink: Option<usize>,
    /// Do not ask before pruning.
    #[arg(long)]
    pub yes: bool,
    /// Write the plan (what each row would do, with the platform's values) to --out and
    /// send no write; `muster apply` carries it out.
    #[arg(long)]
    pub plan_only: bool,
    /// When to post to the config's `[notify] webhook`: `failure` (rows failed or were
    /// invalid, or drift was found) or `always` (default: the config's notify_on, else
    /// failure).
    #[arg(long, value_enum, value_name = "WHEN")]
    pub notify_on: Option<NotifyOn>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct AuditArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where to write the audit workbook.
    #[arg(long, value_name = "FILE", default_value = "audit.xlsx")]
    pub out: PathBuf,
    /// Print one JSON object per row or user, then a summary, on stdout.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when anything is different, missing or extra (manual and protected are not
    /// drift).
    #[arg(long)]
    pub fail_on_drift: bool,
    /// No summary on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
    /// Allow plain http:// to hosts other than loopback.
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// With --fail-on-drift: when to post to the config's `[notify] webhook`: `failure`
    /// (drift was found) or `always` (default: the config's notify_on, else failure).
    #[arg(long, value_enum, value_name = "WHEN")]
    pub notify_on: Option<NotifyOn>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ApplyArgs {
    /// The plan workbook written by `muster import --plan-only`.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Configuration file (default: the one the plan was made with).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where to write the result workbook.
    #[arg(long, value_name = "FILE", default_value = "results.xlsx")]
    pub out: PathBuf,
    /// The journal: a SQLite file (default .muster/journal.db) or a postgres:// URL a
    /// team shares (password from PGPASSWORD); else MUSTER_JOURNAL, else the config's
    /// `journal`.
    #[arg(long, value_name = "FILE|URL")]
    pub journal: Option<PathBuf>,
    /// When another run is importing to a target the plan needs: wait for it (at most
    /// DURATION; without one, until it ends) instead of refusing.
    #[arg(long, value_name = "DURATION", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub wait: Option<String>,
    /// Do not ask before removing users.
    #[arg(long)]
    pub yes: bool,
    /// No progress or summary on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
    /// Allow plain http:// to hosts other than loopback.
    #[arg(long)]
    pub allow_insecure_http: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Passwords of the API users, as `target,username,password` lines (the roster's
    /// `password` column is used when it has one).
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    /// Where to write the result workbook.
    #[arg(long, value_name = "FILE", default_value = "verify.xlsx")]
    pub out: PathBuf,
    /// The journal: a SQLite file (default .muster/journal.db) or a postgres:// URL a
    /// team shares (password from PGPASSWORD); else MUSTER_JOURNAL, else the config's
    /// `journal`.
    #[arg(long, value_name = "FILE|URL")]
    pub journal: Option<PathBuf>,
    /// No progress or summary on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the rows as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Allow plain http:// to hosts other than loopback.
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// When to post to the config's `[notify] webhook`: `failure` (rows failed or were
    /// invalid, or drift was found) or `always` (default: the config's notify_on, else
    /// failure).
    #[arg(long, value_enum, value_name = "WHEN")]
    pub notify_on: Option<NotifyOn>,
}

#[derive(Debug, Args, Clone)]
pub struct TemplateArgs {
    /// A vendor key (traccar, motive, pegasus, drtrack, arobs) or `all`.
    pub vendor: String,
    /// Folder to write the templates into.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
}

/// Faults and limits of the simulated platforms (DESIGN "The sandbox").
#[derive(Debug, Args, Clone)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8808")]
    pub listen: String,
    /// Write a muster.toml whose targets point at this sandbox.
    #[arg(long, value_name = "FILE")]
    pub write_config: Option<PathBuf>,
    /// AROBS API users "made by hand", for `muster verify`: a CSV
    /// `username,email,password,active,api_user,vehicles` (vehicles `|`-separated
    /// registrations such as `CJ-01-ARB`; active and api_user true/false).
    #[arg(long, value_name = "FILE")]
    pub arobs_users: Option<PathBuf>,
    /// Traccar users the sandbox holds from the start, as a large tenant would: user N is
    /// `Rider N` <riderN@fleet.example>, N with seven digits (`rider0000001@...`).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed_users: usize,
    #[command(flatten)]
    pub faults: FaultArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct FaultArgs {
    /// Delay every answer by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests answered 500/503 without doing anything (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share of creates that succeed but whose answer never comes (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub timeout_rate: f64,
    /// Share of requests whose connection is dropped before anything is done (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// The simulated platforms' own rate limit, e.g. `50/s` (default: none).
    #[arg(long)]
    pub rate: Option<String>,
    /// DRTrack: a batch with an invalid operation applies nothing (true) or the valid ones (false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub drtrack_atomic: bool,
    /// Seed for the fault dice, for repeatable runs.
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct DemoArgs {
    /// Where to write the result workbook.
    #[arg(long, value_name = "FILE", default_value = "results.xlsx")]
    pub out: PathBuf,
    /// The roster to import (default: samples/fleet.xlsx).
    #[arg(long, value_name = "FILE")]
    pub roster: Option<PathBuf>,
    /// No progress on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args, Clone)]
pub struct JournalArgs {
    #[command(subcommand)]
    pub action: JournalAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum JournalAction {
    /// Copy every run, row, step and plan of one journal into another (what the
    /// destination holds is kept); typically a folder's .muster/journal.db into the
    /// team's PostgreSQL journal.
    Copy(JournalCopyArgs),
}

#[derive(Debug, Args, Clone)]
pub struct JournalCopyArgs {
    /// The journal to copy: a SQLite file or a postgres:// URL.
    #[arg(long, value_name = "FILE|URL")]
    pub from: PathBuf,
    /// The journal to copy into (created if needed): a file or a postgres:// URL
    /// (password from PGPASSWORD).
    #[arg(long, value_name = "FILE|URL")]
    pub to: PathBuf,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ReportArgs {
    /// The run to report (see --list).
    pub run: Option<String>,
    /// List past runs.
    #[arg(long)]
    pub list: bool,
    /// Report the most recent run.
    #[arg(long)]
    pub last: bool,
    /// Rebuild the run's workbook at this path.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The journal: a SQLite file (default .muster/journal.db) or a postgres:// URL a
    /// team shares (password from PGPASSWORD); else MUSTER_JOURNAL, else the config's
    /// `journal`.
    #[arg(long, value_name = "FILE|URL")]
    pub journal: Option<PathBuf>,
    /// The configuration whose `journal` to read (default: ./muster.toml, or
    /// MUSTER_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `--notify-on`'s words are the config's own (`notify_on`).
impl ValueEnum for NotifyOn {
    fn value_variants<'a>() -> &'a [Self] {
        &NotifyOn::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.key()).help(self.about()))
    }
}

/// `--mode`'s words are `Mode`'s own: the stages take `model::Mode`, and only this file
/// knows clap.
impl ValueEnum for Mode {
    fn value_variants<'a>() -> &'a [Self] {
        &Mode::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.key()).help(self.about()))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn every_commands_help_ends_with_two_to_four_examples() {
        let mut cli = Cli::command();
        for sub in cli.get_subcommands_mut() {
            let name = sub.get_name().to_string();
            let help = sub.render_help().to_string();
            let examples = help
                .split("\nExamples:\n")
                .nth(1)
                .unwrap_or_else(|| panic!("{name}: no examples in\n{help}"));
            let lines: Vec<&str> = examples.lines().filter(|l| !l.trim().is_empty()).collect();
            assert!((2..=4).contains(&lines.len()), "{name}: {lines:?}");
            assert!(
                lines.iter().all(|l| l.trim_start().starts_with("muster ")),
                "{name}: {lines:?}"
            );
        }
    }
}
