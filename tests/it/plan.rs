//! A plan is carried out only as it was approved (issue 25, item 7): `apply` refuses a
//! plan.xlsx whose sheets were edited after it was made, naming the sheet, and one whose
//! digests were made afresh (the journal recorded another); nothing is sent either way.

use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use muster::sandbox::Options;
use rust_xlsxwriter::Workbook;

use crate::support::{World, traccar_roster};

/// Every sheet of `path` as rows of text (numbers as numbers in `Plan`'s `row` column).
fn sheets(path: &Path) -> Vec<(String, Vec<Vec<Data>>)> {
    let mut wb = open_workbook_auto(path).unwrap();
    let names = wb.sheet_names().to_vec();
    names
        .into_iter()
        .map(|n| {
            let range = wb.worksheet_range(&n).unwrap();
            let rows = range.rows().map(<[Data]>::to_vec).collect();
            (n, rows)
        })
        .collect()
}

/// Writes `sheets` back as a workbook, as an editor would save it.
fn save(path: &Path, sheets: &[(String, Vec<Vec<Data>>)]) {
    let mut wb = Workbook::new();
    for (name, rows) in sheets {
        let sheet = wb.add_worksheet();
        sheet.set_name(name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    Data::Float(f) => {
                        sheet.write_number(r, c, *f).unwrap();
                    }
                    Data::Empty => {}
                    other => {
                        sheet.write_string(r, c, other.to_string()).unwrap();
                    }
                }
            }
        }
    }
    wb.save(path).unwrap();
}

/// Sets `key` to `value` in the `Plan info` sheet.
fn set_info(sheets: &mut [(String, Vec<Vec<Data>>)], key: &str, value: &str) {
    let info = &mut sheets.iter_mut().find(|(n, _)| n == "Plan info").unwrap().1;
    let row = info
        .iter_mut()
        .find(|r| r.first() == Some(&Data::String(key.into())))
        .unwrap();
    row[1] = Data::String(value.into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_carries_out_only_the_plan_as_it_was_approved() {
    let w = World::start(Options::default()).await;
    let config = w.config("rate = \"none\"");
    let journal = w.path("j.db");
    // Three users on the roster and on the platform, and two more made by someone else.
    let roster = w.write("roster.csv", &traccar_roster(3));
    let everyone = w.write("everyone.csv", &traccar_roster(5));
    w.import(
        &everyone,
        &config,
        &w.path("other.db"),
        &w.path("o.xlsx"),
        &[],
    )
    .await
    .unwrap();
    let p = |x: &Path| x.display().to_string();
    let plan = w.path("plan.xlsx");
    let (r, c, j, o) = (p(&roster), p(&config), p(&journal), p(&plan));
    w.muster(&[
        "import",
        &r,
        "--config",
        &c,
        "--journal",
        &j,
        "--out",
        &o,
        "--mode",
        "upsert",
        "--plan-only",
        "--quiet",
    ])
    .await
    .expect("the plan is made");
    let applied = p(&w.path("applied.xlsx"));
    let apply = async |plan: &Path| {
        let plan = p(plan);
        w.muster(&[
            "apply",
            &plan,
            "--journal",
            &j,
            "--out",
            &applied,
            "--yes",
            "--quiet",
        ])
        .await
    };
    let before = w.stat("traccar", "requests");

    // Edited after approval: sync with prune, as if the plan had said so.
    let mut edited = sheets(&plan);
    set_info(&mut edited, "mode", "sync");
    set_info(&mut edited, "prune", "true");
    set_info(&mut edited, "max_prune", "1000");
    let tampered = w.path("tampered.xlsx");
    save(&tampered, &edited);
    let err = apply(&tampered)
        .await
        .expect_err("an edited plan")
        .to_string();
    assert!(
        err.contains("the `Plan info` sheet no longer matches its digest"),
        "{err}"
    );
    // The same edit with digests made afresh: the journal never recorded that plan.
    let read = muster::report::plan::read(&plan).unwrap();
    let mut info = read.info.clone();
    for (k, v) in &mut info {
        match k.as_str() {
            "mode" => *v = "sync".into(),
            "prune" => *v = "true".into(),
            _ => {}
        }
    }
    let forged = w.path("forged.xlsx");
    muster::report::plan::write(&forged, &[], &info, &read.state, &[]).unwrap();
    let err = apply(&forged).await.expect_err("a forged plan").to_string();
    assert!(err.contains("is not a plan the journal"), "{err}");
    assert_eq!(w.stat("traccar", "requests"), before, "nothing was sent");
    assert_eq!(w.stat("traccar", "users"), 5);

    // The plan as approved is carried out: nothing to do, nobody removed.
    let writes = w.stat("traccar", "writes");
    apply(&plan).await.expect("the approved plan applies");
    assert_eq!(w.stat("traccar", "writes"), writes, "nothing differed");
    assert_eq!(w.stat("traccar", "users"), 5, "nobody was removed");
}
