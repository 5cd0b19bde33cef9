//! The roster of a run, read and mapped (read → map): open each file, map each table, and
//! hand out rows in input order, in chunks, with the input's own headers and file hashes.
//! Every command that reads rosters starts here.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;

use crate::config::Config;
use crate::input::{self, digest};
use crate::mapping::{self, ColumnReport, Overrides};
use crate::model::{InputFile, Layout, Row};
use crate::settings::Input;

/// Data rows of each table whose values are sampled for the column report.
const SAMPLE_ROWS: usize = 50;

/// How an input file's SHA-256 is computed.
enum Hashing {
    /// By the reader, as it reads the file.
    AsRead(digest::Digest, PathBuf),
    /// On a thread of its own.
    Thread(std::thread::JoinHandle<std::io::Result<String>>),
}

/// All tables of all input files, mapped, ready to stream.
pub struct Roster {
    /// Each table with its rows and the index of its file in `inputs`.
    tables: Vec<(Arc<Layout>, input::Rows, usize)>,
    /// The input's own headers: union over all tables, in order of first appearance.
    pub own_headers: Vec<String>,
    /// Each file with its SHA-256 (row counts are filled as rows are read). The hashes are
    /// computed while rows are read: empty until [`Roster::hashes`].
    pub inputs: Vec<InputFile>,
    /// How each file's hash is being computed, by file.
    hashing: Vec<Hashing>,
    /// Sheets that were skipped, with why.
    pub skipped: Vec<String>,
    /// Every source column of every table read: its field, or why none (issue 27).
    pub columns: Vec<ColumnReport>,
    next_index: usize,
}

/// Opens and maps every file with the config's `[mapping]` and `--mapping` (which wins);
/// picks the sheets that are rosters (`--sheet`, else those whose header row maps an
/// identity and a target); samples each table's first rows for the column report. A file
/// that cannot be read is an error naming it.
pub fn open(args: Input<'_>, config: &Config) -> anyhow::Result<Roster> {
    let files = args.files;
    let overrides = match args.mapping {
        Some(p) => config.mapping.clone().merged(Overrides::load(p)?),
        None => config.mapping.clone(),
    };
    let mut roster = Roster {
        tables: Vec::new(),
        own_headers: Vec::new(),
        inputs: files
            .iter()
            .map(|p| InputFile {
                path: p.display().to_string(),
                sha256: String::new(),
                rows: 0,
            })
            .collect(),
        hashing: Vec::new(),
        skipped: Vec::new(),
        columns: Vec::new(),
        next_index: 0,
    };
    let mut read = Vec::new();
    for (file_index, path) in files.iter().enumerate() {
        let (mut opened, digest) = input::open_hashed(path)?;
        roster.hashing.push(match digest {
            Some(digest) => Hashing::AsRead(digest, path.clone()),
            None => {
                let p = path.clone();
                Hashing::Thread(std::thread::spawn(move || digest::sha256_file(&p)))
            }
        });
        for s in opened.skipped.drain(..) {
            roster.skipped.push(format!("{}: {s}", path.display()));
        }
        // A muster result workbook fed back: only its Errors sheet is a roster.
        let fed_back = is_result_workbook(&opened.tables);
        if fed_back {
            opened.tables.retain(|t| {
                let keep = t.layout.sheet == "Errors";
                if !keep {
                    roster.skipped.push(format!(
                        "{}: {} (a muster result workbook: only its Errors sheet is read)",
                        path.display(),
                        t.layout.sheet
                    ));
                }
                keep
            });
        }
        for table in opened.tables {
            let mut layout = table.layout;
            mapping::map_layout(&mut layout, &overrides)?;
            let (rows, samples) = sample(table.rows, layout.headers.len());
            read.push((layout, rows, file_index, samples, fed_back));
        }
    }
    // Which sheets are rosters: those `--sheet` names, else those that map what a row
    // needs (when any does; else all are read, and their rows say what they lack).
    let has_target = |l: &Layout| {
        args.target.is_some()
            || config.targets.len() == 1
            || (l.is_workbook && config.target(&l.sheet).is_some())
    };
    let picked = |l: &Layout| args.sheets.iter().any(|s| s.eq_ignore_ascii_case(&l.sheet));
    for name in args.sheets {
        let sheets = || read.iter().map(|(l, ..)| l).filter(|l| l.is_workbook);
        if !sheets().any(|l| l.sheet.eq_ignore_ascii_case(name)) {
            let names: Vec<String> = sheets().map(|l| l.sheet.clone()).collect();
            anyhow::bail!(
                "--sheet {name}: no such sheet (sheets: {})",
                names.join(", ")
            );
        }
    }
    let any_roster = read
        .iter()
        .any(|(l, ..)| mapping::needs(l, has_target(l)).is_none());
    for (layout, rows, file_index, samples, fed_back) in read {
        let why = if !args.sheets.is_empty() && layout.is_workbook {
            (!picked(&layout)).then(|| "not picked by --sheet".to_string())
        } else if layout.is_workbook && any_roster {
            mapping::needs(&layout, has_target(&layout))
        } else {
            None
        };
        if let Some(why) = why {
            roster
                .skipped
                .push(format!("{}: {} ({why})", layout.file, layout.sheet));
            continue;
        }
        let mut columns = ColumnReport::of_table(&layout, &overrides, &samples);
        // An Errors sheet fed back: muster's own columns from the earlier run (status,
        // error, where the row came from) are not the roster's, and are not echoed again.
        let earlier = |h: &str| fed_back && crate::report::RESULT_COLUMNS.contains(&h);
        for c in columns.iter_mut().filter(|c| earlier(&c.header)) {
            c.earlier_run();
        }
        roster.columns.extend(columns);
        for h in layout.headers.iter().filter(|h| !earlier(h)) {
            if !roster.own_headers.iter().any(|o| o == h) {
                roster.own_headers.push(h.clone());
            }
        }
        roster.tables.push((Arc::new(layout), rows, file_index));
    }
    Ok(roster)
}

