//! `muster report`: the history of past runs from the journal; rebuilds a run's workbook.

use std::io::Write as _;
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::cli::ReportArgs;
use crate::journal::Journal;
use crate::model::{Layout, Outcome, RowResult, Status, VendorKind};
use crate::report::stdout::Stdout;
use crate::report::{self, Counts, ResultsWriter};
use crate::settings;
use crate::{Env, Exit};

pub fn run(args: ReportArgs, env: &Env) -> anyhow::Result<Exit> {
    let config = settings::config_or_default(args.config.as_deref())?;
    let at = settings::journal(args.journal.as_deref(), env, &config)?;
    if let Some(file) = at.file()
        && !file.exists()
    {
        bail!(
            "no journal at {}: nothing has been imported here yet",
            file.display()
        );
    }
    let journal = Journal::open_at(&at)?;
    let path = at.shown();
    let runs = journal.runs()?;
    let mut out = Stdout::new();
    if args.list || (args.run.is_none() && !args.last) {
        if runs.is_empty() {
            writeln!(out, "no runs in {path}")?;
        }
        for r in &runs {
            let files: Vec<&str> = r.info.inputs.iter().map(|i| i.path.as_str()).collect();
            let counts: Vec<String> = r.counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
            writeln!(
                out,
                "{}  {}  {}{}  {}  [{}]",
                r.info.run_id,
                r.info.started.format("%Y-%m-%d %H:%M:%S"),
                r.info.command,
                if r.info.dry_run { " (dry run)" } else { "" },
                files.join(", "),
                if r.finished {
                    counts.join(", ")
                } else {
                    format!("unfinished: {}", counts.join(", "))
                }
            )?;
        }
        out.flush()?;
        return Ok(Exit::Success);
    }
    let run = match (&args.run, args.last) {
        (Some(id), _) => runs
            .iter()
            .find(|r| &r.info.run_id == id)
            .with_context(|| format!("no run {id} in {path} (see muster report --list)"))?,
        (None, _) => runs.first().context("the journal has no runs yet")?,
    };
    let rows = journal.rows(&run.info.run_id)?;
    let mut counts = Counts::default();
    let mut own_headers: Vec<String> = Vec::new();
    for r in &rows {
        for h in &r.headers {
            if !own_headers.contains(h) {
                own_headers.push(h.clone());
            }
        }
    }
    let mut writer = match &args.out {
        Some(out) => Some(ResultsWriter::create(out, own_headers)?),
        None => None,
    };
    let mut layouts: Vec<Arc<Layout>> = Vec::new();
    for r in rows {
        let outcome = r.outcome.clone().unwrap_or_else(|| {
            let mut o = Outcome::new(Status::NotAttempted, Default::default());
            o.error = Some(
                "outcome unknown: the run stopped before this row finished; re-run the import to finish it"
                    .into(),
            );
            o
        });
        let vendor = r.vendor.as_deref().and_then(VendorKind::from_key);
        counts.add_status(r.target.as_deref(), vendor, outcome.status);
        if let Some(w) = writer.as_mut() {
            let layout = match layouts
                .iter()
                .find(|l| l.file == r.source_file && l.sheet == r.sheet && l.headers == r.headers)
            {
                Some(l) => l.clone(),
                None => {
                    let l = Arc::new(r.layout());
                    layouts.push(l.clone());
                    l
                }
            };
            let target = r.target.clone();
            let (row, _) = r.into_row(layout);
            w.write(&RowResult {
                vendor,
                target,
                row,
                outcome,
            })?;
        }
    }
    writeln!(
        out,
        "run {} ({}{}), started {}, {}",
        run.info.run_id,
        run.info.command,
        if run.info.dry_run { ", dry run" } else { "" },
        run.info.started.format("%Y-%m-%d %H:%M:%S UTC"),
        if run.finished {
            "finished"
        } else {
            "did not finish"
        }
    )?;
    if let Some(w) = writer {
        w.finish(&run.info, &run.stats)?;
    }
    write!(
        out,
        "{}",
        report::summary_table(&counts, &run.stats, args.out.as_deref())
    )?;
    out.flush()?;
    Ok(Exit::Success)
}
