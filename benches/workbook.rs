//! Writing the result workbook vs rust_xlsxwriter writing the same cells, both in
//! constant-memory mode (issue 4's "Large" goal, issue 10's third row).
//!
//! `cargo bench --bench workbook -- muster|raw ROWS PATH` writes one workbook and prints the
//! seconds it took; `benches/workbook.sh` runs each side three times under `/usr/bin/time`
//! and prints medians, the ratio and peak memory.

// Tools of our own, run by hand or by CI: std's print macros are fine here.
#![allow(clippy::disallowed_macros)]

use std::sync::Arc;
use std::time::Instant;

use muster::model::*;
use muster::report::ResultsWriter;
use rust_xlsxwriter::Workbook;

fn layout() -> Arc<Layout> {
    let cols: [(&str, Option<Field>); 10] = [
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
    ];
    Arc::new(Layout {
        file: "fleet.xlsx".into(),
        sheet: "Roster".into(),
        is_workbook: true,
        header_row: 1,
        headers: cols.iter().map(|c| c.0.to_string()).collect(),
        fields: cols.iter().map(|c| c.1).collect(),
        passthrough: vec![],
    })
}

fn result(
    l: &Arc<Layout>,
    i: usize,
    target: &str,
    vendor: VendorKind,
    status: Status,
) -> RowResult {
    let mut o = Outcome::new(status, Action::Create);
    o.attempts = 1;
    match status {
        Status::Created | Status::Exists | Status::Updated => {
            o.user_id = Some(format!("{}", 100_000 + i));
            o.http_status = Some(200);
            if vendor == VendorKind::Pegasus {
                o.other_ids = vec![
                    SideId {
                        kind: "group".into(),
                        id: "3705".into(),
                    },
                    SideId {
                        kind: "app".into(),
                        id: "4891".into(),
                    },
                ];
            }
        }
        Status::Failed => {
            o.http_status = Some(422);
            o.error = Some("email has already been taken".into());
        }
        Status::Invalid => {
            o.error = Some(format!(
                "E-Mail (D{}): \"not-an-email\" is not an email address",
                i + 2
            ));
        }
        Status::Partial => {
            o.user_id = Some(format!("{}", 100_000 + i));
            o.error = Some("device link 15: 404 Not Found".into());
            o.http_status = Some(404);
        }
        _ => {}
    }
    let first = [
        "Anna", "Jonas", "Maria", "Lukas", "Elena", "Felix", "Sofia", "Paul",
    ][i % 8];
    let last = [
        "Gruber", "Huber", "Bauer", "Wagner", "Müller", "Pichler", "Steiner", "Moser",
    ][(i / 8) % 8];
    RowResult {
        row: Row {
            index: i,
            layout: l.clone(),
            line: i as u32 + 2,
            cells: vec![
                target.into(),
                first.into(),
                last.into(),
                if status == Status::Invalid {
                    "not-an-email".into()
                } else {
                    format!(
                        "{}.{}{i}@fleet.example",
                        first.to_lowercase(),
                        last.to_lowercase()
                    )
                },
                format!("{}{}{i}", &first[..1].to_lowercase(), last.to_lowercase()),
                "Secr3tPass!".into(),
                format!("43664{:08}", 12345678 + i),
                format!("{:05}", i * 7),
                if i % 5 == 0 {
                    "=1+1".into()
                } else if i % 7 == 0 {
                    "+49 170 1234567".into()
                } else {
                    String::new()
                },
                "B-AB 123|B-CD 456".into(),
            ]
            .into(),
            errors: vec![],
        },
        target: Some(target.into()),
        vendor: Some(vendor),
        outcome: o,
    }
}

