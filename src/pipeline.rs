//! The provisioning pipeline that `import`, `verify`, `apply` and `demo` run, in one
//! direction: read and map (`roster`) → validate → plan (list each target, decide each
//! row) → submit (the engine, which journals) → report. Only sequencing lives here: what
//! to do with a row is the plan's, how it is sent and journaled the engine's.
//!
//! Everything that can stop the run (config, credentials, unreadable files, unwritable
//! output, journal) is checked before the first request is sent.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::audit::Class;
use crate::cli::ImportArgs;
use crate::config::{Credentials, Notify, Target};
use crate::journal::lease::Holder;
use crate::journal::{Journal, JournalAt, StoredRowRef};
use crate::model::{Action, Field, Mode, Outcome, Row, RowResult, RunInfo, Status, TargetStats};
use crate::plan::prune::Recorded;
use crate::plan::resume::{self, RunIdentity};
use crate::plan::{self, Known, Planned, PlatformState, Survey};
use crate::progress::Progress;
use crate::report::stdout::Stdout;
use crate::report::{self, ResultsWriter};
use crate::roster;
use crate::settings::{self, PlanSettings};
use crate::submit::secrets::SecretsFile;
use crate::submit::{self, Reporter, Silent, TargetWork};
use crate::validate::{self, Duplicates};
use crate::vendors::Purpose;
use crate::{Env, Exit};

/// What an import produced, for callers that want more than the exit code (demo, tests).
#[derive(Debug, Clone)]
pub struct Summary {
    pub run: RunInfo,
    pub stats: Vec<TargetStats>,
    /// (target, status) → rows
    pub counts: BTreeMap<(String, Status), usize>,
    pub out: PathBuf,
    /// What the terminal's ending says (none for a plan): the demo and the webhook use it.
    pub ending: Option<report::Ending>,
    /// The config's `[notify]`, told by the command once the run has ended.
    pub notify: Option<Notify>,
    /// SIGINT or SIGTERM stopped the run (exit 130).
    pub interrupted: bool,
}

