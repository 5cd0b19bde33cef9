//! `muster validate`: read, map and validate; write the validation workbook (with
//! `--errors-only`, Summary and Errors alone: a million-line Results sheet costs far more
//! than reading and validating the file).

use std::io::Write;
use std::sync::Arc;

use anyhow::Context as _;

use crate::cli::ValidateArgs;
use crate::config::Config;
use crate::model::{Cells, Outcome, Row, RowResult, RunInfo, Status};
use crate::report::{self, ResultsWriter};
use crate::roster;
use crate::settings;
use crate::validate::{self, Duplicates};
use crate::{Env, Exit};

/// Rows validated per chunk: large enough for rayon, small enough that the first chunk's
/// rules and the last one's results (which nothing overlaps) are short.
const CHUNK: usize = 8_192;
/// Checked chunks that may wait for their duplicates and results. This and the reading
/// side's buffers (`input::csv`'s `AHEAD` and `BLOCKS_AHEAD`) are 8 deep: on a shared
/// two-core machine, where one thread now and then waits for a core, depth 8 took a
/// tenth less time than depth 4 (medians of 11 runs each), for about 40 MiB more.
const CHUNKS_BEHIND: usize = 8;

pub fn run(args: ValidateArgs, _env: &Env) -> anyhow::Result<Exit> {
    let started = chrono::Utc::now();
    // `./muster.toml` is found as every command finds it (`settings`).
    let config = Arc::new(settings::config_or_default(args.input.config.as_deref())?);
    settings::check_target(&config, args.input.target.as_deref())?;
    let keep: Vec<&std::path::Path> = args.input.files.iter().map(|p| p.as_path()).collect();
    crate::report::output::check_writable(&args.out, &keep)?;
    let mut roster = roster::open((&args.input).into(), &config)?;
    roster.show_columns(!args.quiet && !args.json, !args.quiet);
    let defaults = Arc::new(validate::Defaults::default());
    let own_headers = roster.own_headers.clone();
    let mut writer = if args.errors_only {
        ResultsWriter::create_errors_only(&args.out, own_headers)?
    } else {
        ResultsWriter::create(&args.out, own_headers)?
    };
    let mut dups = Duplicates::default();
    let mut invalid = 0usize;
    let mut out = crate::report::stdout::Stdout::new();
    // The work overlaps, so both cores stay busy: this thread reads chunks and has each
    // one's rules checked on the pool without waiting for them, while a thread of its own
    // takes the checked chunks in input order for the duplicates and the results, up to a
    // few chunks behind.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Checking>(CHUNKS_BEHIND);
    // Rows done with go back to this thread to be freed: it made them, so each row's
    // reference to its table's layout is counted up and down on one core.
    let (done_tx, done) = std::sync::mpsc::channel();
    let sink = Sink {
        writer: &mut writer,
        out: &mut out,
        json: args.json,
        invalid: &mut invalid,
        done: done_tx,
    };
    let dups = &mut dups;
    std::thread::scope(|scope| {
        let finishing = scope.spawn(move || {
            let mut sink = sink;
            for checking in rx {
                let (rows, checked) = checking
                    .recv()
                    .map_err(|_| anyhow::anyhow!("checking the rules stopped unexpectedly"))?;
                sink.finish_chunk(rows, checked, dups)?;
            }
            anyhow::Ok(())
        });
        let read = feed(
            &mut roster,
            &config,
            &defaults,
            args.input.target.as_deref(),
            tx,
            &done,
        );
        let written = finishing
            .join()
            .map_err(|_| anyhow::anyhow!("writing the results stopped unexpectedly"))?;
        written.and(read)
    })?;
    drop(done);
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
        inputs: roster.hashes()?.to_vec(),
        skipped_sheets: roster.skipped.clone(),
    };
    writer.set_columns(&roster.columns, &defaults.notes());
    let finished = writer
        .finish(&run, &[])
        .with_context(|| format!("writing {}", args.out.display()))?;
    if args.json {
        let mut summary = report::summary_json(&run, &finished.counts, &[], Some(&finished.path));
        report::add_columns(&mut summary, &roster.columns, &defaults.notes());
        serde_json::to_writer(&mut out, &summary)?;
        out.write_all(b"\n")?;
        out.flush()?;
    } else if !args.quiet {
        for s in &roster.skipped {
            crate::say!("skipped {s}");
        }
        crate::say_part!(
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

/// A chunk whose rules are being checked on the pool: it comes back, with its verdicts,
/// from here.
type Checking = std::sync::mpsc::Receiver<(Vec<Row>, Vec<validate::Checked>)>;

/// Reads every chunk and sends it on while the pool checks its rules, until the end, an
/// error, or the receiver stops (its own error then says why). Reading the next chunk
/// (and hashing the file under it) does not wait for the rules of the one before.
fn feed(
    roster: &mut roster::Roster,
    config: &Arc<Config>,
    defaults: &Arc<validate::Defaults>,
    target_override: Option<&str>,
    tx: std::sync::mpsc::SyncSender<Checking>,
    done: &std::sync::mpsc::Receiver<Done>,
) -> anyhow::Result<()> {
    let target_override: Option<Arc<str>> = target_override.map(Arc::from);
    loop {
        done.try_iter().for_each(drop);
        let chunk = roster.next_chunk(CHUNK)?;
        if chunk.is_empty() {
            return Ok(());
        }
        let (checked, checking) = std::sync::mpsc::sync_channel(1);
        if tx.send(checking).is_err() {
            return Ok(());
        }
        let (config, target_override) = (config.clone(), target_override.clone());
        let defaults = defaults.clone();
        let mut chunk = chunk;
        rayon::spawn(move || {
            let ctx = validate::Context {
                config: &config,
                target_override: target_override.as_deref(),
            };
            // A panic here (a bug) must not abort the process, as a panic in a pool task
            // does: the chunk is then not sent, and finishing says the rules stopped.
            let rules = std::panic::AssertUnwindSafe(|| {
                defaults.apply(&mut chunk, &ctx);
                validate::check_rules(&chunk, &ctx)
            });
            if let Ok(verdicts) = std::panic::catch_unwind(rules) {
                // The receiver is gone only when finishing stopped; its error says why.
                let _ = checked.send((chunk, verdicts));
            }
        });
    }
}

/// Rows the sink is done with, to be freed by the thread that read them.
type Done = (Vec<Row>, Vec<validate::Checked>);

/// Where checked rows go: the workbook, `--json` lines, the count of invalid rows.
struct Sink<'a, W: Write> {
    writer: &'a mut ResultsWriter,
    out: &'a mut W,
    json: bool,
    invalid: &'a mut usize,
    done: std::sync::mpsc::Sender<Done>,
}

impl<W: Write> Sink<'_, W> {
    /// Checks a chunk's duplicates (in input order, after every earlier chunk), then
    /// writes each row's result.
    fn finish_chunk(
        &mut self,
        rows: Vec<Row>,
        mut checked: Vec<validate::Checked>,
        dups: &mut Duplicates,
    ) -> anyhow::Result<()> {
        validate::check_duplicates(&rows, &mut checked, dups);
        // Rows come in runs of one target: its name is copied once per run, not per row.
        let mut name: Option<String> = None;
        if self.json || self.writer.writes_valid_rows() {
            for (row, c) in rows.into_iter().zip(&checked) {
                self.write(row, c, &mut name)?;
            }
            return Ok(());
        }
        // With `--errors-only` and no `--json`, a valid row shows nowhere: it is counted,
        // and no `RowResult` is built for it. Rows stay where they are (a million rows
        // moved twice more is work of its own); an invalid one is taken out to be written.
        let mut rows = rows;
        for (row, c) in rows.iter_mut().zip(&checked) {
            if c.problems.is_empty() {
                let target = c.target.as_deref();
                self.writer
                    .count_valid(target.map(|t| t.name.as_str()), target.map(|t| t.vendor));
                continue;
            }
            let left = Row {
                index: row.index,
                layout: row.layout.clone(),
                line: row.line,
                cells: Cells::new(),
                errors: Vec::new(),
            };
            self.write(std::mem::replace(row, left), c, &mut name)?;
        }
        // Freeing a million rows is work this thread, the one in input order, need not do.
        // When the reading thread is gone (it has read everything), they are freed here.
        let _ = self.done.send((rows, checked));
        Ok(())
    }

    /// Writes one row's result; `name` is the target name of the row before.
    fn write(
        &mut self,
        row: Row,
        c: &validate::Checked,
        name: &mut Option<String>,
    ) -> anyhow::Result<()> {
        let outcome = if c.problems.is_empty() {
            Outcome::new(Status::Valid, c.action)
        } else {
            *self.invalid += 1;
            Outcome::invalid(c.action, &c.problems)
        };
        let wanted = c.target.as_ref().map(|t| t.name.as_str());
        let target = match name.take() {
            Some(n) if Some(n.as_str()) == wanted => Some(n),
            _ => wanted.map(str::to_string),
        };
        let result = RowResult {
            vendor: c.target.as_ref().map(|t| t.vendor),
            target,
            row,
            outcome,
        };
        self.writer.write(&result)?;
        if self.json {
            serde_json::to_writer(&mut *self.out, &report::json_row(&result))?;
            self.out.write_all(b"\n")?;
        }
        *name = result.target;
        Ok(())
    }
}
