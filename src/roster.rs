//! The roster of a run, read and mapped (read → map): open each file, map each table, and
//! hand out rows in input order, in chunks, with the input's own headers and file hashes.
//! Every command that reads rosters starts here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::input::{self, digest};
use crate::mapping::{self, Overrides};
use crate::model::{InputFile, Layout, Row};

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
    next_index: usize,
}

/// Opens and maps every file and reads all their rows, then their hashes (a text file
/// is hashed as it is read). Rows are needed whole by the commands that plan (import,
/// audit); a roster without a data row cannot run.
pub fn read_whole(
    files: &[PathBuf],
    mapping_file: Option<&Path>,
) -> anyhow::Result<(Roster, Vec<Row>)> {
    let mut roster = open(files, mapping_file)?;
    let rows = roster.read_all()?;
    roster.hashes()?;
    if rows.is_empty() {
        anyhow::bail!("no data rows in {}", crate::settings::display_paths(files));
    }
    Ok((roster, rows))
}

/// Opens and maps every file. A file that cannot be read is an error naming it.
pub fn open(files: &[PathBuf], mapping_file: Option<&Path>) -> anyhow::Result<Roster> {
    let overrides = match mapping_file {
        Some(p) => Overrides::load(p)?,
        None => Overrides::default(),
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
        next_index: 0,
    };
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
        if is_result_workbook(&opened.tables) {
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
            for h in &layout.headers {
                if !roster.own_headers.iter().any(|o| o == h) {
                    roster.own_headers.push(h.clone());
                }
            }
            roster
                .tables
                .push((Arc::new(layout), table.rows, file_index));
        }
    }
    Ok(roster)
}

impl Roster {
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
