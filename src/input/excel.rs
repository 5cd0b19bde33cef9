//! Workbooks through calamine: xlsx, xlsm, xlsb, xls, ods. Every visible worksheet with a
//! header is a table; hidden sheets, chart sheets and sheets without a header are listed
//! as skipped. Formula cells give calamine's cached value.
//!
//! xlsx, xlsm and xlsb sheets are streamed: calamine's cell reader goes through the
//! sheet once for its first rows (the header search, when the file is opened) and again,
//! on a thread of the table's own, for its rows, handed over in chunks (`input::stream`),
//! so memory is bounded by a chunk, not by the sheet. calamine has no streaming reader for
//! xls and ods: it reads those whole when the workbook opens, and their rows are then
//! sent from that copy the same way.
//!
//! Column indexes are the sheet's own (column A is 0) so cell names in messages match
//! what the user sees, even when the table starts further right. Data beyond the header's
//! last label is never dropped: the table is as wide as the header or the widest of the
//! first rows read for the header search (extra columns, and empty header cells, are named
//! `column F`); a later row with values beyond that width gets a [`CellError`] quoting
//! them, as a CSV row does.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use calamine::{
    Data, DataRef, Ods, Range, Reader, SheetType, SheetVisible, Sheets, Xls, Xlsb, Xlsx,
    open_workbook_from_rs,
};

use super::cell::{as_data_ref, value_text};
use super::header::{self, Kind};
use super::stream::{Feed, Streamed};
use super::{Beyond, Error, Opened, RawRow, Table, limits};
use crate::model::{CellError, Cells, Layout};

/// The most rows, and cells, in one chunk a sheet's reading thread hands over.
const CHUNK_ROWS: usize = 1024;
const CHUNK_CELLS: usize = 1 << 16;

/// What a panic inside calamine is reported as.
const DAMAGED: &str = "the workbook is damaged (the reader failed on it)";

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
    let owned = path.to_path_buf();
    let reopen = move || {
        File::open(&owned)
            .map(BufReader::new)
            .map_err(|e| format!("cannot read: {e}"))
    };
    let file = path.display().to_string();
    match quiet_catch(|| read_workbook(&file, &ext, container, reopen)) {
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(reason)) => Err(unreadable(reason)),
        Err(_) => Err(unreadable(DAMAGED.into())),
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

/// Opens a workbook again, for a sheet's reading thread.
type Reopen<RS> = Arc<dyn Fn() -> Result<RS, String> + Send + Sync>;

/// The workbook opened for the header search, kept for the first sheet read after it
/// instead of opening the file again (opening an xlsx reads its shared strings).
type Kept<RS> = Arc<Mutex<Option<Sheets<RS>>>>;

