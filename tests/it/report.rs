//! Integration tests: report. Workbooks are written from synthetic rows and read back with
//! calamine (and, when available, openpyxl through tests/check_workbook.py).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use calamine::{Data, Reader, Xlsx, open_workbook};
use muster::model::{
    Action, Field, InputFile, Layout, Outcome, Row, RowResult, RunInfo, SideId, Status,
    TargetStats, VendorKind,
};
use muster::report::{self, RESULT_COLUMNS, ResultsWriter, safe};

const PASSWORDS: [&str; 3] = ["Secr3tPass!", "Hunter2Hunter2", "Zz9zz9zz9"];

fn layout(file: &str, sheet: &str, cols: &[(&str, Option<Field>)]) -> Arc<Layout> {
    Arc::new(Layout {
        file: file.into(),
        sheet: sheet.into(),
        is_workbook: file.ends_with(".xlsx"),
        header_row: 1,
        headers: cols.iter().map(|(h, _)| h.to_string()).collect(),
        fields: cols.iter().map(|(_, f)| *f).collect(),
        passthrough: vec![],
    })
}

fn roster_layout() -> Arc<Layout> {
    layout(
        "roster.xlsx",
        "Roster",
        &[
            ("Target", Some(Field::Target)),
            ("First name", Some(Field::FirstName)),
            ("Last name", Some(Field::LastName)),
            ("E-Mail", Some(Field::Email)),
            ("Username", Some(Field::Username)),
            ("Password", Some(Field::Password)),
            ("Phone", Some(Field::Phone)),
            ("Employee no", Some(Field::ExternalId)),
            ("Notes", None),
            ("Vehicles", Some(Field::Devices)),
        ],
    )
}

fn extra_layout() -> Arc<Layout> {
    layout(
        "extra.csv",
        "extra",
        &[
            ("Target", Some(Field::Target)),
            ("E-Mail", Some(Field::Email)),
            ("Cost centre", None),
            ("Notes", None),
        ],
    )
}

struct Spec {
    target: &'static str,
    vendor: VendorKind,
    status: Status,
    notes: &'static str,
}

/// One row per status (two `manual`), notes that look like formulas, ids that look like
/// numbers, and passwords that must not show.
fn synthetic() -> Vec<RowResult> {
    use Status::*;
    use VendorKind::*;
    let specs = [
        ("powunity", Traccar, Created, "=1+1"),
        ("powunity", Traccar, Updated, "@SUM(A1)"),
        ("powunity", Traccar, Exists, "+49 170"),
        ("powunity", Traccar, Failed, "-5"),
        ("powunity", Traccar, Partial, "\tindented"),
        ("powunity", Traccar, NotAttempted, "plain"),
        ("powunity", Traccar, Deleted, ""),
        ("pegasus", Pegasus, Planned, "x"),
        ("arobs-ro", Arobs, Manual, "first manual"),
        ("motive", Motive, Valid, "ok"),
        ("motive", Motive, Invalid, "=HYPERLINK(\"http://x\")"),
        ("arobs-ro", Arobs, Verified, ""),
        ("arobs-ro", Arobs, Manual, "second manual"),
    ]
    .map(|(target, vendor, status, notes)| Spec {
        target,
        vendor,
        status,
        notes,
    });
    let roster = roster_layout();
    let extra = extra_layout();
    let mut out = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let line = i as u32 + 2;
        let password = PASSWORDS[i % PASSWORDS.len()];
        let row = Row {
            index: i,
            layout: roster.clone(),
            line,
            cells: vec![
                s.target.into(),
                format!("First{i}"),
                format!("Last{i}"),
                format!("user{i}@example.com"),
                format!("user{i}"),
                password.into(),
                "4366412345678".into(),
                "00987".into(),
                s.notes.into(),
                "B-AB 123|B-CD 456".into(),
            ]
            .into(),
            errors: vec![],
        };
        let mut outcome = Outcome::new(s.status, Action::Create);
        outcome.attempts = 1;
        match s.status {
            Status::Created | Status::Updated | Status::Exists | Status::Partial => {
                outcome.user_id = Some(format!("43664123456{i:02}"));
                outcome.other_ids = vec![SideId {
                    kind: "devices".into(),
                    id: "12".into(),
                }];
                outcome.http_status = Some(200);
            }
            Status::Failed => {
                outcome.http_status = Some(400);
                outcome.error = Some(format!(
                    "platform refused password \"{password}\": too weak ({password})"
                ));
            }
            Status::Invalid => {
                outcome.error = Some(format!(
                    "Password (F{line}): \"{password}\" is shorter than 20"
                ));
            }
            _ => {}
        }
        if s.status == Status::Partial {
            outcome.error = Some("device link failed".into());
        }
        out.push(RowResult {
            row,
            target: Some(s.target.into()),
            vendor: Some(s.vendor),
            outcome,
        });
    }
    // A row of a second table with other headers, and one whose target is unknown.
    out.push(RowResult {
        row: Row {
            index: out.len(),
            layout: extra.clone(),
            line: 2,
            cells: vec![
                "motive".into(),
                "csv@example.com".into(),
                "CC-7".into(),
                "from csv".into(),
            ]
            .into(),
            errors: vec![],
        },
        target: Some("motive".into()),
        vendor: Some(VendorKind::Motive),
        outcome: Outcome::new(Status::Valid, Action::Create),
    });
    out.push(RowResult {
        row: Row {
            index: out.len(),
            layout: extra,
            line: 3,
            cells: vec![
                "nowhere".into(),
                "lost@example.com".into(),
                "".into(),
                "".into(),
            ]
            .into(),
            errors: vec![],
        },
        target: None,
        vendor: None,
        outcome: Outcome::invalid(
            Action::Create,
            &[muster::model::Problem::row(
                "target \"nowhere\" is not configured",
            )],
        ),
    });
    out
}

