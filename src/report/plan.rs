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
//!
//! `Plan info` ends with a SHA-256 digest of each sheet as `apply` reads it (`digest Plan`,
//! `digest Plan state`, `digest Plan info`); [`write`] returns the digest of the three,
//! which the journal records. [`read`] refuses a plan whose sheets no longer match their
//! digests, naming the sheets that changed (issue 25: an approved plan edited to prune).

use std::collections::BTreeMap;
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use rust_xlsxwriter::{ColNum, RowNum, Workbook, Worksheet, XlsxError};

use super::Error;
use super::style::Formats;
use crate::audit::Difference;

/// The `format` value of `Plan info`; `apply` refuses other plans.
pub const FORMAT: &str = "muster plan 2";

/// The `Plan info` keys of the sheets' digests start with this.
const DIGEST: &str = "digest ";

/// A sheet's content as `apply` reads it: rows of cell texts.
type Grid = Vec<Vec<String>>;

/// A sheet's rows made one at a time, for writing.
type Rows<'a> = Box<dyn Iterator<Item = Vec<String>> + 'a>;

/// The SHA-256 of a sheet's content: every cell length-prefixed, trailing empty cells and
/// empty rows left out (a spreadsheet reads them back as nothing).
fn digest(grid: &Grid) -> String {
    digest_rows(grid)
}

