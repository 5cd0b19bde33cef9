//! The result workbook, written as rows arrive: `Results`, `Errors` and `Manual` stream in
//! rust_xlsxwriter's constant-memory mode (each sheet's XML goes to a temporary file, one row
//! in memory at a time); `Summary` is built at the end from counters kept while writing, and
//! put first. The workbook is saved to a temporary file beside the destination and renamed
//! over it, so a crash never leaves half a workbook under the real name.
//!
//! `Errors` holds the `invalid`, `failed` and `partial` rows with the input's own columns
//! (password cells left empty), then `source_file`, `sheet` and `row` (the roster row it
//! came from), `status` and `error`; when the input has no target column (target from
//! `--target` or a sheet name) a `target` column comes before them, so the sheet can be
//! fed back to `muster import` as it is. Fed back, those columns of muster's are not
//! echoed again, and `Results` and `Errors` name the roster row they point at.
//!
//! Which cell is text and which a number, and why no cell can become a formula or show a
//! password: see [`super::safe`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rust_xlsxwriter::{ColNum, RowNum, Workbook, Worksheet, XlsxError};

use super::counts::Counts;
use super::manual::{self, Spool};
use super::safe::{self, MASK};
use super::sheet::{EXCEL_ROWS, WIDTH_SAMPLE, Widths, put_text};
use super::style::Formats;
use super::{Error, RESULT_COLUMNS};
use crate::model::{Layout, RowResult, RunInfo, Status, TargetStats, VendorKind};

/// Where the workbook was written and what it holds; returned by `finish`.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The workbook's path.
    pub path: PathBuf,
    /// Rows per target and status.
    pub counts: Counts,
    /// Users waiting on the `Manual` sheet.
    pub manual: u64,
}

/// Writes the result workbook row by row, in input order.
pub struct ResultsWriter {
    path: PathBuf,
    staging: tempfile::NamedTempFile,
    workbook: Workbook,
    formats: Formats,
    own_headers: Vec<String>,
    own_index: HashMap<String, usize>,
    maps: Vec<(Arc<Layout>, Arc<ColumnMap>)>,
    /// `None` when only Summary and Errors are written (`validate --errors-only`).
    results: Option<Pages>,
    errors: Pages,
    manual: Spool,
    counts: Counts,
    /// Whether `Errors` has its own `target` column (the input has none).
    errors_target: bool,
    /// The column report and the defaults applied, for the `Columns` sheet.
    columns: Vec<crate::mapping::ColumnReport>,
    defaults: Vec<String>,
}

/// How one input table's columns land in the workbook.
struct ColumnMap {
    /// Per input column: the index in `own_headers`.
    own: Vec<Option<usize>>,
    /// Per input column: whether it holds secrets.
    secret: Vec<bool>,
    /// The columns `source_file`, `sheet` and `row` of an Errors sheet fed back, which
    /// name the roster row it came from (not among the input's own columns).
    origin: Option<[usize; 3]>,
}

impl ColumnMap {
    fn new(layout: &Layout, own_index: &HashMap<String, usize>) -> ColumnMap {
        let secret = safe::secret_columns(layout);
        let find = |name: &str| {
            layout
                .headers
                .iter()
                .position(|h| h == name)
                .filter(|_| !own_index.contains_key(name))
        };
        let origin = match ORIGIN.map(find) {
            [Some(f), Some(s), Some(r)] => Some([f, s, r]),
            _ => None,
        };
        ColumnMap {
            own: layout
                .headers
                .iter()
                .map(|h| own_index.get(h).copied())
                .collect(),
            secret,
            origin,
        }
    }

    /// Where `row` came from: the roster row an Errors sheet fed back names, else the
    /// row itself.
    fn origin<'r>(&self, row: &'r crate::model::Row) -> (&'r str, &'r str, u32) {
        let layout = &row.layout;
        let own = (layout.file.as_str(), layout.sheet.as_str(), row.line);
        let Some([f, s, r]) = self.origin else {
            return own;
        };
        match (
            row.cell(f),
            row.cell(s),
            row.cell(r).and_then(|r| r.parse().ok()),
        ) {
            (Some(f), Some(s), Some(r)) => (f, s, r),
            _ => own,
        }
    }
}

