//! `muster journal copy --from A --to B`: a journal's history (runs, rows, the step
//! ledger, plans) added to another journal, typically a folder's SQLite file into the
//! team's shared PostgreSQL journal (issue 26). Leases are not history: not copied.

use anyhow::bail;

use crate::cli::{JournalAction, JournalArgs};
use crate::journal::Journal;
use crate::settings;
use crate::{Env, Exit};

pub fn run(args: JournalArgs, env: &Env) -> anyhow::Result<Exit> {
    let JournalAction::Copy(copy) = args.action;
    let config = settings::config_or_default(None)?;
    let from = settings::journal(Some(&copy.from), env, &config)?;
    let to = settings::journal(Some(&copy.to), env, &config)?;
    if let Some(file) = from.file()
        && !file.exists()
    {
        bail!("--from {}: there is no journal there", file.display());
    }
    if from.shown() == to.shown() {
        bail!("--from and --to are the same journal ({})", from.shown());
    }
    let dump = Journal::open_at(&from)?.export()?;
    let copied = Journal::open_at(&to)?.import(&dump)?;
    crate::say!(
        "copied {} runs, {} rows, {} steps, {} plans and {} target bindings from {} to {} (of {} runs, {} rows, {} steps, {} plans, {} bindings; the rest it held already)",
        copied.runs,
        copied.rows,
        copied.steps,
        copied.plans,
        copied.scopes,
        from.shown(),
        to.shown(),
        dump.runs.len(),
        dump.rows.len(),
        dump.steps.len(),
        dump.plans.len(),
        dump.scopes.len()
    );
    Ok(Exit::Success)
}
