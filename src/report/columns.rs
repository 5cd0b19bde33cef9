//! The column report (issue 27) as the terminal shows it, as `--json`'s `columns`, and as
//! the workbook's `Columns` sheet: every source column, the field it maps to or `ignored`
//! with the closest fields, and the notes on values muster gave rows itself (defaults).

use rust_xlsxwriter::{ColNum, RowNum, Workbook, Worksheet, XlsxError};
use serde_json::Value;

use super::safe;
use super::style::Formats;
use crate::mapping::ColumnReport;

/// Headers wider than this are cut in the terminal table.
const HEADER_WIDTH: usize = 24;

/// The compact table printed before work starts: one block per table, one line a column.
pub fn columns_table(columns: &[ColumnReport]) -> String {
    let mut out = String::new();
    let mut last: Option<(&str, &str)> = None;
    let width = columns
        .iter()
        .map(|c| c.header.chars().count().min(HEADER_WIDTH))
        .max()
        .unwrap_or(0);
    for c in columns {
        if last != Some((c.file.as_str(), c.sheet.as_str())) {
            out.push_str(&format!("columns of {}, {}:\n", c.file, c.sheet));
            last = Some((&c.file, &c.sheet));
        }
        let header: String = c.header.chars().take(HEADER_WIDTH).collect();
        let what = match (&c.field, &c.suggestion) {
            (Some(f), _) => format!("→ {f}"),
            (None, Some(s)) if c.blocks() => format!("IGNORED, {s}"),
            (None, Some(s)) => format!("ignored ({s})"),
            (None, None) => "ignored".to_string(),
        };
        out.push_str(&format!("  {header:<width$}  {what}\n"));
    }
    out
}

/// `--json`: the summary object gets `columns`, a list of `{file, sheet, header, field,
/// suggestion}` (`field` null when ignored), and `defaults`, the notes on values muster
/// gave rows.
pub fn add_columns(summary: &mut Value, columns: &[ColumnReport], defaults: &[String]) {
    if let Some(s) = summary.get_mut("summary").and_then(Value::as_object_mut) {
        s.insert(
            "columns".into(),
            serde_json::to_value(columns).unwrap_or(Value::Null),
        );
        s.insert("defaults".into(), defaults.into());
    }
}

/// Adds the `Columns` sheet after the others, when there are columns to list.
pub(super) fn add_columns_sheet(
    workbook: &mut Workbook,
    f: &Formats,
    columns: &[ColumnReport],
    defaults: &[String],
) -> Result<(), XlsxError> {
    if columns.is_empty() {
        return Ok(());
    }
    let sheet = workbook.add_worksheet();
    sheet.set_name("Columns")?;
    write_columns(sheet, f, columns, defaults)
}

/// The `Columns` sheet: the report as a table, then the defaults muster applied.
fn write_columns(
    sheet: &mut Worksheet,
    f: &Formats,
    columns: &[ColumnReport],
    defaults: &[String],
) -> Result<(), XlsxError> {
    let text = |sheet: &mut Worksheet, r: RowNum, c: ColNum, s: &str| -> Result<(), XlsxError> {
        let s = safe::fit_cell(s);
        sheet.write_string_with_format(r, c, s.as_ref(), &f.quoted)?;
        Ok(())
    };
    for (c, h) in ["file", "sheet", "header", "field", "suggestion"]
        .iter()
        .enumerate()
    {
        sheet.write_string_with_format(0, c as ColNum, *h, &f.header)?;
    }
    let mut r: RowNum = 1;
    for col in columns {
        text(sheet, r, 0, &col.file)?;
        text(sheet, r, 1, &col.sheet)?;
        text(sheet, r, 2, &col.header)?;
        text(sheet, r, 3, col.field.as_deref().unwrap_or("ignored"))?;
        if let Some(s) = &col.suggestion {
            text(sheet, r, 4, s)?;
        }
        r += 1;
    }
    r += 1;
    sheet.write_string_with_format(r, 0, "Values muster gave rows", &f.label)?;
    r += 1;
    if defaults.is_empty() {
        sheet.write_string(r, 0, "none")?;
    }
    for d in defaults {
        text(sheet, r, 0, d)?;
        r += 1;
    }
    for (c, w) in [24.0, 16.0, 24.0, 18.0, 80.0].into_iter().enumerate() {
        sheet.set_column_width(c as ColNum, w)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Evidence;
    use crate::model::Field;

    fn report() -> Vec<ColumnReport> {
        let col =
            |header: &str, field: Option<&str>, suggestion: Option<&str>, likely| ColumnReport {
                file: "roster.xlsx".into(),
                sheet: "Roster".into(),
                header: header.into(),
                field: field.map(str::to_string),
                suggestion: suggestion.map(str::to_string),
                likely,
            };
        vec![
            col("Platform", Some("target"), None, None),
            col("Assigned vehicles", Some("devices"), None, None),
            col(
                "Start date",
                None,
                Some("closest: time_zone, duty_status; none is close"),
                None,
            ),
            col("Notes", None, Some("ignored by the mapping"), None),
            col(
                "Kit",
                None,
                Some(
                    "looks like devices: its values are IMEIs (2 of 2); map it, or set \"Kit\" = \"ignore\"",
                ),
                Some(Evidence {
                    field: Field::Devices,
                    why: "its values are IMEIs (2 of 2)".into(),
                }),
            ),
        ]
    }

    #[test]
    fn the_terminal_table_snapshot() {
        assert_eq!(
            columns_table(&report()),
            "columns of roster.xlsx, Roster:\n\
             \x20 Platform           → target\n\
             \x20 Assigned vehicles  → devices\n\
             \x20 Start date         ignored (closest: time_zone, duty_status; none is close)\n\
             \x20 Notes              ignored (ignored by the mapping)\n\
             \x20 Kit                IGNORED, looks like devices: its values are IMEIs (2 of 2); map it, or set \"Kit\" = \"ignore\"\n"
        );
    }

    #[test]
    fn the_json_snapshot() {
        let mut summary = serde_json::json!({"summary": {"rows": 1}});
        add_columns(
            &mut summary,
            &report()[2..4],
            &["target pegasus: send_email = yes".into()],
        );
        assert_eq!(
            summary.to_string(),
            r#"{"summary":{"rows":1,"columns":[{"file":"roster.xlsx","sheet":"Roster","header":"Start date","field":null,"suggestion":"closest: time_zone, duty_status; none is close"},{"file":"roster.xlsx","sheet":"Roster","header":"Notes","field":null,"suggestion":"ignored by the mapping"}],"defaults":["target pegasus: send_email = yes"]}}"#
        );
    }
}
