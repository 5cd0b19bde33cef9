//! `muster import` end to end against the sandbox (Traccar first): exactly once under faults,
//! re-runs, halting on bad credentials, dry runs, generated passwords, resuming.

use muster::model::Status;
use muster::sandbox::Options;
use muster::{Env, Exit};

use crate::support::{World, traccar_roster};

/// Rows for the fault test; `MUSTER_LONG=1` runs the full 10,000.
fn fault_rows() -> usize {
    if std::env::var("MUSTER_LONG").is_ok() {
        10_000
    } else {
        3_000
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_ends_final_and_nothing_is_created_twice_under_faults() {
    let w = World::start(Options {
        error_rate: 0.1,
        timeout_rate: 0.02,
        drop_rate: 0.01,
        seed: Some(7),
        ..Options::default()
    })
    .await;
    let n = fault_rows();
    let config = w.config("rate = \"none\"\nconcurrency = 32\ntimeout = \"5s\"\nretries = 8");
    let roster = w.write("roster.csv", &traccar_roster(n));
    let journal = w.path("j.db");
    let out = w.path("r.xlsx");
    let exit = w
        .import(&roster, &config, &journal, &out, &[])
        .await
        .expect("import runs");
    let counts = w.last_run_counts(&journal);
    let created = counts.get(&Status::Created).copied().unwrap_or(0);
    let failed = counts.get(&Status::Failed).copied().unwrap_or(0);
    // Partial: the user was made but a device link ran out of retries.
    let partial = counts.get(&Status::Partial).copied().unwrap_or(0);
    assert_eq!(
        created + partial + failed,
        n,
        "every row final: {counts:?}\n{:#?}",
        w.last_run_errors(&journal, 8)
    );
    assert_eq!(
        w.stat("traccar", "duplicates_refused"),
        0,
        "{}",
        w.sandbox.stats()
    );
    assert_eq!(
        w.stat("traccar", "created") as usize,
        created + partial,
        "every user on the platform is a row reported with its id: {}\n{:#?}",
        w.sandbox.stats(),
        w.last_run_errors(&journal, 8)
    );
    assert!(w.stat("traccar", "faults_injected") > 0);
    assert_eq!(
        exit,
        if failed == 0 {
            Exit::Success
        } else {
            Exit::RowsFailed
        }
    );

    // A second run creates nothing and reports every created user as existing.
    w.import(&roster, &config, &journal, &out, &[])
        .await
        .expect("re-run runs");
    let again = w.last_run_counts(&journal);
    assert_eq!(w.stat("traccar", "duplicates_refused"), 0);
    assert_eq!(
        again.get(&Status::Exists).copied().unwrap_or(0)
            + again.get(&Status::Created).copied().unwrap_or(0),
        n - again.get(&Status::Failed).copied().unwrap_or(0),
        "{again:?}"
    );
    assert_eq!(
        w.stat("traccar", "created") as usize,
        created + partial + again.get(&Status::Created).copied().unwrap_or(0)
    );
}

#[tokio::test]
async fn bad_credentials_halt_the_target_after_the_probe() {
    let w = World::start(Options::default()).await;
    let config = w.config("");
    let roster = w.write("roster.csv", &traccar_roster(20));
    let journal = w.path("j.db");
    let mut vars = muster::sandbox::Sandbox::credentials();
    for (k, v) in vars.iter_mut() {
        if k == "SANDBOX_TRACCAR_TOKEN" {
            *v = "d3Jvbmc6d3Jvbmc=".into();
        }
    }
    let cli = clap::Parser::parse_from([
        "muster",
        "import",
        roster.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--out",
        w.path("r.xlsx").to_str().unwrap(),
        "--quiet",
    ]);
    let exit = muster::run(cli, &Env::with(vars)).await.expect("runs");
    assert_eq!(exit, Exit::RowsFailed);
    let counts = w.last_run_counts(&journal);
    assert_eq!(counts.get(&Status::NotAttempted), Some(&20), "{counts:?}");
    assert_eq!(w.stat("traccar", "created"), 0);
    assert_eq!(
        w.stat("traccar", "requests"),
        1,
        "only the probe: {}",
        w.sandbox.stats()
    );
}

#[tokio::test]
async fn dry_run_plans_with_reads_only() {
    let w = World::start(Options::default()).await;
    let config = w.config("");
    let roster = w.write("roster.csv", &traccar_roster(10));
    let journal = w.path("j.db");
    let exit = w
        .import(
            &roster,
            &config,
            &journal,
            &w.path("r.xlsx"),
            &["--dry-run"],
        )
        .await
        .unwrap();
    assert_eq!(exit, Exit::Success);
    assert_eq!(w.last_run_counts(&journal).get(&Status::Planned), Some(&10));
    assert_eq!(w.stat("traccar", "created"), 0);
}

#[tokio::test]
async fn an_unknown_device_makes_the_row_invalid_before_anything_is_sent() {
    let w = World::start(Options::default()).await;
    let config = w.config("");
    let roster = w.write(
        "roster.csv",
        "target,name,email,devices\ntraccar,Ann,ann@example.com,999999999999999\n",
    );
    let journal = w.path("j.db");
    let exit = w
        .import(&roster, &config, &journal, &w.path("r.xlsx"), &[])
        .await
        .unwrap();
    assert_eq!(exit, Exit::RowsFailed);
    let j = muster::journal::Journal::open(&journal).unwrap();
    let run = j.runs().unwrap().remove(0);
    let row = j.rows(&run.info.run_id).unwrap().remove(0);
    let o = row.outcome.unwrap();
    assert_eq!(o.status, Status::Invalid);
    assert!(
        o.error
            .unwrap()
            .contains("devices (D2): \"999999999999999\" names device"),
        "wrong message"
    );
    assert_eq!(w.stat("traccar", "created"), 0);
}

#[tokio::test]
async fn generated_passwords_go_only_to_the_secrets_file() {
    let w = World::start(Options::default()).await;
    let config = w.config("");
    let roster = w.write("roster.csv", &traccar_roster(3));
    let journal = w.path("j.db");
    let secrets = w.path("secrets.csv");
    let out = w.path("r.xlsx");
    w.import(
        &roster,
        &config,
        &journal,
        &out,
        &["--secrets-out", secrets.to_str().unwrap()],
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(&secrets).unwrap();
    let passwords: Vec<&str> = text
        .lines()
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(passwords.len(), 3);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let mut everything = std::fs::read(&journal).unwrap();
    if let Ok(wal) = std::fs::read(w.path("j.db-wal")) {
        everything.extend(wal);
    }
    everything.extend(std::fs::read(&out).unwrap_or_default());
    for p in passwords {
        assert_eq!(p.len(), 32);
        assert!(
            !everything.windows(p.len()).any(|win| win == p.as_bytes()),
            "a generated password leaked into the journal or workbook"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_by_its_deadline_is_finished_by_the_next() {
    let w = World::start(Options {
        latency_ms: 20,
        ..Options::default()
    })
    .await;
    let config = w.config("rate = \"100/s\"\nconcurrency = 4");
    let roster = w.write("roster.csv", &traccar_roster(200));
    let journal = w.path("j.db");
    let args = |deadline: Option<&'static str>| {
        let mut v = vec![
            "import".to_string(),
            roster.display().to_string(),
            "--config".into(),
            config.display().to_string(),
            "--journal".into(),
            journal.display().to_string(),
            "--out".into(),
            w.path("r.xlsx").display().to_string(),
            "--quiet".into(),
        ];
        if let Some(d) = deadline {
            v.push("--deadline".into());
            v.push(d.into());
        }
        v
    };
    let first = args(Some("0.5"));
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    assert_eq!(w.muster(&first).await.unwrap(), Exit::RowsFailed);
    let stopped = w.last_run_counts(&journal);
    assert!(
        stopped.get(&Status::NotAttempted).copied().unwrap_or(0) > 0,
        "{stopped:?}"
    );
    let made_first = w.stat("traccar", "created");
    let second = args(None);
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    assert_eq!(w.muster(&second).await.unwrap(), Exit::Success);
    let finished = w.last_run_counts(&journal);
    assert_eq!(
        finished.get(&Status::Created),
        Some(&200),
        "resumed run: {finished:?}"
    );
    assert_eq!(w.stat("traccar", "created"), 200);
    assert!(made_first > 0);
    assert_eq!(w.stat("traccar", "duplicates_refused"), 0);
}

/// Copies every sheet of `from` into `to` as text, applying `fix` to each Errors cell.
fn copy_workbook(from: &std::path::Path, to: &std::path::Path, fix: impl Fn(&str) -> String) {
    use calamine::{Reader, open_workbook_auto};
    let mut wb = open_workbook_auto(from).unwrap();
    let mut out = rust_xlsxwriter::Workbook::new();
    for name in wb.sheet_names().to_vec() {
        let range = wb.worksheet_range(&name).unwrap();
        let sheet = out.add_worksheet();
        sheet.set_name(&name).unwrap();
        for (r, row) in range.rows().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let text = cell.to_string();
                let text = if name == "Errors" { fix(&text) } else { text };
                sheet.write_string(r as u32, c as u16, &text).unwrap();
            }
        }
    }
    out.save(to).unwrap();
}

#[tokio::test]
async fn the_errors_sheet_fixed_and_fed_back_sends_only_that_row() {
    let w = World::start(Options::default()).await;
    let config = w.config("");
    let roster = w.write(
        "roster.csv",
        "target,name,email\ntraccar,Ann,ann@example.com\ntraccar,Bob,bob@@example.com\ntraccar,Cy,cy@example.com\n",
    );
    let journal = w.path("j.db");
    let out = w.path("r.xlsx");
    let run = |input: std::path::PathBuf| {
        let args: Vec<String> = vec![
            "import".into(),
            input.display().to_string(),
            "--config".into(),
            config.display().to_string(),
            "--journal".into(),
            journal.display().to_string(),
            "--out".into(),
            w.path("out.xlsx").display().to_string(),
            "--quiet".into(),
        ];
        args
    };
    let first: Vec<String> = {
        let mut a = run(roster.clone());
        let pos = a.iter().position(|s| s.ends_with("out.xlsx")).unwrap();
        a[pos] = out.display().to_string();
        a
    };
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    assert_eq!(w.muster(&first).await.unwrap(), Exit::RowsFailed);
    assert_eq!(w.stat("traccar", "created"), 2);
    let writes_before = w.stat("traccar", "writes");

    let fixed = w.path("fixed.xlsx");
    copy_workbook(&out, &fixed, |t| {
        t.replace("bob@@example.com", "bob@example.com")
    });
    let second = run(fixed);
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    assert_eq!(w.muster(&second).await.unwrap(), Exit::Success);
    let counts = w.last_run_counts(&journal);
    assert_eq!(
        counts.get(&Status::Created),
        Some(&1),
        "only the fixed row: {counts:?}"
    );
    assert_eq!(counts.values().sum::<usize>(), 1, "{counts:?}");
    assert_eq!(w.stat("traccar", "created"), 3);
    assert_eq!(
        w.stat("traccar", "writes"),
        writes_before + 1,
        "one create, nothing else written"
    );
    // Issue 27: the new Results has one `status` and one `error` (the earlier run's are
    // not echoed again), and names the roster row the fix came from.
    use calamine::{Reader, open_workbook_auto};
    let mut wb = open_workbook_auto(w.path("out.xlsx")).unwrap();
    let results = wb.worksheet_range("Results").unwrap();
    let grid: Vec<Vec<String>> = results
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(grid[0][..12], muster::report::RESULT_COLUMNS);
    // `target` is muster's column in Results already (the Errors sheet carries it).
    assert_eq!(grid[0][12..], ["name", "email"]);
    assert_eq!(
        grid[1][..3],
        [roster.display().to_string(), "roster".into(), "3".into()]
    );
}

#[tokio::test]
async fn the_workbook_agrees_with_the_journal_row_for_row() {
    use calamine::{Reader, open_workbook_auto};
    let w = World::start(Options::default()).await;
    let config = w.config("");
    let roster = w.write(
        "roster.csv",
        "target,name,email,devices,Note\n\
         traccar,Ann,ann@example.com,352099000000001,keep me\n\
         traccar,Bob,bob@@example.com,,=1+1\n\
         traccar,Cy,cy@example.com,999,\n\
         ,Di,di@example.com,,\n",
    );
    let journal = w.path("j.db");
    let out = w.path("r.xlsx");
    w.import(&roster, &config, &journal, &out, &[])
        .await
        .unwrap();
    let j = muster::journal::Journal::open(&journal).unwrap();
    let run = j.runs().unwrap().remove(0);
    let rows = j.rows(&run.info.run_id).unwrap();
    let mut wb = open_workbook_auto(&out).unwrap();
    assert_eq!(wb.sheet_names()[..3], ["Summary", "Results", "Errors"]);
    let results = wb.worksheet_range("Results").unwrap();
    let mut grid = results.rows();
    let header: Vec<String> = grid.next().unwrap().iter().map(|c| c.to_string()).collect();
    assert_eq!(header[..12], muster::report::RESULT_COLUMNS);
    assert_eq!(header[12..], ["target", "name", "email", "devices", "Note"]);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let lines: Vec<Vec<String>> = grid
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(lines.len(), rows.len());
    for (line, stored) in lines.iter().zip(&rows) {
        let o = stored.outcome.as_ref().unwrap();
        assert_eq!(line[col("row")], stored.line.to_string());
        assert_eq!(line[col("status")], o.status.key());
        assert_eq!(line[col("user_id")], o.user_id.clone().unwrap_or_default());
        assert_eq!(line[col("error")], o.error.clone().unwrap_or_default());
        assert_eq!(line[col("other_ids")], o.other_ids_text());
    }
    let statuses: Vec<&str> = lines.iter().map(|l| l[col("status")].as_str()).collect();
    assert_eq!(statuses, ["created", "invalid", "invalid", "invalid"]);
    assert_eq!(lines[0][col("other_ids")], "devices=1");
    assert_eq!(
        lines[1][col("Note")],
        "=1+1",
        "formula-looking input stays text"
    );
    let errors = wb.worksheet_range("Errors").unwrap();
    assert_eq!(
        errors.rows().count(),
        1 + 3,
        "header + the three invalid rows"
    );
}

/// A run killed after it was begun but before its rows were recorded is resumed with every
/// row accounted for (the journal's state at that moment is made by hand here).
#[tokio::test]
async fn a_run_killed_before_its_rows_were_recorded_resumes_with_every_row() {
    let w = World::start(Options::default()).await;
    let config = w.config("");
    let roster = w.write("roster.csv", &traccar_roster(10));
    let journal = w.path("j.db");
    let out = w.path("r.xlsx");
    let exit = w
        .import(&roster, &config, &journal, &out, &[])
        .await
        .unwrap();
    assert_eq!(exit, Exit::Success);
    {
        let db = rusqlite::Connection::open(&journal).unwrap();
        db.execute_batch("UPDATE runs SET finished = 0; DELETE FROM rows;")
            .unwrap();
    }
    let exit = w
        .import(&roster, &config, &journal, &out, &[])
        .await
        .unwrap();
    assert_eq!(exit, Exit::Success);
    let counts = w.last_run_counts(&journal);
    assert_eq!(counts.values().sum::<usize>(), 10, "{counts:?}");
    assert_eq!(counts.get(&Status::Exists), Some(&10), "{counts:?}");
    assert_eq!(w.stat("traccar", "created"), 10);
    assert_eq!(w.stat("traccar", "duplicates_refused"), 0);
}
