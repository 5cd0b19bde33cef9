//! `muster validate`: read, map and validate; write the validation workbook (with
//! `--errors-only`, Summary and Errors alone: a million-line Results sheet costs far more
//! than reading and validating the file).

use std::io::Write;

use anyhow::Context as _;

use crate::cli::ValidateArgs;
use crate::commands::inputs;
use crate::config::Config;
use crate::model::{Outcome, RowResult, RunInfo, Status};
use crate::report::{self, ResultsWriter};
use crate::validate::{self, Duplicates};
use crate::{Env, Exit};

/// Rows validated per chunk: large enough for rayon, small enough to stream.
const CHUNK: usize = 32_768;

pub fn run(args: ValidateArgs, _env: &Env) -> anyhow::Result<Exit> {
    let started = chrono::Utc::now();
    let config = match &args.input.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let mut roster = inputs::open(&args.input.files, args.input.mapping.as_deref())?;
    let own_headers = roster.own_headers.clone();
    let mut writer = if args.errors_only {
        ResultsWriter::create_errors_only(&args.out, own_headers)?
    } else {
        ResultsWriter::create(&args.out, own_headers)?
    };
    let ctx = validate::Context {
        config: &config,
        target_override: args.input.target.as_deref(),
    };
    let mut dups = Duplicates::default();
    let mut invalid = 0usize;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    loop {
        let chunk = roster.next_chunk(CHUNK)?;
        if chunk.is_empty() {
            break;
        }
        let checked = validate::check_rows(&chunk, &ctx, &mut dups);
        for (row, c) in chunk.into_iter().zip(checked) {
            let outcome = if c.problems.is_empty() {
                Outcome::new(Status::Valid, c.action)
            } else {
                invalid += 1;
                Outcome::invalid(c.action, &c.problems)
            };
            let result = RowResult {
                vendor: c.target.as_ref().map(|t| t.vendor),
                target: c.target.map(|t| t.name.clone()),
                row,
                outcome,
            };
            writer.write(&result)?;
            if args.json {
                serde_json::to_writer(&mut out, &report::json_row(&result))?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    if roster.rows_read() == 0 {
        anyhow::bail!(
            "no data rows in {}",
            args.input
                .files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let run = RunInfo {
        run_id: format!("validate-{}", started.format("%Y%m%dT%H%M%S")),
        command: "validate".into(),
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
        started,
        ended: Some(chrono::Utc::now()),
        dry_run: true,
        version: env!("CARGO_PKG_VERSION").into(),
        inputs: roster.inputs.clone(),
        skipped_sheets: roster.skipped.clone(),
    };
    let finished = writer
        .finish(&run, &[])
        .with_context(|| format!("writing {}", args.out.display()))?;
    if args.json {
        let summary = report::summary_json(&run, &finished.counts, &[], Some(&finished.path));
        serde_json::to_writer(&mut out, &summary)?;
        out.write_all(b"\n")?;
        out.flush()?;
    } else if !args.quiet {
        for s in &roster.skipped {
            eprintln!("skipped {s}");
        }
        eprint!(
            "{}",
            report::summary_table(&finished.counts, &[], Some(&finished.path))
        );
    }
    Ok(if invalid == 0 {
        Exit::Success
    } else {
        Exit::RowsFailed
    })
}