fn own_headers() -> Vec<String> {
    let mut own: Vec<String> = Vec::new();
    for l in [roster_layout(), extra_layout()] {
        for h in &l.headers {
            if !own.contains(h) {
                own.push(h.clone());
            }
        }
    }
    own
}

fn run_info(command: &str) -> RunInfo {
    let started = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    RunInfo {
        run_id: "run-1".into(),
        command: command.into(),
        command_line: "muster import roster.xlsx extra.csv".into(),
        started,
        ended: Some(started + chrono::Duration::seconds(95)),
        dry_run: false,
        version: "0.1.0".into(),
        inputs: vec![
            InputFile {
                path: "roster.xlsx".into(),
                sha256: "ab".repeat(32),
                rows: 13,
            },
            InputFile {
                path: "extra.csv".into(),
                sha256: "cd".repeat(32),
                rows: 2,
            },
        ],
        skipped_sheets: vec!["roster.xlsx, Hidden: hidden sheet".into()],
    }
}

fn stats() -> Vec<TargetStats> {
    vec![TargetStats {
        target: "powunity".into(),
        vendor: Some(VendorKind::Traccar),
        requests: 40,
        rate_limited: 2,
        retries: 3,
        seconds: 4.0,
        halted: None,
    }]
}

fn write_synthetic(dir: &Path) -> (PathBuf, report::Finished) {
    let path = dir.join("results.xlsx");
    let mut w = ResultsWriter::create(&path, own_headers()).unwrap();
    for r in synthetic() {
        w.write(&r).unwrap();
    }
    let finished = w.finish(&run_info("import"), &stats()).unwrap();
    (path, finished)
}

fn grid(path: &Path, sheet: &str) -> Vec<Vec<Data>> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let range = wb.worksheet_range(sheet).unwrap();
    assert_eq!(range.start(), Some((0, 0)), "{sheet} starts at A1");
    range.rows().map(|r| r.to_vec()).collect()
}

fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

fn header(rows: &[Vec<Data>], r: usize) -> Vec<String> {
    let mut h: Vec<String> = rows[r].iter().map(text).collect();
    while h.last().is_some_and(|s| s.is_empty()) {
        h.pop();
    }
    h
}

fn col(h: &[String], name: &str) -> usize {
    h.iter()
        .position(|x| x == name)
        .unwrap_or_else(|| panic!("no column {name} in {h:?}"))
}

