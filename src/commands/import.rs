//! `muster import`: read → map → validate → plan and submit per target → report.
//!
//! Everything that can stop the run (config, credentials, unreadable files, unwritable
//! output, journal) is checked before the first request is sent.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};

use crate::cli::ImportArgs;
use crate::commands::inputs;
use crate::config::{Config, Target};
use crate::journal::{Journal, StoredRowRef};
use crate::model::{Field, Outcome, Problem, Row, RowResult, RunInfo, Status, TargetStats};
use crate::progress::Progress;
use crate::report::{self, ResultsWriter};
use crate::submit::secrets::SecretsFile;
use crate::submit::{self, Reporter, Silent, TargetWork};
use crate::validate::{self, Duplicates};
use crate::vendors::{self, Job, Purpose};
use crate::{Env, Exit};

/// The default journal, relative to the working directory.
pub const DEFAULT_JOURNAL: &str = ".muster/journal.db";

/// What an import produced, for callers that want more than the exit code (demo, tests).
#[derive(Debug, Clone)]
pub struct Summary {
    pub run: RunInfo,
    pub stats: Vec<TargetStats>,
    /// (target, status) → rows
    pub counts: BTreeMap<(String, Status), usize>,
    pub out: PathBuf,
}

pub async fn run(args: ImportArgs, env: &Env) -> anyhow::Result<Exit> {
    let summary = import(args, env).await?;
    Ok(exit_of(&summary))
}

/// Exit 0 when every row succeeded, 1 otherwise.
pub fn exit_of(summary: &Summary) -> Exit {
    let failed = summary
        .counts
        .iter()
        .any(|((_, status), n)| *n > 0 && !status.is_success());
    if failed {
        Exit::RowsFailed
    } else {
        Exit::Success
    }
}

/// Runs an import and returns its summary.
pub async fn import(args: ImportArgs, env: &Env) -> anyhow::Result<Summary> {
    execute(args, env, Purpose::Import).await
}

