//! `muster apply PLAN`: carries out a plan written by `muster import --plan-only`, exactly.
//!
//! The plan names its inputs (with their SHA-256), configuration, mode and prune options,
//! and what each target held. Apply refuses (exit 2) when an input file changed, or when a
//! fresh listing of a target differs from the plan's (naming the users that changed,
//! appeared or disappeared); otherwise the same import runs through the same engine and
//! journal — same inputs and same platform state make the same decisions — and writes a
//! result workbook.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use sha2::{Digest, Sha256};

use crate::cli::{ApplyArgs, ImportArgs, InputArgs, Mode};
use crate::journal::Journal;
use crate::pipeline;
use crate::plan::PlatformState;
use crate::report::plan;
use crate::settings;
use crate::vendors::Purpose;
use crate::{Env, Exit};

pub async fn run(args: ApplyArgs, env: &Env) -> anyhow::Result<Exit> {
    let read = plan::read(&args.plan).map_err(|e| anyhow!(e))?;
    let shown = args.plan.display();
    // Only a plan this journal recorded when it was made, unchanged since.
    let config = settings::config_or_default(args.config.as_deref())?;
    let journal_at = settings::journal(args.journal.as_deref(), env, &config)?;
    if journal_at.file().is_some_and(|f| !f.exists())
        || Journal::open_at(&journal_at)?
            .plan_made(&read.digest)?
            .is_none()
    {
        bail!(
            "{shown} is not a plan the journal {} recorded: a plan is carried out only where it was made (same --journal), as it was made; nothing was sent. Make a new plan",
            journal_at.shown()
        );
    }
    let mut files = Vec::new();
    for (k, v) in &read.info {
        if k != "input" {
            continue;
        }
        let Some((sha, path)) = v.split_once('\t') else {
            bail!("{shown}: the input line {v:?} is not `sha256<TAB>path`");
        };
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow!("{shown} names the roster {path}, which cannot be read: {e}"))?;
        if hex::encode(Sha256::digest(&bytes)) != sha {
            bail!(
                "the roster {path} changed since the plan {shown} was made; nothing was sent. Make a new plan."
            );
        }
        files.push(PathBuf::from(path));
    }
    if files.is_empty() {
        bail!("{shown} names no input file");
    }
    let get = |k: &str| read.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    let mode = match get("mode") {
        None => Mode::Create,
        Some(word) => match Mode::parse(&word) {
            Some(mode) => mode,
            None => bail!("{shown}: unknown mode {word:?}"),
        },
    };
    let limit = |key: &str| -> anyhow::Result<Option<usize>> {
        match get(key) {
            Some(n) => {
                Ok(Some(n.parse::<usize>().map_err(|_| {
                    anyhow!("{shown}: {key} {n:?} is not a number")
                })?))
            }
            None => Ok(None),
        }
    };
    let max_prune = limit("max_prune")?;
    let max_unlink = limit("max_unlink")?;
    let import_args = ImportArgs {
        input: InputArgs {
            files,
            config: args
                .config
                .clone()
                .or_else(|| get("config").map(PathBuf::from)),
            target: get("target"),
            mapping: get("mapping").map(PathBuf::from),
            sheet: get("sheet")
                .map(|s| s.split('\t').map(str::to_string).collect())
                .unwrap_or_default(),
            allow_unmapped: get("allow_unmapped").as_deref() == Some("true"),
        },
        out: args.out,
        journal: args.journal,
        wait: args.wait,
        quiet: args.quiet,
        allow_insecure_http: args.allow_insecure_http,
        mode,
        prune: get("prune").as_deref() == Some("true"),
        max_prune,
        max_unlink,
        yes: args.yes,
        ..ImportArgs::default()
    };
    let expect = PlatformState {
        targets: read.state,
    };
    let summary = pipeline::execute_plan(import_args, env, Purpose::Import, Some(&expect)).await?;
    Ok(pipeline::exit_of(&summary))
}