/// Exit 0 when every row succeeded, 130 when the run was interrupted, 1 otherwise.
pub fn exit_of(summary: &Summary) -> Exit {
    if summary.interrupted {
        return Exit::Interrupted;
    }
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

/// The pipeline of `import` and `verify`.
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
    let clock = std::time::Instant::now();
    let config = settings::config(args.input.config.as_deref(), command)?;
    settings::check_target(&config, args.input.target.as_deref())?;
    let deadline = settings::deadline(args.deadline)?;
    let journal_at = settings::journal(args.journal.as_deref(), env, &config)?;
    let mut keep: Vec<&Path> = args.input.files.iter().map(PathBuf::as_path).collect();
    keep.extend(journal_at.file());
    report::output::check_writable(&args.out, &keep)?;
    if let Some(p) = &args.secrets_out {
        SecretsFile::check(p, args.secrets_append)?;
    }

    // Read and validate everything before anything is sent.
    let mut roster = roster::open((&args.input).into(), &config)?;
    roster.show_columns(!args.quiet && !args.json, false);
    roster.refuse_unmapped(args.input.allow_unmapped)?;
    let mut rows = roster.read_whole()?;
    report::output::check_space(&args.out, rows.len())?;
    let ctx = validate::Context {
        config: &config,
        target_override: args.input.target.as_deref(),
    };
    if let Some(names) = validate::unknown_targets(&rows, &ctx) {
        bail!("{names}");
    }
    let defaults = validate::Defaults::default();
    defaults.apply(&mut rows, &ctx);
    let mut checked = validate::check_rows(&rows, &ctx, &mut Duplicates::default());

    // Credentials and URLs of the targets rows use: exit 2 before anything is sent.
    let used = checked
        .iter()
        .filter(|c| c.problems.is_empty())
        .filter_map(|c| c.target.as_deref())
        .filter(|t| applies(&purpose, t));
    let (targets, mut credentials) = settings::connect(used, env, args.allow_insecure_http)?;

    // One run at a time per target (issue 26): a run that writes takes the lease of every
    // target it uses before it lists, resumes or sends anything, and holds it to the end
    // (released when `lease` is dropped, on every return). Read-only work takes none.
    let wait = settings::wait(args.wait.as_deref())?;
    let ttl = settings::lease_ttl(env)?;
    let run_id = new_run_id(started);
    let leasing = matches!(purpose, Purpose::Import) && !args.dry_run && !args.plan_only;
    let mut early_journal = None;
    let mut lease = None;
    if leasing && !targets.is_empty() {
        let journal = Arc::new(Journal::open_at(&journal_at)?);
        let quiet = args.quiet;
        let note = move |line: &str| {
            if !quiet {
                crate::say!("{line}");
            }
        };
        let names = targets.keys().cloned().collect();
        lease = Some(
            submit::record::lease(
                journal.clone(),
                names,
                Holder::me(&run_id),
                ttl,
                wait,
                &note,
            )
            .await?,
        );
        early_journal = Some(journal);
    }

    // The plan step of `--mode upsert|sync` and `--plan-only`: list each target, compare.
    let plan_settings = PlanSettings::of(&args);
    let planning =
        matches!(purpose, Purpose::Import) && plan_settings.lists_targets(expect.is_some());
    let roster_len = rows.len();
    let mut planned = Planned::default();
    if planning {
        let surveys = survey(&args, &rows, &checked, &credentials, expect.is_some()).await?;
        planned = plan::plan_targets(&plan_settings, &mut rows, &mut checked, surveys)?;
        if let Some(counts) = plan::prune::consent_needed(&plan_settings, &planned.prunes) {
            confirm_prune(&counts)?;
        }
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
            return write_plan(
                &args,
                &journal_at,
                &roster,
                &rows,
                &checked,
                &planned,
                started,
            );
        }
    } else if matches!(purpose, Purpose::Import) {
        identify(&mut planned, &checked, &credentials).await?;
    }

    let journal = match early_journal {
        Some(j) => j,
        None => Arc::new(Journal::open_at(&journal_at)?),
    };
    let fingerprint = resume::fingerprint(&RunIdentity {
        command,
        inputs: &roster.inputs,
        target: args.input.target.as_deref(),
        mode: args.mode,
        dry_run: args.dry_run,
        config: args.input.config.as_deref(),
    });
    let resumed = journal.unfinished_run(&fingerprint)?;
    if args.resume && resumed.is_none() {
        bail!(
            "--resume: no unfinished run of these files in {}",
            journal_at.shown()
        );
    }
    // Only a run no one is still carrying out is resumed (its targets' leases are free).
    if let (Some(info), Some(lease)) = (&resumed, &lease)
        && let Some((target, held)) = journal.live_lease_of_run(&info.run_id, lease.holder())?
    {
        bail!(
            "run {} is still running: target {target} is being imported by {}; wait for it, or pass --wait",
            info.run_id,
            held.holder.describe()
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
                run_id: run_id.clone(),
                command: command.into(),
                command_line: command_line(),
                started,
                ended: None,
                dry_run: args.dry_run,
                version: env!("CARGO_PKG_VERSION").into(),
                inputs: roster.inputs.clone(),
                skipped_sheets: roster.skipped.clone(),
            };
            submit::record::begin(&journal, &info, &fingerprint)?;
            info
        }
    };
    if let Some(lease) = &mut lease {
        lease.set_run(&run.run_id)?;
    }
    // A resumed sync with --prune listed the platforms afresh: its users to prune are
    // matched to the rows the interrupted attempt recorded.
    let mut settled = HashMap::new();
    if resuming && args.prune {
        let recorded = journal
            .rows(&run.run_id)?
            .into_iter()
            .filter(|r| r.index >= roster_len)
            .map(|r| {
                let layout = Arc::new(r.layout());
                let target = r.target.clone();
                let (row, outcome) = r.into_row(layout);
                Recorded {
                    row,
                    outcome,
                    target,
                }
            })
            .collect();
        let headers;
        (settled, headers) =
            plan::prune::match_prune_rows(recorded, roster_len, &mut rows, &mut checked, &config);
        for h in headers {
            if !roster.own_headers.contains(&h) {
                roster.own_headers.push(h);
            }
        }
    }

    // Each row's verdict without the identity key validation found (`Checked`'s 64 bytes a
    // row), before the rows are shared below. Moved into a vector of its own: collected in
    // place, the larger buffer would be kept.
    let checked: Vec<validate::Verdict> = {
        let mut verdicts = Vec::with_capacity(checked.len());
        verdicts.extend(checked.into_iter().map(validate::Verdict::from));
        verdicts
    };

    // Shared from here on: a job holds its row without copying it (a million rows held
    // twice was the dry run's peak memory), and the workbook takes it back below.
    // Into a vector of its own: collected in place, the rows' buffer (12 times the size)
    // would be kept for the whole run.
    let rows: Vec<Arc<Row>> = {
        let mut shared = Vec::with_capacity(rows.len());
        shared.extend(rows.into_iter().map(Arc::new));
        shared
    };

    // On a resume too: a run killed between `begin_run` and this point has no rows yet, and
    // outcomes are recorded onto its rows (rows already there are kept as they are).
    submit::record::rows(
        &journal,
        &run.run_id,
        rows.iter()
            .zip(&checked)
            .map(|(row, c)| stored_row(row, c.target.as_deref())),
    )?;
    let previous = journal.outcomes(&run.run_id)?;
    let unfinished = if planned.decided.is_empty() {
        HashSet::new()
    } else {
        let mut ledgers = Vec::new();
        for (name, s) in &planned.surveys {
            ledgers.push((name.clone(), s.target.vendor, journal.steps(name)?));
        }
        resume::unfinished_users(ledgers, resuming.then_some(run.run_id.as_str()))
    };

    // Outcomes known without sending (invalid rows, rows a resumed run finished, users
    // already the same), and each target's jobs.
    let plan::Work {
        mut outcomes,
        jobs: work,
    } = plan::work(
        &rows,
        &checked,
        Known {
            roster_len,
            settled,
            previous: &previous,
            unfinished: &unfinished,
        },
        &planned,
    );
    // Of each row's verdict only its target and action are needed from here on (its
    // problems are in its `invalid` outcome now): 16 bytes a row, not a whole `Checked`.
    // (Collected afresh, not in place, which would keep the larger buffer.)
    let checked: Vec<(Option<Arc<Target>>, Action)> = {
        let slim = checked
            .iter()
            .map(|c| (c.target.clone(), c.action))
            .collect();
        drop(checked);
        slim
    };
    let newly_decided: Vec<(usize, &Outcome)> = outcomes
        .iter()
        .filter(|(i, o)| previous.get(i) != Some(o))
        .map(|(i, o)| (*i, o))
        .collect();
    submit::record::outcomes(&journal, &run.run_id, newly_decided.into_iter())?;

    let secrets = match &args.secrets_out {
        Some(p) => Some(Arc::new(SecretsFile::open(p, args.secrets_append)?)),
        None => None,
    };
    let reporter: Arc<dyn Reporter> = if args.quiet || args.json {
        Arc::new(Silent)
    } else {
        Arc::new(Progress::new())
    };
    // Users another run made: a row that finds one is `exists`, saying which run made it.
    // Read by the target's name: the scope the name was bound to so far (checked again
    // once the engine has bound it to what its probe found, below).
    let mut made_elsewhere = HashMap::new();
    let mut made_seen = HashMap::new();
    if !args.dry_run {
        for (name, jobs) in &work {
            let made = journal.made_by_others(name, &run.run_id)?;
            for job in jobs {
                if let Some((by, at)) = made.get(&job.key) {
                    made_elsewhere.insert(job.index, (name.clone(), made_by(by, at)));
                }
            }
            if !made.is_empty() {
                made_seen.insert(name.clone(), made);
            }
        }
    }
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
    let interrupt = submit::Interrupt::default();
    let listener = listen_for_stop(interrupt.clone(), args.quiet || args.json);
    let submitted = submit::submit_rows(
        target_work,
        submit::Options {
            run_id: run.run_id.clone(),
            dry_run: args.dry_run,
            mode: args.mode,
            deadline,
            journal: journal.clone(),
            reporter,
            secrets,
            purpose,
            interrupt: interrupt.clone(),
            max_failures: args.max_failures,
            lease: lease.as_ref().map(|l| submit::scope::Leasing {
                holder: l.holder().clone(),
                ttl,
                wait,
            }),
            prune: args.mode == Mode::Sync && args.prune,
        },
    )
    .await;
    // A signal while the workbook is written: the first is noted, a second exits at once.
    let _listening = AbortOnDrop(listener);
    // The engine's outcomes, kept compact (a million rows of a dry run), win over those
    // known before it started.
    let (mut sent, stats) = submitted?;
    // A target whose name now reads other records (pointed at another platform, issue 25)
    // says nothing of what other runs made through the name before.
    for (name, seen) in made_seen {
        if journal.made_by_others(&name, &run.run_id)? != seen {
            made_elsewhere.retain(|_, (target, _)| *target != name);
        }
    }
    let interrupted = interrupt.requested().is_some();
    let mut noted = Vec::new();
    for (index, (_, by)) in made_elsewhere {
        let Some(mut outcome) = sent.take(index) else {
            continue;
        };
        if outcome.status == Status::Exists && outcome.error.is_none() {
            outcome.error = Some(by);
            noted.push((index, outcome.clone()));
        }
        sent.insert(index, outcome);
    }
    noted.sort_by_key(|(i, _)| *i);
    // The engine recorded these before they were noted: the journal says what the
    // workbook says.
    submit::record::outcomes(&journal, &run.run_id, noted.iter().map(|(i, o)| (*i, o)))?;

    // Report in input order.
    let mut writer = ResultsWriter::create(&args.out, roster.own_headers.clone())?;
    writer.set_columns(&roster.columns, &defaults.notes());
    let mut counts: BTreeMap<(String, Status), usize> = BTreeMap::new();
    let mut failures = report::Failures::default();
    let mut json_out = Stdout::new();
    for (row, (target, action)) in rows.into_iter().zip(checked) {
        let outcome = sent.take(row.index).or_else(|| outcomes.remove(&row.index));
        let outcome = outcome.unwrap_or_else(|| {
            let mut o = Outcome::new(Status::NotAttempted, action);
            o.error = Some("not attempted: the run ended before this row".into());
            o
        });
        // The connectors have dropped their jobs: the row is this vector's alone again.
        let row = Arc::try_unwrap(row).unwrap_or_else(|shared| Row::clone(&shared));
        let target_name = target.as_ref().map(|t| t.name.clone());
        *counts
            .entry((target_name.clone().unwrap_or_default(), outcome.status))
            .or_default() += 1;
        let result = RowResult {
            vendor: target.as_ref().map(|t| t.vendor),
            target: target_name,
            row,
            outcome,
        };
        failures.add(&result);
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
    submit::record::finish(&journal, &run, &stats, complete)?;
    let next = (failures.count > 0).then(|| {
        report::Ending::next_step(
            command,
            &finished.path,
            config.path.as_deref(),
            args.journal.as_deref(),
        )
    });
    let ending = report::Ending {
        command: command.into(),
        run_id: run.run_id.clone(),
        elapsed: clock.elapsed(),
        counts: finished.counts.clone(),
        stats: stats.clone(),
        workbook: finished.path.clone(),
        failures,
        next,
    };
    if args.json {
        let mut summary =
            report::summary_json(&run, &finished.counts, &stats, Some(&finished.path));
        report::add_columns(&mut summary, &roster.columns, &defaults.notes());
        serde_json::to_writer(&mut json_out, &summary)?;
        json_out.write_all(b"\n")?;
        json_out.flush()?;
    } else if !args.quiet {
        crate::say_part!("{}", ending.text());
    }
    if interrupted {
        let left: usize = counts
            .iter()
            .filter(|((_, s), _)| *s == Status::NotAttempted)
            .map(|(_, n)| n)
            .sum();
        let done = counts.values().sum::<usize>() - left;
        crate::say!("interrupted: {done} done, {left} left; run the same command again to finish");
    }
    Ok(Summary {
        run,
        stats,
        counts,
        out: args.out.clone(),
        ending: Some(ending),
        notify: config.notify.clone(),
        interrupted,
    })
}