/// The pipeline shared by `import` and `verify`.
pub async fn execute(args: ImportArgs, env: &Env, purpose: Purpose) -> anyhow::Result<Summary> {
    let command = match purpose {
        Purpose::Import => "import",
        Purpose::Verify(_) => "verify",
    };
    let started = chrono::Utc::now();
    let config_path = match &args.input.config {
        Some(p) => p.clone(),
        None if Path::new("muster.toml").exists() => PathBuf::from("muster.toml"),
        None => bail!(
            "{command} needs a configuration: --config muster.toml (see README, or `muster sandbox --write-config muster.toml`)"
        ),
    };
    let config = Config::load(&config_path)?;
    check_writable(&args.out)?;

    // Read and validate everything before anything is sent.
    let mut roster = inputs::open(&args.input.files, args.input.mapping.as_deref())?;
    let rows = roster.read_all()?;
    if rows.is_empty() {
        bail!("no data rows in {}", list_paths(&args.input.files));
    }
    let ctx = validate::Context {
        config: &config,
        target_override: args.input.target.as_deref(),
    };
    let checked = validate::check_rows(&rows, &ctx, &mut Duplicates::default());
    // Shared from here on: a job holds its row without copying it (a million rows held
    // twice was the dry run's peak memory), and the workbook takes it back below.
    let rows: Vec<Arc<Row>> = rows.into_iter().map(Arc::new).collect();

    // Credentials and URLs of the targets rows use: exit 2 before anything is sent.
    let mut targets: BTreeMap<String, Target> = BTreeMap::new();
    for c in &checked {
        if let Some(t) = &c.target {
            if c.problems.is_empty() && applies(&purpose, t) {
                targets.entry(t.name.clone()).or_insert_with(|| t.clone());
            }
        }
    }
    let mut credentials = HashMap::new();
    for t in targets.values() {
        check_url(t, args.allow_insecure_http)?;
        credentials.insert(t.name.clone(), t.credentials(env)?);
    }

    let journal_path = args
        .journal
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_JOURNAL));
    let journal = Arc::new(Journal::open(&journal_path)?);
    let fingerprint = fingerprint(command, &args, &roster.inputs);
    let resumed = journal.unfinished_run(&fingerprint)?;
    if args.resume && resumed.is_none() {
        bail!(
            "--resume: no unfinished run of these files in {}",
            journal_path.display()
        );
    }
    let mut run = match resumed {
        Some(mut info) => {
            if !args.quiet {
                eprintln!("resuming run {} (started {})", info.run_id, info.started);
            }
            info.ended = None;
            info
        }
        None => {
            let info = RunInfo {
                run_id: new_run_id(started),
                command: command.into(),
                command_line: command_line(),
                started,
                ended: None,
                dry_run: args.dry_run,
                version: env!("CARGO_PKG_VERSION").into(),
                inputs: roster.inputs.clone(),
                skipped_sheets: roster.skipped.clone(),
            };
            journal.begin_run(&info, &fingerprint)?;
            journal.record_rows(
                &info.run_id,
                rows.iter()
                    .zip(&checked)
                    .map(|(row, c)| stored_row(row, c.target.as_ref())),
            )?;
            info
        }
    };
    let previous = journal.outcomes(&run.run_id)?;

    // Outcomes known without sending: invalid rows, and rows a resumed run finished.
    let mut outcomes: HashMap<usize, Outcome> = HashMap::new();
    let mut work: BTreeMap<String, Vec<Job>> = BTreeMap::new();
    for (row, c) in rows.iter().zip(&checked) {
        if let Some(o) = previous
            .get(&row.index)
            .filter(|o| o.status != Status::NotAttempted)
        {
            outcomes.insert(row.index, o.clone());
            continue;
        }
        if !c.problems.is_empty() {
            outcomes.insert(row.index, Outcome::invalid(c.action, &c.problems));
            continue;
        }
        let Some(target) = &c.target else {
            outcomes.insert(
                row.index,
                Outcome::invalid(c.action, &[Problem::row("no target")]),
            );
            continue;
        };
        let Some(key) = vendors::identity_key(target.vendor, row) else {
            let field = target.vendor.identity_field();
            outcomes.insert(
                row.index,
                Outcome::invalid(
                    c.action,
                    &[Problem::field(
                        row,
                        field,
                        "is required to identify the user",
                    )],
                ),
            );
            continue;
        };
        work.entry(target.name.clone()).or_default().push(Job {
            index: row.index,
            row: Arc::clone(row),
            action: c.action,
            key,
        });
    }
    let newly_invalid: Vec<(usize, &Outcome)> = outcomes
        .iter()
        .filter(|(i, _)| !previous.contains_key(i))
        .map(|(i, o)| (*i, o))
        .collect();
    journal.record_outcomes(&run.run_id, newly_invalid.into_iter())?;

    let secrets = match &args.secrets_out {
        Some(p) => Some(Arc::new(
            SecretsFile::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
        None => None,
    };
    let reporter: Arc<dyn Reporter> = if args.quiet || args.json {
        Arc::new(Silent)
    } else {
        Arc::new(Progress::new())
    };
    let target_work: Vec<TargetWork> = work
        .into_iter()
        .filter_map(|(name, jobs)| {
            let target = targets.get(&name)?.clone();
            let credentials = credentials.remove(&name)?;
            Some(TargetWork {
                target,
                credentials,
                jobs,
            })
        })
        .collect();
    let (sent, stats) = submit::submit(
        target_work,
        submit::Options {
            run_id: run.run_id.clone(),
            dry_run: args.dry_run,
            mode: args.mode,
            deadline: args.deadline.map(Duration::from_secs_f64),
            journal: journal.clone(),
            reporter,
            secrets,
            purpose,
        },
    )
    .await?;
    outcomes.extend(sent);

    // Report in input order.
    let mut writer = ResultsWriter::create(&args.out, roster.own_headers.clone())?;
    let mut counts: BTreeMap<(String, Status), usize> = BTreeMap::new();
    let stdout = std::io::stdout();
    let mut json_out = std::io::BufWriter::new(stdout.lock());
    for (row, c) in rows.into_iter().zip(checked) {
        let outcome = outcomes.remove(&row.index).unwrap_or_else(|| {
            let mut o = Outcome::new(Status::NotAttempted, c.action);
            o.error = Some("not attempted: the run ended before this row".into());
            o
        });
        // The connectors have dropped their jobs: the row is this vector's alone again.
        let row = Arc::try_unwrap(row).unwrap_or_else(|shared| Row::clone(&shared));
        let target_name = c.target.as_ref().map(|t| t.name.clone());
        *counts
            .entry((target_name.clone().unwrap_or_default(), outcome.status))
            .or_default() += 1;
        let result = RowResult {
            vendor: c.target.as_ref().map(|t| t.vendor),
            target: target_name,
            row,
            outcome,
        };
        writer.write(&result)?;
        if args.json {
            serde_json::to_writer(&mut json_out, &report::json_row(&result))?;
            json_out.write_all(b"\n")?;
        }
    }
    run.ended = Some(chrono::Utc::now());
    let finished = writer
        .finish(&run, &stats)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let complete = !counts.keys().any(|(_, s)| *s == Status::NotAttempted);
    journal.finish_run(&run, &stats, complete)?;
    if args.json {
        let summary = report::summary_json(&run, &finished.counts, &stats, Some(&finished.path));
        serde_json::to_writer(&mut json_out, &summary)?;
        json_out.write_all(b"\n")?;
        json_out.flush()?;
    } else if !args.quiet {
        eprint!(
            "{}",
            report::summary_table(&finished.counts, &stats, Some(&finished.path))
        );
    }
    Ok(Summary {
        run,
        stats,
        counts,
        out: args.out.clone(),
    })
}

fn stored_row<'a>(row: &'a Row, target: Option<&'a Target>) -> StoredRowRef<'a> {
    let pw = row.layout.column_of(Field::Password);
    StoredRowRef {
        index: row.index,
        source_file: &row.layout.file,
        sheet: &row.layout.sheet,
        line: row.line,
        target: target.map(|t| t.name.as_str()),
        vendor: target.map(|t| t.vendor.key()),
        headers: &row.layout.headers,
        cells: row
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| if Some(i) == pw { "" } else { c.as_str() })
            .collect(),
    }
}

