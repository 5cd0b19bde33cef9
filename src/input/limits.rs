//! Caps that keep a hostile or broken file from taking unbounded memory or time. Each is
//! far above what a real roster reaches (Excel itself stops at 16,384 columns and 32,767
//! characters a cell); a file beyond one is refused with a message naming the cap, or, for
//! one long cell, gets a problem on that cell.
//!
//! - CSV: one row (one record, quoted line breaks included) at most [`MAX_ROW_BYTES`];
//!   at most [`MAX_COLUMNS`] columns.
//! - Workbooks (zip: xlsx, xlsm, xlsb, ods): before calamine reads the archive, each part
//!   is inflated into a counter (nothing kept): at most [`MAX_PART_BYTES`] each,
//!   [`MAX_TOTAL_BYTES`] together, and a part over 8 MiB may not inflate more than
//!   [`MAX_RATIO`] times its compressed size (a zip bomb). The central directory's declared
//!   sizes are checked first, then the real ones, so a lying directory does not help.
//! - A sheet's used area (first to last cell, rows × columns) at most [`MAX_CELLS`], and at
//!   most [`MAX_COLUMNS`] columns: calamine allocates that whole rectangle.
//! - Any cell: text longer than [`MAX_CELL_CHARS`] is cut there, with a problem on the cell.

use std::io::{Read, Seek};

/// The most columns a table may have (Excel's own maximum).
pub const MAX_COLUMNS: usize = 16_384;
/// The most bytes one CSV row may take.
pub const MAX_ROW_BYTES: usize = 1 << 20;
/// The most characters kept of one cell (Excel's own maximum).
pub const MAX_CELL_CHARS: usize = 32_767;
/// The most bytes one part of a zip workbook may inflate to.
pub const MAX_PART_BYTES: u64 = 128 << 20;
/// The most bytes all parts of a zip workbook may inflate to together.
pub const MAX_TOTAL_BYTES: u64 = 512 << 20;
/// The highest compression ratio allowed for a part larger than [`RATIO_FROM`].
pub const MAX_RATIO: u64 = 250;
/// Parts smaller than this may have any compression ratio.
const RATIO_FROM: u64 = 8 << 20;
/// The most parts a zip workbook may hold.
pub const MAX_PARTS: usize = 10_000;
/// The most cells in a sheet's used area (rows × columns from its first to its last cell).
pub const MAX_CELLS: u64 = 10_000_000;

/// Human size: `128 MiB`.
fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

/// The message for a CSV row over [`MAX_ROW_BYTES`]; `row` is its row number.
pub(crate) fn row_too_long(row: u32) -> String {
    format!(
        "row {row} is longer than {} (muster's limit for one row; is this a roster?)",
        mib(MAX_ROW_BYTES as u64)
    )
}

/// The message for a table wider than [`MAX_COLUMNS`], or `None` when `width` is within it.
pub(crate) fn check_columns(width: usize, row: u32) -> Option<String> {
    (width > MAX_COLUMNS).then(|| {
        format!(
            "row {row} has {width} columns, more than {MAX_COLUMNS} (muster's limit, as Excel's)"
        )
    })
}

/// Cuts a cell's text at [`MAX_CELL_CHARS`] characters; the problem text when it was cut.
pub(crate) fn cap_cell(text: &mut String) -> Option<String> {
    let (kept, problem) = cap_str(text);
    let cut = kept.len();
    text.truncate(cut);
    problem
}

/// The part of `text` within [`MAX_CELL_CHARS`] characters, and the problem text when
/// that is not all of it.
pub(crate) fn cap_str(text: &str) -> (&str, Option<String>) {
    // Bytes ≥ chars, so a short text needs no counting.
    if text.len() <= MAX_CELL_CHARS {
        return (text, None);
    }
    let Some((cut, _)) = text.char_indices().nth(MAX_CELL_CHARS) else {
        return (text, None);
    };
    let chars = MAX_CELL_CHARS + text[cut..].chars().count();
    (
        &text[..cut],
        Some(format!(
            "holds {chars} characters, more than {MAX_CELL_CHARS} (muster's limit, as Excel's); cut there"
        )),
    )
}

/// The message for a sheet whose used area is too large, or `None`.
pub(crate) fn check_area(rows: u64, cols: u64) -> Option<String> {
    if cols > MAX_COLUMNS as u64 {
        return Some(format!(
            "its used area is {cols} columns wide, more than {MAX_COLUMNS} (muster's limit, as Excel's)"
        ));
    }
    (rows.saturating_mul(cols) > MAX_CELLS).then(|| {
        format!(
            "its used area is {rows} rows × {cols} columns, more than {MAX_CELLS} cells (muster's limit)"
        )
    })
}

