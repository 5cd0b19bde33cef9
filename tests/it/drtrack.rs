//! Integration tests: DRTrack, batched `users/sync` with a per-row verdict (issue 7).
//!
//! The acceptance roster: 1,000 rows with 3% bad rows the platform refuses but validation
//! cannot know about (emails already used on the platform, a user group DRTrack does not
//! have), under both failure semantics of a `false` batch. Larger sizes:
//! `MUSTER_DRTRACK_ROWS=20000 cargo test --test it drtrack::`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use serde_json::json;

use muster::cli::Mode;
use muster::config::{Credentials, Rate, Target};
use muster::journal::Journal;
use muster::model::{Action, Field, Layout, Outcome, Row, Status, VendorKind};
use muster::sandbox::drtrack::Drtrack;
use muster::secret::Secret;
use muster::submit::{self, Silent, TargetWork};
use muster::vendors::{Job, identity_key};

const HEADERS: &[(&str, Field)] = &[
    ("userLoginId", Field::Username),
    ("Email", Field::Email),
    ("First Name", Field::FirstName),
    ("Last Name", Field::LastName),
    ("User Group", Field::UserGroup),
    ("Branch IDs", Field::BranchIds),
];

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
    // 3%: every 100 rows, rows 17 and 61 have an unknown group, row 83 a taken email.
    match i % 100 {
        17 | 61 => Kind::UnknownGroup,
        83 => Kind::EmailTaken,
        _ => Kind::Good,
    }
}

fn roster(n: usize) -> Vec<Job> {
    let layout = Arc::new(Layout {
        file: "drivers.csv".into(),
        sheet: "drivers".into(),
        is_workbook: false,
        header_row: 1,
        headers: HEADERS.iter().map(|(h, _)| h.to_string()).collect(),
        fields: HEADERS.iter().map(|(_, f)| Some(*f)).collect(),
        passthrough: Vec::new(),
    });
    let groups = ["Driver", "dispatcher", "VIEWER", "Admin"];
    (0..n)
        .map(|i| {
            let (email, group) = match kind_of(i) {
                Kind::Good => (format!("driver{i}@fleet.test"), groups[i % 4]),
                Kind::EmailTaken => (format!("veteran{}@fleet.test", i / 100), "Driver"),
                Kind::UnknownGroup => (format!("driver{i}@fleet.test"), "Pilots"),
            };
            let cells = vec![
                format!("Driver{i:05}"),
                email,
                "Dana".into(),
                format!("Driver {i}"),
                group.into(),
                if i % 10 == 0 { "101|102".into() } else { String::new() },
            ];
            let row = Row {
                index: i,
                layout: layout.clone(),
                line: i as u32 + 2,
                cells,
                errors: Vec::new(),
            };
            let key = identity_key(VendorKind::Drtrack, &row).expect("login set");
            Job {
                index: i,
                row: Arc::new(row),
                action: Action::Create,
                key,
            }
        })
        .collect()
}

struct Platform {
    sim: Arc<Drtrack>,
    url: String,
}

impl Platform {
    /// A DRTrack simulator on loopback, holding `veterans` users made by someone else.
    async fn start(atomic: bool, veterans: usize) -> Platform {
        let sim = Arc::new(Drtrack::new(atomic, Duration::from_secs(3600)));
        let ops: Vec<_> = (0..veterans)
            .map(|v| {
                json!({"method": "ADD", "userLoginId": format!("veteran{v}"),
                       "email": format!("veteran{v}@fleet.test"), "userGroup": "Driver"})
            })
            .collect();
        assert!(sim.apply_batch(&ops));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().nest("/drtrack", sim.clone().router());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Platform {
            sim,
            url: format!("http://{addr}/drtrack/api/v1.0"),
        }
    }

    fn stat(&self, name: &str) -> u64 {
        self.sim.stats()[name].as_u64().unwrap()
    }

