//! A platform that goes away mid-run (issue 11): the sandbox stops listening once a third
//! of the users are made. Either it comes back on the same port a second later with its
//! state (muster retries within its policy and finishes, or leaves rows `failed` /
//! `not_attempted`; a re-run then completes with nothing made twice), or it stays away and
//! a global `--deadline` ends the run cleanly with the workbook written. Never a hang: each
//! run is guarded by a generous timeout that only a hang would meet.

use std::time::{Duration, Instant};

use clap::Parser as _;
use muster::model::Status;
use muster::sandbox::{Options, Sandbox};
use muster::{Cli, Env, Exit};

use crate::faults::VENDORS;
use crate::support::{
    FAST_APPS, World, assert_workbook_matches_journal, check_workbook, fast_pegasus, vendor_roster,
};

/// Longer than any run here can take unless it hangs.
const HANG: Duration = Duration::from_secs(180);

const ROWS: usize = 300;

/// Starts `muster import` in its own task; returns its handle.
fn spawn_import(
    w: &World,
    config: &std::path::Path,
    extra: &[&str],
) -> tokio::task::JoinHandle<anyhow::Result<Exit>> {
    let mut argv: Vec<String> = vec![
        "muster".into(),
        "import".into(),
        w.path("roster.csv").display().to_string(),
        "--config".into(),
        config.display().to_string(),
        "--journal".into(),
        w.path("j.db").display().to_string(),
        "--out".into(),
        w.path("r.xlsx").display().to_string(),
        "--quiet".into(),
    ];
    argv.extend(extra.iter().map(|s| s.to_string()));
    // `muster::run` is not `Send` (it holds stdout's lock), so it gets a thread and a
    // runtime of its own, as the binary would.
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the import")
            .block_on(muster::run(
                Cli::parse_from(argv),
                &Env::with(Sandbox::credentials()),
            ))
    })
}