#[test]
fn workbook_has_its_sheets_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (path, finished) = write_synthetic(dir.path());
    assert_eq!(finished.path, path);
    assert_eq!(finished.manual, 2);
    let wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(wb.sheet_names(), ["Summary", "Results", "Errors", "Manual"]);
    // No staging file is left beside the workbook.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["results.xlsx"]);
}

#[test]
fn results_lists_every_row_in_order_with_design_columns_then_own() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_synthetic(dir.path());
    let rows = grid(&path, "Results");
    let h = header(&rows, 0);
    let mut want: Vec<String> = RESULT_COLUMNS.iter().map(|s| s.to_string()).collect();
    want.extend(own_headers());
    assert_eq!(h, want);
    let input = synthetic();
    assert_eq!(rows.len(), input.len() + 1);
    for (r, res) in rows[1..].iter().zip(&input) {
        assert_eq!(text(&r[0]), res.row.layout.file);
        assert_eq!(text(&r[1]), res.row.layout.sheet);
        assert_eq!(r[2], Data::Float(res.row.line as f64), "row is a number");
        assert_eq!(text(&r[3]), res.target.clone().unwrap_or_default());
        assert_eq!(text(&r[6]), res.outcome.status.key());
        assert_eq!(text(&r[8]), res.outcome.other_ids_text());
        match res.outcome.http_status {
            Some(code) => assert_eq!(r[9], Data::Float(code as f64)),
            None => assert_eq!(r[9], Data::Empty),
        }
        assert_eq!(r[11], Data::Float(res.outcome.attempts as f64));
        // Own columns land under their own headers, whatever table they came from.
        for (i, hdr) in res.row.layout.headers.iter().enumerate() {
            let c = col(&h[RESULT_COLUMNS.len()..], hdr) + RESULT_COLUMNS.len();
            let want = if hdr == "Password" {
                "***"
            } else {
                &res.row.cells[i]
            };
            assert_eq!(text(&r[c]), want, "{hdr} of row {}", res.row.line);
        }
    }
    // The csv row has no Phone column: its cell is empty, and its Cost centre is there.
    let csv = &rows[input.len() - 1];
    assert_eq!(csv[col(&h, "Phone")], Data::Empty);
    assert_eq!(text(&csv[col(&h, "Cost centre")]), "CC-7");
}

#[test]
fn ids_phones_and_formula_looking_values_stay_text() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_synthetic(dir.path());
    let rows = grid(&path, "Results");
    let h = header(&rows, 0);
    let first = &rows[1];
    assert_eq!(
        first[col(&h, "Phone")],
        Data::String("4366412345678".into())
    );
    assert_eq!(first[col(&h, "Employee no")], Data::String("00987".into()));
    assert_eq!(
        first[col(&h, "user_id")],
        Data::String("4366412345600".into())
    );
    let notes: Vec<String> = rows[1..]
        .iter()
        .map(|r| text(&r[col(&h, "Notes")]))
        .collect();
    for v in [
        "=1+1",
        "@SUM(A1)",
        "+49 170",
        "-5",
        "\tindented",
        "=HYPERLINK(\"http://x\")",
    ] {
        assert!(notes.iter().any(|n| n == v), "{v:?} in {notes:?}");
    }
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    for sheet in ["Summary", "Results", "Errors", "Manual"] {
        let formulas = wb.worksheet_formula(sheet).unwrap();
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "{sheet} has a formula"
        );
    }
}

#[test]
fn no_password_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_synthetic(dir.path());
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    for sheet in wb.sheet_names() {
        let range = wb.worksheet_range(&sheet).unwrap();
        for (r, c, cell) in range.used_cells() {
            let t = text(cell);
            for p in PASSWORDS {
                assert!(!t.contains(p), "{sheet} ({r},{c}) shows a password: {t}");
            }
        }
    }
    // Nor in the raw zip parts (shared strings, comments, anything).
    let bytes = std::fs::read(&path).unwrap();
    let mut zip = zip_entries(&bytes);
    for (name, content) in zip.drain(..) {
        for p in PASSWORDS {
            assert!(!content.contains(p), "{name} contains a password");
        }
    }
}

