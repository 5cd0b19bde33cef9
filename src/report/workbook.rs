//! The result workbook, written as rows arrive: `Results`, `Errors` and `Manual` stream in
//! rust_xlsxwriter's constant-memory mode (each sheet's XML goes to a temporary file, one row
//! in memory at a time); `Summary` is built at the end from counters kept while writing, and
//! put first. The workbook is saved to a temporary file beside the destination and renamed
//! over it, so a crash never leaves half a workbook under the real name.
//!
//! Which cell is text and which a number, and why no cell can become a formula or show a
//! password: see [`super::safe`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rust_xlsxwriter::{
    Chart, ChartFormat, ChartLegendPosition, ChartSolidFill, ChartType, ColNum, Color, RowNum,
    Workbook, Worksheet, XlsxError,
};

use super::counts::{Counts, always_shown};
use super::manual::{self, MANUAL_COLUMNS, Spool};
use super::safe::{self, MASK};
use super::style::{Formats, status_chart_color};
use super::{Error, RESULT_COLUMNS};
use crate::model::{Layout, RowResult, RunInfo, Status, TargetStats};

/// Rows of a sheet (header included) before the next rows go to a continuation sheet
/// (`Results (2)`): Excel's limit.
const EXCEL_ROWS: u32 = 1_048_576;
/// Rows sampled for column widths (no full-data autofit in constant memory).
const WIDTH_SAMPLE: u32 = 500;
/// Widest column, in characters.
const MAX_WIDTH: usize = 60;

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
    results: Pages,
    errors: Pages,
    manual: Spool,
    counts: Counts,
}

/// How one input table's columns land in the workbook.
struct ColumnMap {
    /// Per input column: the index in `own_headers`.
    own: Vec<Option<usize>>,
    /// Per input column: whether it holds secrets.
    secret: Vec<bool>,
}

impl ColumnMap {
    fn new(layout: &Layout, own_index: &HashMap<String, usize>) -> ColumnMap {
        let secret = safe::secret_columns(layout);
        ColumnMap {
            own: layout
                .headers
                .iter()
                .map(|h| own_index.get(h).copied())
                .collect(),
            secret,
        }
    }
}

impl ResultsWriter {
    /// Starts a workbook at `path`; `own_headers` are the input's own columns (union of all
    /// tables' headers, in order of first appearance), echoed after DESIGN's columns.
    ///
    /// Fails at once, naming the path, when the file could not be written there: the
    /// directory is missing or read-only, or the path is a directory.
    pub fn create(path: &Path, own_headers: Vec<String>) -> Result<ResultsWriter, Error> {
        Self::create_paged(path, own_headers, EXCEL_ROWS)
    }

    /// [`ResultsWriter::create`] with a smaller page size, so tests can see continuation
    /// sheets without a million rows.
    #[doc(hidden)]
    pub fn create_paged(
        path: &Path,
        own_headers: Vec<String>,
        page_rows: u32,
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
        let results = Pages::new(
            &mut workbook,
            &formats,
            "Results",
            results_header,
            results_text,
            page_rows,
        )
        .map_err(xlsx)?;

        let mut errors_header = own_headers.clone();
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
            maps: Vec::new(),
            results,
            errors,
            manual: Spool::default(),
            counts: Counts::default(),
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
        let secrets = safe::row_secrets(&row.cells, &map.secret);
        let error = outcome.error.as_deref().map(|e| safe::redact(e, &secrets));
        let f = &self.formats;
        let status = outcome.status;

        let (sheet, w, r, sample) = self.results.next_row(&mut self.workbook, f)?;
        put_text(sheet, r, 0, &layout.file, f, w, sample)?;
        put_text(sheet, r, 1, &layout.sheet, f, w, sample)?;
        sheet.write_number(r, 2, row.line)?;
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
            let value = if map.secret[i] { MASK } else { cell.as_str() };
            put_text(sheet, r, first_own + *j as ColNum, value, f, w, sample)?;
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
            let n = self.own_headers.len() as ColNum;
            sheet.write_string_with_format(r, n, status.key(), f.status(status))?;
            if let Some(e) = &error {
                put_text(sheet, r, n + 1, e, f, w, sample)?;
            }
        }
        Ok(())
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
        write_summary(
            &mut summary,
            &self.formats,
            run,
            &self.counts,
            stats,
            manual_users,
        )
        .map_err(xlsx)?;

