//! How the workbook looks: header, text, number and status formats, status colours.

use rust_xlsxwriter::{
    ColNum, Color, Format, FormatAlign, FormatBorder, RowNum, Worksheet, XlsxError,
};

use crate::model::Status;

/// The colours of a status: (fill, font). Excel's own Good / Neutral / Bad palette, so the
/// workbook looks like the conditional formats people know.
pub fn status_colors(status: Status) -> (u32, u32) {
    const GREEN: (u32, u32) = (0xC6EFCE, 0x006100);
    const AMBER: (u32, u32) = (0xFFEB9C, 0x9C5700);
    const RED: (u32, u32) = (0xFFC7CE, 0x9C0006);
    const GREY: (u32, u32) = (0xE7E6E6, 0x3A3838);
    match status {
        Status::Created
        | Status::Exists
        | Status::Updated
        | Status::Verified
        | Status::Valid
        | Status::Deleted => GREEN,
        Status::Partial | Status::Manual | Status::Planned => AMBER,
        Status::Invalid | Status::Failed => RED,
        Status::NotAttempted => GREY,
    }
}

/// A stronger shade of the status colour, for chart bars.
pub fn status_chart_color(status: Status) -> u32 {
    match status {
        Status::Created => 0x4CAF50,
        Status::Updated => 0x2E7D32,
        Status::Exists => 0xA5D6A7,
        Status::Verified => 0x1B5E20,
        Status::Valid => 0x66BB6A,
        Status::Deleted => 0x80CBC4,
        Status::Manual => 0xFFB300,
        Status::Planned => 0xFFD54F,
        Status::Partial => 0xFB8C00,
        Status::Invalid => 0xE57373,
        Status::Failed => 0xC62828,
        Status::NotAttempted => 0x9E9E9E,
    }
}

/// Every format the writers use, made once.
pub struct Formats {
    /// Header row: bold, filled, bottom border.
    pub header: Format,
    /// A header cell (the roster's own) that starts like a formula: quote-prefixed.
    pub header_quoted: Format,
    /// Column format of every text column: `@`, so edits stay text.
    pub text: Format,
    /// A text cell whose value starts like a formula: `@` plus the quote-prefix flag.
    pub quoted: Format,
    /// One per status, in [`Status::ALL`] order.
    status: Vec<Format>,
    /// Column format of small number columns (`row`, `http_status`, `attempts`).
    pub centred: Format,
    /// Sheet titles.
    pub title: Format,
    /// Section headings and labels in Summary.
    pub label: Format,
    /// Whole numbers.
    pub int: Format,
    /// Durations in seconds.
    pub seconds: Format,
    /// Rates.
    pub rate: Format,
    /// The total line of a table.
    pub total: Format,
}

impl Formats {
    /// Writes `value` as a text cell, cut to Excel's limit; text that starts like a
    /// formula keeps the quote-prefix format, so it is never read as one.
    pub fn write_text(
        &self,
        sheet: &mut Worksheet,
        r: RowNum,
        c: ColNum,
        value: &str,
    ) -> Result<(), XlsxError> {
        let value = super::safe::fit_cell(value);
        if super::safe::looks_like_formula(&value) {
            sheet.write_string_with_format(r, c, value, &self.quoted)?;
        } else {
            sheet.write_string(r, c, value)?;
        }
        Ok(())
    }

    /// Builds all formats.
    pub fn new() -> Formats {
        Formats {
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xD9E1F2))
                .set_border_bottom(FormatBorder::Thin),
            header_quoted: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xD9E1F2))
                .set_border_bottom(FormatBorder::Thin)
                .set_num_format("@")
                .set_quote_prefix(),
            text: Format::new().set_num_format("@"),
            quoted: Format::new().set_num_format("@").set_quote_prefix(),
            status: Status::ALL
                .iter()
                .map(|s| {
                    let (fill, font) = status_colors(*s);
                    Format::new()
                        .set_background_color(Color::RGB(fill))
                        .set_font_color(Color::RGB(font))
                })
                .collect(),
            centred: Format::new().set_align(FormatAlign::Center),
            title: Format::new().set_bold().set_font_size(14),
            label: Format::new().set_bold(),
            int: Format::new().set_num_format("#,##0"),
            seconds: Format::new().set_num_format("#,##0.0"),
            rate: Format::new().set_num_format("#,##0.00"),
            total: Format::new()
                .set_bold()
                .set_num_format("#,##0")
                .set_border_top(FormatBorder::Thin),
        }
    }

    /// The format of a status cell.
    pub fn status(&self, status: Status) -> &Format {
        let i = Status::ALL
            .iter()
            .position(|s| *s == status)
            .expect("Status::ALL lists every status");
        &self.status[i]
    }
}

impl Default for Formats {
    fn default() -> Formats {
        Formats::new()
    }
}