/// Every text part of the xlsx (a zip), decompressed: calamine shows cells, not raw parts.
fn zip_entries(bytes: &[u8]) -> Vec<(String, String)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut s = String::new();
        if std::io::Read::read_to_string(&mut f, &mut s).is_ok() {
            out.push((f.name().unwrap().to_string(), s));
        }
    }
    out
}

#[test]
fn errors_sheet_has_only_failures_with_input_columns_then_status_and_error() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_synthetic(dir.path());
    let rows = grid(&path, "Errors");
    let h = header(&rows, 0);
    let mut want = own_headers();
    want.extend(["source_file", "sheet", "row"].map(String::from));
    want.push("status".into());
    want.push("error".into());
    assert_eq!(h, want);
    let expected: Vec<RowResult> = synthetic()
        .into_iter()
        .filter(|r| {
            matches!(
                r.outcome.status,
                Status::Invalid | Status::Failed | Status::Partial
            )
        })
        .collect();
    assert_eq!(rows.len() - 1, expected.len());
    let statuses: Vec<String> = rows[1..]
        .iter()
        .map(|r| text(&r[col(&h, "status")]))
        .collect();
    assert_eq!(statuses, ["failed", "partial", "invalid", "invalid"]);
    for (r, res) in rows[1..].iter().zip(&expected) {
        for (i, hdr) in res.row.layout.headers.iter().enumerate() {
            let want = if hdr == "Password" {
                ""
            } else {
                &res.row.cells[i]
            };
            assert_eq!(text(&r[col(&h, hdr)]), want, "{hdr}");
        }
    }
    // Error texts are there, with the password replaced.
    let failed = text(&rows[1][col(&h, "error")]);
    assert_eq!(failed, "platform refused password \"***\": too weak (***)");
    let invalid = text(&rows[3][col(&h, "error")]);
    assert!(invalid.starts_with("Password (F12): \"***\""), "{invalid}");
    assert_eq!(
        text(&rows[4][col(&h, "error")]),
        "target \"nowhere\" is not configured"
    );
    // `status` and `error` are not roster fields, so the sheet reads back as a roster.
    for name in ["status", "error"] {
        for f in Field::ALL {
            assert_ne!(f.name(), name);
            assert!(!f.aliases().contains(&name), "{name} is an alias of {f:?}");
        }
    }
}

#[test]
fn errors_sheet_carries_the_target_when_the_input_has_no_target_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.xlsx");
    let l = layout(
        "by-sheet.xlsx",
        "powunity",
        &[
            ("Email", Some(Field::Email)),
            ("Pass", Some(Field::Password)),
        ],
    );
    let mut w = ResultsWriter::create(&path, l.headers.clone()).unwrap();
    let mut outcome = Outcome::new(Status::Failed, Action::Create);
    outcome.error = Some("refused".into());
    w.write(&RowResult {
        row: Row {
            index: 0,
            layout: l.clone(),
            line: 2,
            cells: vec!["a@b.eu".into(), "Secr3tPass!".into()].into(),
            errors: vec![],
        },
        target: Some("powunity".into()),
        vendor: Some(VendorKind::Traccar),
        outcome,
    })
    .unwrap();
    w.finish(&run_info("import"), &[]).unwrap();
    let rows = grid(&path, "Errors");
    assert_eq!(
        header(&rows, 0),
        [
            "Email",
            "Pass",
            "target",
            "source_file",
            "sheet",
            "row",
            "status",
            "error"
        ]
    );
    let line: Vec<String> = rows[1].iter().map(text).collect();
    assert_eq!(
        line,
        [
            "a@b.eu",
            "",
            "powunity",
            "by-sheet.xlsx",
            "powunity",
            "2",
            "failed",
            "refused"
        ]
    );
}

