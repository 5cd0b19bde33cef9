//! Entry points for the fuzz targets in `fuzz/` (cargo fuzz): each drives one stage of the
//! input path from bytes or values, as `input::open` and `mapping` would, with no file on
//! disk. Not for other use; each returns a summary only so the work cannot be optimised
//! away.

use std::io::Cursor;
use std::path::Path;

use super::{Opened, cell, container, csv, encoding, excel, header};
use crate::mapping::{self, Overrides};
use crate::model::Layout;

/// Rows and cells read from `opened` (every row of every table is read), or the error.
fn drain(opened: Result<Opened, super::Error>) -> usize {
    let Ok(opened) = opened else {
        return 0;
    };
    let mut cells = 0;
    for table in opened.tables {
        for row in table.rows {
            match row {
                Ok(row) => cells += row.cells.len() + row.errors.len(),
                Err(_) => break,
            }
        }
    }
    cells
}

/// CSV decoding and sniffing: `bytes` as a text file named `name` (its extension matters:
/// `.tsv` prefers tabs, `.xlsx` is strict). Returns the number of cells read.
pub fn csv_file(name: &str, bytes: &[u8]) -> usize {
    let split = bytes.len().min(encoding::SAMPLE);
    let (sample, rest) = bytes.split_at(split);
    let complete = rest.is_empty();
    let strict = name.ends_with(".xlsx");
    let rest = Cursor::new(rest.to_vec());
    drain(csv::open(
        Path::new(name),
        rest,
        sample.to_vec(),
        complete,
        strict,
    ))
}

/// Panics unless reading `bytes` (UTF-8 text) in blocks of `size` bytes gives the same rows
/// as reading it in one block: the parse of each block ahead of need, the sequencer's
/// check of it, and the rows' numbers across blocks.
pub fn csv_blocks_agree(bytes: &[u8], size: usize, delimiter: u8) {
    let whole = csv::rows_in_blocks(bytes, usize::MAX, delimiter);
    let cut = csv::rows_in_blocks(bytes, size, delimiter);
    assert_eq!(cut, whole, "blocks of {size} bytes");
}

/// Panics unless a block of text with no quote character (each `"` in `bytes` becomes
/// `q`) gives the same rows, lines, end and broken limit read the fast way and by csv_core.
/// `pick`'s bits choose the block's place in the file, its width and a row limit.
pub fn csv_plain_agrees(bytes: &[u8], delimiter: u8, pick: u8) {
    let width = match pick & 3 {
        0 => usize::MAX,
        w => usize::from(w),
    };
    let max_rows = match pick >> 2 & 3 {
        0 => usize::MAX,
        n => usize::from(n),
    };
    let place = (pick & 16 != 0, pick & 32 != 0, pick & 64 != 0);
    if let Err(e) = csv::plain_agrees(bytes, delimiter, width, max_rows, place) {
        panic!("{e}");
    }
}

/// The delimiter sniffed from a text (as `csv_file` uses it).
pub fn sniff_delimiter(text: &str, prefer_tab: bool) -> u8 {
    csv::sniff_delimiter(text, prefer_tab)
}

/// Cell text conversion: a calamine value as muster's cell text, and the problem on it.
pub fn cell_text(data: &calamine::Data) -> (String, Option<String>) {
    cell::data_text(data)
}

/// Header detection and mapping: the first rows of a table (texts) → the header row's
/// index, the layout, and whether mapping accepted it (its fields are then filled); `None`
/// when no header is found.
pub fn header_and_mapping(rows: &[Vec<String>], min_cells: usize) -> Option<(usize, Layout, bool)> {
    let kinds: Vec<Vec<header::Kind>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| header::Kind::of_text(cell::trim(c)))
                .collect()
        })
        .collect();
    let at = header::find_header(&kinds, min_cells)?;
    let width = rows
        .iter()
        .skip(at)
        .map(|r| header::used_width(r))
        .max()
        .unwrap_or(0);
    let mut layout = Layout {
        headers: header::header_names(rows.get(at)?, width),
        ..Layout::default()
    };
    // A mapping error (two headers for one field) is a result, not a failure.
    let mapped = mapping::map_layout(&mut layout, &Overrides::default()).is_ok();
    Some((at, layout, mapped))
}

/// The workbook path: `bytes` as a file named `name` (`fuzz.xlsx`, `fuzz.ods`...), read as
/// `input::open` reads it (zip caps, calamine, header search, every row converted). Bytes
/// that show no workbook container are read as text. Returns the number of cells read.
pub fn workbook(name: &str, bytes: &[u8]) -> usize {
    let ext = name.rsplit('.').next().unwrap_or_default();
    match container(bytes) {
        Some(c) => {
            let reopen = || Ok(Cursor::new(bytes));
            // As `input::open`: a panic inside calamine is caught (and reported as a
            // damaged workbook), so it is not a crash here either.
            match excel::quiet_catch(|| excel::read_workbook(name, ext, c, reopen)) {
                Ok(Ok(opened)) => drain(Ok(opened)),
                _ => 0,
            }
        }
        None => csv_file(name, bytes),
    }
}
