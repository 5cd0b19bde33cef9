//! A run killed with SIGKILL at random moments and started again ends with every row
//! accounted for and no user created twice (issues 3 and 11), for every vendor with a
//! connector. The importer is the real binary, killed with no chance to clean up; the
//! sandbox runs in this process on its own runtime, so it outlives every killed importer.
//!
//! The moments are drawn across the whole run: while it plans (a few milliseconds after
//! start, before any row is sent), mid-batch (when the platform's count of users made
//! passes a random mark) and at the end (once every user is made, while the workbook is
//! written). Each kill is classified from the journal afterwards. Quick mode: 5 kills
//! over 400 rows per vendor; `MUSTER_LONG=1`: 20 kills over 3,000 rows per vendor.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;

use muster::journal::Journal;
use muster::model::Status;
use muster::sandbox::{Options, Sandbox};

use crate::faults::{VENDORS, long};
use crate::support::{
    FAST_APPS, World, assert_workbook_matches_journal, check_workbook, fast_pegasus, journal_at,
    vendor_roster,
};

const BIN: &str = env!("CARGO_BIN_EXE_muster");

/// Where in the run a kill landed, judged from the journal after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Phase {
    /// No new row outcome: reading, planning, the first reads.
    BeforeAnyRow,
    /// Some rows done, some not.
    MidRun,
    /// Every row done, the run not closed: writing the workbook.
    AfterLastRow,
}

/// `(rows with an outcome, run closed)` of the newest run; `(0, false)` before there is
/// one (killed before the run was even recorded).
fn progress(journal: &Journal) -> (usize, bool) {
    newest(journal).map_or((0, false), |(_, done, closed)| (done, closed))
}

/// The newest run's id, rows with an outcome and whether it closed, if there is a run.
fn newest(j: &Journal) -> Option<(String, usize, bool)> {
    let run = j.runs().ok()?.into_iter().next()?;
    let done = j
        .outcomes(&run.info.run_id)
        .map(|o| {
            o.values()
                .filter(|o| o.status != Status::NotAttempted)
                .count()
        })
        .unwrap_or(0);
    Some((run.info.run_id, done, run.finished))
}

struct Importer {
    roster: PathBuf,
    config: PathBuf,
    journal: PathBuf,
    out: PathBuf,
    /// Arguments after the usual ones (`--mode sync ...`).
    extra: Vec<&'static str>,
}

impl Importer {
    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("import")
            .arg(&self.roster)
            .arg("--config")
            .arg(&self.config)
            .arg("--journal")
            .arg(&self.journal)
            .arg("--out")
            .arg(&self.out)
            .arg("--quiet")
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in Sandbox::credentials() {
            c.env(k, v);
        }
        c
    }

    fn spawn(&self) -> Child {
        self.command().spawn().expect("import starts")
    }
}

/// Waits until `until` holds or the child exits; kills it (SIGKILL) if still running.
/// Returns whether it was killed.
fn kill_when(child: &mut Child, mut until: impl FnMut() -> bool) -> bool {
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return false;
        }
        if until() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let killed = child.kill().is_ok();
    let _ = child.wait();
    killed
}

#[test]
fn sigkill_at_random_moments_then_rerun_reaches_the_same_end_state_for_every_vendor() {
    sigkill_and_rerun(|w, _| w.path("j.db"));
}

/// The same against a shared PostgreSQL journal (issue 26): the guarantees do not depend
/// on the store. A database per vendor in a throwaway cluster.
#[test]
fn sigkill_at_random_moments_then_rerun_on_a_postgres_journal() {
    let Some(pg) = crate::postgres::Cluster::start(
        "crash::sigkill_at_random_moments_then_rerun_on_a_postgres_journal",
    ) else {
        return;
    };
    sigkill_and_rerun(|_, vendor| PathBuf::from(pg.database(vendor)));
}