        let manual = if self.manual.is_empty() {
            None
        } else {
            let spool = std::mem::take(&mut self.manual).drain().map_err(io)?;
            Some(
                write_manual(&mut self.workbook, &self.formats, spool, manual_users)
                    .map_err(xlsx)?,
            )
        };

        summary.set_active(true);
        self.workbook.push_worksheet(summary);
        for sheet in self.results.finish().map_err(xlsx)? {
            self.workbook.push_worksheet(sheet);
        }
        for sheet in self.errors.finish().map_err(xlsx)? {
            self.workbook.push_worksheet(sheet);
        }
        if let Some(sheet) = manual {
            self.workbook.push_worksheet(sheet);
        }

        self.workbook
            .save_to_writer(self.staging.as_file_mut())
            .map_err(xlsx)?;
        self.staging.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(Finished {
            path: self.path,
            counts: self.counts,
            manual: manual_users,
        })
    }
}

/// Column widths measured on the first rows of a sheet.
struct Widths {
    chars: Vec<usize>,
}

impl Widths {
    fn see(&mut self, col: usize, len: usize, sample: bool) {
        if sample {
            if let Some(w) = self.chars.get_mut(col) {
                *w = (*w).max(len);
            }
        }
    }

    fn apply(&self, sheet: &mut Worksheet) -> Result<(), XlsxError> {
        for (c, w) in self.chars.iter().enumerate() {
            let width = (*w).clamp(6, MAX_WIDTH) + 2;
            sheet.set_column_width(c as ColNum, width as f64)?;
        }
        Ok(())
    }
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
            if *is_text {
                sheet.set_column_format(c as ColNum, &formats.text)?;
            }
        }
        for (c, h) in self.header.iter().enumerate() {
            let h = safe::fit_cell(h);
            sheet.write_string_with_format(0, c as ColNum, h.as_ref(), &formats.header)?;
        }
        sheet.set_freeze_panes(1, 0)?;
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

/// Writes one text cell: cut to Excel's limit, quote-prefixed when it looks like a formula.
fn put_text(
    sheet: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    text: &str,
    formats: &Formats,
    widths: &mut Widths,
    sample: bool,
) -> Result<(), XlsxError> {
    let text = safe::fit_cell(text);
    if sample {
        widths.see(col as usize, text.chars().take(MAX_WIDTH).count(), true);
    }
    if safe::looks_like_formula(&text) {
        sheet.write_string_with_format(row, col, text, &formats.quoted)?;
    } else {
        sheet.write_string(row, col, text)?;
    }
    Ok(())
}

