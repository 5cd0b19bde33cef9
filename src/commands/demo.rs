//! `muster demo`: the sandbox in-process on a free loopback port, `samples/fleet.xlsx`
//! imported into all five simulated platforms, `results.xlsx` written here.

use std::io::Write as _;
use std::path::PathBuf;

use crate::cli::{DemoArgs, ImportArgs, InputArgs};
use crate::pipeline;
use crate::report::stdout::Stdout;
use crate::sandbox::{self, Sandbox};
use crate::{Env, Exit};
use anyhow::Context as _;

/// The roster the demo imports when none is given.
pub const DEFAULT_ROSTER: &str = "samples/fleet.xlsx";

pub async fn run(args: DemoArgs, _env: &Env) -> anyhow::Result<Exit> {
    let roster = args
        .roster
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROSTER));
    if !roster.exists() {
        anyhow::bail!(
            "{} not found: run the demo from the muster folder, or pass --roster FILE",
            roster.display()
        );
    }
    let sandbox = Sandbox::start("127.0.0.1:0", sandbox::Options::default())
        .await
        .context("cannot start the sandbox on loopback")?;
    let dir = std::env::temp_dir().join(format!("muster-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config = dir.join("muster.toml");
    std::fs::write(&config, sandbox.config_toml())
        .with_context(|| format!("cannot write {}", config.display()))?;
    if !args.quiet {
        crate::say!("sandbox listening on {}", sandbox.url());
        crate::say!(
            "importing {} into the five simulated platforms…",
            roster.display()
        );
    }
    let import_args = ImportArgs {
        input: InputArgs {
            files: vec![roster.clone()],
            config: Some(config.clone()),
            ..InputArgs::default()
        },
        out: args.out.clone(),
        quiet: args.quiet,
        ..ImportArgs::default()
    };
    let env = Env::with(Sandbox::credentials());
    let summary = pipeline::import(import_args, &env).await?;
    if !args.quiet {
        let mut out = Stdout::new();
        writeln!(
            out,
            "run {}: the result workbook is {}",
            summary.run.run_id,
            std::fs::canonicalize(&summary.out)
                .unwrap_or(summary.out.clone())
                .display()
        )?;
        writeln!(out, "sandbox counters: {}", sandbox.stats())?;
        out.flush()?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(pipeline::exit_of(&summary))
}