#[test]
fn manual_sheet_lists_the_values_to_type_after_the_steps() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_synthetic(dir.path());
    let rows = grid(&path, "Manual");
    let all: Vec<String> = rows.iter().flat_map(|r| r.iter().map(text)).collect();
    for step in [
        "API User",
        "Email Addresses",
        "Vehicle Rights",
        "8 characters",
    ] {
        assert!(all.iter().any(|t| t.contains(step)), "step {step:?}");
    }
    let hr = rows
        .iter()
        .position(|r| text(&r[1]) == "Username")
        .expect("a header row");
    let h = header(&rows, hr);
    assert_eq!(
        h,
        [
            "target",
            "Username",
            "First Name",
            "Last Name",
            "Email",
            "Vehicle Rights",
            "source",
            "done"
        ]
    );
    let users: Vec<Vec<String>> = rows[hr + 1..]
        .iter()
        .map(|r| r.iter().take(7).map(text).collect())
        .collect();
    assert_eq!(
        users,
        [
            [
                "arobs-ro",
                "user8",
                "First8",
                "Last8",
                "user8@example.com",
                "B-AB 123, B-CD 456",
                "roster.xlsx, Roster row 10"
            ],
            [
                "arobs-ro",
                "user12",
                "First12",
                "Last12",
                "user12@example.com",
                "B-AB 123, B-CD 456",
                "roster.xlsx, Roster row 14"
            ]
        ]
    );
}

#[test]
fn summary_counts_match_the_rows_written() {
    let dir = tempfile::tempdir().unwrap();
    let (path, finished) = write_synthetic(dir.path());
    let rows = grid(&path, "Summary");
    let hr = rows
        .iter()
        .position(|r| text(&r[0]) == "target")
        .expect("the targets table");
    let h = header(&rows, hr);
    // The fixed columns, plus every extra status that occurs, in Status::ALL order.
    assert_eq!(
        h,
        [
            "target",
            "vendor",
            "rows",
            "created",
            "updated",
            "deleted",
            "exists",
            "manual",
            "verified",
            "valid",
            "planned",
            "invalid",
            "failed",
            "partial",
            "not_attempted",
            "requests",
            "429s",
            "retries",
            "requests/s",
            "seconds",
            "halted"
        ]
    );
    let input = synthetic();
    let mut seen = 0;
    for r in &rows[hr + 1..] {
        let target = text(&r[0]);
        if target == "total" {
            assert_eq!(r[2], Data::Float(input.len() as f64));
            break;
        }
        seen += 1;
        let mine: Vec<&RowResult> = input
            .iter()
            .filter(|x| x.target.as_deref().unwrap_or("(no target)") == target)
            .collect();
        assert_eq!(r[2], Data::Float(mine.len() as f64), "{target} rows");
        for s in Status::ALL {
            let n = mine.iter().filter(|x| x.outcome.status == s).count();
            if let Some(c) = h.iter().position(|x| x == s.key()) {
                assert_eq!(r[c], Data::Float(n as f64), "{target} {s}");
            } else {
                assert_eq!(n, 0);
            }
        }
        if target == "powunity" {
            assert_eq!(r[col(&h, "requests")], Data::Float(40.0));
            assert_eq!(r[col(&h, "429s")], Data::Float(2.0));
            assert_eq!(r[col(&h, "requests/s")], Data::Float(10.0));
        }
    }
    assert_eq!(seen, finished.counts.targets.len());
    let all: Vec<String> = rows.iter().flat_map(|r| r.iter().map(text)).collect();
    for want in [
        "run-1",
        "muster import roster.xlsx extra.csv",
        "1m 35s",
        "roster.xlsx",
        &"ab".repeat(32),
        "roster.xlsx, Hidden: hidden sheet",
    ] {
        assert!(all.iter().any(|t| t == want), "{want} in Summary");
    }
    // The chart is a native chart part.
    let parts = zip_entries(&std::fs::read(&path).unwrap());
    let chart = parts
        .iter()
        .find(|(n, _)| n.starts_with("xl/charts/chart"))
        .expect("a chart");
    assert!(chart.1.contains("<c:barChart>"));
    assert!(chart.1.contains("stacked"));
}

