//! `muster import`: read → map → validate → plan and submit per target → report.
//!
//! Everything that can stop the run (config, credentials, unreadable files, unwritable
//! output, journal) is checked before the first request is sent.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};

use crate::audit::Class;
use crate::cli::{ImportArgs, Mode};
use crate::commands::audit::{self as audit_cmd, Survey};
use crate::commands::inputs;
use crate::config::{Config, Target};
use crate::journal::{self, Journal, StoredRow, StoredRowRef};
use crate::model::{Action, Field, Outcome, Problem, Row, RowResult, RunInfo, Status, TargetStats};
use crate::progress::Progress;
use crate::report::{self, ResultsWriter};
use crate::submit::secrets::SecretsFile;
use crate::submit::{self, Reporter, Silent, TargetWork};
use crate::validate::{self, Duplicates};
use crate::vendors::{self, Job, PlatformUser, Purpose};
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
    execute_plan(args, env, purpose, None).await
}

/// The pipeline, refusing to send anything when `expect` (a plan's platform state) no
/// longer matches what the targets hold (`muster apply`).
pub async fn execute_plan(
    args: ImportArgs,
    env: &Env,
    purpose: Purpose,
    expect: Option<&PlatformState>,
) -> anyhow::Result<Summary> {
    let command = match purpose {
        Purpose::Import => "import",
        Purpose::Verify(_) => "verify",
    };
    let started = chrono::Utc::now();
    let config = load_config(args.input.config.as_deref(), command)?;
    check_writable(&args.out)?;

    // Read and validate everything before anything is sent.
    let mut roster = inputs::open(&args.input, &config)?;
    roster.show_columns(!args.quiet && !args.json, false);
    roster.refuse_unmapped(args.input.allow_unmapped)?;
    let mut rows = roster.read_all()?;
    // After the rows: a text file is hashed as it is read.
    roster.hashes()?;
    if rows.is_empty() {
        bail!("no data rows in {}", list_paths(&args.input.files));
    }
    check_space(&args.out, rows.len())?;
    let ctx = validate::Context {
        config: &config,
        target_override: args.input.target.as_deref(),
    };
    let defaults = validate::Defaults::default();
    defaults.apply(&mut rows, &ctx);
    let mut checked = validate::check_rows(&rows, &ctx, &mut Duplicates::default());

    // Credentials and URLs of the targets rows use: exit 2 before anything is sent.
    let mut targets: BTreeMap<String, Target> = BTreeMap::new();
    for c in &checked {
        if let Some(t) = &c.target {
            if c.problems.is_empty() && applies(&purpose, t) {
                targets
                    .entry(t.name.clone())
                    .or_insert_with(|| (**t).clone());
            }
        }
    }
    let mut credentials = HashMap::new();
    for t in targets.values() {
        check_url(t, args.allow_insecure_http)?;
        credentials.insert(t.name.clone(), t.credentials(env)?);
    }

    // The plan step of `--mode upsert|sync` and `--plan-only`: list each target, compare.
    let planning = matches!(purpose, Purpose::Import)
        && (args.mode != Mode::Create || args.plan_only || expect.is_some());
    let roster_len = rows.len();
    let mut planned = Planned::default();
    if planning {
        planned = plan_targets(
            &args,
            &mut rows,
            &mut checked,
            &credentials,
            expect.is_some(),
        )
        .await?;
        if args.mode == Mode::Sync && !args.prune && !args.quiet && !args.json {
            for (name, s) in &planned.surveys {
                let extra = s
                    .findings
                    .iter()
                    .filter(|f| f.class == Class::Extra)
                    .count();
                if extra > 0 {
                    crate::say!(
                        "target {name}: {extra} users are not on the roster; left alone (--prune removes them)"
                    );
                }
            }
        }
        for synthesized in &planned.headers {
            if !roster.own_headers.contains(synthesized) {
                roster.own_headers.push(synthesized.clone());
            }
        }
        if let Some(expect) = expect {
            let diff = expect.changes(&planned.state);
            if !diff.is_empty() {
                bail!(
                    "the platform changed since the plan was made; nothing was sent. Make a new plan.\n{}",
                    diff.join("\n")
                );
            }
        }
        if args.plan_only {
            return write_plan(&args, &roster, &rows, &checked, &planned, started);
        }
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
    let resuming = resumed.is_some();
    let mut run = match resumed {
        Some(mut info) => {
            if !args.quiet {
                crate::say!("resuming run {} (started {})", info.run_id, info.started);
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
            info
        }
    };
    // A resumed sync with --prune listed the platforms afresh: its users to prune are
    // matched to the rows the interrupted attempt recorded.
    let mut settled = HashMap::new();
    if resuming && args.prune {
        let recorded = journal
            .rows(&run.run_id)?
            .into_iter()
            .filter(|r| r.index >= roster_len)
            .collect();
        let headers;
        (settled, headers) =
            match_prune_rows(recorded, roster_len, &mut rows, &mut checked, &config);
        for h in headers {
            if !roster.own_headers.contains(&h) {
                roster.own_headers.push(h);
            }
        }
    }

    // Shared from here on: a job holds its row without copying it (a million rows held
    // twice was the dry run's peak memory), and the workbook takes it back below.
    let rows: Vec<Arc<Row>> = rows.into_iter().map(Arc::new).collect();

    // On a resume too: a run killed between `begin_run` and this point has no rows yet, and
    // outcomes are recorded onto its rows (rows already there are kept as they are).
    journal.record_rows(
        &run.run_id,
        rows.iter()
            .zip(&checked)
            .map(|(row, c)| stored_row(row, c.target.as_deref())),
    )?;
    let previous = journal.outcomes(&run.run_id)?;
    let unfinished = unfinished_users(&journal, resuming.then_some(run.run_id.as_str()), &planned)?;

    // Outcomes known without sending: invalid rows, and rows a resumed run finished.
    let mut outcomes: HashMap<usize, Outcome> = HashMap::new();
    let mut work: BTreeMap<String, Vec<Job>> = BTreeMap::new();
    for (row, c) in rows.iter().zip(&checked) {
        if let Some(o) = settled.remove(&row.index) {
            outcomes.insert(row.index, o);
            continue;
        }
        // Rows made from a platform's users (prune) are always planned afresh.
        if let Some(o) = previous
            .get(&row.index)
            .filter(|o| o.status != Status::NotAttempted && row.index < roster_len)
        {
            outcomes.insert(row.index, o.clone());
            continue;
        }
        if !c.problems.is_empty() {
            outcomes.insert(row.index, Outcome::invalid(c.action, &c.problems));
            continue;
        }
        // A user muster left unfinished is its connector's to finish, even when the listing
        // shows it as the roster has it: a later step (Pegasus' app access, Traccar's device
        // links) may be missing, and no listing shows it.
        let unfinished = || {
            !unfinished.is_empty()
                && c.target.as_ref().is_some_and(|t| {
                    vendors::identity_key(t.vendor, row)
                        .is_some_and(|key| unfinished.contains(&(t.name.clone(), key)))
                })
        };
        if let Some(o) = planned.decided.get(&row.index).filter(|_| !unfinished()) {
            outcomes.insert(row.index, o.clone());
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
            action: planned.actions.get(&row.index).copied().unwrap_or(c.action),
            key,
        });
    }
    let newly_decided: Vec<(usize, &Outcome)> = outcomes
        .iter()
        .filter(|(i, o)| previous.get(i) != Some(o))
        .map(|(i, o)| (*i, o))
        .collect();
    journal.record_outcomes(&run.run_id, newly_decided.into_iter())?;

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
    writer.set_columns(&roster.columns, &defaults.notes());
    let mut counts: BTreeMap<(String, Status), usize> = BTreeMap::new();
    let mut json_out = super::stdout::Stdout::new();
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
        let mut summary =
            report::summary_json(&run, &finished.counts, &stats, Some(&finished.path));
        report::add_columns(&mut summary, &roster.columns, &defaults.notes());
        serde_json::to_writer(&mut json_out, &summary)?;
        json_out.write_all(b"\n")?;
        json_out.flush()?;
    } else if !args.quiet {
        crate::say_part!(
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

/// The configuration `--config` names, else `./muster.toml`; without either the command
/// cannot run.
pub(crate) fn load_config(path: Option<&Path>, command: &str) -> anyhow::Result<Config> {
    let config_path = match path {
        Some(p) => p.to_path_buf(),
        None if Path::new("muster.toml").exists() => PathBuf::from("muster.toml"),
        None => bail!(
            "{command} needs a configuration: --config muster.toml (see README, or `muster sandbox --write-config muster.toml`)"
        ),
    };
    Ok(Config::load(&config_path)?)
}

/// What the plan step decided before anything is sent.
#[derive(Debug, Default)]
struct Planned {
    /// Rows whose user is already the same on the platform: `exists`, no request.
    decided: HashMap<usize, Outcome>,
    /// Rows whose user differs: updated.
    actions: HashMap<usize, Action>,
    /// Headers of the rows made from platform users to prune.
    headers: Vec<String>,
    surveys: BTreeMap<String, Survey>,
    state: PlatformState,
}

/// Lists each target the rows use, classifies every row, and (sync with `--prune`) adds a
/// `delete` row per extra user, after the prune limit and the operator's confirmation.
/// Nothing is sent but reads; a refusal is an `Err` before the journal records a run.
async fn plan_targets(
    args: &ImportArgs,
    rows: &mut Vec<Row>,
    checked: &mut Vec<validate::Checked>,
    credentials: &HashMap<String, crate::config::Credentials>,
    strict: bool,
) -> anyhow::Result<Planned> {
    let journal = Arc::new(Journal::open(Path::new(":memory:"))?);
    let (surveys, failed) = {
        let (per_target, _) = audit_cmd::entries(rows, checked);
        audit_cmd::survey(&per_target, credentials, journal).await
    };
    if !failed.is_empty() {
        // A plan must see every target. An import goes on: the target's rows are not
        // steered, and the engine's probe halts that target (`not_attempted`, with why).
        if args.plan_only || strict {
            bail!("{}", failed.join("\n"));
        }
        if !args.quiet && !args.json {
            for line in &failed {
                crate::say!("{line}");
            }
        }
    }
    let action_of: HashMap<usize, Action> = rows
        .iter()
        .zip(checked.iter())
        .map(|(r, c)| (r.index, c.action))
        .collect();
    // Only rows that ask for the default (create) or upsert are steered by the plan; an
    // explicit `update` or `delete` keeps its own way.
    let steered = |i: usize| matches!(action_of.get(&i), Some(Action::Create | Action::Upsert));
    let mut planned = Planned::default();
    let mut prunes: Vec<(Target, Vec<PlatformUser>, usize)> = Vec::new();
    for s in surveys.values() {
        let mut extras = Vec::new();
        for f in &s.findings {
            match (f.class, f.row) {
                (Class::Same, Some(i)) if steered(i) => {
                    let action = action_of.get(&i).copied().unwrap_or_default();
                    let mut o = Outcome::new(Status::Exists, action);
                    o.user_id = f.platform_id.clone();
                    planned.decided.insert(i, o);
                }
                (Class::Different, Some(i)) if steered(i) && args.mode != Mode::Create => {
                    planned.actions.insert(i, Action::Update);
                }
                (Class::Extra, None) => {
                    let user = s
                        .users
                        .iter()
                        .flatten()
                        .find(|u| Some(&u.id) == f.platform_id.as_ref() && u.key == f.key);
                    extras.extend(user.cloned());
                }
                _ => {}
            }
        }
        if args.mode == Mode::Sync && args.prune && !extras.is_empty() {
            let total = s.users.as_ref().map_or(0, Vec::len);
            prunes.push((s.target.clone(), extras, total));
        }
    }
    planned.state = PlatformState::of(&surveys);
    check_prunes(args, &prunes)?;
    planned.headers = synthesize(rows, checked, &prunes);
    planned.surveys = surveys;
    Ok(planned)
}

/// The prune limit (`--max-prune`, default 10% of the target's users, rounded up), then
/// the operator's consent: `--yes`, or a `y` on a terminal. Either refusal is exit 2.
fn check_prunes(
    args: &ImportArgs,
    prunes: &[(Target, Vec<PlatformUser>, usize)],
) -> anyhow::Result<()> {
    for (target, extras, total) in prunes {
        let limit = args
            .max_prune
            .unwrap_or_else(|| (*total as f64 * 0.1).ceil() as usize);
        if extras.len() > limit {
            bail!(
                "target {}: refusing to prune {} of its {} users: more than --max-prune {limit}{}; nothing was sent",
                target.name,
                extras.len(),
                total,
                if args.max_prune.is_none() {
                    " (10% of its users)"
                } else {
                    ""
                }
            );
        }
    }
    if prunes.is_empty() || args.yes || args.plan_only || args.dry_run {
        return Ok(());
    }
    let counts = prunes
        .iter()
        .map(|(t, e, _)| format!("target {}: {} users", t.name, e.len()))
        .collect::<Vec<_>>()
        .join(", ");
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to prune without --yes: there is no terminal to ask ({counts}); nothing was sent"
        );
    }
    crate::say_part!("--prune removes (or deactivates) {counts}. Go ahead? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        bail!("prune not confirmed; nothing was sent");
    }
    Ok(())
}

/// Adds one `delete` row per user to prune: file `(platform)`, sheet the target's name,
/// the user's fields as columns. Returns the headers those rows use.
fn synthesize(
    rows: &mut Vec<Row>,
    checked: &mut Vec<validate::Checked>,
    prunes: &[(Target, Vec<PlatformUser>, usize)],
) -> Vec<String> {
    let mut next = rows.iter().map(|r| r.index + 1).max().unwrap_or(0);
    let mut all_headers = Vec::new();
    for (target, extras, _) in prunes {
        let identity = target.vendor.identity_field();
        let fields: Vec<Field> = Field::ALL
            .iter()
            .copied()
            .filter(|f| {
                *f == identity || extras.iter().any(|u| u.fields.iter().any(|(g, _)| g == f))
            })
            .collect();
        let headers: Vec<String> = fields.iter().map(|f| f.name().to_string()).collect();
        for h in &headers {
            if !all_headers.contains(h) {
                all_headers.push(h.clone());
            }
        }
        let layout = Arc::new(crate::model::Layout {
            file: PLATFORM_SOURCE.into(),
            sheet: target.name.clone(),
            is_workbook: false,
            header_row: 0,
            headers,
            fields: fields.iter().map(|f| Some(*f)).collect(),
            passthrough: Vec::new(),
        });
        for (n, user) in extras.iter().enumerate() {
            let cells = fields
                .iter()
                .map(|f| {
                    user.fields
                        .iter()
                        .find(|(g, _)| g == f)
                        .map(|(_, v)| v.clone())
                        .or_else(|| (*f == identity).then(|| user.key.clone()))
                        .unwrap_or_default()
                })
                .collect();
            rows.push(Row {
                index: next,
                layout: layout.clone(),
                line: n as u32 + 1,
                cells,
                errors: Vec::new(),
            });
            checked.push(validate::Checked {
                target: Some(std::sync::Arc::new(target.clone())),
                action: Action::Delete,
                problems: Vec::new(),
                key: None,
            });
            next += 1;
        }
    }
    all_headers
}

/// The users (target, key) of the planned targets whose work the ledger shows unfinished
/// ([`vendors::unfinished`]) or, when the run resumes (`resumed`: its id), touched by this
/// run's interrupted attempt, which may have been killed between two steps.
fn unfinished_users(
    journal: &Journal,
    resumed: Option<&str>,
    planned: &Planned,
) -> anyhow::Result<HashSet<(String, String)>> {
    let mut users = HashSet::new();
    if planned.decided.is_empty() {
        return Ok(users);
    }
    for (target, survey) in &planned.surveys {
        let vendor = survey.target.vendor;
        let mut by_key: HashMap<String, Vec<(String, journal::Step)>> = HashMap::new();
        for ((key, step), s) in journal.steps(target)? {
            by_key.entry(key).or_default().push((step, s));
        }
        for (key, steps) in by_key {
            let this_run = steps
                .iter()
                .any(|(_, s)| Some(s.run_id.as_str()) == resumed);
            let named = steps.iter().map(|(n, s)| (n.as_str(), s));
            if this_run || vendors::unfinished(vendor, named) {
                users.insert((target.clone(), key));
            }
        }
    }
    Ok(users)
}

/// What a resumed prune says of a user the interrupted attempt was to remove and that the
/// platform no longer holds (or no longer holds active).
const GONE_ON_RESUME: &str =
    "no longer on the platform when the run resumed: removed before the run was interrupted";

/// Matches the rows of users to prune, made afresh from a new listing when a sync with
/// `--prune` resumes, to the rows the interrupted attempt recorded (`recorded`), by target
/// and identity key, so that each user keeps one row in the run:
/// - a user still to prune takes its recorded row's index;
/// - a user new to prune gets an index past every recorded row;
/// - a recorded user the listing no longer shows was removed before the interruption: its
///   row comes back with its recorded outcome, or `deleted` when none was recorded (the
///   request was sent, the answer never recorded).
///
/// Returns those rows' outcomes and the headers they use. The rows after `roster_len` end
/// in index order.
fn match_prune_rows(
    recorded: Vec<StoredRow>,
    roster_len: usize,
    rows: &mut Vec<Row>,
    checked: &mut Vec<validate::Checked>,
    config: &Config,
) -> (HashMap<usize, Outcome>, Vec<String>) {
    let mut next = roster_len;
    let mut by_key: HashMap<(String, String), (Row, Option<Outcome>, &Target)> = HashMap::new();
    for r in recorded {
        next = next.max(r.index + 1);
        let Some(target) = r.target.as_ref().and_then(|t| config.targets.get(t)) else {
            continue;
        };
        let layout = Arc::new(r.layout());
        let (row, outcome) = r.into_row(layout);
        if let Some(key) = vendors::identity_key(target.vendor, &row) {
            by_key.insert((target.name.clone(), key), (row, outcome, target));
        }
    }
    for (row, c) in rows[roster_len..].iter_mut().zip(&checked[roster_len..]) {
        let key = c.target.as_ref().and_then(|t| {
            let key = vendors::identity_key(t.vendor, row)?;
            Some((t.name.clone(), key))
        });
        match key.and_then(|k| by_key.remove(&k)) {
            Some((recorded, _, _)) => row.index = recorded.index,
            None => {
                row.index = next;
                next += 1;
            }
        }
    }
    let mut settled = HashMap::new();
    let mut headers = Vec::new();
    for (row, outcome, target) in by_key.into_values() {
        let outcome = outcome
            .filter(|o| o.status != Status::NotAttempted)
            .unwrap_or_else(|| {
                let mut o = Outcome::new(Status::Deleted, Action::Delete);
                o.error = Some(GONE_ON_RESUME.into());
                o
            });
        for h in &row.layout.headers {
            if !headers.contains(h) {
                headers.push(h.clone());
            }
        }
        settled.insert(row.index, outcome);
        rows.push(row);
        checked.push(validate::Checked {
            target: Some(Arc::new(target.clone())),
            action: Action::Delete,
            problems: Vec::new(),
            key: None,
        });
    }
    let mut prunes: Vec<(Row, validate::Checked)> = rows
        .drain(roster_len..)
        .zip(checked.drain(roster_len..))
        .collect();
    prunes.sort_by_key(|(r, _)| r.index);
    for (row, c) in prunes {
        rows.push(row);
        checked.push(c);
    }
    (settled, headers)
}

/// The `source_file` of rows made from a platform's users (prune).
pub const PLATFORM_SOURCE: &str = "(platform)";

/// What each target held when a plan was made: per target, per user key, the platform id
/// and a digest of the user's fields. `muster apply` compares it with a fresh listing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PlatformState {
    pub targets: BTreeMap<String, BTreeMap<String, (String, String)>>,
}

