//! The audit workbook (`muster audit --out audit.xlsx`) and its `--json` lines.
//!
//! `Summary`: findings per target and class, with totals and a stacked-bar chart like the
//! result workbook's; then one sheet per class (`Same`, `Different`, `Missing`, `Extra`,
//! `Protected`, `Manual`). `Different` has one line per differing field (field, roster value, platform
//! value): an auditor filters or sorts by field. Roster rows carry their source (file,
//! sheet, row). Every cell is text or a number, never a formula; passwords are never
//! compared, so none can appear.

use std::collections::BTreeMap;
use std::path::Path;

use rust_xlsxwriter::{
    Chart, ChartFormat, ChartLegendPosition, ChartSolidFill, ChartType, ColNum, Color, RowNum,
    Workbook, Worksheet, XlsxError,
};
use serde_json::{Value, json};

use super::Error;
use super::style::Formats;
use crate::audit::{Class, Difference};
use crate::model::VendorKind;

/// One finding, ready to report.
#[derive(Debug, Clone)]
pub struct Line {
    pub target: String,
    pub vendor: VendorKind,
    pub class: Class,
    pub key: String,
    pub platform_id: Option<String>,
    pub differences: Vec<Difference>,
    /// (file, sheet, row) of the roster row; `None` for an extra user.
    pub source: Option<(String, String, u32)>,
    /// The platform user's name and email, as it holds them (issue 28: an extra or
    /// protected user is more than its key and id).
    pub name: Option<String>,
    pub email: Option<String>,
}

/// Findings per (target, class).
pub fn counts(lines: &[Line]) -> BTreeMap<String, BTreeMap<Class, usize>> {
    let mut counts: BTreeMap<String, BTreeMap<Class, usize>> = BTreeMap::new();
    for l in lines {
        *counts
            .entry(l.target.clone())
            .or_default()
            .entry(l.class)
            .or_default() += 1;
    }
    counts
}

/// Class colours for the chart: same green, different amber, missing red, extra purple,
/// protected blue, manual grey.
fn class_color(class: Class) -> u32 {
    match class {
        Class::Same => 0x4CAF50,
        Class::Different => 0xFFB300,
        Class::Missing => 0xE57373,
        Class::Extra => 0x7E57C2,
        Class::Protected => 0x42A5F5,
        Class::Manual => 0x9E9E9E,
    }
}

/// Writes the audit workbook to `path`; `columns`, the roster's column report, becomes
/// its last sheet, `Columns`.
pub fn write(
    path: &Path,
    lines: &[Line],
    facts: &[(&str, String)],
    columns: &[crate::mapping::ColumnReport],
) -> Result<(), Error> {
    let xlsx = |source| Error::Xlsx {
        path: path.to_path_buf(),
        source,
    };
    let mut workbook = Workbook::new();
    let f = Formats::new();
    summary(workbook.add_worksheet(), lines, facts, &f).map_err(xlsx)?;
    for class in Class::ALL {
        // Rows go to a temporary file as they are written (constant memory): the audit of
        // a 100,000-user tenant held every cell in memory until the save (issue 30).
        let mut sheet = workbook
            .new_worksheet_with_constant_memory()
            .map_err(xlsx)?;
        class_sheet(&mut sheet, class, lines, &f).map_err(xlsx)?;
        workbook.push_worksheet(sheet);
    }
    super::columns::add_columns_sheet(&mut workbook, &f, columns, &[]).map_err(xlsx)?;
    workbook.save(path).map_err(xlsx)
}

