//! Outcomes → the result workbook (rust_xlsxwriter, constant memory), JSON lines and the
//! terminal summary. Reads outcomes only; knows nothing of HTTP, vendors' wire formats or
//! how rows were read.
//!
//! - [`workbook`]: `ResultsWriter`, streaming `Results` / `Errors`, assembling the file;
//! - `summary_sheet`: the `Summary` sheet and its chart;
//! - [`manual`]: the AROBS worksheet (steps and users to type);
//! - [`safe`]: no formula, no secret, no over-long cell (the reasoning is documented there);
//! - [`counts`]: rows per target and status, kept while writing;
//! - [`summary`]: the terminal table; [`ending`]: the end of a run on the terminal (the
//!   table, the time, the first failures, the next step); [`json`]: `--json` rows and summary; [`stdout`]:
//!   standard output that survives a reader that stops early;
//! - [`style`]: formats and status colours; [`sheet`]: what every sheet shares (Excel's
//!   row limit, column widths, writing a text cell).
//! - `columns`: the column report (terminal, `--json`, the `Columns` sheet);

pub mod audit;
mod columns;
pub mod counts;
pub mod ending;
pub mod json;
pub mod manual;
pub mod output;
pub mod plan;
pub mod safe;
pub mod sheet;
pub mod stdout;
pub mod style;
pub mod summary;
mod summary_sheet;
pub mod workbook;

use std::path::PathBuf;

pub use columns::{add_columns, columns_table};
pub use counts::{Counts, TargetCounts};
pub use ending::{Ending, Failures};
pub use json::{json_row, summary_json};
pub use summary::summary_table;
pub use workbook::{Finished, ResultsWriter};

/// The workbook cannot be written: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Found before anything is sent (`output`).
    #[error("cannot write the results to {path}: {why}")]
    Output { path: PathBuf, why: String },
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the workbook {path}")]
    Xlsx {
        path: PathBuf,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
}

/// The first columns of `Results`, exactly as DESIGN names them.
pub const RESULT_COLUMNS: [&str; 12] = [
    "source_file",
    "sheet",
    "row",
    "target",
    "vendor",
    "action",
    "status",
    "user_id",
    "other_ids",
    "http_status",
    "error",
    "attempts",
];
