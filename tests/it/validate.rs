//! Integration tests: validate. The samples and the committed templates validate as
//! described; regenerating the templates gives the same headers and example rows.
//!
//! Files are read here with the csv crate and calamine directly and headers matched by
//! normalised name and alias, so these tests do not depend on `input`/`mapping`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use calamine::{Data, Reader, open_workbook_auto};
use muster::commands::template;
use muster::config::Config;
use muster::model::{Field, Layout, Row, VendorKind, column_letters};
use muster::validate::{self, Checked, Context, Duplicates};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// DESIGN "Roster fields": case, spaces, `-`, `_` and punctuation ignored.
fn normalise(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn field_of(header: &str) -> Option<Field> {
    let h = normalise(header);
    Field::ALL
        .iter()
        .copied()
        .find(|f| normalise(f.name()) == h || f.aliases().iter().any(|a| normalise(a) == h))
}

fn layout(file: &str, sheet: &str, is_workbook: bool, headers: Vec<String>) -> Arc<Layout> {
    Arc::new(Layout {
        file: file.into(),
        sheet: sheet.into(),
        is_workbook,
        header_row: 1,
        fields: headers.iter().map(|h| field_of(h)).collect(),
        // `motive.user_role_id`: a platform's own field, passed through.
        passthrough: headers
            .iter()
            .enumerate()
            .filter_map(|(col, h)| {
                let (vendor, name) = h.split_once('.')?;
                Some((col, VendorKind::from_key(vendor)?, name.trim().to_string()))
            })
            .collect(),
        headers,
    })
}

fn rows_of(layout: &Arc<Layout>, records: Vec<Vec<String>>) -> Vec<Row> {
    records
        .into_iter()
        .enumerate()
        .map(|(i, mut cells)| {
            cells.resize(layout.headers.len(), String::new());
            Row {
                index: i,
                layout: layout.clone(),
                line: i as u32 + 2,
                cells: cells.into_iter().map(|c| c.trim().to_string()).collect(),
                errors: vec![],
            }
        })
        .collect()
}

fn read_csv(path: &Path) -> Vec<Row> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let records = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let stem = path.file_stem().unwrap().to_string_lossy().to_string();
    rows_of(&layout(&name, &stem, false, headers), records)
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// The first sheet of a workbook as (sheet name, rows).
fn read_xlsx(path: &Path) -> (String, Vec<Row>) {
    let mut wb = open_workbook_auto(path).unwrap();
    let sheet = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&sheet).unwrap();
    let mut grid = range
        .rows()
        .map(|r| r.iter().map(cell_text).collect::<Vec<_>>());
    let headers = grid.next().unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let rows = rows_of(&layout(&name, &sheet, true, headers), grid.collect());
    (sheet, rows)
}

fn check(rows: &[Row]) -> Vec<Checked> {
    let config = Config::default();
    let ctx = Context {
        config: &config,
        target_override: None,
    };
    validate::check_rows(rows, &ctx, &mut Duplicates::default())
}

fn problems_by_line(rows: &[Row], checked: &[Checked]) -> Vec<(u32, Vec<String>)> {
    rows.iter()
        .zip(checked)
        .filter(|(_, c)| !c.problems.is_empty())
        .map(|(r, c)| {
            (
                r.line,
                c.problems.iter().map(|p| p.message.clone()).collect(),
            )
        })
        .collect()
}

#[test]
fn fleet_csv_validates_clean_over_five_targets() {
    let rows = read_csv(&repo("samples/fleet.csv"));
    assert!(rows.len() >= 40, "{} rows", rows.len());
    let checked = check(&rows);
    assert_eq!(problems_by_line(&rows, &checked), vec![]);
    for v in VendorKind::ALL {
        let n = checked
            .iter()
            .filter(|c| c.target.as_ref().map(|t| t.vendor) == Some(v))
            .count();
        assert!(n >= 5, "{v}: {n} rows");
    }
}