#[test]
fn validate_workbook_has_no_manual_sheet_and_valid_invalid_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("validation.xlsx");
    let mut w = ResultsWriter::create(&path, own_headers()).unwrap();
    for r in synthetic()
        .into_iter()
        .filter(|r| matches!(r.outcome.status, Status::Valid | Status::Invalid))
    {
        w.write(&r).unwrap();
    }
    w.finish(&run_info("validate"), &[]).unwrap();
    let wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(wb.sheet_names(), ["Summary", "Results", "Errors"]);
    let rows = grid(&path, "Summary");
    let hr = rows.iter().position(|r| text(&r[0]) == "target").unwrap();
    assert_eq!(
        header(&rows, hr),
        ["target", "vendor", "rows", "valid", "invalid"]
    );
}

#[test]
fn odd_text_survives_control_chars_escapes_and_overlong_cells() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.xlsx");
    let l = layout("odd.csv", "odd", &[("Notes", None), ("Other", None)]);
    let long = "x".repeat(40_000);
    let values = [
        "bell\u{7}and\u{0}nul",
        "_x0041_ literal",
        "line\r\nbreak",
        "\u{FFFF}",
        long.as_str(),
    ];
    let mut w = ResultsWriter::create(&path, l.headers.clone()).unwrap();
    for (i, v) in values.iter().enumerate() {
        w.write(&RowResult {
            row: Row {
                index: i,
                layout: l.clone(),
                line: i as u32 + 2,
                cells: vec![v.to_string(), "=1+1".into()].into(),
                errors: vec![],
            },
            target: None,
            vendor: None,
            outcome: Outcome::new(Status::Failed, Action::Create),
        })
        .unwrap();
    }
    w.finish(&run_info("import"), &[]).unwrap();
    let rows = grid(&path, "Results");
    let c = RESULT_COLUMNS.len();
    assert_eq!(text(&rows[1][c]), values[0]);
    assert_eq!(text(&rows[2][c]), values[1]);
    assert_eq!(text(&rows[3][c]), values[2]);
    let cut = text(&rows[5][c]);
    assert!(cut.ends_with(safe::TRUNCATED), "marked as cut");
    assert!(cut.encode_utf16().count() <= safe::MAX_CELL_UTF16);
    let errors = grid(&path, "Errors");
    assert_eq!(text(&errors[1][0]), values[0]);
    assert_eq!(text(&errors[1][1]), "=1+1");
}