/// The columns of `Errors` that name the roster row a line came from (issue 27).
const ORIGIN: [&str; 3] = ["source_file", "sheet", "row"];

impl ResultsWriter {
    /// Starts a workbook at `path`; `own_headers` are the input's own columns (union of all
    /// tables' headers, in order of first appearance), echoed after DESIGN's columns.
    ///
    /// Fails at once, naming the path, when the file could not be written there: the
    /// directory is missing or read-only, or the path is a directory.
    pub fn create(path: &Path, own_headers: Vec<String>) -> Result<ResultsWriter, Error> {
        Self::create_paged(path, own_headers, EXCEL_ROWS)
    }

    /// Like [`ResultsWriter::create`], but the workbook has no `Results` sheet: only
    /// `Summary` (all rows counted) and `Errors` (`muster validate --errors-only`, for files
    /// too large to echo row by row).
    pub fn create_errors_only(
        path: &Path,
        own_headers: Vec<String>,
    ) -> Result<ResultsWriter, Error> {
        Self::build(path, own_headers, EXCEL_ROWS, false)
    }

    /// [`ResultsWriter::create`] with a smaller page size, so tests can see continuation
    /// sheets without a million rows.
    #[doc(hidden)]
    pub fn create_paged(
        path: &Path,
        own_headers: Vec<String>,
        page_rows: u32,
    ) -> Result<ResultsWriter, Error> {
        Self::build(path, own_headers, page_rows, true)
    }

    fn build(
        path: &Path,
        own_headers: Vec<String>,
        page_rows: u32,
        with_results: bool,
    ) -> Result<ResultsWriter, Error> {
        let fail = |message: String| Error::Write {
            path: path.to_path_buf(),
            message,
        };
        if path.is_dir() {
            return Err(fail("it is a directory".into()));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(fail(format!("directory {} does not exist", dir.display())));
        }
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().readonly() {
                return Err(fail("the file is read-only".into()));
            }
        }
        let staging = tempfile::Builder::new()
            .prefix(".muster-")
            .suffix(".xlsx.part")
            .tempfile_in(&dir)
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;

        let mut workbook = Workbook::new();
        // The sheets are compressed when the workbook is saved, after every row: the
        // fastest level makes that wait several times shorter for a somewhat larger file.
        workbook.set_zip_compression_level(1);
        let formats = Formats::new();
        let own_index = own_headers
            .iter()
            .enumerate()
            .rev()
            .map(|(i, h)| (h.clone(), i))
            .collect();
        let xlsx = |source| Error::Xlsx {
            path: path.to_path_buf(),
            source,
        };

        let mut results_header: Vec<String> =
            RESULT_COLUMNS.iter().map(|s| s.to_string()).collect();
        results_header.extend(own_headers.iter().cloned());
        let numeric = [2, 9, 11];
        let results_text: Vec<bool> = (0..results_header.len())
            .map(|c| !numeric.contains(&c))
            .collect();
        let results = match with_results {
            true => Some(
                Pages::new(
                    &mut workbook,
                    &formats,
                    "Results",
                    results_header,
                    results_text,
                    page_rows,
                )
                .map_err(xlsx)?,
            ),
            false => None,
        };

        let mut errors_header = own_headers.clone();
        // A roster whose target came from `--target` or a sheet name has no target column;
        // the Errors sheet is fed back as it is, so it carries the resolved target itself.
        let errors_target = !own_headers.iter().any(|h| names_target(h));
        if errors_target {
            errors_header.push("target".into());
        }
        errors_header.extend(ORIGIN.map(String::from));
        errors_header.push("status".into());
        errors_header.push("error".into());
        let errors_text = vec![true; errors_header.len()];
        let errors = Pages::new(
            &mut workbook,
            &formats,
            "Errors",
            errors_header,
            errors_text,
            page_rows,
        )
        .map_err(xlsx)?;

