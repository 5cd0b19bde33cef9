//! Workbooks through calamine: xlsx, xlsm, xlsb, xls, ods. Every visible worksheet with a
//! header is a table; hidden sheets, chart sheets and sheets without a header are listed
//! as skipped. Formula cells give calamine's cached value.
//!
//! calamine reads a whole sheet into memory; the rows are turned into text one at a time
//! as the table is iterated. Column indexes are the sheet's own (column A is 0) so cell
//! names in messages match what the user sees, even when the table starts further right.
//! Every column that holds data is kept: one beyond the header's last label, or under an
//! empty header cell, is named `column F`.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use calamine::{
    Cell, Data, Ods, Range, Reader, SheetType, SheetVisible, Sheets, Xls, Xlsb, Xlsx,
    open_workbook_from_rs,
};

use super::cell::{data_text, trim};
use super::header::{self, Kind};
use super::{Error, Opened, RawRow, Table, limits};
use crate::model::{CellError, Cells, Layout};

/// The container a workbook's first bytes show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    /// A zip archive: xlsx, xlsm, xlsb or ods.
    Zip,
    /// An OLE compound file: xls.
    Ole,
}

/// Opens a workbook and finds its tables. A file calamine cannot read, or one that makes
/// it panic, is `Error::Unreadable` with a one-line reason.
pub(crate) fn open(path: &Path, container: Container) -> Result<Opened, Error> {
    let unreadable = |reason: String| Error::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let reopen = || {
        File::open(path)
            .map(BufReader::new)
            .map_err(|e| format!("cannot read: {e}"))
    };
    let file = path.display().to_string();
    match quiet_catch(|| read_workbook(&file, &ext, container, reopen)) {
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(reason)) => Err(unreadable(reason)),
        Err(_) => Err(unreadable(
            "the workbook is damaged (the reader failed on it)".into(),
        )),
    }
}

thread_local! {
    /// Set while this thread reads a workbook: a panic there is caught and reported as
    /// one line, so the default hook must not print its message and backtrace.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, catching a panic in it without printing it (other threads' panics, and this
/// thread's outside `f`, go to the previous hook as before).
pub(crate) fn quiet_catch<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result
}

/// One line of a calamine error.
fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn open_as<RS: Read + Seek>(reader: RS, format: &str) -> Result<Sheets<RS>, String> {
    let opened = match format {
        "xlsx" => open_workbook_from_rs::<Xlsx<_>, _>(reader)
            .map(Sheets::Xlsx)
            .map_err(one_line),
        "xlsb" => open_workbook_from_rs::<Xlsb<_>, _>(reader)
            .map(Sheets::Xlsb)
            .map_err(one_line),
        "ods" => open_workbook_from_rs::<Ods<_>, _>(reader)
            .map(Sheets::Ods)
            .map_err(one_line),
        _ => open_workbook_from_rs::<Xls<_>, _>(reader)
            .map(Sheets::Xls)
            .map_err(one_line),
    };
    opened.map_err(|e| format!("not a readable {format} workbook: {e}"))
}