impl PlatformState {
    /// The state of every listed target of `surveys` (unlistable ones have none).
    pub fn of(surveys: &BTreeMap<String, Survey>) -> PlatformState {
        let mut targets = BTreeMap::new();
        for (name, s) in surveys {
            let Some(users) = &s.users else { continue };
            let mut map = BTreeMap::new();
            for u in users {
                let mut h = Sha256::new();
                h.update(u.id.as_bytes());
                h.update(if u.active { "\0active" } else { "\0inactive" });
                let mut fields: Vec<String> = u
                    .fields
                    .iter()
                    .map(|(f, v)| format!("{}={v}", f.name()))
                    .collect();
                fields.sort();
                for f in fields {
                    h.update(b"\0");
                    h.update(f.as_bytes());
                }
                map.insert(
                    u.key.clone(),
                    (u.id.clone(), hex::encode(&h.finalize()[..12])),
                );
            }
            targets.insert(name.clone(), map);
        }
        PlatformState { targets }
    }

    /// A digest of one target's state.
    pub fn fingerprint(&self, target: &str) -> String {
        let mut h = Sha256::new();
        for (key, (id, digest)) in self.targets.get(target).into_iter().flatten() {
            h.update(format!("{key}\0{id}\0{digest}\n"));
        }
        hex::encode(h.finalize())
    }