#[test]
fn fleet_xlsx_holds_the_csv_as_text_and_validates_clean() {
    let csv_rows = read_csv(&repo("samples/fleet.csv"));
    let (_, rows) = read_xlsx(&repo("samples/fleet.xlsx"));
    assert_eq!(rows[0].layout.headers, csv_rows[0].layout.headers);
    assert_eq!(rows.len(), csv_rows.len());
    for (x, c) in rows.iter().zip(&csv_rows) {
        assert_eq!(x.cells, c.cells, "line {}", x.line);
    }
    // Phones and IMEIs are text cells, not numbers Excel would show in scientific notation.
    let mut wb = open_workbook_auto(repo("samples/fleet.xlsx")).unwrap();
    let sheet = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&sheet).unwrap();
    for cell in range.rows().skip(1).flatten() {
        assert!(
            matches!(cell, Data::String(_) | Data::Empty),
            "a non-text cell: {cell:?}"
        );
    }
    let checked = check(&rows);
    assert_eq!(problems_by_line(&rows, &checked), vec![]);
}

#[test]
fn broken_csv_has_the_expected_problem_on_each_row() {
    let rows = read_csv(&repo("samples/broken.csv"));
    let checked = check(&rows);
    let expected: &[(u32, &[&str])] = &[
        (
            2,
            &["E-mail (E2): \"jonas.berger@@bikeshare-graz.at\" is not an email address"],
        ),
        (3, &["First name (C3): is required"]),
        (
            4,
            &["ELD mode (P4): \"exempt\" does not go with time_tracking_mode \"logs\""],
        ),
        (
            5,
            &["Branch ids (L5): \"101,102\" uses commas: use | between branch ids (101|102)"],
        ),
        (
            6,
            &["Password (G6): is too weak (no upper-case letter, no special character)"],
        ),
        (
            7,
            &[
                "Password (G7): is too weak (shorter than 8 characters, no digit, no upper-case letter)",
            ],
        ),
        (8, &["Phone (H8): \"12345\" is not a phone number"]),
        (
            9,
            &[
                "E-mail (E9): \"Paul.Schmid@bikeshare-graz.at\" is a duplicate of row 8 (broken.csv, E8) for target traccar",
            ],
        ),
        (
            10,
            &[
                "Target (A10): \"samsara\" is not a target: without --config, use a vendor key (known: traccar, motive, pegasus, drtrack, arobs)",
            ],
        ),
        (
            11,
            &["Action (B11): \"enroll\" is not an action (use create, update, upsert or delete)"],
        ),
        (
            12,
            &["ELD mode (P12): \"logs\" is only for drivers (role is fleet_user)"],
        ),
        (
            13,
            &["Role (I13): \"dispatcher\" is not one of driver, fleet_user, admin"],
        ),
        (
            14,
            &[
                "Company (K14): is required",
                "Password (G14): is required unless send_email is yes",
            ],
        ),
        (
            15,
            &[
                "Scopes (V15): \"assets=r|vehicles=rw\" has \"vehicles=rw\", not resource=r or resource=w",
            ],
        ),
        (16, &["Username (F16): is required"]),
        (17, &["Expiration (U17): \"31/12/2027\" is not an ISO date"]),
        (
            18,
            &["Target (A18): no target for this row: fill in a target column"],
        ),
        (
            19,
            &["Branch ids (L19): \"North\" has \"North\", not a branch id"],
        ),
        (20, &["User group (M20): is required"]),
        (21, &["E-mail (E21): is required (give email or username)"]),
    ];
    let got = problems_by_line(&rows, &checked);
    assert_eq!(
        got.len(),
        rows.len(),
        "every row of broken.csv is invalid: {got:#?}"
    );
    assert_eq!(got.len(), expected.len());
    for ((line, messages), (want_line, wants)) in got.iter().zip(expected) {
        assert_eq!(line, want_line);
        assert_eq!(messages.len(), wants.len(), "line {line}: {messages:#?}");
        for (m, w) in messages.iter().zip(wants.iter()) {
            assert!(
                m.starts_with(w),
                "line {line}: {m:?} does not start with {w:?}"
            );
        }
    }
    // No password ever appears in a message.
    for (_, messages) in &got {
        for m in messages {
            for secret in ["password1", "andinos\"", "Haul-2027"] {
                assert!(!m.contains(secret), "{m}");
            }
        }
    }
}

