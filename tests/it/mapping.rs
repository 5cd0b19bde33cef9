//! Issue 27, "Mapping you can see and trust": a roster in the team's own words (German and
//! English headers, a title row, a `Lists` helper sheet, bikes stored as numbers) imports
//! into the sandbox with no mapping file; columns that hold a field's data under a header
//! muster does not know stop the import, naming the column.

use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx, open_workbook};
use muster::Exit;
use muster::model::Status;
use muster::sandbox::Options;
use rust_xlsxwriter::Workbook;

use crate::support::{self, FAST_APPS, World, fast_pegasus};

/// The roster's headers, as the team wrote them.
const HEADERS: [&str; 17] = [
    "Platform",
    "Vorname",
    "Nachname",
    "E-mail address",
    "Mobile",
    "Employee #",
    "Login",
    "Role",
    "Company",
    "Groups",
    "Branch",
    "DRTrack group",
    "Assigned vehicles",
    "Start date",
    "Valid until",
    "Welcome mail",
    "Notes",
];

/// One cell: text, or a number as Excel stores a bike's IMEI typed in.
enum Cell {
    T(&'static str),
    N(f64),
}
use Cell::{N, T};

/// Rows for the five platforms; every column of HEADERS, in order.
#[rustfmt::skip]
fn rows() -> Vec<Vec<Cell>> {
    let blank = || T("");
    vec![
        vec![
            T("traccar"), T("Anna"), T("Berg"), T("anna.berg@fleet.test"), T("+49 170 1234567"),
            blank(), blank(), blank(), blank(), blank(), blank(), blank(),
            N(352_099_000_000_001.0), T("2026-01-05"), T("2027-12-31"), blank(), T("new hire"),
        ],
        vec![
            T("traccar"), T("Ben"), T("Cole"), T("ben.cole@fleet.test"), blank(),
            blank(), blank(), blank(), blank(), blank(), blank(), blank(),
            N(352_099_000_000_002.0), T("2026-01-06"), blank(), blank(), blank(),
        ],
        vec![
            T("motive"), T("Carl"), T("Dorn"), T("carl.dorn@fleet.test"), T("+1 555 0100100"),
            T("E-1001"), T("carl.dorn"), T("driver"), blank(), T("North"), blank(), blank(),
            blank(), T("2026-02-01"), blank(), blank(), blank(),
        ],
        vec![
            T("pegasus"), T("Dana"), T("Eck"), T("dana.eck@fleet.test"), blank(),
            blank(), T("dana.eck@fleet.test"), blank(), T("Acme Freight"), blank(), blank(),
            blank(), blank(), T("2026-02-02"), blank(), blank(), blank(),
        ],
        vec![
            T("drtrack"), T("Emil"), T("Fink"), T("emil.fink@fleet.test"), blank(),
            blank(), T("emil.fink"), T("Driver"), blank(), blank(), T("101"), T("Driver"),
            blank(), T("2026-02-03"), blank(), blank(), blank(),
        ],
        vec![
            T("drtrack"), T("Fritz"), T("Gans"), T("fritz.gans@fleet.test"), blank(),
            blank(), T("fritz.gans"), T("dispatcher"), blank(), blank(), T("102"), blank(),
            blank(), T("2026-02-04"), blank(), blank(), blank(),
        ],
        vec![
            T("arobs"), T("Gina"), T("Hahn"), T("gina.hahn@fleet.test"), blank(),
            blank(), T("gina.hahn"), blank(), blank(), blank(), blank(), blank(),
            T("CJ-01-ARB|CJ-02-ARB"), T("2026-02-05"), blank(), blank(), blank(),
        ],
    ]
}

/// Writes the roster: a title row, the headers, the rows, `extra` columns after them
/// (header and one value a row), and a `Lists` helper sheet.
fn write_roster(path: &Path, extra: &[(&str, &[&str])]) {
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet().set_name("Roster").unwrap();
    sheet
        .write_string(0, 0, "Fleet roster, spring 2026")
        .unwrap();
    let first_extra = HEADERS.len() as u16;
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write_string(2, c as u16, *h).unwrap();
    }
    for (i, (h, _)) in extra.iter().enumerate() {
        sheet.write_string(2, first_extra + i as u16, *h).unwrap();
    }
    for (r, row) in rows().iter().enumerate() {
        let r = 3 + r as u32;
        for (c, cell) in row.iter().enumerate() {
            match cell {
                T("") => {}
                T(t) => {
                    sheet.write_string(r, c as u16, *t).unwrap();
                }
                N(n) => {
                    sheet.write_number(r, c as u16, *n).unwrap();
                }
            }
        }
        for (i, (_, values)) in extra.iter().enumerate() {
            let v = values[(r - 3) as usize % values.len()];
            sheet.write_string(r, first_extra + i as u16, v).unwrap();
        }
    }
    let lists = wb.add_worksheet().set_name("Lists").unwrap();
    for (c, (h, values)) in [
        ("Roles", ["driver", "fleet_user", "admin"]),
        ("Companies", ["Acme Freight", "Bolt Logistics", "Cargo Uno"]),
        ("Branches", ["101", "102", "103"]),
    ]
    .iter()
    .enumerate()
    {
        lists.write_string(0, c as u16, *h).unwrap();
        for (r, v) in values.iter().enumerate() {
            lists.write_string(1 + r as u32, c as u16, *v).unwrap();
        }
    }
    wb.save(path).unwrap();
}

