//! `muster demo`: the sandbox in-process on a free loopback port, `samples/fleet.xlsx`
//! imported into all five simulated platforms, `results.xlsx` written here. It ends as an
//! import ends (the pipeline prints that), then shows the sandbox's own counters: what
//! the simulated platforms saw, so nothing made twice shows.

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
            "the result workbook is {}",
            std::fs::canonicalize(&summary.out)
                .unwrap_or(summary.out.clone())
                .display()
        )?;
        write!(out, "{}", counters_table(&sandbox.stats()))?;
        out.flush()?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(pipeline::exit_of(&summary))
}

/// The sandbox counters shown, as (column, counter key).
const COUNTERS: [(&str, &str); 5] = [
    ("requests", "requests"),
    ("users made", "created"),
    ("duplicates refused", "duplicates_refused"),
    ("429s", "rate_limited"),
    ("faults", "faults_injected"),
];

/// The sandbox's counters (`GET /_sandbox/stats`) as a small table: a platform a line.
fn counters_table(stats: &serde_json::Value) -> String {
    let mut lines = vec![
        std::iter::once("sandbox")
            .chain(COUNTERS.iter().map(|(c, _)| *c))
            .map(String::from)
            .collect::<Vec<_>>(),
    ];
    if let Some(platforms) = stats.as_object() {
        for (vendor, counters) in platforms {
            let mut line = vec![vendor.clone()];
            line.extend(
                COUNTERS
                    .iter()
                    .map(|(_, key)| counters[key].as_u64().unwrap_or(0).to_string()),
            );
            lines.push(line);
        }
    }
    crate::report::summary::aligned(&lines, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_are_a_table_a_platform_a_line() {
        let stats = serde_json::json!({
            "traccar": {"requests": 24, "created": 8, "duplicates_refused": 0, "rate_limited": 1, "faults_injected": 0, "links_created": 13},
            "arobs": {"requests": 0, "created": 0},
        });
        assert_eq!(
            counters_table(&stats),
            "\
sandbox  requests  users made  duplicates refused  429s  faults
traccar        24           8                   0     1       0
arobs           0           0                   0     0       0
"
        );
    }
}