/// Kills an import of each vendor's roster at random moments, then runs it to the end;
/// `journal` gives the `--journal` of each vendor's world.
fn sigkill_and_rerun(journal: impl Fn(&World, &str) -> PathBuf) {
    let (n, kills_wanted) = if long() { (3_000, 20) } else { (400, 5) };
    let rt = tokio::runtime::Runtime::new().expect("a runtime for the sandbox");
    let mut rng = rand::rng();
    for vendor in VENDORS {
        let began = Instant::now();
        let w = rt.block_on(World::start(Options {
            latency_ms: 2,
            pegasus: fast_pegasus(),
            ..Options::default()
        }));
        let config = w.config(&format!(
            "rate = \"none\"\nconcurrency = 8\ntimeout = \"5s\"\nbatch_size = 10\n{FAST_APPS}"
        ));
        let importer = Importer {
            roster: w.write("roster.csv", &vendor_roster(vendor, n)),
            config,
            journal: journal(&w, vendor),
            out: w.path("r.xlsx"),
            extra: Vec::new(),
        };
        let created = || w.stat(vendor, "created") as usize;
        let read = journal_at(&importer.journal);

        // The plan: a couple of kills before any row, most at random marks of the
        // platform's count, and two while the workbook is written.
        let before = (kills_wanted / 5).max(1);
        let after = (kills_wanted / 10).max(1);
        let mut marks: Vec<usize> = (0..kills_wanted - before - after)
            .map(|_| rng.random_range(1..n))
            .collect();
        marks.sort_unstable();
        let mut phases = std::collections::BTreeMap::<Phase, usize>::new();
        let mut kills = 0;
        let mut note = |killed: bool, done_before: usize| {
            if !killed {
                return;
            }
            kills += 1;
            let (done, closed) = progress(&read);
            let phase = if done == done_before {
                Phase::BeforeAnyRow
            } else if done >= n && !closed {
                Phase::AfterLastRow
            } else {
                Phase::MidRun
            };
            *phases.entry(phase).or_default() += 1;
        };
        for _ in 0..before {
            let done_before = progress(&read).0;
            let mut child = importer.spawn();
            let at = Instant::now() + Duration::from_millis(rng.random_range(2..40));
            note(kill_when(&mut child, || Instant::now() >= at), done_before);
        }
        for mark in marks {
            let done_before = progress(&read).0;
            let mut child = importer.spawn();
            note(kill_when(&mut child, || created() >= mark), done_before);
        }
        for _ in 0..after {
            let done_before = progress(&read).0;
            // Killed after its last row but before closing, a run resumes with every row
            // already done: the kill could not be told from one during start-up, so that
            // run is left to finish (and the kill not counted).
            let (done, closed) = progress(&read);
            let ambiguous = done >= n && !closed;
            let mut child = importer.spawn();
            // Every row's outcome recorded and the run not closed: it is writing the
            // workbook (the journal is read each millisecond until then).
            note(
                kill_when(&mut child, || {
                    let (done, closed) = progress(&read);
                    !ambiguous && done >= n && !closed
                }),
                done_before,
            );
        }

        let status = importer.command().status().expect("the final import runs");
        let s = w.sandbox.stats();
        eprintln!(
            "crash {vendor}: {n} rows, {kills} kills {phases:?} and a final run, {:.1?} in all; platform: created {} duplicates_refused {} requests {}",
            began.elapsed(),
            s[vendor]["created"],
            s[vendor]["duplicates_refused"],
            s[vendor]["requests"]
        );
        assert_eq!(
            status.code(),
            Some(0),
            "{vendor}: the final run finishes every row: {:#?}",
            w.last_run_errors(&importer.journal, 8)
        );
        assert_eq!(w.stat(vendor, "duplicates_refused"), 0, "{vendor}: {s}");
        assert_eq!(created(), n, "{vendor}: one user per row: {s}");
        let counts = w.last_run_counts(&importer.journal);
        let ok = counts.get(&Status::Created).copied().unwrap_or(0)
            + counts.get(&Status::Exists).copied().unwrap_or(0);
        assert_eq!(ok, n, "{vendor}: every row accounted for: {counts:?}");
        assert_eq!(
            assert_workbook_matches_journal(&importer.out, &importer.journal),
            n
        );
        check_workbook(&importer.out, &[]);
        assert!(
            kills * 10 >= kills_wanted * 6,
            "{vendor}: only {kills} of {kills_wanted} kills landed: make the roster larger"
        );
    }
}

/// Users changed on the platform so far: made, updated (Motive and Pegasus deactivate by
/// an update) or deleted (Traccar, DRTrack).
fn touched(w: &World, vendor: &str) -> usize {
    ["created", "updated", "deleted"]
        .iter()
        .map(|k| w.stat(vendor, k) as usize)
        .sum()
}

/// The same for updates and deletes (issue 9): `--mode sync --prune` against a platform
/// that holds users the roster lists as they are, users it lists with a change, and users
/// it does not list, while the roster adds users the platform lacks. Killed at random
/// moments (before any write, then at random marks of the platform's count of users
/// touched) and run again each time; the last run finishes, and then every roster row is
/// accounted for, no user was created twice, every Pegasus user made has its app access,
/// and an audit finds the platform as the roster says (nothing different, missing or
/// extra). Quick mode: 5 kills over 320 users touched
/// per vendor; `MUSTER_LONG=1`: 20 kills over 1,600.
#[test]
fn sigkill_during_a_sync_with_prune_then_rerun_leaves_the_platform_as_the_roster_says() {
    sigkill_during_sync(|w, _| w.path("j.db"));
}