    /// What changed from `self` (the plan's) to `now`, one line per target that changed,
    /// naming the users; empty when nothing did.
    pub fn changes(&self, now: &PlatformState) -> Vec<String> {
        let mut lines = Vec::new();
        let names: std::collections::BTreeSet<&String> =
            self.targets.keys().chain(now.targets.keys()).collect();
        let empty = BTreeMap::new();
        for name in names {
            let before = self.targets.get(name).unwrap_or(&empty);
            let after = now.targets.get(name).unwrap_or(&empty);
            let mut changed = Vec::new();
            let mut appeared = Vec::new();
            let mut disappeared = Vec::new();
            for (k, v) in after {
                match before.get(k) {
                    None => appeared.push(k.as_str()),
                    Some(b) if b != v => changed.push(k.as_str()),
                    Some(_) => {}
                }
            }
            for k in before.keys() {
                if !after.contains_key(k) {
                    disappeared.push(k.as_str());
                }
            }
            let mut parts = Vec::new();
            for (what, keys) in [
                ("changed", changed),
                ("appeared", appeared),
                ("disappeared", disappeared),
            ] {
                if !keys.is_empty() {
                    parts.push(format!("{what}: {}", keys.join(", ")));
                }
            }
            if !parts.is_empty() {
                lines.push(format!("target {name}: {}", parts.join("; ")));
            }
        }
        lines
    }
}