    async fn import(
        &self,
        journal: &Arc<Journal>,
        run_id: &str,
        jobs: Vec<Job>,
    ) -> HashMap<usize, Outcome> {
        let mut target = Target::with_defaults("drtrack", VendorKind::Drtrack, &self.url);
        target.rate = Rate::Unlimited;
        target.app_name = Some("acme".into());
        let credentials = Credentials {
            token: None,
            username: Some(Secret::new(env("SANDBOX_DRTRACK_USER"))),
            password: Some(Secret::new(env("SANDBOX_DRTRACK_PASSWORD"))),
        };
        let (outcomes, _) = submit::submit(
            vec![TargetWork {
                target,
                credentials,
                jobs,
            }],
            submit::Options {
                run_id: run_id.into(),
                dry_run: false,
                mode: Mode::Create,
                deadline: None,
                journal: journal.clone(),
                reporter: Arc::new(Silent),
                secrets: None,
            },
        )
        .await
        .unwrap();
        outcomes
    }
}

fn env(var: &str) -> String {
    muster::sandbox::Sandbox::credentials()
        .into_iter()
        .find(|(k, _)| k == var)
        .map(|(_, v)| v)
        .unwrap()
}

fn rows() -> usize {
    std::env::var("MUSTER_DRTRACK_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000)
}

async fn acceptance(atomic: bool) {
    let n = rows();
    let batch = 50u64;
    let platform = Platform::start(atomic, n.div_ceil(100)).await;
    let created_before = platform.stat("created");
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::open(&dir.path().join("j.db")).unwrap());
    let jobs = roster(n);
    let out = platform.import(&journal, "first", jobs.clone()).await;

    let mut good = 0u64;
    let mut unknown_group = 0u64;
    let mut keys = std::collections::HashSet::new();
    for i in 0..n {
        let o = &out[&i];
        let err = o.error.as_deref().unwrap_or("");
        match kind_of(i) {
            Kind::Good => {
                good += 1;
                assert_eq!(o.status, Status::Created, "atomic={atomic} row {i}: {o:?}");
                let key = o.user_id.clone().expect("a created row has its key");
                assert!(key.parse::<i64>().is_ok(), "{key}");
                assert!(keys.insert(key), "row {i}: key given twice");
                if i % 10 == 0 {
                    assert!(err.contains("branches 101|102 cannot be confirmed"), "{err}");
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
    // Nothing made twice, nothing refused as a duplicate.
    assert_eq!(platform.stat("created") - created_before, good);
    assert_eq!(platform.stat("duplicates_refused"), 0);
    // One sync a batch, plus about 2·log2(batch) per rejected operation.
    let batches = (n as u64 - (n as u64).div_ceil(100)).div_ceil(batch);
    let log2 = u64::from(batch.next_power_of_two().trailing_zeros());
    let calls = platform.stat("sync_calls");
    let bound = batches + unknown_group * log2 * 2;
    assert!(
        calls <= bound,
        "atomic={atomic}: {calls} sync calls > {bound}"
    );
    eprintln!("atomic={atomic}: {n} rows, {calls} sync calls (bound {bound})");

    // A re-run: every good row exists; only rows not on the platform are sent again.
    let adds = platform.stat("adds_received");
    let again = platform.import(&journal, "second", jobs.clone()).await;
    for i in 0..n {
        let want = match kind_of(i) {
            Kind::Good => Status::Exists,
            _ => Status::Failed,
        };
        assert_eq!(again[&i].status, want, "re-run row {i}: {:?}", again[&i]);
    }
    assert_eq!(platform.stat("adds_received") - adds, unknown_group);
    assert_eq!(platform.stat("created") - created_before, good);
    assert_eq!(platform.stat("duplicates_refused"), 0);

    // The good rows alone: all exist, not one sync call.
    let calls = platform.stat("sync_calls");
    let good_rows: Vec<Job> = jobs
        .into_iter()
        .filter(|j| kind_of(j.index) == Kind::Good)
        .collect();
    let third = platform.import(&journal, "third", good_rows).await;
    assert!(third.values().all(|o| o.status == Status::Exists));
    assert_eq!(platform.stat("sync_calls"), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_rows_with_bad_ones_atomic_platform() {
    acceptance(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_rows_with_bad_ones_partial_platform() {
    acceptance(false).await;
}