fn write_summary(
    sheet: &mut Worksheet,
    f: &Formats,
    run: &RunInfo,
    counts: &Counts,
    stats: &[TargetStats],
    manual_users: u64,
) -> Result<(), XlsxError> {
    let text = |sheet: &mut Worksheet, r: RowNum, c: ColNum, s: &str| -> Result<(), XlsxError> {
        let s = safe::fit_cell(s);
        if safe::looks_like_formula(&s) {
            sheet.write_string_with_format(r, c, s.as_ref(), &f.quoted)?;
        } else {
            sheet.write_string(r, c, s.as_ref())?;
        }
        Ok(())
    };
    sheet.write_string_with_format(0, 0, "muster: run summary", &f.title)?;
    let mut r: RowNum = 2;

    // Targets first: it is what the reader came for.
    let statuses = counts.columns(always_shown(&run.command));
    let joined = counts.with_stats(stats);
    let has_stats = !stats.is_empty();
    let mut header: Vec<&str> = vec!["target", "vendor", "rows"];
    header.extend(statuses.iter().map(|s| s.key()));
    if has_stats {
        header.extend([
            "requests",
            "429s",
            "retries",
            "requests/s",
            "seconds",
            "halted",
        ]);
    }
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(r, c as ColNum, *h, &f.header)?;
    }
    let first_status_col: ColNum = 3;
    let table_header_row = r;
    r += 1;
    let first_target_row = r;
    for (tc, ts) in &joined {
        let name = tc
            .map(|t| t.target.as_str())
            .or(ts.map(|s| s.target.as_str()))
            .unwrap_or("");
        text(sheet, r, 0, name)?;
        if let Some(v) = tc.and_then(|t| t.vendor).or(ts.and_then(|s| s.vendor)) {
            text(sheet, r, 1, v.key())?;
        }
        sheet.write_number_with_format(r, 2, tc.map_or(0, |t| t.rows) as f64, &f.int)?;
        for (i, s) in statuses.iter().enumerate() {
            let n = tc.map_or(0, |t| t.get(*s));
            let c = first_status_col + i as ColNum;
            if n > 0 {
                sheet.write_number_with_format(r, c, n as f64, f.status(*s))?;
            } else {
                sheet.write_number_with_format(r, c, 0, &f.int)?;
            }
        }
        if has_stats {
            let c = first_status_col + statuses.len() as ColNum;
            let s = ts.cloned().unwrap_or_default();
            sheet.write_number_with_format(r, c, s.requests as f64, &f.int)?;
            sheet.write_number_with_format(r, c + 1, s.rate_limited as f64, &f.int)?;
            sheet.write_number_with_format(r, c + 2, s.retries as f64, &f.int)?;
            sheet.write_number_with_format(r, c + 3, s.achieved_rate(), &f.rate)?;
            sheet.write_number_with_format(r, c + 4, s.seconds, &f.seconds)?;
            if let Some(h) = &s.halted {
                text(sheet, r, c + 5, h)?;
            }
        }
        r += 1;
    }
    let last_target_row = r - 1;
    // The total line.
    sheet.write_string_with_format(r, 0, "total", &f.total)?;
    sheet.write_blank(r, 1, &f.total)?;
    sheet.write_number_with_format(r, 2, counts.rows() as f64, &f.total)?;
    for (i, s) in statuses.iter().enumerate() {
        let c = first_status_col + i as ColNum;
        sheet.write_number_with_format(r, c, counts.total(*s) as f64, &f.total)?;
    }
    if has_stats {
        let c = first_status_col + statuses.len() as ColNum;
        let sum = |g: fn(&TargetStats) -> u64| stats.iter().map(g).sum::<u64>() as f64;
        sheet.write_number_with_format(r, c, sum(|s| s.requests), &f.total)?;
        sheet.write_number_with_format(r, c + 1, sum(|s| s.rate_limited), &f.total)?;
        sheet.write_number_with_format(r, c + 2, sum(|s| s.retries), &f.total)?;
        for k in 3..6 {
            sheet.write_blank(r, c + k, &f.total)?;
        }
    }
    r += 2;
    let chart_row = r;

    // The chart: stacked bars of outcomes per target.
    let charted: Vec<(usize, Status)> = statuses
        .iter()
        .enumerate()
        .filter(|(_, s)| counts.total(**s) > 0)
        .map(|(i, s)| (i, *s))
        .collect();
    let has_chart = !joined.is_empty() && !charted.is_empty();
    if has_chart {
        let mut chart = Chart::new(ChartType::BarStacked);
        for (i, s) in &charted {
            let c = first_status_col + *i as ColNum;
            chart
                .add_series()
                .set_name(("Summary", table_header_row, c))
                .set_categories(("Summary", first_target_row, 0, last_target_row, 0))
                .set_values(("Summary", first_target_row, c, last_target_row, c))
                .set_format(ChartFormat::new().set_solid_fill(
                    ChartSolidFill::new().set_color(Color::RGB(status_chart_color(*s))),
                ))
                .set_gap(60);
        }
        chart.title().set_name("Rows per target, by outcome");
        chart.x_axis().set_reverse();
        chart.legend().set_position(ChartLegendPosition::Bottom);
        chart.set_width(640);
        chart.set_height(180 + 36 * joined.len().min(12) as u32);
        sheet.insert_chart(chart_row, 0, &chart)?;
        // Leave room below the chart: about 20 px a row.
        r += (180 + 36 * joined.len().min(12) as u32) / 20 + 2;
    }

    // The run.
    sheet.write_string_with_format(r, 0, "Run", &f.label)?;
    r += 1;
    let duration = run
        .ended
        .map(|e| format_duration((e - run.started).num_milliseconds() as f64 / 1000.0));
    let fmt_time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let facts: Vec<(&str, String)> = vec![
        ("run id", run.run_id.clone()),
        ("command", run.command.clone()),
        ("started", fmt_time(run.started)),
        (
            "ended",
            run.ended
                .map(fmt_time)
                .unwrap_or_else(|| "(not finished)".into()),
        ),
        ("duration", duration.unwrap_or_default()),
        ("muster version", run.version.clone()),
        ("command line", run.command_line.clone()),
        ("dry run", if run.dry_run { "yes" } else { "no" }.into()),
        ("rows", counts.rows().to_string()),
        (
            "manual users",
            if manual_users > 0 {
                format!("{manual_users} waiting: see the Manual sheet")
            } else {
                "none".into()
            },
        ),
    ];
    for (label, value) in facts {
        sheet.write_string_with_format(r, 0, label, &f.label)?;
        text(sheet, r, 1, &value)?;
        r += 1;
    }
    r += 1;

    sheet.write_string_with_format(r, 0, "Input files", &f.label)?;
    r += 1;
    for (c, h) in ["file", "rows", "SHA-256"].iter().enumerate() {
        sheet.write_string_with_format(r, c as ColNum, *h, &f.header)?;
    }
    r += 1;
    for input in &run.inputs {
        text(sheet, r, 0, &input.path)?;
        sheet.write_number_with_format(r, 1, input.rows as f64, &f.int)?;
        text(sheet, r, 2, &input.sha256)?;
        r += 1;
    }
    r += 1;
    sheet.write_string_with_format(r, 0, "Skipped sheets", &f.label)?;
    r += 1;
    if run.skipped_sheets.is_empty() {
        sheet.write_string(r, 0, "none")?;
    }
    for s in &run.skipped_sheets {
        text(sheet, r, 0, s)?;
        r += 1;
    }

    let widest_target = joined
        .iter()
        .map(|(t, s)| {
            t.map(|t| t.target.chars().count())
                .or(s.map(|s| s.target.chars().count()))
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0);
    sheet.set_column_width(0, (widest_target.max(16) + 2).min(40) as f64)?;
    sheet.set_column_width(1, 12)?;
    for (c, h) in header.iter().enumerate().skip(2) {
        sheet.set_column_width(c as ColNum, (h.len() + 3).max(9) as f64)?;
    }
    Ok(())
}