/// `--plan-only`: writes the plan workbook (`Plan`, `Plan info`, `Plan state`) and sends
/// nothing.
fn write_plan(
    args: &ImportArgs,
    roster: &inputs::Roster,
    rows: &[Row],
    checked: &[validate::Checked],
    planned: &Planned,
    started: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Summary> {
    let findings: HashMap<usize, &crate::audit::Finding> = planned
        .surveys
        .values()
        .flat_map(|s| s.findings.iter())
        .filter_map(|f| Some((f.row?, f)))
        .collect();
    let mut lines = Vec::new();
    let mut counts: BTreeMap<(String, Status), usize> = BTreeMap::new();
    for (row, c) in rows.iter().zip(checked) {
        let finding = findings.get(&row.index);
        let target = c.target.as_ref();
        let action = if !c.problems.is_empty() || target.is_none() {
            "invalid".to_string()
        } else if planned.decided.contains_key(&row.index) {
            "none (same)".to_string()
        } else if let Some(a) = planned.actions.get(&row.index) {
            a.key().to_string()
        } else if finding.is_some_and(|f| f.class == Class::Manual) {
            "manual".to_string()
        } else if c.action == Action::Delete && row.layout.file == PLATFORM_SOURCE {
            "delete (prune)".to_string()
        } else if finding.is_some_and(|f| f.class == Class::Missing) {
            "create".to_string()
        } else if finding.is_some_and(|f| f.class == Class::Different) {
            "none (differs; --mode upsert updates)".to_string()
        } else {
            c.action.key().to_string()
        };
        let status = if action == "invalid" {
            Status::Invalid
        } else {
            Status::Planned
        };
        *counts
            .entry((target.map(|t| t.name.clone()).unwrap_or_default(), status))
            .or_default() += 1;
        lines.push(report::plan::PlanLine {
            target: target.map(|t| t.name.clone()).unwrap_or_default(),
            vendor: target
                .map(|t| t.vendor.key())
                .unwrap_or_default()
                .to_string(),
            key: finding
                .map(|f| f.key.clone())
                .or_else(|| target.and_then(|t| vendors::identity_key(t.vendor, row)))
                .unwrap_or_default(),
            action,
            platform_id: finding.and_then(|f| f.platform_id.clone()),
            differences: finding.map(|f| f.differences.clone()).unwrap_or_default(),
            source: (row.layout.file.clone(), row.layout.sheet.clone(), row.line),
            error: (!c.problems.is_empty()).then(|| crate::model::join_problems(&c.problems)),
        });
    }
    let mut info: Vec<(String, String)> = vec![
        ("format".into(), report::plan::FORMAT.into()),
        ("made".into(), started.to_rfc3339()),
        (
            "config".into(),
            args.input
                .config
                .as_ref()
                .map(|p| absolute(p))
                .unwrap_or_else(|| absolute(Path::new("muster.toml"))),
        ),
        ("mode".into(), format!("{:?}", args.mode).to_lowercase()),
        ("prune".into(), args.prune.to_string()),
        (
            "max_prune".into(),
            args.max_prune.map(|n| n.to_string()).unwrap_or_default(),
        ),
        (
            "target".into(),
            args.input.target.clone().unwrap_or_default(),
        ),
        (
            "mapping".into(),
            args.input
                .mapping
                .as_deref()
                .map(absolute)
                .unwrap_or_default(),
        ),
        ("sheet".into(), args.input.sheet.join("\t")),
        (
            "allow_unmapped".into(),
            args.input.allow_unmapped.to_string(),
        ),
    ];
    for (file, input) in args.input.files.iter().zip(&roster.inputs) {
        info.push((
            "input".into(),
            format!("{}\t{}", input.sha256, absolute(file)),
        ));
    }
    for name in planned.state.targets.keys() {
        info.push((
            format!("fingerprint {name}"),
            planned.state.fingerprint(name),
        ));
    }
    report::plan::write(
        &args.out,
        &lines,
        &info,
        &planned.state.targets,
        &roster.columns,
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    if !args.quiet {
        crate::say!(
            "plan: {} rows; nothing was sent. Review {}, then `muster apply {}`",
            lines.len(),
            args.out.display(),
            args.out.display()
        );
    }
    Ok(Summary {
        run: RunInfo {
            run_id: new_run_id(started),
            command: "plan".into(),
            command_line: command_line(),
            started,
            ended: Some(chrono::Utc::now()),
            dry_run: true,
            version: env!("CARGO_PKG_VERSION").into(),
            inputs: roster.inputs.clone(),
            skipped_sheets: roster.skipped.clone(),
        },
        stats: Vec::new(),
        counts,
        out: args.out.clone(),
    })
}

/// The path made absolute (as given when that fails).
fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
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
            .map(|(i, c)| if Some(i) == pw { "" } else { c })
            .collect(),
    }
}