/// Checks every part of a zip workbook against the size and ratio caps, inflating each
/// into a counter. `Err` is the reason to refuse the file. A file the zip reader cannot
/// read at all passes: calamine then says what is wrong with it.
pub(crate) fn check_zip(reader: impl Read + Seek) -> Result<(), String> {
    let Ok(mut archive) = zip::ZipArchive::new(reader) else {
        return Ok(());
    };
    if archive.len() > MAX_PARTS {
        return Err(format!(
            "the workbook holds {} parts, more than {MAX_PARTS} (muster's limit)",
            archive.len()
        ));
    }
    // Declared sizes first: cheap, and what an honest bomb shows.
    let mut declared_total = 0u64;
    for i in 0..archive.len() {
        let Ok(part) = archive.by_index_raw(i) else {
            continue;
        };
        let name = part.name().map(|n| n.into_owned()).unwrap_or_default();
        check_part(&name, part.size(), part.compressed_size())?;
        declared_total = declared_total.saturating_add(part.size());
    }
    check_total(declared_total)?;
    // Then the real sizes, as calamine would inflate them.
    let mut total = 0u64;
    for i in 0..archive.len() {
        let Ok(mut part) = archive.by_index(i) else {
            continue;
        };
        let name = part.name().map(|n| n.into_owned()).unwrap_or_default();
        let compressed = part.compressed_size();
        let mut capped = (&mut part).take(MAX_PART_BYTES + 1);
        // A part that fails to inflate is left for calamine to report.
        let Ok(size) = std::io::copy(&mut capped, &mut std::io::sink()) else {
            continue;
        };
        check_part(&name, size, compressed)?;
        total = total.saturating_add(size);
        check_total(total)?;
    }
    Ok(())
}

fn check_part(name: &str, size: u64, compressed: u64) -> Result<(), String> {
    if size > MAX_PART_BYTES {
        return Err(format!(
            "part {name} inflates to more than {} (muster's limit for one part; a zip bomb?)",
            mib(MAX_PART_BYTES)
        ));
    }
    if size > RATIO_FROM && size / compressed.max(1) > MAX_RATIO {
        return Err(format!(
            "part {name} inflates {} times its compressed size, more than {MAX_RATIO} (muster's limit; a zip bomb?)",
            size / compressed.max(1)
        ));
    }
    Ok(())
}

fn check_total(total: u64) -> Result<(), String> {
    if total > MAX_TOTAL_BYTES {
        return Err(format!(
            "the workbook inflates to more than {} (muster's limit; a zip bomb?)",
            mib(MAX_TOTAL_BYTES)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn zip_of(parts: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        for (name, bytes) in parts {
            out.start_file(*name, options).unwrap();
            out.write_all(bytes).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn zip_parts_are_capped() {
        let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
            ("small parts", zip_of(&[("a.xml", b"<a/>".to_vec())]), None),
            (
                "a high ratio over 8 MiB",
                zip_of(&[("s.xml", vec![b'x'; 9 << 20])]),
                Some("part s.xml inflates"),
            ),
            ("not a zip", b"PK\x03\x04 nothing".to_vec(), None),
        ];
        for (name, bytes, want) in cases {
            let got = check_zip(Cursor::new(bytes));
            match want {
                None => assert_eq!(got, Ok(()), "{name}"),
                Some(want) => {
                    let e = got.expect_err(name);
                    assert!(e.contains(want), "{name}: {e}");
                }
            }
        }
    }

    #[test]
    fn part_sizes_are_capped() {
        let cases = [
            (MAX_PART_BYTES, 1 << 20, true),
            (MAX_PART_BYTES + 1, MAX_PART_BYTES, false),
            (RATIO_FROM, 1, true),
            (RATIO_FROM + 1, 1, false),
            (100 << 20, (100 << 20) / MAX_RATIO, true),
            (100 << 20, (100 << 20) / (MAX_RATIO + 2), false),
        ];
        for (size, compressed, ok) in cases {
            assert_eq!(
                check_part("p", size, compressed).is_ok(),
                ok,
                "{size} {compressed}"
            );
        }
        assert!(check_total(MAX_TOTAL_BYTES).is_ok());
        assert!(check_total(MAX_TOTAL_BYTES + 1).is_err());
    }

    #[test]
    fn long_cells_are_cut() {
        let cases = [
            ("short", "abc".to_string(), "abc".len(), false),
            (
                "at the cap",
                "é".repeat(MAX_CELL_CHARS),
                MAX_CELL_CHARS * 2,
                false,
            ),
            ("over", "x".repeat(MAX_CELL_CHARS + 5), MAX_CELL_CHARS, true),
            (
                "multibyte over",
                "é".repeat(MAX_CELL_CHARS + 1),
                MAX_CELL_CHARS * 2,
                true,
            ),
        ];
        for (name, mut text, len, cut) in cases {
            let problem = cap_cell(&mut text);
            assert_eq!(text.len(), len, "{name}");
            assert_eq!(problem.is_some(), cut, "{name}");
        }
    }

    #[test]
    fn areas_are_capped() {
        assert_eq!(check_area(1_000_000, 10), None);
        assert!(check_area(1_048_576, 16_384).is_some());
        assert!(check_area(1, 20_000).is_some());
        assert_eq!(check_columns(16_384, 1), None);
        assert!(check_columns(16_385, 1).is_some());
    }
}