        Ok(ResultsWriter {
            path: path.to_path_buf(),
            staging,
            workbook,
            formats,
            own_headers,
            own_index,
            columns: Vec::new(),
            defaults: Vec::new(),
            maps: Vec::new(),
            results,
            errors,
            manual: Spool::default(),
            counts: Counts::default(),
            errors_target,
        })
    }

    /// Rows written so far, per target and status.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Adds one row to `Results` (and `Errors` / `Manual` when it belongs there).
    pub fn write(&mut self, result: &RowResult) -> Result<(), Error> {
        self.write_row(result).map_err(|source| Error::Xlsx {
            path: self.path.clone(),
            source,
        })?;
        if result.outcome.status == Status::Manual {
            self.manual.add(result).map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        }
        self.counts.add(result);
        Ok(())
    }

    /// Whether every row goes to a sheet (`Results`); without it (`--errors-only`) a
    /// valid row is only counted, and [`ResultsWriter::count_valid`] does that alone.
    pub fn writes_valid_rows(&self) -> bool {
        self.results.is_some()
    }

    /// What [`ResultsWriter::write`] does with a `valid` row when no sheet shows valid
    /// rows (see [`ResultsWriter::writes_valid_rows`]): counts it for `target`, and
    /// nothing else, so that a million valid rows cost no `RowResult` each.
    pub fn count_valid(&mut self, target: Option<&str>, vendor: Option<VendorKind>) {
        debug_assert!(!self.writes_valid_rows());
        self.counts.add_status(target, vendor, Status::Valid);
    }

    fn column_map(&mut self, layout: &Arc<Layout>) -> Arc<ColumnMap> {
        // Tables are few and rows come table by table: the last one almost always matches.
        if let Some((_, map)) = self.maps.iter().rev().find(|(l, _)| Arc::ptr_eq(l, layout)) {
            return map.clone();
        }
        let map = Arc::new(ColumnMap::new(layout, &self.own_index));
        self.maps.push((layout.clone(), map.clone()));
        map
    }

    fn write_row(&mut self, result: &RowResult) -> Result<(), XlsxError> {
        let row = &result.row;
        let layout = &row.layout;
        let map = self.column_map(layout);
        let outcome = &result.outcome;
        // Secrets are looked up only for rows with an error to redact.
        let error = outcome
            .error
            .as_deref()
            .map(|e| safe::redact(e, &safe::row_secrets(&row.cells, &map.secret)));
        let f = &self.formats;
        let status = outcome.status;
        let (file, sheet_name, line) = map.origin(row);

        if let Some(results) = self.results.as_mut() {
            let (sheet, w, r, sample) = results.next_row(&mut self.workbook, f)?;
            put_text(sheet, r, 0, file, f, w, sample)?;
            put_text(sheet, r, 1, sheet_name, f, w, sample)?;
            sheet.write_number(r, 2, line)?;
            w.see(2, 7, sample);
            if let Some(t) = &result.target {
                put_text(sheet, r, 3, t, f, w, sample)?;
            }
            if let Some(v) = result.vendor {
                put_text(sheet, r, 4, v.key(), f, w, sample)?;
            }
            put_text(sheet, r, 5, outcome.action.key(), f, w, sample)?;
            sheet.write_string_with_format(r, 6, status.key(), f.status(status))?;
            w.see(6, status.key().len(), sample);
            if let Some(id) = &outcome.user_id {
                put_text(sheet, r, 7, id, f, w, sample)?;
            }
            if !outcome.other_ids.is_empty() {
                put_text(sheet, r, 8, &outcome.other_ids_text(), f, w, sample)?;
            }
            if let Some(code) = outcome.http_status {
                sheet.write_number(r, 9, code)?;
            }
            if let Some(e) = &error {
                put_text(sheet, r, 10, e, f, w, sample)?;
            }
            sheet.write_number(r, 11, outcome.attempts)?;
            let first_own = RESULT_COLUMNS.len() as ColNum;
            for (i, cell) in row.cells.iter().enumerate() {
                let Some(Some(j)) = map.own.get(i) else {
                    continue;
                };
                if cell.is_empty() {
                    continue;
                }
                let value = if map.secret[i] { MASK } else { cell };
                put_text(sheet, r, first_own + *j as ColNum, value, f, w, sample)?;
            }
        }

        if matches!(status, Status::Invalid | Status::Failed | Status::Partial) {
            let (sheet, w, r, sample) = self.errors.next_row(&mut self.workbook, f)?;
            for (i, cell) in row.cells.iter().enumerate() {
                let Some(Some(j)) = map.own.get(i) else {
                    continue;
                };
                // Secrets stay out; see `safe` for why the cell is left empty here.
                if cell.is_empty() || map.secret[i] {
                    continue;
                }
                put_text(sheet, r, *j as ColNum, cell, f, w, sample)?;
            }
            let mut n = self.own_headers.len() as ColNum;
            if self.errors_target {
                if let Some(t) = &result.target {
                    put_text(sheet, r, n, t, f, w, sample)?;
                }
                n += 1;
            }
            put_text(sheet, r, n, file, f, w, sample)?;
            put_text(sheet, r, n + 1, sheet_name, f, w, sample)?;
            sheet.write_number(r, n + 2, line)?;
            n += 3;
            sheet.write_string_with_format(r, n, status.key(), f.status(status))?;
            if let Some(e) = &error {
                put_text(sheet, r, n + 1, e, f, w, sample)?;
            }
        }
        Ok(())
    }

    /// Gives the workbook its `Columns` sheet: every source column and the values muster
    /// gave rows itself (issue 27).
    pub fn set_columns(&mut self, columns: &[crate::mapping::ColumnReport], defaults: &[String]) {
        self.columns = columns.to_vec();
        self.defaults = defaults.to_vec();
    }

    /// Writes `Summary` and `Manual`, and saves the workbook under its name.
    pub fn finish(mut self, run: &RunInfo, stats: &[TargetStats]) -> Result<Finished, Error> {
        let path = self.path.clone();
        let xlsx = |source| Error::Xlsx {
            path: path.clone(),
            source,
        };
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let manual_users = self.manual.len();

        let mut summary = Worksheet::new();
        summary.set_name("Summary").map_err(xlsx)?;
        super::summary_sheet::write_summary(
            &mut summary,
            &self.formats,
            run,
            &self.counts,
            stats,
            manual_users,
        )
        .map_err(xlsx)?;
        // Row 1 of Summary is free (the title above, the table below): say there which
        // sheets continue on others, so a reader does not take `Results` for all rows.
        let notes: Vec<String> = self
            .results
            .iter()
            .chain([&self.errors])
            .filter_map(Pages::continued)
            .collect();
        if !notes.is_empty() {
            summary
                .write_string_with_format(1, 0, notes.join("; "), &self.formats.label)
                .map_err(xlsx)?;
        }

        let manual = if self.manual.is_empty() {
            None
        } else {
            let spool = std::mem::take(&mut self.manual).drain().map_err(io)?;
            Some(
                manual::write_manual(&mut self.workbook, &self.formats, spool, manual_users)
                    .map_err(xlsx)?,
            )
        };

        summary.set_active(true);
        self.workbook.push_worksheet(summary);
        if let Some(results) = self.results {
            for sheet in results.finish().map_err(xlsx)? {
                self.workbook.push_worksheet(sheet);
            }
        }
        for sheet in self.errors.finish().map_err(xlsx)? {
            self.workbook.push_worksheet(sheet);
        }
        if let Some(sheet) = manual {
            self.workbook.push_worksheet(sheet);
        }
        // Last, so the sheets readers and scripts know keep their places.
        super::columns::add_columns_sheet(
            &mut self.workbook,
            &self.formats,
            &self.columns,
            &self.defaults,
        )
        .map_err(xlsx)?;

        self.workbook
            .save_to_writer(self.staging.as_file_mut())
            .map_err(xlsx)?;
        readable_by_others(&self.staging, &self.path).map_err(io)?;
        self.staging.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(Finished {
            path: self.path,
            counts: self.counts,
            manual: manual_users,
        })
    }
}