/// Fails early when the workbook could not be written (missing folder, no permission).
pub(crate) fn check_writable(out: &Path) -> anyhow::Result<()> {
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

/// Bytes the results workbook of `rows` rows may take, about: a generous 256 per row.
fn workbook_estimate(rows: usize) -> u64 {
    (64 * 1024 + 256 * rows as u64).min(64 * 1024 * 1024)
}

/// Fails early when the workbook's folder has no room for it: writes a scratch file of
/// [`workbook_estimate`] bytes beside it (where the workbook is staged) and removes it, so
/// a full disk stops the run before anything is sent, not after.
fn check_space(out: &Path, rows: usize) -> anyhow::Result<()> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fail = |e: std::io::Error| {
        anyhow::anyhow!(
            "cannot write the results to {}: no room for a workbook of {} rows in {}: {e}",
            out.display(),
            rows,
            dir.display()
        )
    };
    let mut probe = tempfile::Builder::new()
        .prefix(".muster-space-")
        .tempfile_in(dir)
        .map_err(fail)?;
    let chunk = vec![0u8; 64 * 1024];
    let mut left = workbook_estimate(rows);
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        probe.write_all(&chunk[..n]).map_err(fail)?;
        left -= n as u64;
    }
    probe.flush().map_err(fail)?;
    Ok(())
}