#[test]
fn rows_beyond_a_page_continue_on_a_second_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paged.xlsx");
    let l = layout("p.csv", "p", &[("Notes", None)]);
    let mut w = ResultsWriter::create_paged(&path, l.headers.clone(), 5).unwrap();
    for i in 0..10 {
        w.write(&RowResult {
            row: Row {
                index: i,
                layout: l.clone(),
                line: i as u32 + 2,
                cells: vec![format!("n{i}")].into(),
                errors: vec![],
            },
            target: Some("t".into()),
            vendor: None,
            outcome: Outcome::new(Status::Valid, Action::Create),
        })
        .unwrap();
    }
    w.finish(&run_info("validate"), &[]).unwrap();
    let wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(
        wb.sheet_names(),
        ["Summary", "Results", "Results (2)", "Results (3)", "Errors"]
    );
    let notes: Vec<String> = ["Results", "Results (2)", "Results (3)"]
        .iter()
        .flat_map(|s| {
            let g = grid(&path, s);
            assert_eq!(header(&g, 0)[0], "source_file");
            g[1..]
                .iter()
                .map(|r| text(&r[RESULT_COLUMNS.len()]))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(notes, (0..10).map(|i| format!("n{i}")).collect::<Vec<_>>());
}

#[test]
fn unwritable_path_fails_at_create_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/results.xlsx");
    let e = ResultsWriter::create(&missing, vec![])
        .err()
        .expect("an error");
    let msg = e.to_string();
    assert!(msg.contains(&missing.display().to_string()), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
    let e = ResultsWriter::create(dir.path(), vec![])
        .err()
        .expect("an error");
    assert!(e.to_string().contains("is a directory"), "{e}");
}

#[test]
fn json_row_has_result_columns_and_masked_fields() {
    let results = synthetic();
    let failed = results
        .iter()
        .find(|r| r.outcome.status == Status::Failed)
        .unwrap();
    let v = report::json_row(failed);
    let obj = v.as_object().unwrap();
    for c in RESULT_COLUMNS {
        assert!(obj.contains_key(c), "{c}");
    }
    assert_eq!(v["status"], "failed");
    assert_eq!(v["row"], 5);
    assert_eq!(v["http_status"], 400);
    assert_eq!(v["fields"]["Password"], "***");
    assert_eq!(v["fields"]["Phone"], "4366412345678");
    assert_eq!(v["fields"]["Notes"], "-5");
    let text = v.to_string();
    for p in PASSWORDS {
        assert!(!text.contains(p), "{text}");
    }
}

#[test]
fn summary_json_and_table_agree_with_the_workbook() {
    let dir = tempfile::tempdir().unwrap();
    let (path, finished) = write_synthetic(dir.path());
    let run = run_info("import");
    let v = report::summary_json(&run, &finished.counts, &stats(), Some(&path));
    let s = &v["summary"];
    assert_eq!(s["rows"], 15);
    assert_eq!(s["manual_waiting"], 2);
    assert_eq!(s["statuses"]["invalid"], 2);
    assert_eq!(s["targets"][0]["target"], "powunity");
    assert_eq!(s["targets"][0]["requests"], 40);
    assert_eq!(s["inputs"][0]["sha256"], "ab".repeat(32));
    let table = report::summary_table(&finished.counts, &stats(), Some(&path));
    assert!(table.lines().next().unwrap().starts_with("target"));
    assert!(
        table
            .trim_end()
            .ends_with("2 users wait for manual creation (sheet Manual)"),
        "{table}"
    );
}

#[test]
fn a_200k_row_workbook_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xlsx");
    let l = roster_layout();
    let mut w = ResultsWriter::create(&path, l.headers.clone()).unwrap();
    let n = 200_000;
    for i in 0..n {
        let status = if i % 100 == 0 {
            Status::Failed
        } else {
            Status::Created
        };
        let mut outcome = Outcome::new(status, Action::Create);
        outcome.user_id = Some((1_000_000 + i).to_string());
        outcome.attempts = 1;
        w.write(&RowResult {
            row: Row {
                index: i,
                layout: l.clone(),
                line: i as u32 + 2,
                cells: vec![
                    "powunity".into(),
                    format!("First{i}"),
                    format!("Last{i}"),
                    format!("u{i}@example.com"),
                    format!("u{i}"),
                    "Secr3tPass!".into(),
                    format!("43664{i:08}"),
                    format!("{i:05}"),
                    String::new(),
                    "12|15".into(),
                ]
                .into(),
                errors: vec![],
            },
            target: Some("powunity".into()),
            vendor: Some(VendorKind::Traccar),
            outcome,
        })
        .unwrap();
    }
    let finished = w.finish(&run_info("import"), &stats()).unwrap();
    assert_eq!(finished.counts.rows(), n as u64);
    assert_eq!(finished.counts.total(Status::Failed), 2_000);
    let rows = grid(&path, "Errors");
    assert_eq!(rows.len(), 2_001);
}

#[test]
fn third_party_reader_finds_no_formula_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_synthetic(dir.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check_workbook.py");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    // The first interpreter that has openpyxl (pyenv's python3 may lack it, the system's not).
    let mut why = Vec::new();
    let python = ["python3", "/usr/bin/python3"].into_iter().find(|py| {
        match std::process::Command::new(py)
            .args(["-c", "import openpyxl"])
            .output()
        {
            Ok(o) if o.status.success() => true,
            Ok(o) => {
                why.push(format!(
                    "{py}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
                false
            }
            Err(e) => {
                why.push(format!("{py}: {e}"));
                false
            }
        }
    });
    let Some(python) = python else {
        let why = why.join("; ");
        assert!(!ci, "CI=true but no python3 with openpyxl: {why}");
        eprintln!("skipped: no python3 with openpyxl ({why})");
        return;
    };
    let mut cmd = std::process::Command::new(python);
    cmd.arg(&script).arg(&path);
    for p in PASSWORDS {
        cmd.args(["--secret", p]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "check_workbook.py failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And the check does catch what it is for: a secret that is in the workbook.
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(&path)
        .args(["--secret", "user1@example.com"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the checker must fail on a present string"
    );
}
