//! Outcomes → the result workbook (rust_xlsxwriter, constant memory), JSON lines and the
//! terminal summary. Reads outcomes only; knows nothing of HTTP.

use std::path::{Path, PathBuf};

use crate::model::{RowResult, RunInfo, TargetStats};

/// The workbook cannot be written: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
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

/// Writes the result workbook row by row, in input order.
pub struct ResultsWriter {
    path: PathBuf,
}

impl ResultsWriter {
    /// Starts a workbook at `path`; `own_headers` are the input's own columns (union of all
    /// tables' headers, in order of first appearance), echoed after DESIGN's columns.
    pub fn create(path: &Path, own_headers: Vec<String>) -> Result<ResultsWriter, Error> {
        let _ = own_headers;
        Ok(ResultsWriter {
            path: path.to_path_buf(),
        })
    }

    /// Adds one row to `Results` (and `Errors` / `Manual` when it belongs there).
    pub fn write(&mut self, result: &RowResult) -> Result<(), Error> {
        let _ = result;
        Ok(())
    }

    /// Writes `Summary` and closes the file.
    pub fn finish(self, run: &RunInfo, stats: &[TargetStats]) -> Result<(), Error> {
        let _ = (run, stats);
        Err(Error::Write {
            path: self.path,
            message: "the workbook writer is not implemented yet".into(),
        })
    }
}

/// One row as the JSON object `--json` prints: the `Results` columns plus `fields`.
pub fn json_row(result: &RowResult) -> serde_json::Value {
    let _ = result;
    serde_json::Value::Null
}