fn sheets(path: &Path) -> std::collections::BTreeMap<String, Vec<Vec<String>>> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    wb.sheet_names()
        .into_iter()
        .map(|name| {
            let range = wb.worksheet_range(&name).unwrap();
            let rows = range
                .rows()
                .map(|r| {
                    r.iter()
                        .map(|c| match c {
                            Data::Empty => String::new(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect();
            (name, rows)
        })
        .collect()
}

async fn world() -> (World, PathBuf) {
    let w = World::start(Options {
        pegasus: fast_pegasus(),
        ..Options::default()
    })
    .await;
    let config = w.config(&format!("rate = \"none\"\n{FAST_APPS}"));
    (w, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_in_the_teams_own_words_imports_with_no_mapping_file() {
    let (w, config) = world().await;
    let roster = w.path("roster.xlsx");
    write_roster(&roster, &[]);
    let journal = w.path("j.db");
    let out = w.path("results.xlsx");
    let exit = w
        .import(&roster, &config, &journal, &out, &[])
        .await
        .unwrap();
    assert_eq!(exit, Exit::Success, "{:?}", w.last_run_errors(&journal, 10));
    let counts = w.last_run_counts(&journal);
    assert_eq!(counts.get(&Status::Created), Some(&6), "{counts:?}");
    assert_eq!(counts.get(&Status::Manual), Some(&1), "{counts:?}");
    // Every bike is linked.
    assert_eq!(
        w.stat("traccar", muster::sandbox::traccar::LINKS_CREATED),
        2
    );
    let book = sheets(&out);
    // The helper sheet was not read as roster, and the Summary says so.
    assert!(
        book["Summary"]
            .iter()
            .flatten()
            .any(|c| c.contains("Lists (no column maps to an identity")),
        "{:?}",
        book["Summary"]
    );
    // AROBS' vehicle rights are filled.
    let manual = &book["Manual"];
    assert!(
        manual.iter().flatten().any(|c| c.contains("CJ-01-ARB")),
        "{manual:?}"
    );
    // The Columns sheet lists every column: the start date and notes are ignored.
    let columns = &book["Columns"];
    let field_of = |h: &str| {
        columns
            .iter()
            .find(|r| r[2] == h)
            .map(|r| r[3].clone())
            .unwrap_or_else(|| panic!("{h} is listed"))
    };
    assert_eq!(field_of("Assigned vehicles"), "devices");
    assert_eq!(field_of("Employee #"), "external_id");
    assert_eq!(field_of("Valid until"), "expiration_time");
    assert_eq!(field_of("DRTrack group"), "user_group");
    assert_eq!(field_of("Welcome mail"), "send_email");
    assert_eq!(field_of("Start date"), "ignored");
    assert_eq!(field_of("Notes"), "ignored");
    // The values muster gave rows itself are said.
    let said: Vec<&String> = columns.iter().flatten().collect();
    assert!(
        said.iter()
            .any(|c| c.starts_with("target pegasus: send_email = yes for rows without a password")),
        "{said:?}"
    );
    assert!(
        said.iter().any(|c| c.starts_with(
            "target drtrack: where \"DRTrack group\" is blank, user_group is taken from the column \"Role\""
        )),
        "{said:?}"
    );
    // Motive's external id was sent: the platform holds it.
    let listing = support::client()
        .get(format!("{}/motive/v1/users?per_page=100", w.sandbox.url()))
        .header("X-Api-Key", "sandbox-motive-key")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listing.contains("E-1001"), "{listing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_holding_a_fields_data_under_an_unknown_header_stops_the_import() {
    let (w, config) = world().await;
    let journal = w.path("j.db");
    let out = w.path("results.xlsx");
    for (header, values, field) in [
        (
            "Kit",
            &["356938035643809", "356938035643810"][..],
            "devices",
        ),
        (
            "Private contact",
            &["a@home.test", "b@home.test"][..],
            "email",
        ),
    ] {
        let roster = w.path(&format!("{header}.xlsx"));
        write_roster(&roster, &[(header, values)]);
        let requests = w.stat("traccar", "requests");
        let err = w
            .import(&roster, &config, &journal, &out, &[])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "column \"{header}\" is ignored but looks like {field}"
            )),
            "{err}"
        );
        assert_eq!(w.stat("traccar", "requests"), requests, "nothing was sent");
        // --allow-unmapped runs anyway; so does a mapping that ignores the column.
        let exit = w
            .import(
                &roster,
                &config,
                &journal,
                &out,
                &["--allow-unmapped", "--dry-run"],
            )
            .await
            .unwrap();
        assert_eq!(exit, Exit::Success, "{:?}", w.last_run_errors(&journal, 5));
    }
    let roster = w.path("kit.xlsx");
    write_roster(&roster, &[("Kit", &["356938035643809"])]);
    let mapped = w.path("muster-mapped.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&mapped, format!("[mapping]\n\"Kit\" = \"ignore\"\n{text}")).unwrap();
    let exit = w
        .import(&roster, &mapped, &journal, &out, &["--dry-run"])
        .await
        .unwrap();
    assert_eq!(exit, Exit::Success);
}

/// `muster ARGS…` as a process: (exit code, stdout, stderr).
fn run(args: &[&str], dir: &Path) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn validate_prints_the_column_report_and_warns_of_a_column_that_looks_like_a_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("roster.csv"),
        "Platform,Vorname,Nachname,E-Mail,Kit,Notes\n\
         traccar,Ann,Lee,ann@example.com,356938035643809,new\n\
         traccar,Bo,Ng,bo@example.com,356938035643810,\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&["validate", "roster.csv"], dir.path());
    assert_eq!(code, Some(0), "{stderr}");
    let table = stderr.split("warning:").next().unwrap();
    assert_eq!(
        table,
        "columns of roster.csv, roster:\n\
         \x20 Platform  → target\n\
         \x20 Vorname   → first_name\n\
         \x20 Nachname  → last_name\n\
         \x20 E-Mail    → email\n\
         \x20 Kit       IGNORED, looks like devices: its values are IMEIs (2 of 2); map it, or set \"Kit\" = \"ignore\"\n\
         \x20 Notes     ignored (closest: scopes, last_name; none is close)\n"
    );
    assert!(
        stderr.contains(
            "warning: roster.csv, roster: column \"Kit\" is ignored but looks like devices"
        ),
        "{stderr}"
    );
    // --json: the summary object lists every column, `field` null when ignored.
    let (_, stdout, _) = run(&["validate", "roster.csv", "--json"], dir.path());
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let columns = &summary["summary"]["columns"];
    assert_eq!(columns.as_array().unwrap().len(), 6);
    assert_eq!(
        columns[4],
        serde_json::json!({
            "file": "roster.csv",
            "sheet": "roster",
            "header": "Kit",
            "field": null,
            "suggestion": "looks like devices: its values are IMEIs (2 of 2); map it, or set \"Kit\" = \"ignore\""
        })
    );
    assert_eq!(columns[0]["field"], "target");
}

#[test]
fn sheet_picks_the_sheets_read_as_roster() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.xlsx");
    let mut wb = Workbook::new();
    for name in ["First", "Second"] {
        let s = wb.add_worksheet().set_name(name).unwrap();
        for (c, h) in ["target", "name", "email"].iter().enumerate() {
            s.write_string(0, c as u16, *h).unwrap();
        }
        for (c, v) in ["traccar", name, &format!("{name}@example.com")]
            .iter()
            .enumerate()
        {
            s.write_string(1, c as u16, *v).unwrap();
        }
    }
    wb.save(&path).unwrap();
    let (code, stdout, stderr) = run(
        &["validate", "two.xlsx", "--sheet", "second", "--json"],
        dir.path(),
    );
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "one row and the summary");
    assert_eq!(lines[0]["sheet"], "Second");
    assert_eq!(
        lines[1]["summary"]["skipped_sheets"][0],
        "two.xlsx: First (not picked by --sheet)"
    );
    let (code, _, stderr) = run(&["validate", "two.xlsx", "--sheet", "Third"], dir.path());
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("--sheet Third: no such sheet (sheets: First, Second)"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_reports_the_columns_too() {
    let (w, config) = world().await;
    let roster = w.write(
        "roster.csv",
        "Platform,Name,E-Mail,Kit\ntraccar,Ann Lee,ann@example.com,356938035643809\n",
    );
    let (out, mut args) = crate::audit::audit_args(&w, &roster, &config, "audit.xlsx");
    // Not quiet: the warnings go to stderr, the JSON to stdout.
    args.retain(|a| a != "--quiet");
    args.push("--json".into());
    // The sandbox answers on this process's runtime while the binary runs.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_muster"))
            .args(&args)
            .envs(muster::sandbox::Sandbox::credentials())
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let headers: Vec<&str> = summary["summary"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["header"].as_str().unwrap())
        .collect();
    assert_eq!(headers, ["Platform", "Name", "E-Mail", "Kit"]);
    assert!(stderr.contains("warning: "), "{stderr}");
    assert!(sheets(&out).contains_key("Columns"));
}

#[test]
fn muster_fields_prints_what_the_readme_says() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(&["fields"], dir.path());
    assert_eq!(code, Some(0));
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&stdout),
        "README's field list differs from `muster fields`"
    );
    assert!(stdout.contains("| `devices` | device, vehicles,"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_lists_the_columns_and_is_refused_like_an_import() {
    let (w, config) = world().await;
    let journal = w.path("j.db");
    let out = w.path("plan.xlsx");
    let roster = w.path("kit.xlsx");
    write_roster(&roster, &[("Kit", &["356938035643809"])]);
    let err = w
        .import(
            &roster,
            &config,
            &journal,
            &out,
            &["--mode", "upsert", "--plan-only"],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("column \"Kit\""), "{err}");
    w.import(
        &roster,
        &config,
        &journal,
        &out,
        &["--mode", "upsert", "--plan-only", "--allow-unmapped"],
    )
    .await
    .unwrap();
    let columns = &sheets(&out)["Columns"];
    assert!(
        columns.iter().any(|r| r[2] == "Kit" && r[3] == "ignored"),
        "{columns:?}"
    );
}