/// Waits (polling the in-process counters) until the platform has made `mark` users or
/// the import ended.
async fn until_made(
    w: &World,
    vendor: &str,
    mark: u64,
    run: &tokio::task::JoinHandle<anyhow::Result<Exit>>,
) {
    while w.stat(vendor, "created") < mark && !run.is_finished() {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_that_goes_away_and_comes_back_loses_nothing() {
    for vendor in VENDORS {
        let mut w = World::start(Options {
            latency_ms: 5,
            pegasus: fast_pegasus(),
            ..Options::default()
        })
        .await;
        let config = w.config(&format!(
            "rate = \"none\"\nconcurrency = 8\ntimeout = \"2s\"\nbatch_size = 10\n{FAST_APPS}"
        ));
        w.write("roster.csv", &vendor_roster(vendor, ROWS));
        let began = Instant::now();
        let run = spawn_import(&w, &config, &[]);
        until_made(&w, vendor, ROWS as u64 / 3, &run).await;
        let made_at_stop = w.stat(vendor, "created");
        w.sandbox.stop_listening().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        w.sandbox.resume().await.expect("the sandbox listens again");
        let exit = tokio::time::timeout(HANG, run)
            .await
            .unwrap_or_else(|_| panic!("{vendor}: the run hung"))
            .expect("the import task")
            .expect("the import runs");
        let took = began.elapsed();
        let journal = w.path("j.db");
        let counts = w.last_run_counts(&journal);
        let get = |s: Status| counts.get(&s).copied().unwrap_or(0);
        eprintln!(
            "outage {vendor}: {ROWS} rows, stopped at {made_at_stop} made, back after 1 s: {counts:?} in {took:.1?}, exit {exit:?}; platform made {}",
            w.stat(vendor, "created")
        );
        assert!(
            made_at_stop < ROWS as u64,
            "{vendor}: the outage came after the run"
        );
        assert_eq!(
            get(Status::Created)
                + get(Status::Partial)
                + get(Status::Failed)
                + get(Status::NotAttempted),
            ROWS,
            "{vendor}: {counts:?}"
        );
        assert_eq!(w.stat(vendor, "duplicates_refused"), 0, "{vendor}");
        // Every user made is a row reported with it, or a row the connector stopped
        // before it could confirm (the target halted as "platform unavailable" when a
        // read failed during the outage): `not_attempted`, its intent in the journal,
        // adopted by the re-run below.
        let made = w.stat(vendor, "created") as usize;
        let reported = get(Status::Created) + get(Status::Partial);
        assert!(
            made >= reported && made <= reported + get(Status::NotAttempted),
            "{vendor}: {made} made, {counts:?}: {:#?}",
            w.last_run_errors(&journal, 5)
        );
        assert_eq!(
            assert_workbook_matches_journal(&w.path("r.xlsx"), &journal),
            ROWS
        );
        check_workbook(&w.path("r.xlsx"), &[]);

        // Again: whatever was left is done, nothing twice.
        let again = spawn_import(&w, &config, &[]);
        let exit = tokio::time::timeout(HANG, again)
            .await
            .unwrap_or_else(|_| panic!("{vendor}: the re-run hung"))
            .expect("the import task")
            .expect("the import runs");
        assert_eq!(
            exit,
            Exit::Success,
            "{vendor}: {:?}",
            w.last_run_errors(&journal, 5)
        );
        assert_eq!(w.stat(vendor, "created") as usize, ROWS, "{vendor}");
        assert_eq!(w.stat(vendor, "duplicates_refused"), 0, "{vendor}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_that_stays_away_ends_at_the_deadline_with_the_workbook_written() {
    for vendor in VENDORS {
        let mut w = World::start(Options {
            latency_ms: 5,
            pegasus: fast_pegasus(),
            ..Options::default()
        })
        .await;
        // Many retries: without the deadline the run would keep trying for minutes.
        let config = w.config(&format!(
            "rate = \"none\"\nconcurrency = 8\ntimeout = \"2s\"\nretries = 30\nbatch_size = 10\n{FAST_APPS}"
        ));
        w.write("roster.csv", &vendor_roster(vendor, ROWS));
        let began = Instant::now();
        let run = spawn_import(&w, &config, &["--deadline", "3"]);
        until_made(&w, vendor, ROWS as u64 / 3, &run).await;
        w.sandbox.stop_listening().await;
        let exit = tokio::time::timeout(HANG, run)
            .await
            .unwrap_or_else(|_| panic!("{vendor}: the run hung"))
            .expect("the import task")
            .expect("the run ends cleanly, not with an error");
        let took = began.elapsed();
        let journal = w.path("j.db");
        let counts = w.last_run_counts(&journal);
        let get = |s: Status| counts.get(&s).copied().unwrap_or(0);
        eprintln!("deadline {vendor}: {ROWS} rows: {counts:?} in {took:.1?}");
        assert_eq!(exit, Exit::RowsFailed, "{vendor}");
        assert!(get(Status::NotAttempted) > 0, "{vendor}: {counts:?}");
        assert_eq!(
            get(Status::Created)
                + get(Status::Partial)
                + get(Status::Failed)
                + get(Status::NotAttempted),
            ROWS,
            "{vendor}: {counts:?}"
        );
        // A create whose answer was lost when the platform went away is not confirmed
        // before the deadline: its row stays `not_attempted`, its intent in the journal,
        // and the next run adopts the user (checked below: nothing made twice).
        let made = w.stat(vendor, "created") as usize;
        let reported = get(Status::Created) + get(Status::Partial);
        assert!(
            made >= reported && made <= reported + get(Status::NotAttempted),
            "{vendor}: {made} made, {counts:?}"
        );
        eprintln!(
            "deadline {vendor}: {} users made whose rows were not finished by the deadline, left to the next run",
            made - reported
        );
        assert_eq!(
            assert_workbook_matches_journal(&w.path("r.xlsx"), &journal),
            ROWS,
            "{vendor}: the workbook is written"
        );
        check_workbook(&w.path("r.xlsx"), &[]);
        // The platform back: the next run finishes the rest, nothing twice.
        w.sandbox.resume().await.expect("the sandbox listens again");
        let again = spawn_import(&w, &config, &[]);
        let exit = tokio::time::timeout(HANG, again)
            .await
            .unwrap_or_else(|_| panic!("{vendor}: the re-run hung"))
            .expect("the import task")
            .expect("the import runs");
        assert_eq!(
            exit,
            Exit::Success,
            "{vendor}: {:?}",
            w.last_run_errors(&journal, 5)
        );
        assert_eq!(w.stat(vendor, "created") as usize, ROWS, "{vendor}");
        assert_eq!(w.stat(vendor, "duplicates_refused"), 0, "{vendor}");
    }
}