/// Fails early when the workbook could not be written (missing folder, no permission).
fn check_writable(out: &Path) -> anyhow::Result<()> {
    let existed = out.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(out)
        .with_context(|| format!("cannot write the results to {}", out.display()))?;
    if !existed {
        let _ = std::fs::remove_file(out);
    }
    Ok(())
}

/// Refuses plain http:// to anything but loopback, unless allowed.
fn check_url(target: &Target, allow_insecure: bool) -> anyhow::Result<()> {
    let url = reqwest::Url::parse(&target.url).with_context(|| {
        format!(
            "target {}: url \"{}\" is not a URL",
            target.name, target.url
        )
    })?;
    if url.scheme() == "http" && !allow_insecure {
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        if !loopback {
            bail!(
                "target {}: {} uses plain http:// to a host that is not loopback; credentials would travel unencrypted (use https://, or --allow-insecure-http)",
                target.name,
                target.url
            );
        }
    }
    Ok(())
}

/// Whether rows of `target` take part in a run for `purpose`.
fn applies(purpose: &Purpose, target: &Target) -> bool {
    match purpose {
        Purpose::Import => true,
        Purpose::Verify(_) => target.vendor == crate::model::VendorKind::Arobs,
    }
}

/// Same command, same files, same options → same fingerprint (what `--resume` finds).
fn fingerprint(command: &str, args: &ImportArgs, inputs: &[crate::model::InputFile]) -> String {
    let mut h = Sha256::new();
    h.update(command.as_bytes());
    for i in inputs {
        h.update(i.sha256.as_bytes());
        h.update(b"\0");
    }
    h.update(format!(
        "{:?}|{:?}|{}|{:?}",
        args.input.target, args.mode, args.dry_run, args.input.config
    ));
    hex::encode(h.finalize())
}

fn new_run_id(started: chrono::DateTime<chrono::Utc>) -> String {
    use rand::Rng;
    format!(
        "{}-{:04x}",
        started.format("%Y%m%d-%H%M%S"),
        rand::rng().random::<u16>()
    )
}

/// The command line as typed; it holds no secret (credentials come from the environment).
fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

fn list_paths(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
