//! Glue shared by every command that reads rosters: open each file, map each table, and
//! hand out rows in input order, in chunks, with the input's own headers and file hashes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::input;
use crate::mapping::{self, Overrides};
use crate::model::{InputFile, Layout, Row};

/// All tables of all input files, mapped, ready to stream.
pub struct Roster {
    /// Each table with its rows and the index of its file in `inputs`.
    tables: Vec<(Arc<Layout>, input::Rows, usize)>,
    /// The input's own headers: union over all tables, in order of first appearance.
    pub own_headers: Vec<String>,
    /// Each file with its SHA-256 (row counts are filled as rows are read). The hashes are
    /// computed on their own threads while rows are read: empty until [`Roster::hashes`].
    pub inputs: Vec<InputFile>,
    /// The hashing threads not yet joined, by file.
    hashing: Vec<std::thread::JoinHandle<std::io::Result<String>>>,
    /// Sheets that were skipped, with why.
    pub skipped: Vec<String>,
    next_index: usize,
}

/// Opens and maps every file. A file that cannot be read is an error naming it.
pub fn open(files: &[PathBuf], mapping_file: Option<&Path>) -> anyhow::Result<Roster> {
    let overrides = match mapping_file {
        Some(p) => Overrides::load(p)?,
        None => Overrides::default(),
    };
    let hashing: Vec<_> = files
        .iter()
        .map(|p| {
            let p = p.clone();
            std::thread::spawn(move || sha256_file(&p))
        })
        .collect();
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
        hashing,
        skipped: Vec::new(),
        next_index: 0,
    };
    for (file_index, path) in files.iter().enumerate() {
        let mut opened = input::open(path)?;
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
    /// Waits for the input files' SHA-256 (hashed on their own threads since `open`, so
    /// reading need not wait for them) and fills them into `inputs`.
    pub fn hashes(&mut self) -> anyhow::Result<&[InputFile]> {
        for (input, hash) in self.inputs.iter_mut().zip(self.hashing.drain(..)) {
            input.sha256 = hash
                .join()
                .map_err(|_| anyhow::anyhow!("hashing {} failed", input.path))?
                .with_context(|| format!("{}: cannot read", input.path))?;
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

/// The file's SHA-256, in hex. ring's assembly (the one rustls already uses) hashes about
/// twice as fast as a portable implementation on CPUs without SHA instructions, which
/// matters when the hash runs beside the reader on a 1M-row file.
fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finish()))
}