/// Refuses plain http:// to anything but loopback, unless allowed.
pub(crate) fn check_url(target: &Target, allow_insecure: bool) -> anyhow::Result<()> {
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

pub(crate) fn list_paths(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(entries: &[(&str, &str, &str, &str)]) -> PlatformState {
        let mut s = PlatformState::default();
        for (t, k, id, d) in entries {
            s.targets
                .entry(t.to_string())
                .or_default()
                .insert(k.to_string(), (id.to_string(), d.to_string()));
        }
        s
    }

    #[test]
    fn platform_changes_name_the_users() {
        let plan = state(&[
            ("a", "x", "1", "d1"),
            ("a", "y", "2", "d2"),
            ("b", "z", "3", "d3"),
        ]);
        let cases = [
            (plan.clone(), vec![]),
            (
                state(&[
                    ("a", "x", "1", "d9"),
                    ("a", "w", "4", "d4"),
                    ("b", "z", "3", "d3"),
                ]),
                vec!["target a: changed: x; appeared: w; disappeared: y".to_string()],
            ),
            (
                state(&[("a", "x", "1", "d1"), ("a", "y", "2", "d2")]),
                vec!["target b: disappeared: z".to_string()],
            ),
        ];
        for (now, want) in cases {
            assert_eq!(plan.changes(&now), want);
        }
        assert_ne!(plan.fingerprint("a"), plan.fingerprint("b"));
        assert_eq!(
            plan.fingerprint("a"),
            state(&[("a", "x", "1", "d1"), ("a", "y", "2", "d2")]).fingerprint("a")
        );
    }

    fn extras(n: usize) -> Vec<PlatformUser> {
        (0..n)
            .map(|i| PlatformUser {
                key: format!("u{i}@x.test"),
                id: i.to_string(),
                fields: vec![(Field::Email, format!("u{i}@x.test"))],
                active: true,
            })
            .collect()
    }

    #[test]
    fn prunes_over_the_limit_are_refused_by_target() {
        let t = Target::with_defaults(
            "fleet",
            crate::model::VendorKind::Traccar,
            "http://127.0.0.1/api",
        );
        let yes = |max: Option<usize>| ImportArgs {
            yes: true,
            max_prune: max,
            ..ImportArgs::default()
        };
        // Default: 10% of 30 users = 3.
        assert!(check_prunes(&yes(None), &[(t.clone(), extras(3), 30)]).is_ok());
        let err = check_prunes(&yes(None), &[(t.clone(), extras(4), 30)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "target fleet: refusing to prune 4 of its 30 users: more than --max-prune 3 (10% of its users); nothing was sent"
        );
        assert!(check_prunes(&yes(Some(4)), &[(t.clone(), extras(4), 30)]).is_ok());
        assert!(check_prunes(&yes(Some(1)), &[(t, extras(2), 30)]).is_err());
    }

    #[test]
    fn pruned_users_become_delete_rows_from_the_platform() {
        let t = Target::with_defaults(
            "fleet",
            crate::model::VendorKind::Traccar,
            "http://127.0.0.1/api",
        );
        let mut rows = Vec::new();
        let mut checked = Vec::new();
        let headers = synthesize(&mut rows, &mut checked, &[(t, extras(2), 10)]);
        assert_eq!(headers, ["email"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].layout.file, PLATFORM_SOURCE);
        assert_eq!(rows[1].get(Field::Email), Some("u1@x.test"));
        assert_eq!(rows[1].index, 1);
        assert_eq!(checked[0].action, Action::Delete);
    }

    #[test]
    fn a_resumed_prune_keeps_one_row_per_user_across_the_attempts() {
        let t = Target::with_defaults(
            "fleet",
            crate::model::VendorKind::Traccar,
            "http://127.0.0.1/api",
        );
        let config = Config {
            path: None,
            targets: [("fleet".to_string(), t.clone())].into(),
            ..Config::default()
        };
        let user = |i: usize| PlatformUser {
            key: format!("u{i}@x.test"),
            id: i.to_string(),
            fields: vec![(Field::Email, format!("u{i}@x.test"))],
            active: true,
        };
        // The interrupted attempt recorded u0 deleted, and u1 and u2 without an outcome.
        let recorded: Vec<StoredRow> = (0..3)
            .map(|i| StoredRow {
                index: 10 + i,
                source_file: PLATFORM_SOURCE.into(),
                sheet: "fleet".into(),
                line: i as u32 + 1,
                target: Some("fleet".into()),
                vendor: Some("traccar".into()),
                headers: vec!["email".into()],
                cells: vec![format!("U{i}@x.test")],
                outcome: (i == 0).then(|| Outcome::new(Status::Deleted, Action::Delete)),
            })
            .collect();
        // The listing on resume: u2 is still there, u5 is new to prune.
        let mut rows = Vec::new();
        let mut checked = Vec::new();
        synthesize(&mut rows, &mut checked, &[(t, vec![user(2), user(5)], 10)]);
        let roster_len = 0;
        let (settled, headers) =
            match_prune_rows(recorded, roster_len, &mut rows, &mut checked, &config);
        assert_eq!(headers, ["email"]);
        let seen: Vec<(usize, &str)> = rows
            .iter()
            .map(|r| (r.index, r.get(Field::Email).unwrap_or_default()))
            .collect();
        assert_eq!(
            seen,
            [
                (10, "U0@x.test"),
                (11, "U1@x.test"),
                (12, "u2@x.test"),
                (13, "u5@x.test")
            ]
        );
        assert!(checked.iter().all(|c| c.action == Action::Delete));
        // u0 keeps its outcome; u1, gone since, was removed by the interrupted attempt;
        // u2 and u5 are left to be removed now.
        assert_eq!(settled.len(), 2);
        assert_eq!(settled[&10], Outcome::new(Status::Deleted, Action::Delete));
        assert_eq!(settled[&11].status, Status::Deleted);
        assert_eq!(settled[&11].error.as_deref(), Some(GONE_ON_RESUME));
    }
}
