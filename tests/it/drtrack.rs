//! Integration tests: DRTrack, batched `users/sync` with a per-row verdict (issue 7).
//!
//! The acceptance roster: 1,000 rows with 3% bad rows the platform refuses but validation
//! cannot know about (emails already used on the platform, a user group DRTrack does not
//! have), under both failure semantics of a `false` batch. Larger sizes:
//! `MUSTER_DRTRACK_ROWS=20000 cargo test --test it drtrack::`.

use std::collections::HashSet;
use std::path::Path;

use serde_json::json;

use muster::Exit;
use muster::journal::{Journal, StoredRow};
use muster::model::Status;
use muster::sandbox::Options;

use crate::support::World;

/// What kind of row the roster holds at a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Good,
    /// Its email belongs to a user already on DRTrack.
    EmailTaken,
    /// Its user group does not exist on DRTrack.
    UnknownGroup,
}

fn kind_of(i: usize) -> Kind {
    // 3%: in every 100 rows, rows 17 and 61 name an unknown group, row 83 a taken email.
    match i % 100 {
        17 | 61 => Kind::UnknownGroup,
        83 => Kind::EmailTaken,
        _ => Kind::Good,
    }
}

/// The roster: every tenth row names branches 101|102 (DRTrack cannot confirm them).
fn roster(n: usize, only_good: bool) -> String {
    let groups = ["Driver", "dispatcher", "VIEWER", "Admin"];
    let mut s = String::from("target,username,email,first_name,last_name,user_group,branch_ids\n");
    for i in 0..n {
        let kind = kind_of(i);
        if only_good && kind != Kind::Good {
            continue;
        }
        let (email, group) = match kind {
            Kind::Good => (format!("driver{i}@fleet.test"), groups[i % 4]),
            Kind::EmailTaken => (format!("veteran{}@fleet.test", i / 100), "Driver"),
            Kind::UnknownGroup => (format!("driver{i}@fleet.test"), "Pilots"),
        };
        let branches = if i % 10 == 0 { "101|102" } else { "" };
        s.push_str(&format!(
            "drtrack,Driver{i:05},{email},Dana,Driver {i},{group},{branches}\n"
        ));
    }
    s
}