/// Reads a workbook from the readers `reopen` gives (one per format tried, and one per
/// streamed sheet); `file` names it in layouts, `ext` is its lower-case extension.
pub(crate) fn read_workbook<RS: Read + Seek + Send + 'static>(
    file: &str,
    ext: &str,
    container: Container,
    reopen: impl Fn() -> Result<RS, String> + Send + Sync + 'static,
) -> Result<Opened, String> {
    let reopen: Reopen<RS> = Arc::new(reopen);
    match container {
        Container::Zip => limits::check_zip(reopen()?)?,
        Container::Ole => limits::check_cfb(reopen()?)?,
    }
    // The content decides; the extension only says which zip format to try first.
    let formats: &[&'static str] = match (container, ext) {
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
                workbook = Some((w, *format));
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let Some((mut workbook, format)) = workbook else {
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
    let kept: Kept<RS> = Arc::default();
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
        let name = sheet.name;
        let in_sheet = |e: String| format!("sheet {name}: {e}");
        let mut window = Window::default();
        let source = match &mut workbook {
            Sheets::Xlsx(_) | Sheets::Xlsb(_) => {
                each_cell(&mut workbook, &name, |r, c, v| window.add(r, c, v)).map_err(in_sheet)?;
                Source::Streamed {
                    reopen: reopen.clone(),
                    format,
                    kept: kept.clone(),
                }
            }
            other => {
                let range = other
                    .worksheet_range(&name)
                    .map_err(one_line)
                    .map_err(in_sheet)?;
                range_cells(&range, |r, c, v| window.add(r, c, v)).map_err(in_sheet)?;
                Source::Whole(range)
            }
        };
        match window.layout(file, &name) {
            Ok((layout, spec)) => {
                let rows = sheet_rows(PathBuf::from(file), name, source, spec);
                opened.tables.push(Table {
                    layout,
                    rows: Box::new(rows),
                });
            }
            Err(why) => opened.skipped.push(format!("{name} ({why})")),
        }
    }
    if Arc::strong_count(&kept) > 1 {
        if let Ok(mut kept) = kept.lock() {
            *kept = Some(workbook);
        }
    }
    Ok(opened)
}

/// Calls `f` with each cell (row, column, value) of a sheet calamine streams (xlsx, xlsb),
/// in the sheet's order, until `f` says `false`. Empty cells are skipped.
fn each_cell<RS: Read + Seek>(
    workbook: &mut Sheets<RS>,
    name: &str,
    mut f: impl FnMut(u32, u32, &DataRef<'_>) -> Result<bool, String>,
) -> Result<(), String> {
    macro_rules! each {
        ($reader:expr) => {{
            let mut reader = $reader.map_err(one_line)?;
            while let Some(cell) = reader.next_cell().map_err(one_line)? {
                let value = cell.get_value();
                if matches!(value, DataRef::Empty) {
                    continue;
                }
                let (row, col) = cell.get_position();
                if !f(row, col, value)? {
                    break;
                }
            }
            Ok(())
        }};
    }
    match workbook {
        Sheets::Xlsx(x) => each!(x.worksheet_cells_reader(name)),
        Sheets::Xlsb(x) => each!(x.worksheet_cells_reader(name)),
        _ => Err("calamine streams only xlsx and xlsb sheets".into()),
    }
}

/// [`each_cell`] for a sheet calamine read whole (xls, ods).
fn range_cells(
    range: &Range<Data>,
    mut f: impl FnMut(u32, u32, &DataRef<'_>) -> Result<bool, String>,
) -> Result<(), String> {
    let Some((top, left)) = range.start() else {
        return Ok(());
    };
    for (row, col, data) in range.used_cells() {
        let (row, col) = (top + row as u32, left + col as u32);
        if !f(row, col, &as_data_ref(data))? {
            break;
        }
    }
    Ok(())
}

/// Where a sheet's rows come from on its reading thread.
enum Source<RS> {
    /// Streamed again from the file (xlsx, xlsb): the workbook kept from the header
    /// search, or the file opened again as `format`.
    Streamed {
        reopen: Reopen<RS>,
        format: &'static str,
        kept: Kept<RS>,
    },
    /// The copy calamine read when the workbook opened (xls, ods).
    Whole(Range<Data>),
}

/// What the header search found that the rows need: the header's row (0-based) and the
/// table's width in columns from column A.
#[derive(Debug, Clone, Copy)]
struct Spec {
    header: u32,
    width: usize,
}

/// A non-empty cell of the first rows: its column, its text, and whether it was a text
/// cell (a number is a value whatever its text).
struct Seen {
    col: usize,
    text: String,
    is_text: bool,
}

/// The first [`header::WINDOW`] non-blank rows of a sheet, for the header search.
#[derive(Default)]
struct Window {
    rows: Vec<(u32, Vec<Seen>)>,
    current: Option<(u32, Vec<Seen>)>,
}

impl Window {
    /// Takes a cell; `false` once the window is full.
    fn add(&mut self, row: u32, col: u32, value: &DataRef<'_>) -> Result<bool, String> {
        if let Some(why) = limits::check_cell(row, col) {
            return Err(why);
        }
        let (text, _, is_text) = value_text(value);
        if text.is_empty() {
            return Ok(true);
        }
        if self.current.as_ref().is_none_or(|(r, _)| *r != row) {
            self.rows.extend(self.current.take());
            if self.rows.len() == header::WINDOW {
                return Ok(false);
            }
            self.current = Some((row, Vec::new()));
        }
        if let Some((_, cells)) = &mut self.current {
            cells.push(Seen {
                col: col as usize,
                text: text.into_owned(),
                is_text,
            });
        }
        Ok(true)
    }

    /// The table's layout and what its rows need, or why the sheet has none.
    fn layout(mut self, file: &str, sheet: &str) -> Result<(Layout, Spec), &'static str> {
        self.rows.extend(self.current.take());
        if self.rows.is_empty() {
            return Err("empty");
        }
        let width_of = |cells: &[Seen]| cells.iter().map(|c| c.col + 1).max().unwrap_or(0);
        // Kinds of the first non-blank rows, as absolute columns.
        let kinds: Vec<Vec<Kind>> = self
            .rows
            .iter()
            .map(|(_, cells)| {
                let mut kinds = vec![Kind::Empty; width_of(cells)];
                for c in cells {
                    kinds[c.col] = match c.is_text {
                        true => Kind::of_text(&c.text),
                        false => Kind::Value,
                    };
                }
                kinds
            })
            .collect();
        let at = header::find_header(&kinds, 2).ok_or("no header found")?;
        // Every column holding data in the rows read, from the header on, is kept.
        let width = self.rows[at..]
            .iter()
            .map(|(_, cells)| width_of(cells))
            .max()
            .unwrap_or(0);
        let (header_row, cells) = &self.rows[at];
        let mut texts = vec![String::new(); width_of(cells)];
        for c in cells {
            texts[c.col].clone_from(&c.text);
        }
        let layout = Layout {
            file: file.to_string(),
            sheet: sheet.to_string(),
            is_workbook: true,
            header_row: header_row + 1,
            headers: header::header_names(&texts, width),
            ..Layout::default()
        };
        Ok((
            layout,
            Spec {
                header: *header_row,
                width,
            },
        ))
    }
}

/// The data rows of a sheet below its header, read on a thread of their own.
fn sheet_rows<RS: Read + Seek + Send + 'static>(
    path: PathBuf,
    sheet: String,
    source: Source<RS>,
    spec: Spec,
) -> Streamed {
    let at = path.clone();
    let reading = move |feed: Feed| {
        let unreadable = |reason: String| Error::Unreadable {
            path: at.clone(),
            reason,
        };
        let read = quiet_catch(|| {
            let mut rows = SheetRows::new(spec, &feed);
            match source {
                Source::Streamed {
                    reopen,
                    format,
                    kept,
                } => {
                    let kept = kept.lock().ok().and_then(|mut kept| kept.take());
                    let mut workbook = match kept {
                        Some(workbook) => workbook,
                        None => open_as(reopen()?, format)?,
                    };
                    each_cell(&mut workbook, &sheet, |r, c, v| rows.add(r, c, v))?;
                }
                Source::Whole(range) => range_cells(&range, |r, c, v| rows.add(r, c, v))?,
            }
            rows.finish();
            Ok::<(), String>(())
        });
        match read {
            Ok(Ok(())) => feed.end(),
            Ok(Err(e)) => feed.failed(unreadable(format!("sheet {sheet}: {e}"))),
            Err(_) => feed.failed(unreadable(DAMAGED.into())),
        }
    };
    Streamed::new(path, "muster-sheet", VecDeque::new(), Box::new(reading))
}

/// Cells of a sheet → its data rows, sent in chunks.
struct SheetRows<'f> {
    spec: Spec,
    feed: &'f Feed,
    /// The row being built (0-based), whether it holds anything, its cells and problems.
    row: Option<u32>,
    filled: bool,
    cells: Cells,
    errors: Vec<CellError>,
    beyond: Beyond,
    chunk: Vec<RawRow>,
    /// `false` once the table was dropped: reading stops.
    wanted: bool,
}

