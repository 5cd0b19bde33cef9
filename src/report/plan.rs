//! The plan workbook (`muster import --plan-only --out plan.xlsx`) and reading it back
//! (`muster apply`).
//!
//! - `Plan`: one line per row and per differing field: target, vendor, key, planned
//!   action, platform id, field, roster value, platform value, source, error.
//! - `Plan info`: what the plan was made from (format, config, mode, prune, inputs with
//!   their SHA-256, a fingerprint per target) as `key` / `value` lines.
//! - `Plan state`: per target and user key, the platform id and a digest of its fields:
//!   what `apply` compares with a fresh listing to name what changed.
//!
//! Every cell is text or a number, never a formula; passwords are never compared or shown.

use std::collections::BTreeMap;
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use rust_xlsxwriter::{ColNum, RowNum, Workbook, Worksheet, XlsxError};

use super::Error;
use super::style::Formats;
use crate::audit::Difference;

/// The `format` value of `Plan info`; `apply` refuses other plans.
pub const FORMAT: &str = "muster plan 1";

/// One row of the plan.
#[derive(Debug, Clone)]
pub struct PlanLine {
    pub target: String,
    pub vendor: String,
    pub key: String,
    /// `create`, `update`, `none (same)`, `delete (prune)`, `manual`, `invalid`, ...
    pub action: String,
    pub platform_id: Option<String>,
    pub differences: Vec<Difference>,
    /// (file, sheet, row).
    pub source: (String, String, u32),
    pub error: Option<String>,
}

/// Per target, per key: (platform id, digest).
pub type State = BTreeMap<String, BTreeMap<String, (String, String)>>;

const PLAN_COLUMNS: [&str; 12] = [
    "target",
    "vendor",
    "key",
    "action",
    "platform_id",
    "field",
    "roster_value",
    "platform_value",
    "source_file",
    "sheet",
    "row",
    "error",
];

/// Writes the plan workbook; `columns`, the roster's column report, is its last sheet.
pub fn write(
    path: &Path,
    lines: &[PlanLine],
    info: &[(String, String)],
    state: &State,
    columns: &[crate::mapping::ColumnReport],
) -> Result<(), Error> {
    let xlsx = |source| Error::Xlsx {
        path: path.to_path_buf(),
        source,
    };
    let f = Formats::new();
    let mut workbook = Workbook::new();
    plan_sheet(workbook.add_worksheet(), lines, &f).map_err(xlsx)?;
    pairs_sheet(
        workbook.add_worksheet(),
        "Plan info",
        &["key", "value"],
        info,
        &f,
    )
    .map_err(xlsx)?;
    let state_sheet = workbook.add_worksheet();
    state_sheet_write(state_sheet, state, &f).map_err(xlsx)?;
    super::columns::add_columns_sheet(&mut workbook, &f, columns, &[]).map_err(xlsx)?;
    workbook.save(path).map_err(xlsx)
}

fn header(sheet: &mut Worksheet, headers: &[&str], f: &Formats) -> Result<(), XlsxError> {
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, c as ColNum, *h, &f.header)?;
        sheet.set_column_format(c as ColNum, &f.text)?;
        sheet.set_column_width(c as ColNum, 18)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

fn plan_sheet(sheet: &mut Worksheet, lines: &[PlanLine], f: &Formats) -> Result<(), XlsxError> {
    sheet.set_name("Plan")?;
    header(sheet, &PLAN_COLUMNS, f)?;
    let mut r: RowNum = 0;
    for line in lines {
        let diffs: Vec<Option<&Difference>> = if line.differences.is_empty() {
            vec![None]
        } else {
            line.differences.iter().map(Some).collect()
        };
        for d in diffs {
            r += 1;
            f.write_text(sheet, r, 0, &line.target)?;
            f.write_text(sheet, r, 1, &line.vendor)?;
            f.write_text(sheet, r, 2, &line.key)?;
            f.write_text(sheet, r, 3, &line.action)?;
            if let Some(id) = &line.platform_id {
                f.write_text(sheet, r, 4, id)?;
            }
            if let Some(d) = d {
                f.write_text(sheet, r, 5, d.field.name())?;
                f.write_text(sheet, r, 6, &d.roster)?;
                f.write_text(sheet, r, 7, &d.platform)?;
            }
            f.write_text(sheet, r, 8, &line.source.0)?;
            f.write_text(sheet, r, 9, &line.source.1)?;
            sheet.write_number(r, 10, line.source.2)?;
            if let Some(e) = &line.error {
                f.write_text(sheet, r, 11, e)?;
            }
        }
    }
    if r > 0 {
        sheet.autofilter(0, 0, r, PLAN_COLUMNS.len() as ColNum - 1)?;
    }
    Ok(())
}

