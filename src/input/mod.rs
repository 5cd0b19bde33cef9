//! Files → text tables. Owns CSV/TSV (delimiter sniffing, encodings) and every workbook
//! format calamine reads; finds the header row; turns cells into text.
//! Knows nothing of fields, vendors or HTTP.

use std::path::{Path, PathBuf};

use crate::model::{CellError, Layout};

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
    pub cells: Vec<String>,
    pub errors: Vec<CellError>,
}

/// One table: a CSV file or one visible sheet with a header.
pub struct Table {
    /// File, sheet, header row and headers; `fields` is left empty for `mapping`.
    pub layout: Layout,
    /// Data rows in order, blank rows already skipped. Streams for CSV.
    pub rows: Box<dyn Iterator<Item = Result<RawRow, Error>> + Send>,
}

/// Everything found in one file.
pub struct Opened {
    pub tables: Vec<Table>,
    /// Sheets not read, with why: `Hidden (hidden sheet)`, `Notes (no header found)`.
    pub skipped: Vec<String>,
}

/// Opens `path` (format chosen by content, then by extension) and finds its tables.
pub fn open(path: &Path) -> Result<Opened, Error> {
    Err(Error::Unreadable {
        path: path.to_path_buf(),
        reason: "reading is not implemented yet".into(),
    })
}