#[test]
fn each_committed_template_example_row_validates() {
    for v in VendorKind::ALL {
        let path = repo(&format!("templates/{}", template::file_name(v)));
        let (sheet, rows) = read_xlsx(&path);
        assert_eq!(sheet, v.key());
        assert_eq!(rows.len(), 1, "{v}: one example row");
        for (h, f) in rows[0].layout.headers.iter().zip(&rows[0].layout.fields) {
            assert!(f.is_some(), "{v}: header {h:?} maps to no field");
        }
        let checked = check(&rows);
        assert_eq!(problems_by_line(&rows, &checked), vec![], "{v}");
        assert_eq!(checked[0].target.as_ref().map(|t| t.vendor), Some(v));
    }
}

#[test]
fn regenerating_the_templates_gives_the_committed_headers_and_examples() {
    let dir = tempfile::tempdir().unwrap();
    for v in VendorKind::ALL {
        let fresh = template::write_template(v, dir.path()).unwrap();
        let (_, new_rows) = read_xlsx(&fresh);
        let (_, old_rows) = read_xlsx(&repo(&format!("templates/{}", template::file_name(v))));
        assert_eq!(
            new_rows[0].layout.headers, old_rows[0].layout.headers,
            "{v}: run `cargo run -- template all --out templates`"
        );
        assert_eq!(new_rows[0].cells, old_rows[0].cells, "{v}");
    }
}