impl<'f> SheetRows<'f> {
    fn new(spec: Spec, feed: &'f Feed) -> SheetRows<'f> {
        SheetRows {
            spec,
            feed,
            row: None,
            filled: false,
            cells: Cells::with_capacity(spec.width, 16 * spec.width),
            errors: Vec::new(),
            beyond: Beyond::default(),
            chunk: Vec::new(),
            wanted: true,
        }
    }

    /// Takes a cell; `false` when reading should stop.
    fn add(&mut self, row: u32, col: u32, value: &DataRef<'_>) -> Result<bool, String> {
        if let Some(why) = limits::check_cell(row, col) {
            return Err(why);
        }
        if row <= self.spec.header {
            return Ok(true);
        }
        if self.row != Some(row) {
            self.end_row();
            self.row = Some(row);
        }
        let (text, problem, _) = value_text(value);
        let col = col as usize;
        if text.is_empty() {
            return Ok(self.wanted);
        }
        self.filled = true;
        if col >= self.spec.width {
            self.beyond.add(col, &text);
            return Ok(self.wanted);
        }
        if let Some(text) = problem {
            self.errors.push(CellError { col, text });
        }
        if col >= self.cells.len() {
            self.cells.resize(col);
            self.cells.push(&text);
        } else {
            // Cells out of order (a hand-made file): the later one is kept.
            self.cells.set(col, &text);
        }
        Ok(self.wanted)
    }

    /// Ends the row being built: a row holding anything goes into the chunk, a full
    /// chunk is sent.
    fn end_row(&mut self) {
        let Some(row) = self.row.take() else {
            return;
        };
        let width = self.spec.width;
        let next = Cells::with_capacity(width, self.cells.text_len() + 16);
        let mut cells = std::mem::replace(&mut self.cells, next);
        let mut errors = std::mem::take(&mut self.errors);
        let beyond = std::mem::take(&mut self.beyond);
        if !std::mem::take(&mut self.filled) {
            return;
        }
        cells.resize(width);
        errors.extend(beyond.error());
        self.chunk.push(RawRow {
            line: row + 1,
            cells,
            errors,
        });
        if self.chunk.len() >= CHUNK_ROWS || self.chunk.len() * width >= CHUNK_CELLS {
            self.wanted = self.feed.rows(std::mem::take(&mut self.chunk));
        }
    }

    /// Sends what is left.
    fn finish(mut self) {
        self.end_row();
        if self.wanted {
            self.feed.rows(self.chunk);
        }
    }
}
