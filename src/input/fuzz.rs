//! The fuzz targets of `fuzz/` (cargo fuzz), one function each: `csv`, `xlsx`, `header`
//! and `cell` take the fuzzer's bytes and drive one stage of the input path as
//! `input::open` and `mapping` would, with no file on disk; they panic when a check fails.
//! The targets in `fuzz/fuzz_targets/` only call them, and the test below replays every
//! input of `fuzz/corpus/<target>/` through them, so `cargo test` checks the corpus too.
//! Not for other use.

use std::io::Cursor;
use std::path::Path;

use calamine::{CellErrorType, Data, ExcelDateTime, ExcelDateTimeType};

use super::{
    Opened, cell as cells, container, csv as csv_text, encoding, excel, header as headers,
};
use crate::mapping::{self, Overrides};
use crate::model::Layout;

/// CSV decoding and sniffing: bytes → encoding, delimiter, header, every record. The first
/// byte picks the file's extension (`.csv`, `.tsv`, `.txt`, `.xlsx` = strict) and the size
/// of the blocks the text is also read in, which must give the same rows; the text with its
/// quotes replaced must parse the same by the quote-free fast way and by csv_core.
pub fn csv(data: &[u8]) {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let name = ["f.csv", "f.tsv", "f.txt", "f.xlsx"][usize::from(pick % 4)];
    std::hint::black_box(csv_file(name, bytes));
    let delimiter = [b',', b';', b'\t', b'|'][usize::from(pick >> 6)];
    csv_blocks_agree(bytes, usize::from(pick >> 2 & 15) + 1, delimiter);
    csv_plain_agrees(bytes, delimiter, pick);
    if let Ok(utf8) = std::str::from_utf8(bytes) {
        csv_text::sniff_delimiter(utf8, pick & 4 != 0);
    }
}

/// The workbook path through calamine: bytes → zip caps → workbook → tables → rows, as
/// `muster validate` reads a file. The first byte picks the extension (xlsx, xlsb, ods, xls).
pub fn xlsx(data: &[u8]) {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let name = ["f.xlsx", "f.xlsb", "f.ods", "f.xls"][usize::from(pick % 4)];
    std::hint::black_box(workbook(name, bytes));
}

