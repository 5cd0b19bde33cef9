//! Files → text tables. Owns CSV/TSV (delimiter sniffing, encodings) and every workbook
//! format calamine reads; finds the header row; turns cells into text.
//! Knows nothing of fields, vendors or HTTP.
//!
//! - The format is chosen by content: a zip archive is xlsx/xlsm/xlsb/ods, an OLE file is
//!   xls, anything else is text (so an xlsx named `.csv` is read as a workbook). A file
//!   with a workbook extension that holds text is read as CSV only if it is UTF-8 or
//!   UTF-16; other bytes there are `Error::Unreadable`.
//! - The header row is found by a heuristic in `input::header` that knows no field names
//!   (so `input` needs no hook from `mapping`): title rows above it are skipped, blank
//!   rows are skipped everywhere but keep their row numbers.
//! - Every header and value is trimmed, non-breaking spaces included (`input::cell`).
//! - Data beyond the header's width is never dropped: such columns in the first rows (those
//!   the header search reads) are named `column F`, and a later row with values beyond the
//!   width gets a [`CellError`] quoting them (`Beyond`), whose `col` is then at or beyond
//!   `headers.len()`; CSV files and workbook sheets alike.
//! - Rows stream: a table's rows are read on a thread of its own and handed over a chunk at
//!   a time (`input::stream`), so memory does not grow with the file (xls and ods sheets
//!   excepted: calamine reads those whole).
//! - A workbook sheet needs at least two labels in its header row to be a table; a CSV
//!   file may have one column.

mod cell;
mod csv;
pub mod digest;
mod encoding;
mod excel;
#[doc(hidden)]
pub mod fuzz;
mod header;
mod limits;
mod stream;

use crate::model::{CellError, Cells, Layout};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A file that cannot be read at all: exit 2, naming the file and the reason.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
}

/// One data row as read, before mapping.
#[derive(Debug, Clone, Default)]
pub struct RawRow {
    /// 1-based row number in the sheet or file.
    pub line: u32,
    /// Trimmed cell texts, padded to the header's width.
    pub cells: Cells,
    /// Cells that hold a spreadsheet error, bytes that are not UTF-8, or data beyond the
    /// header's width; `text` is the phrase printed after the cell's name.
    pub errors: Vec<CellError>,
}

/// The data rows of a table, in order.
pub type Rows = Box<dyn Iterator<Item = Result<RawRow, Error>> + Send>;

/// One table: a CSV file or one visible sheet with a header.
pub struct Table {
    /// File, sheet, header row and headers; `fields` is left empty for `mapping`.
    pub layout: Layout,
    /// Data rows in order, blank rows already skipped. Streams for CSV.
    pub rows: Rows,
}

/// Everything found in one file.
pub struct Opened {
    /// The tables in file order: one for a CSV file, one per visible sheet with a header.
    pub tables: Vec<Table>,
    /// Sheets not read, with why: `Hidden (hidden sheet)`, `Notes (no header found)`.
    pub skipped: Vec<String>,
}

/// Extensions of the workbook formats; a file named so must hold a workbook or Unicode text.
const WORKBOOK_EXTENSIONS: [&str; 6] = ["xlsx", "xlsm", "xlsb", "xls", "ods", "xltx"];

/// Opens `path` (format chosen by content, then by extension) and finds its tables.
pub fn open(path: &Path) -> Result<Opened, Error> {
    open_hashed(path).map(|(opened, _)| opened)
}

/// [`open`], and for a text file, where its SHA-256 appears once its rows are all read
/// (it is hashed as it is read: see [`digest`]).
/// Opens `path` for reading only when it is a regular file: a FIFO would block the run
/// (opened without waiting for a writer, then refused), a device or a folder is no roster.
fn open_regular(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // No effect on a regular file; a FIFO opens at once instead of waiting.
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a FIFO, a device or a folder is not read as a roster)",
        ));
    }
    Ok(file)
}

pub fn open_hashed(path: &Path) -> Result<(Opened, Option<digest::Digest>), Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = digest::Hashing::new(open_regular(path).map_err(io)?);
    let mut sample = Vec::with_capacity(encoding::SAMPLE);
    (&mut file)
        .take(encoding::SAMPLE as u64)
        .read_to_end(&mut sample)
        .map_err(io)?;
    if sample.is_empty() {
        return Err(Error::Unreadable {
            path: path.to_path_buf(),
            reason: "the file is empty".into(),
        });
    }
    let complete = sample.len() < encoding::SAMPLE;
    match container(&sample) {
        Some(container) => {
            drop(file);
            Ok((excel::open(path, container)?, None))
        }
        None => {
            let ext = path
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let strict = WORKBOOK_EXTENSIONS.contains(&ext.as_str());
            let digest = file.digest();
            Ok((
                csv::open(path, file, sample, complete, strict)?,
                Some(digest),
            ))
        }
    }
}

/// The workbook container the first bytes show, if any.
fn container(sample: &[u8]) -> Option<excel::Container> {
    if sample.starts_with(b"PK\x03\x04") {
        Some(excel::Container::Zip)
    } else if sample.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some(excel::Container::Ole)
    } else {
        None
    }
}

/// The non-empty values of a row beyond its table's width, reported as one problem on the
/// first such column, quoting them: nothing is dropped silently.
#[derive(Default)]
pub(crate) struct Beyond(Option<(usize, Vec<String>)>);

impl Beyond {
    /// Notes the text of column `col` (at or beyond the width); an empty text is nothing.
    pub(crate) fn add(&mut self, col: usize, text: &str) {
        if !text.is_empty() {
            self.0
                .get_or_insert_with(|| (col, Vec::new()))
                .1
                .push(format!("\"{text}\""));
        }
    }

    /// The problem, when some value was beyond the width.
    pub(crate) fn error(self) -> Option<CellError> {
        self.0.map(|(col, values)| CellError {
            col,
            text: format!(
                "holds data beyond the last column of the header: {}",
                values.join(", ")
            ),
        })
    }
}