fn summary(
    sheet: &mut Worksheet,
    lines: &[Line],
    facts: &[(&str, String)],
    f: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_name("Summary")?;
    sheet.write_string_with_format(0, 0, "muster audit", &f.title)?;
    let mut r: RowNum = 2;
    for (label, value) in facts {
        sheet.write_string_with_format(r, 0, *label, &f.label)?;
        f.write_text(sheet, r, 1, value)?;
        r += 1;
    }
    r += 1;
    let header_row = r;
    sheet.write_string_with_format(r, 0, "target", &f.header)?;
    for (i, class) in Class::ALL.iter().enumerate() {
        sheet.write_string_with_format(r, 1 + i as ColNum, class.key(), &f.header)?;
    }
    sheet.write_string_with_format(r, 1 + Class::ALL.len() as ColNum, "total", &f.header)?;
    let counts = counts(lines);
    let first = r + 1;
    for (target, by_class) in &counts {
        r += 1;
        f.write_text(sheet, r, 0, target)?;
        for (i, class) in Class::ALL.iter().enumerate() {
            let n = by_class.get(class).copied().unwrap_or(0);
            sheet.write_number_with_format(r, 1 + i as ColNum, n as f64, &f.int)?;
        }
        let total: usize = by_class.values().sum();
        sheet.write_number_with_format(r, 1 + Class::ALL.len() as ColNum, total as f64, &f.int)?;
    }
    let last = r;
    r += 1;
    sheet.write_string_with_format(r, 0, "total", &f.total)?;
    for (i, class) in Class::ALL.iter().enumerate() {
        let n: usize = counts.values().filter_map(|m| m.get(class)).sum();
        sheet.write_number_with_format(r, 1 + i as ColNum, n as f64, &f.total)?;
    }
    sheet.write_number_with_format(
        r,
        1 + Class::ALL.len() as ColNum,
        lines.len() as f64,
        &f.total,
    )?;
    sheet.set_column_width(0, 24)?;
    if !counts.is_empty() {
        let mut chart = Chart::new(ChartType::BarStacked);
        for (i, class) in Class::ALL.iter().enumerate() {
            if !lines.iter().any(|l| l.class == *class) {
                continue;
            }
            let c = 1 + i as ColNum;
            chart
                .add_series()
                .set_name(("Summary", header_row, c))
                .set_categories(("Summary", first, 0, last, 0))
                .set_values(("Summary", first, c, last, c))
                .set_format(ChartFormat::new().set_solid_fill(
                    ChartSolidFill::new().set_color(Color::RGB(class_color(*class))),
                ))
                .set_gap(60);
        }
        chart.title().set_name("Users per target, by audit class");
        chart.y_axis().set_reverse();
        chart.legend().set_position(ChartLegendPosition::Bottom);
        chart.set_width(640);
        chart.set_height(180 + 36 * counts.len().min(12) as u32);
        sheet.insert_chart(r + 2, 0, &chart)?;
    }
    Ok(())
}

fn class_sheet(
    sheet: &mut Worksheet,
    class: Class,
    lines: &[Line],
    f: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_name(class.sheet())?;
    let mut headers = vec!["target", "vendor", "key", "platform_id"];
    if class == Class::Different {
        headers.extend(["field", "roster_value", "platform_value"]);
    }
    let platform_only = matches!(class, Class::Extra | Class::Protected);
    if platform_only {
        headers.extend(["name", "email"]);
    } else {
        headers.extend(["source_file", "sheet", "row"]);
    }
    if class == Class::Different {
        // Issue 28: how two lists differ, compared as sets.
        headers.push("detail");
    }
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, c as ColNum, *h, &f.header)?;
        sheet.set_column_format(c as ColNum, &f.text)?;
        sheet.set_column_width(c as ColNum, 18)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    let mut r: RowNum = 0;
    for line in lines.iter().filter(|l| l.class == class) {
        let fields: Vec<Option<&Difference>> = if class == Class::Different {
            line.differences.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for diff in fields {
            r += 1;
            f.write_text(sheet, r, 0, &line.target)?;
            f.write_text(sheet, r, 1, line.vendor.key())?;
            f.write_text(sheet, r, 2, &line.key)?;
            if let Some(id) = &line.platform_id {
                f.write_text(sheet, r, 3, id)?;
            }
            let mut c: ColNum = 4;
            if let Some(d) = diff {
                f.write_text(sheet, r, 4, d.field.name())?;
                f.write_text(sheet, r, 5, &d.roster)?;
                f.write_text(sheet, r, 6, &d.platform)?;
                c = 7;
            }
            if platform_only {
                for (i, v) in [&line.name, &line.email].into_iter().enumerate() {
                    if let Some(v) = v {
                        f.write_text(sheet, r, c + i as ColNum, v)?;
                    }
                }
            }
            if let Some((file, sheet_name, row)) = &line.source {
                f.write_text(sheet, r, c, file)?;
                f.write_text(sheet, r, c + 1, sheet_name)?;
                sheet.write_number(r, c + 2, *row)?;
            }
            if let Some(detail) = diff.and_then(Difference::detail) {
                f.write_text(sheet, r, headers.len() as ColNum - 1, &detail)?;
            }
        }
    }
    if r > 0 {
        sheet.autofilter(0, 0, r, headers.len() as ColNum - 1)?;
    }
    Ok(())
}