/// Whether a header is the roster's `target` column (its name or an alias, normalised as
/// `mapping` does: case, spaces and punctuation ignored).
fn names_target(header: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let h = norm(header);
    let field = crate::model::Field::Target;
    h == norm(field.name()) || field.aliases().iter().any(|a| norm(a) == h)
}

/// The staging file is private (0600); the workbook holds no secret, so give it the mode
/// of the file it replaces, or the usual 0644.
#[cfg(unix)]
fn readable_by_others(staging: &tempfile::NamedTempFile, dest: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dest)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    staging
        .as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn readable_by_others(_: &tempfile::NamedTempFile, _: &Path) -> std::io::Result<()> {
    Ok(())
}

/// A streamed sheet and its continuation sheets when it outgrows Excel's row limit.
struct Pages {
    name: &'static str,
    header: Vec<String>,
    text: Vec<bool>,
    sheets: Vec<Worksheet>,
    /// Next row to write on the last sheet.
    next: u32,
    page_rows: u32,
    /// Data rows written over all pages.
    rows: u64,
    widths: Widths,
}

impl Pages {
    fn new(
        workbook: &mut Workbook,
        formats: &Formats,
        name: &'static str,
        header: Vec<String>,
        text: Vec<bool>,
        page_rows: u32,
    ) -> Result<Pages, XlsxError> {
        let widths = Widths {
            chars: header.iter().map(|h| h.chars().count()).collect(),
        };
        let mut pages = Pages {
            name,
            header,
            text,
            sheets: Vec::new(),
            next: 0,
            page_rows: page_rows.max(2),
            rows: 0,
            widths,
        };
        pages.add_page(workbook, formats)?;
        Ok(pages)
    }