/// Header detection and mapping: rows of strings → header row + field mapping. The input
/// is text: lines are rows, `\t` separates cells; the first byte is `min_cells`.
pub fn header(data: &[u8]) {
    let Some((&min, bytes)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(bytes);
    let rows: Vec<Vec<String>> = text
        .split('\n')
        .take(40)
        .map(|line| line.split('\t').map(str::to_string).collect())
        .collect();
    let min_cells = usize::from(min % 4);
    if let Some((at, layout, mapped)) = header_and_mapping(&rows, min_cells) {
        assert!(at < rows.len(), "header index out of the rows");
        if mapped {
            assert_eq!(
                layout.fields.len(),
                layout.headers.len(),
                "a field per column"
            );
            for (col, _, _) in &layout.passthrough {
                assert!(
                    *col < layout.headers.len(),
                    "pass-through column out of the table"
                );
            }
            // The column report, with the rows below the header as each column's sample.
            let samples: Vec<Vec<String>> = (0..layout.headers.len())
                .map(|c| {
                    rows[at + 1..]
                        .iter()
                        .filter_map(|r| r.get(c).cloned())
                        .collect()
                })
                .collect();
            let report = mapping::ColumnReport::of_table(&layout, &Overrides::default(), &samples);
            assert_eq!(
                report.len(),
                layout.headers.len(),
                "a report line per column"
            );
            let _ = mapping::needs(&layout, false);
        }
    }
}

/// Cell text conversion: calamine `Data` values → muster's cell text and problem. The
/// first byte picks the variant, the next eight its number, the rest its text.
pub fn cell(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut raw = [0u8; 8];
    let n = rest.len().min(8);
    raw[..n].copy_from_slice(&rest[..n]);
    let float = f64::from_le_bytes(raw);
    let int = i64::from_le_bytes(raw);
    let text = String::from_utf8_lossy(&rest[n..]).into_owned();
    let errors = [
        CellErrorType::Div0,
        CellErrorType::NA,
        CellErrorType::Name,
        CellErrorType::Null,
        CellErrorType::Num,
        CellErrorType::Ref,
        CellErrorType::Value,
        CellErrorType::GettingData,
    ];
    let value = match pick % 10 {
        0 => Data::Empty,
        1 => Data::String(text),
        2 => Data::Int(int),
        3 => Data::Float(float),
        4 => Data::Bool(int & 1 == 1),
        5 => Data::DateTime(ExcelDateTime::new(
            float,
            ExcelDateTimeType::DateTime,
            false,
        )),
        6 => Data::DateTime(ExcelDateTime::new(
            float,
            ExcelDateTimeType::TimeDelta,
            pick & 16 != 0,
        )),
        7 => Data::DateTimeIso(text),
        8 => Data::DurationIso(text),
        _ => Data::Error(errors[usize::from(pick / 10) % errors.len()].clone()),
    };
    let (text, _problem) = cells::data_text(&value);
    assert!(text.chars().count() <= 32_767, "cell text over the cap");
}

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
fn csv_file(name: &str, bytes: &[u8]) -> usize {
    let split = bytes.len().min(encoding::SAMPLE);
    let (sample, rest) = bytes.split_at(split);
    let complete = rest.is_empty();
    let strict = name.ends_with(".xlsx");
    let rest = Cursor::new(rest.to_vec());
    drain(csv_text::open(
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
fn csv_blocks_agree(bytes: &[u8], size: usize, delimiter: u8) {
    let whole = csv_text::rows_in_blocks(bytes, usize::MAX, delimiter);
    let cut = csv_text::rows_in_blocks(bytes, size, delimiter);
    assert_eq!(cut, whole, "blocks of {size} bytes");
}

/// Panics unless a block of text with no quote character (each `"` in `bytes` becomes
/// `q`) gives the same rows, lines, end and broken limit read the fast way and by csv_core.
/// `pick`'s bits choose the block's place in the file, its width and a row limit.
fn csv_plain_agrees(bytes: &[u8], delimiter: u8, pick: u8) {
    let width = match pick & 3 {
        0 => usize::MAX,
        w => usize::from(w),
    };
    let max_rows = match pick >> 2 & 3 {
        0 => usize::MAX,
        n => usize::from(n),
    };
    let place = (pick & 16 != 0, pick & 32 != 0, pick & 64 != 0);
    if let Err(e) = csv_text::plain_agrees(bytes, delimiter, width, max_rows, place) {
        panic!("{e}");
    }
}

/// Header detection and mapping: the first rows of a table (texts) → the header row's
/// index, the layout, and whether mapping accepted it (its fields are then filled); `None`
/// when no header is found.
fn header_and_mapping(rows: &[Vec<String>], min_cells: usize) -> Option<(usize, Layout, bool)> {
    let kinds: Vec<Vec<headers::Kind>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| headers::Kind::of_text(cells::trim(c)))
                .collect()
        })
        .collect();
    let at = headers::find_header(&kinds, min_cells)?;
    let width = rows
        .iter()
        .skip(at)
        .map(|r| headers::used_width(r))
        .max()
        .unwrap_or(0);
    let mut layout = Layout {
        headers: headers::header_names(rows.get(at)?, width),
        ..Layout::default()
    };
    // A mapping error (two headers for one field) is a result, not a failure.
    let mapped = mapping::map_layout(&mut layout, &Overrides::default()).is_ok();
    Some((at, layout, mapped))
}

/// The workbook path: `bytes` as a file named `name` (`fuzz.xlsx`, `fuzz.ods`...), read as
/// `input::open` reads it (zip caps, calamine, header search, every row converted). Bytes
/// that show no workbook container are read as text. Returns the number of cells read.
fn workbook(name: &str, bytes: &[u8]) -> usize {
    let ext = name.rsplit('.').next().unwrap_or_default();
    match container(bytes) {
        Some(c) => {
            let bytes: std::sync::Arc<[u8]> = bytes.into();
            let reopen = move || Ok(Cursor::new(bytes.clone()));
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

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::path::PathBuf;

    /// A fuzz target: the fuzzer's bytes in, a panic when a check fails.
    type Target = fn(&[u8]);

    /// Every input saved in `fuzz/corpus/<target>/` (by fuzzing runs, and the inputs that
    /// once crashed) passes its target's checks: a change that breaks one fails here, not
    /// only in the next fuzzing run. The names of the inputs that fail are listed.
    #[test]
    fn every_corpus_input_passes_its_target() {
        let targets: [(&str, Target); 4] = [
            ("csv", super::csv),
            ("xlsx", super::xlsx),
            ("header", super::header),
            ("cell", super::cell),
        ];
        for (name, target) in targets {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/corpus")
                .join(name);
            let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|entry| entry.expect("a corpus entry").path())
                .collect();
            inputs.sort();
            assert!(!inputs.is_empty(), "{} has no inputs", dir.display());
            let failed: Vec<String> = inputs
                .iter()
                .filter(|path| {
                    let bytes = std::fs::read(path).expect("a corpus input");
                    catch_unwind(AssertUnwindSafe(|| target(&bytes))).is_err()
                })
                .map(|path| path.display().to_string())
                .collect();
            assert!(failed.is_empty(), "{name} fails on {failed:#?}");
        }
    }
}
