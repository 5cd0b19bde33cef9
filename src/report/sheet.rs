//! Helpers every sheet of muster's workbooks shares: Excel's row limit, column widths
//! measured on the first rows, and the one way a text cell is written (cut to Excel's
//! limit, never a formula: see [`super::safe`]).

use rust_xlsxwriter::{ColNum, RowNum, Worksheet, XlsxError};

use super::safe;
use super::style::Formats;

/// Rows of a sheet (header included) before the next rows go to a continuation sheet
/// (`Results (2)`): Excel's limit.
pub const EXCEL_ROWS: u32 = 1_048_576;
/// Rows sampled for column widths (no full-data autofit in constant memory).
pub const WIDTH_SAMPLE: u32 = 500;
/// Widest column, in characters.
const MAX_WIDTH: usize = 60;

/// Column widths measured on the first rows of a sheet.
pub struct Widths {
    pub chars: Vec<usize>,
}

impl Widths {
    pub fn see(&mut self, col: usize, len: usize, sample: bool) {
        if sample {
            if let Some(w) = self.chars.get_mut(col) {
                *w = (*w).max(len);
            }
        }
    }

    pub fn apply(&self, sheet: &mut Worksheet) -> Result<(), XlsxError> {
        for (c, w) in self.chars.iter().enumerate() {
            let width = (*w).clamp(6, MAX_WIDTH) + 2;
            sheet.set_column_width(c as ColNum, width as f64)?;
        }
        Ok(())
    }
}

/// Writes one text cell: cut to Excel's limit, quote-prefixed when it looks like a formula.
pub fn put_text(
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