fn rows() -> usize {
    std::env::var("MUSTER_DRTRACK_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000)
}

/// Runs `muster import` of `roster`; returns the exit and the run's rows in input order.
async fn import(w: &World, config: &Path, roster: &Path, journal: &Path) -> (Exit, Vec<StoredRow>) {
    let out = w.path("r.xlsx");
    let exit = w
        .muster(&[
            "import",
            roster.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .await
        .expect("import runs");
    let j = Journal::open(journal).unwrap();
    let run = j.runs().unwrap().remove(0);
    let mut rows = j.rows(&run.info.run_id).unwrap();
    rows.sort_by_key(|r| r.index);
    (exit, rows)
}

async fn acceptance(atomic: bool) {
    let n = rows();
    let batch = 50u64;
    let w = World::start(Options {
        drtrack_atomic: atomic,
        ..Options::default()
    })
    .await;
    // Users someone else made before: their emails are taken.
    let veterans: Vec<_> = (0..n.div_ceil(100))
        .map(|v| {
            json!({"method": "ADD", "userLoginId": format!("veteran{v}"),
                   "email": format!("veteran{v}@fleet.test"), "userGroup": "Driver"})
        })
        .collect();
    assert!(w.sandbox.drtrack().apply_batch(&veterans).0);
    let created_before = w.stat("drtrack", "created");

    let config = w.config("rate = \"none\"\nbatch_size = 50");
    let full = w.write("drivers.csv", &roster(n, false));
    let journal = w.path("j.db");
    let (exit, out) = import(&w, &config, &full, &journal).await;
    assert_eq!(exit, Exit::RowsFailed);
    assert_eq!(out.len(), n);

    let mut good = 0u64;
    let mut unknown_group = 0u64;
    let mut keys = HashSet::new();
    for (i, row) in out.iter().enumerate() {
        let o = row.outcome.as_ref().expect("every row has an outcome");
        let err = o.error.as_deref().unwrap_or("");
        match kind_of(i) {
            Kind::Good => {
                good += 1;
                assert_eq!(o.status, Status::Created, "atomic={atomic} row {i}: {o:?}");
                let key = o.user_id.clone().expect("a created row has its key");
                assert!(key.parse::<i64>().is_ok(), "{key}");
                assert!(keys.insert(key), "row {i}: a key given twice");
                if i % 10 == 0 {
                    assert!(
                        err.contains("branches 101|102 cannot be confirmed"),
                        "{err}"
                    );
                } else {
                    assert_eq!(o.error, None);
                }
            }
            Kind::EmailTaken => {
                assert_eq!(o.status, Status::Failed, "row {i}: {o:?}");
                let owner = format!("already used by login veteran{}", i / 100);
                assert!(err.contains(&owner), "row {i}: {err}");
            }
            Kind::UnknownGroup => {
                unknown_group += 1;
                assert_eq!(o.status, Status::Failed, "row {i}: {o:?}");
                assert!(
                    err.starts_with("sync rejected by DRTrack (no detail given)"),
                    "row {i}: {err}"
                );
                assert!(err.contains("user group \"Pilots\""), "row {i}: {err}");
            }
        }
    }
    let stats = w.sandbox.stats();
    // Nothing made twice, nothing refused as a duplicate.
    assert_eq!(
        w.stat("drtrack", "created") - created_before,
        good,
        "{stats}"
    );
    assert_eq!(w.stat("drtrack", "duplicates_refused"), 0, "{stats}");
    // One sync a batch, plus at most 2·log2(batch) per rejected operation.
    let sent = n as u64 - n.div_ceil(100) as u64;
    let batches = sent.div_ceil(batch);
    let log2 = u64::from(batch.next_power_of_two().trailing_zeros());
    let calls = w.stat("drtrack", "sync_calls");
    let bound = batches + unknown_group * log2 * 2;
    assert!(
        calls <= bound,
        "atomic={atomic}: {calls} sync calls > {bound}"
    );
    eprintln!("atomic={atomic}: {n} rows, {calls} sync calls (bound {bound})");

    // A re-run: every good row exists; only the rows DRTrack refused are sent again (an
    // ADD of a login that exists would show as a refused duplicate).
    let (_, again) = import(&w, &config, &full, &journal).await;
    for (i, row) in again.iter().enumerate() {
        let want = match kind_of(i) {
            Kind::Good => Status::Exists,
            _ => Status::Failed,
        };
        let o = row.outcome.as_ref().unwrap();
        assert_eq!(o.status, want, "re-run row {i}: {o:?}");
    }
    assert_eq!(w.stat("drtrack", "created") - created_before, good);
    assert_eq!(w.stat("drtrack", "duplicates_refused"), 0);

    // The good rows alone: all exist, not one sync call.
    let calls = w.stat("drtrack", "sync_calls");
    let good_only = w.write("good.csv", &roster(n, true));
    let (exit, third) = import(&w, &config, &good_only, &journal).await;
    assert_eq!(exit, Exit::Success);
    assert!(
        third
            .iter()
            .all(|r| r.outcome.as_ref().map(|o| o.status) == Some(Status::Exists))
    );
    assert_eq!(w.stat("drtrack", "sync_calls"), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_rows_with_bad_ones_on_an_atomic_platform() {
    acceptance(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_rows_with_bad_ones_on_a_partial_platform() {
    acceptance(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_never_make_a_user_twice() {
    let w = World::start(Options {
        error_rate: 0.05,
        timeout_rate: 0.05,
        drop_rate: 0.02,
        drtrack_atomic: false,
        seed: Some(11),
        ..Options::default()
    })
    .await;
    let n = 300;
    let config = w.config("rate = \"none\"\nbatch_size = 20\ntimeout = \"1s\"\nretries = 8");
    let roster = w.write("drivers.csv", &roster(n, false));
    let journal = w.path("j.db");
    let (_, out) = import(&w, &config, &roster, &journal).await;
    let created = out
        .iter()
        .filter(|r| r.outcome.as_ref().map(|o| o.status) == Some(Status::Created))
        .count() as u64;
    let stats = w.sandbox.stats();
    assert!(w.stat("drtrack", "faults_injected") > 0, "{stats}");
    assert_eq!(w.stat("drtrack", "duplicates_refused"), 0, "{stats}");
    // Users seeded by the simulator are not in `created`.
    assert_eq!(w.stat("drtrack", "created"), created, "{stats}");
    for (i, row) in out.iter().enumerate() {
        let status = row.outcome.as_ref().map(|o| o.status);
        if kind_of(i) == Kind::Good {
            assert_eq!(status, Some(Status::Created), "row {i}: {:?}", row.outcome);
        }
    }
}