/// Reads a workbook from the readers `reopen` gives (one per format tried); `file` names
/// it in layouts, `ext` is its lower-case extension.
pub(crate) fn read_workbook<RS: Read + Seek>(
    file: &str,
    ext: &str,
    container: Container,
    reopen: impl Fn() -> Result<RS, String>,
) -> Result<Opened, String> {
    match container {
        Container::Zip => limits::check_zip(reopen()?)?,
        Container::Ole => limits::check_cfb(reopen()?)?,
    }
    // The content decides; the extension only says which zip format to try first.
    let formats: &[&str] = match (container, ext) {
        (Container::Ole, _) => &["xls"],
        (Container::Zip, "xlsb") => &["xlsb", "xlsx", "ods"],
        (Container::Zip, "ods") => &["ods", "xlsx", "xlsb"],
        (Container::Zip, _) => &["xlsx", "xlsb", "ods"],
    };
    let mut first_error = None;
    let mut workbook = None;
    for format in formats {
        match open_as(reopen()?, format) {
            Ok(w) => {
                workbook = Some(w);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let Some(mut workbook) = workbook else {
        // Excel saves a password-protected xlsx inside an OLE file.
        if container == Container::Ole && matches!(ext, "xlsx" | "xlsm" | "xlsb") {
            return Err(format!(
                "not a readable {ext} workbook: it is password-protected or not a workbook"
            ));
        }
        return Err(first_error.unwrap_or_else(|| "not a readable workbook".into()));
    };
    let mut opened = Opened {
        tables: Vec::new(),
        skipped: Vec::new(),
    };
    for sheet in workbook.sheets_metadata().to_vec() {
        let why = match (sheet.visible, sheet.typ) {
            (SheetVisible::Hidden | SheetVisible::VeryHidden, _) => Some("hidden sheet"),
            (_, SheetType::WorkSheet) => None,
            _ => Some("not a worksheet"),
        };
        if let Some(why) = why {
            opened.skipped.push(format!("{} ({why})", sheet.name));
            continue;
        }
        let range = sheet_range(&mut workbook, &sheet.name)
            .map_err(|e| format!("sheet {}: {e}", sheet.name))?;
        match sheet_table(file, &sheet.name, range) {
            Ok(table) => opened.tables.push(table),
            Err(why) => opened.skipped.push(format!("{} ({why})", sheet.name)),
        }
    }
    Ok(opened)
}

/// A sheet's cells, refused before calamine allocates its used area when that is larger
/// than the caps (xlsx and xlsb are read cell by cell for that; xls and ods are read whole
/// by calamine when the workbook opens, so their area is checked after).
fn sheet_range<RS: Read + Seek>(
    workbook: &mut Sheets<RS>,
    name: &str,
) -> Result<Range<Data>, String> {
    let mut cells = Vec::new();
    let mut area = Area::default();
    macro_rules! collect {
        ($reader:expr) => {{
            let mut reader = $reader.map_err(one_line)?;
            while let Some(cell) = reader.next_cell().map_err(one_line)? {
                if matches!(cell.get_value(), calamine::DataRef::Empty) {
                    continue;
                }
                area.add(cell.get_position())?;
                let (pos, value) = (cell.get_position(), cell.get_value().clone());
                cells.push(Cell::new(pos, Data::from(value)));
            }
        }};
    }
    match workbook {
        Sheets::Xlsx(x) => collect!(x.worksheet_cells_reader(name)),
        Sheets::Xlsb(x) => collect!(x.worksheet_cells_reader(name)),
        other => {
            let range = other.worksheet_range(name).map_err(one_line)?;
            if let (Some(start), Some(end)) = (range.start(), range.end()) {
                area.add(start)?;
                area.add(end)?;
            }
            return Ok(range);
        }
    }
    Ok(Range::from_sparse(cells))
}

/// The bounding box of the cells seen so far, kept within the caps. Columns count from
/// column A, as the table pads the columns left of the first one.
#[derive(Default)]
struct Area {
    bounds: Option<(u32, u32, u32)>,
}

impl Area {
    fn add(&mut self, (row, col): (u32, u32)) -> Result<(), String> {
        let (first, last, right) = self.bounds.unwrap_or((row, row, col));
        let bounds = (first.min(row), last.max(row), right.max(col));
        self.bounds = Some(bounds);
        let (first, last, right) = bounds;
        match limits::check_area(u64::from(last - first) + 1, u64::from(right) + 1) {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }
}

fn kind_of(data: &Data) -> Kind {
    match data {
        Data::Empty => Kind::Empty,
        Data::String(s) => Kind::of_text(trim(s)),
        _ => Kind::Value,
    }
}

/// The table of one sheet, or why it has none.
fn sheet_table(file: &str, sheet: &str, range: Range<Data>) -> Result<Table, &'static str> {
    let Some((first_row, first_col)) = range.start() else {
        return Err("empty");
    };
    let first_col = first_col as usize;
    // Kinds of the first non-blank rows, as absolute columns.
    let mut window: Vec<(usize, Vec<Kind>)> = Vec::new();
    for (i, row) in range.rows().enumerate() {
        let mut kinds = vec![Kind::Empty; first_col];
        kinds.extend(row.iter().map(kind_of));
        if kinds.iter().any(|k| *k != Kind::Empty) {
            window.push((i, kinds));
            if window.len() == header::WINDOW {
                break;
            }
        }
    }
    if window.is_empty() {
        return Err("empty");
    }
    let kinds: Vec<Vec<Kind>> = window.iter().map(|(_, k)| k.clone()).collect();
    let at = header::find_header(&kinds, 2).ok_or("no header found")?;
    let header_index = window[at].0;
    let header_cells: Vec<String> = header_texts(&range, header_index, first_col);
    // Every column holding data below the header is kept.
    let width = range
        .rows()
        .skip(header_index)
        .map(|row| {
            row.iter()
                .rposition(|d| kind_of(d) != Kind::Empty)
                .map_or(0, |i| first_col + i + 1)
        })
        .max()
        .unwrap_or(0);
    let layout = Layout {
        file: file.to_string(),
        sheet: sheet.to_string(),
        is_workbook: true,
        header_row: first_row + header_index as u32 + 1,
        headers: header::header_names(&header_cells, width),
        ..Layout::default()
    };
    let rows = SheetRows {
        range,
        next: header_index + 1,
        first_row,
        first_col,
        width,
    };
    Ok(Table {
        layout,
        rows: Box::new(rows),
    })
}

fn header_texts(range: &Range<Data>, index: usize, first_col: usize) -> Vec<String> {
    let mut cells = vec![String::new(); first_col];
    cells.extend(row_at(range, index).map(|d| data_text(d).0));
    cells
}

/// The cells of row `index` of the range (`Range::rows().nth` would walk from the top).
fn row_at(range: &Range<Data>, index: usize) -> impl Iterator<Item = &Data> {
    let (_, width) = range.get_size();
    (0..width).filter_map(move |col| range.get((index, col)))
}

/// The data rows of a sheet below its header, converted as they are asked for.
struct SheetRows {
    range: Range<Data>,
    /// Index (within the range) of the next row to look at.
    next: usize,
    first_row: u32,
    first_col: usize,
    width: usize,
}

impl Iterator for SheetRows {
    type Item = Result<RawRow, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let (height, _) = self.range.get_size();
        while self.next < height {
            let index = self.next;
            self.next += 1;
            if row_at(&self.range, index).all(|d| kind_of(d) == Kind::Empty) {
                continue;
            }
            let mut cells = Cells::with_capacity(self.width, 16 * self.width);
            cells.resize(self.first_col);
            let mut errors = Vec::new();
            for (i, data) in row_at(&self.range, index).enumerate() {
                // Text cells (most of a roster) are copied once, trimmed.
                match data {
                    Data::String(s) => cells.push(trim(s)),
                    Data::Empty => cells.push(""),
                    _ => {
                        let (text, problem) = data_text(data);
                        if let Some(text) = problem {
                            errors.push(CellError {
                                col: self.first_col + i,
                                text,
                            });
                        }
                        cells.push(&text);
                    }
                }
            }
            cells.resize(self.width);
            return Some(Ok(RawRow {
                line: self.first_row + index as u32 + 1,
                cells,
                errors,
            }));
        }
        None
    }
}