/// [`digest`] of rows made one at a time (a sheet never held whole).
fn digest_rows<R: AsRef<[String]>>(rows: impl IntoIterator<Item = R>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for row in rows {
        let row = row.as_ref();
        let used = row.iter().rposition(|c| !c.is_empty()).map_or(0, |i| i + 1);
        if used == 0 {
            continue;
        }
        for cell in &row[..used] {
            h.update(format!("{}:", cell.len()));
            h.update(cell.as_bytes());
        }
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// The digest of a whole plan: of its sheets' digests, in a fixed order.
fn whole(sheets: &[(&str, String)]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (name, d) in sheets {
        h.update(format!("{name}\0{d}\n"));
    }
    hex::encode(h.finalize())
}

pub use crate::plan::PlanLine;

/// Per target, per key: (platform id, digest).
pub type State = BTreeMap<String, BTreeMap<String, (String, String)>>;

const PLAN_COLUMNS: [&str; 15] = [
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
    // Issue 28: how two lists differ, and who the platform user is.
    "detail",
    "platform_name",
    "platform_email",
];

/// Writes the plan workbook; returns the digest the journal records (see [`read`]).
/// `columns`, the roster's column report, is its last sheet (not digested: apply does not
/// act on it).
pub fn write(
    path: &Path,
    lines: &[PlanLine],
    info: &[(String, String)],
    state: &State,
    columns: &[crate::mapping::ColumnReport],
) -> Result<String, Error> {
    let xlsx = |source| Error::Xlsx {
        path: path.to_path_buf(),
        source,
    };
    // The big sheets are made a row at a time, once for their digest and once to write,
    // never held whole (issue 30: a 100,000-user tenant's plan).
    let mut info_grid: Grid = vec![vec!["key".into(), "value".into()]];
    info_grid.extend(
        info.iter()
            .filter(|(k, _)| !k.starts_with(DIGEST))
            .map(|(k, v)| vec![fit(k), fit(v)]),
    );
    let sheets = [
        ("Plan", digest_rows(plan_rows(lines))),
        ("Plan state", digest_rows(state_rows(state))),
        ("Plan info", digest(&info_grid)),
    ];
    for (name, d) in &sheets {
        info_grid.push(vec![format!("{DIGEST}{name}"), d.clone()]);
    }
    let f = Formats::new();
    let mut workbook = Workbook::new();
    // Rows go to a temporary file as they are written (constant memory): a plan of a
    // 100,000-user tenant held every cell in memory until the save (issue 30).
    let grids: [(&str, Rows<'_>, &[usize], f64); 3] = [
        ("Plan", Box::new(plan_rows(lines)), &[10], 18.0),
        ("Plan info", Box::new(info_grid.into_iter()), &[], 80.0),
        ("Plan state", Box::new(state_rows(state)), &[], 18.0),
    ];
    for (name, rows, numbers, width) in grids {
        let mut sheet = workbook
            .new_worksheet_with_constant_memory()
            .map_err(xlsx)?;
        put_grid(&mut sheet, name, rows, numbers, width, &f).map_err(xlsx)?;
        workbook.push_worksheet(sheet);
    }
    super::columns::add_columns_sheet(&mut workbook, &f, columns, &[]).map_err(xlsx)?;
    workbook.save(path).map_err(xlsx)?;
    Ok(whole(&sheets))
}

/// A cell's text as the workbook holds it (cut to Excel's limit).
fn fit(text: &str) -> String {
    super::safe::fit_cell(text).into_owned()
}

/// Writes `rows` (the first the header) as text, but for the `numbers` columns.
fn put_grid(
    sheet: &mut Worksheet,
    name: &str,
    rows: impl Iterator<Item = Vec<String>>,
    numbers: &[usize],
    width: f64,
    f: &Formats,
) -> Result<(), XlsxError> {
    sheet.set_name(name)?;
    let mut rows = rows;
    let Some(head) = rows.next() else {
        return Ok(());
    };
    for (c, h) in head.iter().enumerate() {
        sheet.write_string_with_format(0, c as ColNum, h, &f.header)?;
        sheet.set_column_format(c as ColNum, &f.text)?;
        sheet.set_column_width(c as ColNum, if c == 1 { width } else { 18.0 })?;
    }
    sheet.set_freeze_panes(1, 0)?;
    let mut written: RowNum = 0;
    for (r, row) in rows.enumerate() {
        let r = r as RowNum + 1;
        written = r;
        for (c, cell) in row.iter().enumerate() {
            match cell.parse::<f64>() {
                Ok(n) if numbers.contains(&c) => {
                    sheet.write_number(r, c as ColNum, n)?;
                }
                _ if cell.is_empty() => {}
                _ => f.write_text(sheet, r, c as ColNum, cell)?,
            }
        }
    }
    if written > 0 && name == "Plan" {
        sheet.autofilter(0, 0, written, head.len() as ColNum - 1)?;
    }
    Ok(())
}

/// The `Plan` sheet's rows: a header, then a line per row and per differing field.
fn plan_rows(lines: &[PlanLine]) -> impl Iterator<Item = Vec<String>> + '_ {
    let head = PLAN_COLUMNS.iter().map(|h| h.to_string()).collect();
    std::iter::once(head).chain(lines.iter().flat_map(|line| {
        let diffs: Vec<Option<&Difference>> = if line.differences.is_empty() {
            vec![None]
        } else {
            line.differences.iter().map(Some).collect()
        };
        diffs.into_iter().map(move |d| {
            let detail = d.and_then(Difference::detail).unwrap_or_default();
            [
                line.target.as_str(),
                &line.vendor,
                &line.key,
                &line.action,
                line.platform_id.as_deref().unwrap_or(""),
                d.map_or("", |d| d.field.name()),
                d.map_or("", |d| d.roster.as_str()),
                d.map_or("", |d| d.platform.as_str()),
                &line.source.0,
                &line.source.1,
                &line.source.2.to_string(),
                line.error.as_deref().unwrap_or(""),
                &detail,
                line.name.as_deref().unwrap_or(""),
                line.email.as_deref().unwrap_or(""),
            ]
            .map(fit)
            .to_vec()
        })
    }))
}

/// The `Plan state` sheet's rows: a header, then a line per target and user.
fn state_rows(state: &State) -> impl Iterator<Item = Vec<String>> + '_ {
    let head = ["target", "key", "platform_id", "digest"]
        .map(str::to_string)
        .to_vec();
    std::iter::once(head).chain(state.iter().flat_map(|(target, users)| {
        users
            .iter()
            .map(move |(key, (id, digest))| [target, key, id, digest].map(|s| fit(s)).to_vec())
    }))
}

/// A plan read back: its `Plan info` pairs (in order), its `Plan state`, and the digest
/// the journal recorded when it was made (checked: see [`read`]).
#[derive(Debug, Clone, Default)]
pub struct ReadPlan {
    pub info: Vec<(String, String)>,
    pub state: State,
    pub digest: String,
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

/// Reads a plan workbook; the error names the file and what is wrong with it. A plan
/// whose sheets no longer match the digests it was written with is refused, naming the
/// sheets that changed.
pub fn read(path: &Path) -> Result<ReadPlan, String> {
    let shown = path.display();
    let mut wb = open_workbook_auto(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut grid = |name: &str| -> Result<Grid, String> {
        let range = wb
            .worksheet_range(name)
            .map_err(|_| format!("{shown} is not a muster plan (no `{name}` sheet)"))?;
        Ok(range
            .rows()
            .map(|r| r.iter().map(Data::to_string).collect())
            .collect())
    };
    let info_grid = grid("Plan info")?;
    let info: Vec<(String, String)> = info_grid
        .iter()
        .skip(1)
        .map(|r| {
            let cell = |i: usize| r.get(i).cloned().unwrap_or_default();
            (cell(0), cell(1))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect();
    let mut plan = ReadPlan {
        info,
        ..ReadPlan::default()
    };
    if plan.get("format") != Some(FORMAT) {
        return Err(format!(
            "{shown} is not a plan this muster reads (format {:?}, expected {FORMAT:?}): make a new plan",
            plan.get("format").unwrap_or("")
        ));
    }
    let sheets = [
        ("Plan", digest(&grid("Plan")?)),
        ("Plan state", digest(&grid("Plan state")?)),
        (
            "Plan info",
            digest(
                &info_grid
                    .iter()
                    .filter(|r| !r.first().is_some_and(|k| k.starts_with(DIGEST)))
                    .cloned()
                    .collect(),
            ),
        ),
    ];
    let changed: Vec<&str> = sheets
        .iter()
        .filter(|(name, d)| plan.get(&format!("{DIGEST}{name}")) != Some(d.as_str()))
        .map(|(name, _)| *name)
        .collect();
    if !changed.is_empty() {
        return Err(format!(
            "{shown} was changed after it was made: {} no longer {} its digest; nothing was sent. Make a new plan",
            changed
                .iter()
                .map(|n| format!("the `{n}` sheet"))
                .collect::<Vec<_>>()
                .join(" and "),
            if changed.len() == 1 {
                "matches"
            } else {
                "match"
            }
        ));
    }
    plan.digest = whole(&sheets);
    let state_grid = grid("Plan state")?;
    for r in state_grid.iter().skip(1) {
        let cell = |i: usize| r.get(i).cloned().unwrap_or_default();
        if cell(0).is_empty() {
            continue;
        }
        plan.state
            .entry(cell(0))
            .or_default()
            .insert(cell(1), (cell(2), cell(3)));
    }
    Ok(plan)
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
                missing: vec![],
                extra: vec![],
            }],
            source: ("r.csv".into(), "r".into(), 2),
            error: None,
            name: None,
            email: None,
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
        let made = write(&path, &lines, &info, &state, &[]).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.digest, made);
        assert_eq!(back.get("mode"), Some("upsert"));
        assert_eq!(back.state, state);
        let mut wb = open_workbook_auto(&path).unwrap();
        let plan = wb.worksheet_range("Plan").unwrap();
        assert_eq!(plan.get((1, 6)), Some(&Data::String("=1".into())));
        assert!(read(&dir.path().join("missing.xlsx")).is_err());
    }
}