fn pairs_sheet(
    sheet: &mut Worksheet,
    name: &str,
    headers: &[&str],
    pairs: &[(String, String)],
    f: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_name(name)?;
    header(sheet, headers, f)?;
    sheet.set_column_width(1, 80)?;
    for (i, (k, v)) in pairs.iter().enumerate() {
        f.write_text(sheet, i as RowNum + 1, 0, k)?;
        f.write_text(sheet, i as RowNum + 1, 1, v)?;
    }
    Ok(())
}

fn state_sheet_write(sheet: &mut Worksheet, state: &State, f: &Formats) -> Result<(), XlsxError> {
    sheet.set_name("Plan state")?;
    header(sheet, &["target", "key", "platform_id", "digest"], f)?;
    let mut r: RowNum = 0;
    for (target, users) in state {
        for (key, (id, digest)) in users {
            r += 1;
            f.write_text(sheet, r, 0, target)?;
            f.write_text(sheet, r, 1, key)?;
            f.write_text(sheet, r, 2, id)?;
            f.write_text(sheet, r, 3, digest)?;
        }
    }
    Ok(())
}

/// A plan read back: its `Plan info` pairs (in order) and its `Plan state`.
#[derive(Debug, Clone, Default)]
pub struct ReadPlan {
    pub info: Vec<(String, String)>,
    pub state: State,
}

impl ReadPlan {
    /// The first value of `key` in `Plan info`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a plan workbook; the error names the file and what is wrong with it.
pub fn read(path: &Path) -> Result<ReadPlan, String> {
    let shown = path.display();
    let mut wb = open_workbook_auto(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let cell = |d: Option<&Data>| d.map(|d| d.to_string()).unwrap_or_default();
    let info_range = wb
        .worksheet_range("Plan info")
        .map_err(|_| format!("{shown} is not a muster plan (no `Plan info` sheet)"))?;
    let info: Vec<(String, String)> = info_range
        .rows()
        .skip(1)
        .map(|r| (cell(r.first()), cell(r.get(1))))
        .filter(|(k, _)| !k.is_empty())
        .collect();
    let plan = ReadPlan {
        info,
        state: State::new(),
    };
    if plan.get("format") != Some(FORMAT) {
        return Err(format!(
            "{shown} is not a plan this muster reads (format {:?}, expected {FORMAT:?})",
            plan.get("format").unwrap_or("")
        ));
    }
    let state_range = wb
        .worksheet_range("Plan state")
        .map_err(|_| format!("{shown}: no `Plan state` sheet"))?;
    let mut state = State::new();
    for r in state_range.rows().skip(1) {
        let (target, key) = (cell(r.first()), cell(r.get(1)));
        if target.is_empty() {
            continue;
        }
        state
            .entry(target)
            .or_default()
            .insert(key, (cell(r.get(2)), cell(r.get(3))));
    }
    Ok(ReadPlan { state, ..plan })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    #[test]
    fn a_plan_reads_back_its_info_and_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.xlsx");
        let lines = [PlanLine {
            target: "t".into(),
            vendor: "traccar".into(),
            key: "a@x.test".into(),
            action: "update".into(),
            platform_id: Some("7".into()),
            differences: vec![Difference {
                field: Field::Phone,
                roster: "=1".into(),
                platform: "2".into(),
            }],
            source: ("r.csv".into(), "r".into(), 2),
            error: None,
        }];
        let info = vec![
            ("format".to_string(), FORMAT.to_string()),
            ("mode".to_string(), "upsert".to_string()),
        ];
        let mut state = State::new();
        state
            .entry("t".into())
            .or_default()
            .insert("a@x.test".into(), ("7".into(), "abc".into()));
        write(&path, &lines, &info, &state, &[]).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.get("mode"), Some("upsert"));
        assert_eq!(back.state, state);
        let mut wb = open_workbook_auto(&path).unwrap();
        let plan = wb.worksheet_range("Plan").unwrap();
        assert_eq!(plan.get((1, 6)), Some(&Data::String("=1".into())));
        assert!(read(&dir.path().join("missing.xlsx")).is_err());
    }
}