/// One `--json` line per finding.
pub fn json_line(line: &Line) -> Value {
    let mut v = json!({
        "target": line.target,
        "vendor": line.vendor.key(),
        "class": line.class.key(),
        "key": line.key,
        "platform_id": line.platform_id,
    });
    if line.class == Class::Different {
        v["differences"] = json!(
            line.differences
                .iter()
                .map(
                    |d| {
                        let mut v = json!({"field": d.field.name(), "roster": d.roster, "platform": d.platform});
                        if let Some(detail) = d.detail() {
                            v["detail"] = json!(detail);
                        }
                        v
                    }
                )
                .collect::<Vec<_>>()
        );
    }
    for (k, value) in [("name", &line.name), ("email", &line.email)] {
        if let Some(value) = value {
            v[k] = json!(value);
        }
    }
    if let Some((file, sheet, row)) = &line.source {
        v["source_file"] = json!(file);
        v["sheet"] = json!(sheet);
        v["row"] = json!(row);
    }
    v
}

/// The `--json` summary line: counts per target and class, and whether anything drifted.
pub fn json_summary(lines: &[Line], out: Option<&Path>) -> Value {
    let per_target: serde_json::Map<String, Value> = counts(lines)
        .into_iter()
        .map(|(t, by)| {
            let m: serde_json::Map<String, Value> = Class::ALL
                .iter()
                .map(|c| (c.key().to_string(), json!(by.get(c).copied().unwrap_or(0))))
                .collect();
            (t, Value::Object(m))
        })
        .collect();
    json!({
        "summary": {
            "targets": per_target,
            "drift": lines.iter().any(|l| l.class.is_drift()),
            "workbook": out.map(|p| p.display().to_string()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    fn line(class: Class, target: &str) -> Line {
        Line {
            target: target.into(),
            vendor: VendorKind::Traccar,
            class,
            key: "=cmd()@x.test".into(),
            platform_id: Some("7".into()),
            differences: vec![Difference {
                field: Field::Phone,
                roster: "+43 1".into(),
                platform: "+43 2".into(),
                missing: vec![],
                extra: vec![],
            }],
            source: Some(("r.csv".into(), "r".into(), 3)),
            name: None,
            email: None,
        }
    }

    #[test]
    fn counts_and_json_summarise_per_target_and_class() {
        let lines = [
            line(Class::Same, "a"),
            line(Class::Different, "a"),
            line(Class::Manual, "b"),
        ];
        let c = counts(&lines);
        assert_eq!(c["a"][&Class::Same], 1);
        assert_eq!(c["b"][&Class::Manual], 1);
        let s = json_summary(&lines, None);
        assert_eq!(s["summary"]["targets"]["a"]["different"], 1);
        assert_eq!(s["summary"]["drift"], true);
        let j = json_line(&lines[1]);
        assert_eq!(j["differences"][0]["field"], "phone");
        assert_eq!(j["row"], 3);
        // `protected` is counted, is no drift, and its lines say so.
        let quiet = [line(Class::Same, "a"), line(Class::Protected, "a")];
        let s = json_summary(&quiet, None);
        assert_eq!(s["summary"]["targets"]["a"]["protected"], 1);
        assert_eq!(s["summary"]["drift"], false);
        assert_eq!(json_line(&quiet[1])["class"], "protected");
    }

    #[test]
    fn the_workbook_reads_back_with_text_cells() {
        use calamine::{Data, Reader, Xlsx, open_workbook};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.xlsx");
        let lines = [
            line(Class::Different, "a"),
            line(Class::Extra, "a"),
            line(Class::Protected, "a"),
        ];
        write(&path, &lines, &[("run", "x".into())], &[]).unwrap();
        let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
        let diff = wb.worksheet_range("Different").unwrap();
        assert_eq!(
            diff.get((1, 2)),
            Some(&Data::String("=cmd()@x.test".into()))
        );
        assert_eq!(diff.get((1, 5)), Some(&Data::String("+43 1".into())));
        let extra = wb.worksheet_range("Extra").unwrap();
        assert_eq!(extra.get((1, 3)), Some(&Data::String("7".into())));
        let protected = wb.worksheet_range("Protected").unwrap();
        assert_eq!(protected.get((1, 3)), Some(&Data::String("7".into())));
        assert!(wb.sheet_names().contains(&"Manual".to_string()));
    }
}