/// Listens for SIGINT and SIGTERM while the engine works: the first asks every target to
/// stop (no new request; those in flight get `submit::STOP_GRACE`, then are cancelled and
/// settled by the next run), the second exits at once with 130 (the journal commits step
/// by step, so it stays consistent, as after a kill).
fn listen_for_stop(interrupt: submit::Interrupt, quiet: bool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut next = async || {
            #[cfg(unix)]
            {
                let term = async {
                    match term.as_mut() {
                        Some(t) => {
                            t.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    () = term => {}
                }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
        };
        next().await;
        interrupt.request("interrupted");
        if !quiet {
            crate::say!(
                "\nstopping: no new requests; those in flight get {} s (press Ctrl-C again to quit at once)",
                submit::STOP_GRACE.as_secs()
            );
        }
        next().await;
        crate::say!("muster: quit at once; the next run settles what was in flight");
        std::process::exit(crate::Exit::Interrupted as i32);
    })
}

/// Aborts a task when dropped (the signal listener, once the pipeline is done).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Lists each target the rows use (read-only) and compares it with the rows. A plan must
/// see every target: a target that cannot be listed stops `--plan-only` and `apply`
/// (`strict`); an import goes on, its rows not steered, and the engine's probe halts that
/// target (`not_attempted`, with why).
async fn survey(
    args: &ImportArgs,
    rows: &[Row],
    checked: &[validate::Checked],
    credentials: &HashMap<String, Credentials>,
    strict: bool,
) -> anyhow::Result<BTreeMap<String, Survey>> {
    let (per_target, _) = plan::survey::entries(rows, checked);
    let listings = submit::list_targets(plan::survey::wants(&per_target), credentials).await?;
    let (surveys, failed) = plan::survey::survey(&per_target, listings);
    if !failed.is_empty() {
        if args.plan_only || strict {
            bail!("{}", failed.join("\n"));
        }
        if !args.quiet && !args.json {
            for line in &failed {
                crate::say!("{line}");
            }
        }
    }
    Ok(surveys)
}

/// Without a listing (`--mode create`), rows that ask to update, upsert or delete still
/// must not change the account muster is logged in as: each target they use is probed
/// (read-only) for it. A target whose probe fails leaves those rows `not_attempted`.
async fn identify(
    planned: &mut Planned,
    checked: &[validate::Checked],
    credentials: &HashMap<String, Credentials>,
) -> anyhow::Result<()> {
    let mut targets: BTreeMap<String, &Target> = BTreeMap::new();
    for c in checked.iter().filter(|c| c.problems.is_empty()) {
        let Some(t) = c.target.as_deref() else {
            continue;
        };
        // Probes that could tell nothing are not sent (their `protect` lists protect all
        // the same).
        if t.vendor.tells_its_account()
            && matches!(c.action, Action::Update | Action::Upsert | Action::Delete)
        {
            targets.entry(t.name.clone()).or_insert(t);
        }
    }
    if targets.is_empty() {
        return Ok(());
    }
    let found = submit::identify_targets(targets.values().copied(), credentials).await?;
    for (name, listing) in found {
        let Some(target) = targets.get(&name) else {
            continue;
        };
        match listing {
            Ok(l) => {
                planned.protected.insert(
                    name,
                    crate::audit::Protected::new(l.logged_in_as.as_deref(), &target.protect),
                );
            }
            Err(e) => {
                planned.unidentified.insert(name, e.to_string());
            }
        }
    }
    Ok(())
}

/// The operator's consent to prune: a `y` on a terminal (`--yes` skips the question).
fn confirm_prune(counts: &str) -> anyhow::Result<()> {
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

/// `--plan-only`: writes the plan workbook (`Plan`, `Plan info`, `Plan state`) and sends
/// nothing.
fn write_plan(
    args: &ImportArgs,
    journal_at: &JournalAt,
    roster: &roster::Roster,
    rows: &[Row],
    checked: &[validate::Checked],
    planned: &Planned,
    started: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Summary> {
    let (lines, counts) = plan::preview(rows, checked, planned);
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
        ("mode".into(), args.mode.key().into()),
        ("prune".into(), args.prune.to_string()),
        (
            "max_prune".into(),
            args.max_prune.map(|n| n.to_string()).unwrap_or_default(),
        ),
        (
            "max_unlink".into(),
            args.max_unlink.map(|n| n.to_string()).unwrap_or_default(),
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
    // The journal keeps the plan's digest: `apply` carries out only a plan recorded here,
    // unchanged (an edited copy with fresh digests is not one the journal knows).
    let journal = Journal::open_at(journal_at)?;
    let digest = report::plan::write(
        &args.out,
        &lines,
        &info,
        &planned.state.targets,
        &roster.columns,
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    submit::record::plan(
        &journal,
        &digest,
        &started.to_rfc3339(),
        &absolute(&args.out),
    )?;
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
        ending: None,
        notify: None,
        interrupted: false,
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

/// Whether rows of `target` take part in a run for `purpose`.
fn applies(purpose: &Purpose, target: &Target) -> bool {
    match purpose {
        Purpose::Import => true,
        Purpose::Verify(_) => target.vendor == crate::model::VendorKind::Arobs,
    }
}

/// "made by run R at T" (T to the second, as the journal recorded it).
fn made_by(run_id: &str, at: &str) -> String {
    let at = chrono::DateTime::parse_from_rfc3339(at).map_or_else(
        |_| at.to_string(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        },
    );
    format!("made by run {run_id} at {at}")
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
    std::env::args()
        .map(|a| crate::secret::redact_url_password(&a))
        .collect::<Vec<_>>()
        .join(" ")
}