/// The same against a shared PostgreSQL journal (issue 26).
#[test]
fn sigkill_during_a_sync_with_prune_on_a_postgres_journal() {
    let Some(pg) = crate::postgres::Cluster::start(
        "crash::sigkill_during_a_sync_with_prune_on_a_postgres_journal",
    ) else {
        return;
    };
    sigkill_during_sync(|_, vendor| PathBuf::from(pg.database(vendor)));
}

/// Kills a `--mode sync --prune` import of each vendor at random moments, then runs it
/// to the end; `journal` gives the `--journal` of each vendor's world.
fn sigkill_during_sync(journal: impl Fn(&World, &str) -> PathBuf) {
    use muster::model::VendorKind;
    use muster::sandbox::seed::PlatformSeed;

    use crate::audit::{audit_args, classes, keys, person, roster};

    let (scale, kills_wanted) = if long() { (5, 20) } else { (1, 5) };
    let same = 0..20 * scale;
    let different = same.end..same.end + 120 * scale;
    let extra = different.end..different.end + 80 * scale;
    let missing = extra.end..extra.end + 120 * scale;
    let wanted = different.len() + extra.len() + missing.len();
    let rt = tokio::runtime::Runtime::new().expect("a runtime for the sandbox");
    let mut rng = rand::rng();
    for vendor in [
        VendorKind::Traccar,
        VendorKind::Motive,
        VendorKind::Pegasus,
        VendorKind::Drtrack,
    ] {
        let v = vendor.key();
        let began = Instant::now();
        let seeds = same
            .clone()
            .chain(different.clone())
            .chain(extra.clone())
            .map(|n| PlatformSeed {
                vendor,
                fields: person(vendor, n, false),
            })
            .collect();
        let w = rt.block_on(World::start(Options {
            platform_users: seeds,
            latency_ms: 2,
            pegasus: fast_pegasus(),
            ..Options::default()
        }));
        let config = w.config(&format!(
            "rate = \"none\"\nconcurrency = 8\ntimeout = \"5s\"\nbatch_size = 10\n{FAST_APPS}"
        ));
        let listed: Vec<usize> = same
            .clone()
            .chain(different.clone())
            .chain(missing.clone())
            .collect();
        let changed: Vec<usize> = different.clone().collect();
        let importer = Importer {
            roster: roster(&w, "roster.csv", vendor, &listed, &changed),
            config: config.clone(),
            journal: journal(&w, vendor.key()),
            out: w.path("r.xlsx"),
            extra: vec![
                "--mode",
                "sync",
                "--prune",
                "--yes",
                "--max-prune",
                "100000",
            ],
        };

        let before = (kills_wanted / 5).max(1);
        let mut marks: Vec<usize> = (0..kills_wanted - before)
            .map(|_| rng.random_range(1..wanted))
            .collect();
        marks.sort_unstable();
        let mut kills = 0;
        for _ in 0..before {
            let mut child = importer.spawn();
            let at = Instant::now() + Duration::from_millis(rng.random_range(2..40));
            kills += usize::from(kill_when(&mut child, || Instant::now() >= at));
        }
        for mark in marks {
            let mut child = importer.spawn();
            kills += usize::from(kill_when(&mut child, || touched(&w, v) >= mark));
        }
        let status = importer.command().status().expect("the final sync runs");
        let s = w.sandbox.stats();
        let counts = w.last_run_counts(&importer.journal);
        // Users the interrupted attempts removed that the run's last listing no longer showed.
        let gone = w
            .last_run_errors(&importer.journal, usize::MAX)
            .iter()
            .filter(|e| e.contains("no longer on the platform"))
            .count();
        eprintln!(
            "crash sync {v}: {} roster rows, {} extra users, {kills} kills and a final run, {:.1?} in all; the run's rows {counts:?}, {gone} of the deleted found gone on a resume; platform: {}",
            listed.len(),
            extra.len(),
            began.elapsed(),
            s[v]
        );
        assert_eq!(
            status.code(),
            Some(0),
            "{v}: the final run finishes every row: {:#?}",
            w.last_run_errors(&importer.journal, 8)
        );
        assert_eq!(w.stat(v, "duplicates_refused"), 0, "{v}: {s}");
        assert_eq!(
            w.stat(v, "created") as usize,
            missing.len(),
            "{v}: one user per missing row: {s}"
        );
        if vendor == VendorKind::Pegasus {
            // App access is the second step of a create; the listing does not show it.
            assert_eq!(
                w.stat(v, "users_with_apps") as usize,
                missing.len(),
                "{v}: every user made has app access: {s}"
            );
        }
        // The run accounts for every roster row and every user it removed, once each.
        let get = |st: Status| counts.get(&st).copied().unwrap_or(0);
        assert_eq!(
            get(Status::Created) + get(Status::Updated) + get(Status::Exists),
            listed.len(),
            "{v}: every roster row accounted for: {counts:?}"
        );
        assert_eq!(
            counts.values().sum::<usize>(),
            listed.len() + get(Status::Deleted),
            "{v}: no row failed or left out: {counts:?}"
        );
        assert_eq!(get(Status::Deleted), extra.len(), "{v}: {counts:?}");
        check_workbook(&importer.out, &[]);

        // What the platform holds now, as an audit sees it.
        let (audit, args) = audit_args(&w, &importer.roster, &config, "audit.xlsx");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        rt.block_on(w.muster(&args)).expect("the audit runs");
        let found = classes(&audit, v);
        assert_eq!(found["Same"], keys(vendor, listed.iter().copied()), "{v}");
        for class in ["Different", "Missing", "Extra"] {
            assert!(found[class].is_empty(), "{v}: {class}: {:?}", found[class]);
        }
        assert!(
            kills * 10 >= kills_wanted * 6,
            "{v}: only {kills} of {kills_wanted} kills landed: make the roster larger"
        );
    }
}