/// One part of an xlsx file (a zip of XML parts), as text.
fn xlsx_part(path: &Path, part: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut text = String::new();
    zip.by_name(part)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn templates_have_a_frozen_header_a_note_per_header_and_drop_downs() {
    for v in VendorKind::ALL {
        let path = repo(&format!("templates/{}", template::file_name(v)));
        let columns = template::columns(v);
        let sheet = xlsx_part(&path, "xl/worksheets/sheet1.xml");
        assert!(
            sheet.contains(
                r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
            ),
            "{v}: header not frozen"
        );
        let notes = xlsx_part(&path, "xl/comments1.xml");
        for (i, c) in columns.iter().enumerate() {
            let cell = format!("{}1", column_letters(i));
            assert!(
                notes.contains(&format!(r#"<comment ref="{cell}""#)),
                "{v}: no note on {cell} ({})",
                c.header
            );
            if let Some(choices) = c.choices {
                let letter = column_letters(i);
                let list = format!("<formula1>\"{}\"</formula1>", choices.join(","));
                assert!(sheet.contains(&list), "{v}: no drop-down for {}", c.header);
                assert!(
                    sheet.contains(&format!(r#"sqref="{letter}2:{letter}1001""#)),
                    "{v}: drop-down of {} not on its column",
                    c.header
                );
            }
        }
        assert!(columns.iter().any(|c| c.choices.is_some()), "{v}");
        assert!(
            xlsx_part(&path, "xl/styles.xml").contains("<b/>"),
            "{v}: bold header"
        );
    }
}

/// A reader that stops early (`muster validate --json roster.csv | head -1`) loses only
/// the lines it did not read: muster still writes the workbook, exits with the rows'
/// status (1: one row is invalid), and says nothing about the closed pipe.
#[test]
fn a_reader_that_stops_early_loses_only_the_lines_it_did_not_read() {
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("roster.csv");
    let out = dir.path().join("validation.xlsx");
    // Enough JSON lines (over a megabyte) that no pipe buffer takes them all.
    let mut text = String::from("target,first_name,last_name,email\n");
    for i in 0..5_000 {
        text.push_str(&format!("traccar,Ann,Lee,ann{i}@example.com\n"));
    }
    text.push_str("traccar,Bad,Row,not-an-email\n");
    std::fs::write(&csv, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(["validate", "--json", "--out"])
        .arg(&out)
        .arg(&csv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    stdout.read_exact(&mut first).unwrap();
    assert!(
        first.starts_with(b"{"),
        "{}",
        String::from_utf8_lossy(&first)
    );
    drop(stdout);
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.is_empty(), "stderr: {stderr}");
    let mut book = open_workbook_auto(&out).unwrap();
    let results = book.worksheet_range("Results").unwrap();
    assert_eq!(results.height(), 5_002, "header and every row");
}

/// The same for standard error (`muster validate roster.csv 2>&1 >/dev/null | true`): the
/// summary table is dropped, not a panic (exit 101 with std's `eprint!`).
#[test]
fn a_closed_stderr_costs_only_the_messages() {
    use std::process::Command;

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("roster.csv");
    let out = dir.path().join("validation.xlsx");
    std::fs::write(
        &csv,
        "target,first_name,last_name,email\ntraccar,Ann,Lee,ann@example.com\ntraccar,Bad,Row,not-an-email\n",
    )
    .unwrap();
    // A pipe whose reader is gone before muster starts: every write to it fails.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(["validate", "--out"])
        .arg(&out)
        .arg(&csv)
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1), "one row is invalid");
    let mut book = open_workbook_auto(&out).unwrap();
    let results = book.worksheet_range("Results").unwrap();
    assert_eq!(results.height(), 3, "header and both rows");
}

#[test]
fn what_cannot_be_read_is_one_line_naming_the_file_and_the_reason() {
    use std::process::Command;

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("roster.csv");
    std::fs::write(&csv, "target,first_name,last_name,email\n").unwrap();
    let csv = csv.display().to_string();
    let here = dir.path().display().to_string();
    for (args, want) in [
        (
            vec!["missing.csv"],
            "muster: missing.csv: cannot read: ".to_string(),
        ),
        (vec![&here], format!("muster: {here}: cannot read: ")),
        (
            vec![&csv, "--config", "nope.toml"],
            "muster: cannot read config nope.toml: ".to_string(),
        ),
        (
            vec![&csv, "--mapping", "nope.toml"],
            "muster: cannot read mapping file nope.toml: ".to_string(),
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_muster"))
            .current_dir(dir.path())
            .arg("validate")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        // The reason once, on the same line: no "caused by" line repeating it.
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with(&want), "{args:?}: {stderr}");
    }
}

/// Every command finds `./muster.toml` the same way: `validate` once ignored it, so a
/// target named in the config was "unknown" to validate and known to import.
#[test]
fn validate_reads_the_config_in_the_working_directory_as_import_does() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("roster.csv"),
        "target,first_name,last_name,email\nfleet,Ana,Berg,ana@fleet.test\n",
    )
    .unwrap();
    let validate = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_muster"))
            .current_dir(dir.path())
            .args(["validate", "roster.csv", "--quiet"])
            .output()
            .unwrap()
            .status
            .code()
    };
    // Without a config, `fleet` is no target muster knows.
    assert_eq!(validate(), Some(1));
    std::fs::write(
        dir.path().join("muster.toml"),
        "[target.fleet]\nvendor = \"traccar\"\nurl = \"http://127.0.0.1:9/api\"\ntoken_env = \"FLEET_TOKEN\"\n",
    )
    .unwrap();
    assert_eq!(validate(), Some(0));
}

/// Issue 25, item 11: fullwidth and Cyrillic look-alike emails, once separate users, are
/// `invalid` through the binary, the cell and the rule named; plain and single-script
/// addresses stay valid.
#[test]
fn look_alike_emails_are_invalid_naming_the_cell_and_the_rule() {
    use std::process::Command;

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("roster.csv");
    let out = dir.path().join("validation.xlsx");
    std::fs::write(
        &csv,
        "target,first_name,last_name,email\n\
         traccar,Jane,Doe,jane@example.com\n\
         traccar,Jane,Wide,ｊａｎｅ@example.com\n\
         traccar,Jane,Cyr,j\u{430}ne@example.com\n\
         traccar,Hans,Müller,müller@example.de\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(["validate", "--quiet", "--out"])
        .arg(&out)
        .arg(&csv)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "two rows are invalid");
    let mut book = open_workbook_auto(&out).unwrap();
    let results = book.worksheet_range("Results").unwrap();
    let mut rows = results.rows();
    let header: Vec<String> = rows.next().unwrap().iter().map(cell_text).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let got: Vec<(String, String)> = rows
        .map(|r| (cell_text(&r[col("status")]), cell_text(&r[col("error")])))
        .collect();
    assert_eq!(
        got,
        [
            ("valid".to_string(), String::new()),
            (
                "invalid".into(),
                "email (D3): \"ｊａｎｅ@example.com\" uses fullwidth or other compatibility characters: it reads as \"jane@example.com\" (UTS 39 confusable)".into()
            ),
            (
                "invalid".into(),
                "email (D4): \"j\u{430}ne@example.com\" mixes scripts (Latin, Cyrillic): it can pass for another address (UTS 39 mixed-script)".into()
            ),
            ("valid".into(), String::new()),
        ]
    );
}