/// The first non-empty values of each of `width` columns, from the first rows of `rows`;
/// and the rows, whole again.
fn sample(mut rows: input::Rows, width: usize) -> (input::Rows, Vec<Vec<String>>) {
    let first: Vec<_> = rows.by_ref().take(SAMPLE_ROWS).collect();
    let mut samples = vec![Vec::new(); width];
    for raw in first.iter().flatten() {
        for (col, values) in samples.iter_mut().enumerate() {
            if let Some(v) = raw.cells.get(col).filter(|v| !v.is_empty()) {
                values.push(v.to_string());
            }
        }
    }
    (Box::new(first.into_iter().chain(rows)), samples)
}

impl Roster {
    /// Prints the column report before the work starts (with `table`), and each ignored
    /// column that looks like a field as a warning (with `warn`: `validate`, `audit`).
    pub fn show_columns(&self, table: bool, warn: bool) {
        if table {
            crate::say_part!("{}", crate::report::columns_table(&self.columns));
        }
        if warn {
            for finding in self.columns.iter().filter_map(ColumnReport::finding) {
                crate::say!("warning: {finding}");
            }
        }
    }

    /// Exit 2, naming each column, while an ignored column looks like a field, unless
    /// `--allow-unmapped` (an import must not drop data it was given).
    pub fn refuse_unmapped(&self, allow: bool) -> anyhow::Result<()> {
        match mapping::unmapped(&self.columns) {
            Some(why) if !allow => Err(anyhow::anyhow!(why)),
            _ => Ok(()),
        }
    }

    /// The input files' SHA-256, filled into `inputs`. A text file is hashed as its rows
    /// are read, and a workbook on a thread of its own since `open`, so reading never
    /// waits for a hash; a file whose rows were not all read yet is hashed here.
    pub fn hashes(&mut self) -> anyhow::Result<&[InputFile]> {
        for (input, hashing) in self.inputs.iter_mut().zip(self.hashing.drain(..)) {
            let hash = match hashing {
                Hashing::AsRead(digest, path) => match digest.get() {
                    Some(hash) => Ok(hash.clone()),
                    None => digest::sha256_file(&path),
                },
                Hashing::Thread(thread) => thread
                    .join()
                    .map_err(|_| anyhow::anyhow!("hashing {} failed", input.path))?,
            };
            input.sha256 = hash.with_context(|| format!("{}: cannot read", input.path))?;
        }
        Ok(&self.inputs)
    }

    /// The next up to `size` rows in input order; empty when all are read.
    pub fn next_chunk(&mut self, size: usize) -> anyhow::Result<Vec<Row>> {
        let mut out = Vec::with_capacity(size.min(65_536));
        while out.len() < size {
            let Some((layout, rows, file)) = self.tables.first_mut() else {
                break;
            };
            match rows.next() {
                Some(raw) => {
                    let raw = raw?;
                    if let Some(input) = self.inputs.get_mut(*file) {
                        input.rows += 1;
                    }
                    out.push(Row {
                        index: self.next_index,
                        layout: layout.clone(),
                        line: raw.line,
                        cells: raw.cells,
                        errors: raw.errors,
                    });
                    self.next_index += 1;
                }
                None => {
                    drop(self.tables.remove(0));
                }
            }
        }
        Ok(out)
    }

    /// Every row, then the files' hashes (a text file is hashed as it is read), for the
    /// commands that plan (import, audit); a roster without a data row cannot run.
    pub fn read_whole(&mut self) -> anyhow::Result<Vec<Row>> {
        let rows = self.read_all()?;
        self.hashes()?;
        if rows.is_empty() {
            let files: Vec<&str> = self.inputs.iter().map(|f| f.path.as_str()).collect();
            anyhow::bail!("no data rows in {}", files.join(", "));
        }
        Ok(rows)
    }

    /// Every remaining row (for commands that need them all at once, like `import`).
    pub fn read_all(&mut self) -> anyhow::Result<Vec<Row>> {
        let mut all = Vec::new();
        loop {
            let chunk = self.next_chunk(65_536)?;
            if chunk.is_empty() {
                return Ok(all);
            }
            all.extend(chunk);
        }
    }

    /// Rows handed out so far.
    pub fn rows_read(&self) -> usize {
        self.next_index
    }
}

/// Whether the tables are those of a workbook muster wrote (`Results` starting with
/// DESIGN's columns, beside an `Errors` sheet).
fn is_result_workbook(tables: &[input::Table]) -> bool {
    let results = tables.iter().any(|t| {
        t.layout.sheet == "Results"
            && t.layout
                .headers
                .iter()
                .take(3)
                .map(String::as_str)
                .eq(crate::report::RESULT_COLUMNS[..3].iter().copied())
    });
    results && tables.iter().any(|t| t.layout.sheet == "Errors")
}