fn run_info() -> RunInfo {
    let started = chrono::Utc::now() - chrono::Duration::seconds(83);
    RunInfo {
        run_id: "20261122-104512-7f3a".into(),
        command: "import".into(),
        command_line: "muster import samples/fleet.xlsx --config muster.toml --out results.xlsx"
            .into(),
        started,
        ended: Some(chrono::Utc::now()),
        dry_run: false,
        version: "0.1.0".into(),
        inputs: vec![InputFile {
            path: "samples/fleet.xlsx".into(),
            sha256: "9f2c1e0b7d4a5c3e8f6a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6".into(),
            rows: 40,
        }],
        skipped_sheets: vec!["samples/fleet.xlsx, Notes: hidden sheet".into()],
    }
}

fn main() {
    // `cargo bench` appends `--bench`; positional arguments only.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (Some(mode), Some(n), Some(path)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: cargo bench --bench workbook -- muster|raw ROWS PATH");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("ROWS is a whole number");
    let l = layout();
    // 1,000 distinct rows, repeated: 2% failed (so Errors is written too), the rest created.
    let rows: Vec<RowResult> = (0..1000)
        .map(|i| {
            let status = if i % 50 == 0 {
                Status::Failed
            } else {
                Status::Created
            };
            result(&l, i, "powunity", VendorKind::Traccar, status)
        })
        .collect();
    let t = Instant::now();
    match mode.as_str() {
        "muster" => {
            let mut w = ResultsWriter::create(std::path::Path::new(path), l.headers.clone())
                .expect("the workbook can be created");
            for i in 0..n {
                let mut r = rows[i % 1000].clone();
                r.row.index = i;
                r.row.line = i as u32 + 2;
                w.write(&r).expect("row written");
            }
            w.finish(&run_info(), &[]).expect("workbook finished");
        }
        "raw" => raw(&rows, n, path),
        other => {
            eprintln!("unknown mode {other}: muster or raw");
            std::process::exit(2);
        }
    }
    println!("{mode} {n} rows: {:.3} s", t.elapsed().as_secs_f64());
}

/// The same cells written with rust_xlsxwriter alone: Results and Errors, constant memory.
fn raw(rows: &[RowResult], n: usize, path: &str) {
    let mut wb = Workbook::new();
    let mut results = wb.new_worksheet_with_constant_memory().expect("sheet");
    results.set_name("Results").expect("name");
    let mut errors = wb.new_worksheet_with_constant_memory().expect("sheet");
    errors.set_name("Errors").expect("name");
    let mut er = 1u32;
    for i in 0..n {
        let r = &rows[i % 1000];
        let row = i as u32 + 1;
        let o = &r.outcome;
        let put = |ws: &mut rust_xlsxwriter::Worksheet, c: u16, v: &str| {
            ws.write_string(row, c, v).expect("cell");
        };
        put(&mut results, 0, r.row.layout.file.as_str());
        put(&mut results, 1, r.row.layout.sheet.as_str());
        results.write_number(row, 2, row + 1).expect("cell");
        put(&mut results, 3, "powunity");
        put(&mut results, 4, "traccar");
        put(&mut results, 5, "create");
        put(&mut results, 6, o.status.key());
        if let Some(u) = &o.user_id {
            put(&mut results, 7, u);
        }
        if let Some(h) = o.http_status {
            results.write_number(row, 9, h).expect("cell");
        }
        if let Some(e) = &o.error {
            put(&mut results, 10, e);
        }
        results.write_number(row, 11, o.attempts).expect("cell");
        for (c, v) in r.row.cells.iter().enumerate() {
            if !v.is_empty() {
                put(&mut results, 12 + c as u16, v);
            }
        }
        if o.status == Status::Failed {
            for (c, v) in r.row.cells.iter().enumerate() {
                if !v.is_empty() {
                    errors.write_string(er, c as u16, v).expect("cell");
                }
            }
            errors.write_string(er, 10, "failed").expect("cell");
            errors
                .write_string(er, 11, o.error.as_deref().unwrap_or(""))
                .expect("cell");
            er += 1;
        }
    }
    wb.push_worksheet(results);
    wb.push_worksheet(errors);
    wb.save(path).expect("saved");
}