    fn add_page(&mut self, workbook: &mut Workbook, formats: &Formats) -> Result<(), XlsxError> {
        let mut sheet = workbook.new_worksheet_with_constant_memory()?;
        let name = match self.sheets.len() {
            0 => self.name.to_string(),
            n => format!("{} ({})", self.name, n + 1),
        };
        sheet.set_name(name)?;
        for (c, is_text) in self.text.iter().enumerate() {
            // Small numbers centred, so they do not run into the text beside them.
            let format = if *is_text {
                &formats.text
            } else {
                &formats.centred
            };
            sheet.set_column_format(c as ColNum, format)?;
        }
        for (c, h) in self.header.iter().enumerate() {
            // The roster's own headers are its text: a header that starts like a formula
            // stays text, as a value does, even once edited in a spreadsheet.
            let h = safe::fit_cell(h);
            let format = if safe::looks_like_formula(&h) {
                &formats.header_quoted
            } else {
                &formats.header
            };
            sheet.write_string_with_format(0, c as ColNum, h.as_ref(), format)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        sheet.set_landscape();
        sheet.set_repeat_rows(0, 0)?;
        self.sheets.push(sheet);
        self.next = 1;
        Ok(())
    }

    /// The sheet and row for the next data row, and whether it is sampled for widths.
    fn next_row(
        &mut self,
        workbook: &mut Workbook,
        formats: &Formats,
    ) -> Result<(&mut Worksheet, &mut Widths, RowNum, bool), XlsxError> {
        if self.next >= self.page_rows {
            self.add_page(workbook, formats)?;
        }
        let r = self.next;
        self.next += 1;
        self.rows += 1;
        let sample = self.rows <= WIDTH_SAMPLE as u64;
        let sheet = self
            .sheets
            .last_mut()
            .expect("Pages always holds at least one sheet");
        Ok((sheet, &mut self.widths, r, sample))
    }

    /// When the rows took more than one sheet, a line saying so: `Results: 5000000 rows
    /// on 5 sheets, Results to Results (5) (at most 1048575 rows a sheet, Excel's limit)`.
    fn continued(&self) -> Option<String> {
        let count = self.sheets.len();
        (count > 1).then(|| {
            format!(
                "{name}: {rows} rows on {count} sheets, {name} to {name} ({count}) (at most {per} rows a sheet, Excel's limit)",
                name = self.name,
                rows = self.rows,
                per = self.page_rows - 1,
            )
        })
    }

    fn finish(self) -> Result<Vec<Worksheet>, XlsxError> {
        let last_col = (self.header.len().max(1) - 1) as ColNum;
        let count = self.sheets.len();
        let mut out = Vec::with_capacity(count);
        for (i, mut sheet) in self.sheets.into_iter().enumerate() {
            let last_row = if i + 1 == count {
                self.next - 1
            } else {
                self.page_rows - 1
            };
            self.widths.apply(&mut sheet)?;
            sheet.autofilter(0, 0, last_row.max(1), last_col)?;
            out.push(sheet);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<ResultsWriter>();
    }

    fn result(line: u32, status: Status) -> RowResult {
        use crate::model::{Action, Field, Outcome, Row};
        let layout = Arc::new(Layout {
            file: "roster.csv".into(),
            sheet: "roster".into(),
            headers: vec!["target".into(), "email".into()],
            fields: vec![Some(Field::Target), Some(Field::Email)],
            ..Layout::default()
        });
        let mut outcome = Outcome::new(status, Action::Create);
        if status == Status::Invalid {
            outcome.error = Some("email (B3): \"x\" is not an email address".into());
        }
        RowResult {
            row: Row {
                index: line as usize,
                layout,
                line,
                cells: vec!["traccar".to_string(), format!("u{line}@example.com")].into(),
                errors: vec![],
            },
            target: Some("traccar".into()),
            vendor: None,
            outcome,
        }
    }

    #[test]
    fn rows_beyond_a_sheet_continue_on_numbered_sheets() {
        use calamine::Reader as _;
        // 3 data rows a sheet (the header takes one); 10 rows, every other one invalid.
        let cases = [
            (
                true,
                vec![
                    "Summary",
                    "Results",
                    "Results (2)",
                    "Results (3)",
                    "Results (4)",
                    "Errors",
                    "Errors (2)",
                ],
                "Results: 10 rows on 4 sheets, Results to Results (4) (at most 3 rows a sheet, Excel's limit); Errors: 5 rows on 2 sheets, Errors to Errors (2) (at most 3 rows a sheet, Excel's limit)",
            ),
            (
                false,
                vec!["Summary", "Errors", "Errors (2)"],
                "Errors: 5 rows on 2 sheets, Errors to Errors (2) (at most 3 rows a sheet, Excel's limit)",
            ),
        ];
        for (with_results, sheets, note) in cases {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("v.xlsx");
            let headers = vec!["target".to_string(), "email".to_string()];
            let mut w = ResultsWriter::build(&path, headers, 4, with_results).unwrap();
            for line in 2..12 {
                let status = if line % 2 == 0 {
                    Status::Valid
                } else {
                    Status::Invalid
                };
                w.write(&result(line, status)).unwrap();
            }
            let finished = w.finish(&run(), &[]).unwrap();
            assert_eq!(finished.counts.rows(), 10);
            let mut book = calamine::open_workbook_auto(&path).unwrap();
            assert_eq!(book.sheet_names(), sheets, "{with_results}");
            let summary = book.worksheet_range("Summary").unwrap();
            assert_eq!(
                summary.get_value((1, 0)),
                Some(&calamine::Data::String(note.into()))
            );
            // Each page starts with the header; together they hold every row, in order.
            for (name, column, want) in [
                ("Results", 2, (2..12).collect::<Vec<u32>>()),
                ("Errors", 1, (3..12).step_by(2).collect()),
            ] {
                if name == "Results" && !with_results {
                    continue;
                }
                let mut got = Vec::new();
                for sheet in sheets.iter().filter(|s| s.starts_with(name)) {
                    let range = book.worksheet_range(sheet).unwrap();
                    let first = if name == "Results" {
                        RESULT_COLUMNS[0]
                    } else {
                        "target"
                    };
                    assert_eq!(
                        range.get_value((0, 0)),
                        Some(&calamine::Data::String(first.into())),
                        "{sheet}: header"
                    );
                    assert!(range.height() <= 4, "{sheet}: {}", range.height());
                    for row in range.rows().skip(1) {
                        got.push(match &row[column] {
                            calamine::Data::Float(f) => *f as u32,
                            calamine::Data::String(s) => s
                                .trim_start_matches('u')
                                .split('@')
                                .next()
                                .unwrap()
                                .parse()
                                .unwrap(),
                            other => panic!("{sheet}: {other:?}"),
                        });
                    }
                }
                assert_eq!(got, want, "{name}");
            }
        }
    }

    #[test]
    fn one_sheet_each_says_nothing_about_continuing() {
        use calamine::Reader as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.xlsx");
        let headers = vec!["target".to_string(), "email".to_string()];
        let mut w = ResultsWriter::build(&path, headers, 4, true).unwrap();
        for line in 2..5 {
            w.write(&result(line, Status::Invalid)).unwrap();
        }
        w.finish(&run(), &[]).unwrap();
        let mut book = calamine::open_workbook_auto(&path).unwrap();
        assert_eq!(book.sheet_names(), ["Summary", "Results", "Errors"]);
        let summary = book.worksheet_range("Summary").unwrap();
        assert_eq!(summary.get_value((1, 0)), Some(&calamine::Data::Empty));
    }

    fn run() -> RunInfo {
        RunInfo {
            run_id: "validate-1".into(),
            command: "validate".into(),
            command_line: "muster validate".into(),
            started: chrono::Utc::now(),
            ended: None,
            dry_run: true,
            version: "0".into(),
            inputs: vec![],
            skipped_sheets: vec![],
        }
    }

    #[test]
    fn errors_only_leaves_results_out_and_still_counts_every_row() {
        use calamine::Reader as _;
        for (errors_only, sheets) in [
            (false, vec!["Summary", "Results", "Errors"]),
            (true, vec!["Summary", "Errors"]),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("v.xlsx");
            let headers = vec!["target".to_string(), "email".to_string()];
            let mut w = if errors_only {
                ResultsWriter::create_errors_only(&path, headers).unwrap()
            } else {
                ResultsWriter::create(&path, headers).unwrap()
            };
            w.write(&result(2, Status::Valid)).unwrap();
            w.write(&result(3, Status::Invalid)).unwrap();
            let finished = w.finish(&run(), &[]).unwrap();
            assert_eq!(finished.counts.rows(), 2, "{errors_only}");
            assert_eq!(finished.counts.total(Status::Invalid), 1);
            let mut book = calamine::open_workbook_auto(&path).unwrap();
            assert_eq!(book.sheet_names(), sheets, "{errors_only}");
            let errors = book.worksheet_range("Errors").unwrap();
            assert_eq!(errors.height(), 2, "header and the invalid row");
        }
    }

    #[test]
    fn counting_a_valid_row_counts_it_as_writing_it_does() {
        let dir = tempfile::tempdir().unwrap();
        let headers = vec!["target".to_string(), "email".to_string()];
        let mut written =
            ResultsWriter::create_errors_only(&dir.path().join("a.xlsx"), headers.clone()).unwrap();
        let mut counted =
            ResultsWriter::create_errors_only(&dir.path().join("b.xlsx"), headers).unwrap();
        assert!(!written.writes_valid_rows());
        let mut results = vec![result(2, Status::Valid), result(3, Status::Valid)];
        results[1].target = None;
        results[1].vendor = None;
        for r in &results {
            written.write(r).unwrap();
            counted.count_valid(r.target.as_deref(), r.vendor);
        }
        let (a, b) = (
            written.finish(&run(), &[]).unwrap(),
            counted.finish(&run(), &[]).unwrap(),
        );
        assert_eq!(a.counts, b.counts);
        assert_eq!(b.counts.total(Status::Valid), 2);
        assert!(
            ResultsWriter::create(&dir.path().join("c.xlsx"), vec![])
                .unwrap()
                .writes_valid_rows()
        );
    }

    #[test]
    fn a_header_that_starts_like_a_formula_stays_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.xlsx");
        let headers = vec!["=cmd|' /C calc'!A0".to_string(), "email".to_string()];
        let mut w = ResultsWriter::create(&path, headers).unwrap();
        w.write(&result(2, Status::Valid)).unwrap();
        w.finish(&run(), &[]).unwrap();
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let read = |zip: &mut zip::ZipArchive<std::fs::File>, name: &str| {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut text).unwrap();
            text
        };
        let styles = read(&mut zip, "xl/styles.xml");
        // The cell formats, in order: a cell's `s` is an index into them.
        let xfs = styles.split("<cellXfs").nth(1).unwrap();
        let xfs: Vec<&str> = xfs.split("<xf ").skip(1).collect();
        let names: Vec<String> = (0..zip.len())
            .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
            .collect();
        let mut seen = false;
        for name in names
            .iter()
            .filter(|n| n.starts_with("xl/worksheets/sheet"))
        {
            let sheet = read(&mut zip, name);
            for cell in sheet.split("<c ").skip(1) {
                let cell = cell.split("</c>").next().unwrap();
                if cell.contains("=cmd|") {
                    let s: usize = cell
                        .split("s=\"")
                        .nth(1)
                        .unwrap()
                        .split('"')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                    assert!(
                        xfs[s].contains("quotePrefix=\"1\""),
                        "{name}: {cell} uses {}",
                        xfs[s]
                    );
                    seen = true;
                }
            }
        }
        assert!(seen, "the header was written");
    }
}