/// Issue 28: an upsert that makes device links, killed (SIGKILL) while it links and run
/// again, makes every missing link once: the sandbox counts each link inserted and each
/// inserted again (`links_duplicated`, which Traccar would store twice).
#[test]
fn sigkill_during_a_link_upsert_then_rerun_makes_no_link_twice() {
    use muster::sandbox::traccar::{LINKS_CREATED, LINKS_DUPLICATED};

    let users = 200;
    let links = 2 * users;
    let rt = tokio::runtime::Runtime::new().expect("a runtime for the sandbox");
    let mut rng = rand::rng();
    let w = rt.block_on(World::start(Options {
        latency_ms: 2,
        ..Options::default()
    }));
    let config = w.config("rate = \"none\"\nconcurrency = 8\ntimeout = \"5s\"");
    let journal = w.path("j.db");
    // The users, made without their devices column.
    let bare = w.write("bare.csv", &crate::links::roster_of(users, false, &[]));
    rt.block_on(w.import(&bare, &config, &journal, &w.path("r0.xlsx"), &[]))
        .expect("the import runs");
    assert_eq!(w.stat("traccar", "created") as usize, users);
    let importer = Importer {
        roster: w.write("linked.csv", &crate::links::roster_of(users, true, &[])),
        config: config.clone(),
        journal: journal.clone(),
        out: w.path("r.xlsx"),
        extra: vec!["--mode", "upsert"],
    };
    let mut marks: Vec<usize> = (0..4).map(|_| rng.random_range(1..links)).collect();
    marks.sort_unstable();
    let mut kills = 0;
    for mark in marks {
        let mut child = importer.spawn();
        kills += usize::from(kill_when(&mut child, || {
            w.stat("traccar", LINKS_CREATED) as usize >= mark
        }));
    }
    let status = importer.command().status().expect("the final upsert runs");
    let s = w.sandbox.stats();
    eprintln!(
        "crash links: {kills} kills and a final run; platform: {}",
        s["traccar"]
    );
    assert_eq!(
        status.code(),
        Some(0),
        "{:#?}",
        w.last_run_errors(&journal, 8)
    );
    assert_eq!(w.stat("traccar", LINKS_DUPLICATED), 0, "{s}");
    assert_eq!(w.stat("traccar", LINKS_CREATED) as usize, links, "{s}");
    assert_eq!(w.stat("traccar", "created") as usize, users, "{s}");
    assert!(
        kills >= 2,
        "only {kills} of 4 kills landed: make the roster larger"
    );
    let (audit, args) = crate::audit::audit_args(&w, &importer.roster, &config, "audit.xlsx");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    rt.block_on(w.muster(&args)).expect("the audit runs");
    let found = crate::audit::classes(&audit, "traccar");
    assert_eq!(found["Same"].len(), users);
    assert!(found["Different"].is_empty(), "{:?}", found["Different"]);
}