fn format_duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        let s = seconds.round() as u64;
        if s < 3600 {
            format!("{}m {:02}s", s / 60, s % 60)
        } else {
            format!("{}h {:02}m {:02}s", s / 3600, s / 60 % 60, s % 60)
        }
    }
}

fn write_manual(
    workbook: &mut Workbook,
    f: &Formats,
    spool: Vec<(String, u64, csv::Reader<std::fs::File>)>,
    users: u64,
) -> Result<Worksheet, XlsxError> {
    let mut sheet = workbook.new_worksheet_with_constant_memory()?;
    sheet.set_name("Manual")?;
    for c in 0..MANUAL_COLUMNS.len() {
        sheet.set_column_format(c as ColNum, &f.text)?;
    }
    let header_row = manual::write_steps(&mut sheet, f, users)?;
    for (c, h) in MANUAL_COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(header_row, c as ColNum, *h, &f.header)?;
    }
    let mut widths = Widths {
        chars: MANUAL_COLUMNS.iter().map(|h| h.chars().count()).collect(),
    };
    let mut r = header_row + 1;
    let mut written = 0u64;
    'targets: for (target, _, mut reader) in spool {
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(XlsxError::ParameterError(format!("manual spool: {e}"))),
            }
            if r + 1 >= EXCEL_ROWS {
                // Beyond Excel's limit: say so; Results still lists every row.
                let more = users - written;
                let note = format!("… and {more} more users: filter Results on status manual");
                sheet.write_string_with_format(r, 0, note, &f.label)?;
                r += 1;
                break 'targets;
            }
            written += 1;
            let sample = r - header_row <= WIDTH_SAMPLE;
            put_text(&mut sheet, r, 0, &target, f, &mut widths, sample)?;
            for (i, v) in manual::read_record(&record).iter().enumerate() {
                if !v.is_empty() {
                    put_text(&mut sheet, r, 1 + i as ColNum, v, f, &mut widths, sample)?;
                }
            }
            r += 1;
        }
    }
    widths.apply(&mut sheet)?;
    // The steps are long text in column B; keep it readable rather than 60 wide.
    sheet.set_column_width(0, 18)?;
    sheet.autofilter(
        header_row,
        0,
        (r - 1).max(header_row + 1),
        (MANUAL_COLUMNS.len() - 1) as ColNum,
    )?;
    sheet.set_freeze_panes(header_row + 1, 0)?;
    Ok(sheet)
}
