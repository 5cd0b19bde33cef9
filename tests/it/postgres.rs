//! The shared PostgreSQL journal (issue 26) against a real PostgreSQL: a throwaway cluster
//! each test starts itself (`initdb` into a temporary folder, `pg_ctl` on a loopback
//! port, stopped and removed at the end; as root, run as the `postgres` user, since
//! initdb refuses root). Without PostgreSQL installed a test says why it skips, and fails
//! instead under `CI=true` (`.ci/run` installs the Debian package).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use muster::journal::lease::{Holder, Taking};
use muster::journal::{Journal, StepWrite, StoredRowRef};
use muster::model::{Action, Outcome, RunInfo, Status, StepState};
use muster::sandbox::{Options, Sandbox};

use crate::support::{
    FAST_APPS, World, assert_workbook_matches_stored, fast_pegasus, journal_at, vendor_roster,
};

const BIN: &str = env!("CARGO_BIN_EXE_muster");

/// A PostgreSQL cluster of a test's own; stopped and removed when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// The cluster runs as the `postgres` user (the tests run as root).
    as_postgres: bool,
}

/// PostgreSQL's programs: the newest /usr/lib/postgresql/N/bin (where Debian puts them,
/// off PATH), else initdb's folder on PATH.
fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((n, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
}

/// The `postgres` user's uid and gid.
fn postgres_user() -> Option<(u32, u32)> {
    let out = Command::new("id").args(["-u", "postgres"]).output().ok()?;
    let uid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    let out = Command::new("id").args(["-g", "postgres"]).output().ok()?;
    let gid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some((uid, gid))
}

/// Says why `test` skips, or fails under `CI=true`.
fn skip(test: &str, why: &str) -> Option<Cluster> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {why} (CI must have PostgreSQL: .ci/run installs the postgresql package)");
    }
    eprintln!("skipped {test}: {why} (install the postgresql package to run it)");
    None
}

impl Cluster {
    /// Starts a cluster for `test`; `None` (after saying why) when PostgreSQL is absent.
    pub fn start(test: &str) -> Option<Cluster> {
        let Some(bin) = pg_bin() else {
            return skip(test, "PostgreSQL's initdb and pg_ctl were not found");
        };
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let owner = if root {
            match postgres_user() {
                Some(ids) => Some(ids),
                None => return skip(test, "running as root and there is no postgres user"),
            }
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("muster-pg-")
            .tempdir()
            .expect("a temp dir");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown temp dir");
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().unwrap().port()
        };
        let c = Cluster {
            dir,
            bin,
            port,
            as_postgres: owner.is_some(),
        };
        let data = c.dir.path().join("data");
        c.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-A",
                "trust",
                "-U",
                "muster",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            c.dir.path().display()
        );
        c.run(
            "pg_ctl",
            &[
                "-D",
                &data.display().to_string(),
                "-l",
                &c.dir.path().join("log").display().to_string(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        Some(c)
    }

    /// Runs one of PostgreSQL's programs (as `postgres` when the tests are root).
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new, empty database; its URL.
    pub fn database(&self, name: &str) -> String {
        self.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "muster",
                name,
            ],
        );
        format!("postgres://muster@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").display().to_string();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The journal at `url` (no password: the cluster trusts loopback).
pub fn open(url: &str) -> Journal {
    journal_at(Path::new(url))
}

fn info(id: &str) -> RunInfo {
    RunInfo {
        run_id: id.into(),
        command: "import".into(),
        command_line: "muster import x.csv".into(),
        started: chrono::Utc::now(),
        ended: None,
        dry_run: false,
        version: "0".into(),
        inputs: vec![],
        skipped_sheets: vec![],
    }
}

#[tokio::test]
async fn the_shared_journal_binds_a_name_to_its_scope_as_the_file_does() {
    let Some(pg) = Cluster::start("postgres::the_shared_journal_binds_a_name_to_its_scope") else {
        return;
    };
    let url = pg.database("scopes");
    let j = open(&url);
    let (a, b) = (
        "traccar https://a.test/api as boss",
        "traccar https://b.test/api as boss",
    );
    // Records under the name (a journal from before scopes) are adopted by the first
    // binding, and read by the name or the scope.
    j.done("r1", "fleet", "a@x", "user", Some("1000")).unwrap();
    let bound = j.bind("fleet", a).unwrap();
    assert_eq!((bound.previous, bound.adopted), (None, 1));
    let again = open(&url);
    assert_eq!(again.steps("fleet").unwrap(), again.steps(a).unwrap());
    assert_eq!(again.steps(a).unwrap().len(), 1);
    // Pointed elsewhere: the name reads the other scope; the first keeps its records.
    let bound = j.bind("fleet", b).unwrap();
    assert_eq!((bound.previous.as_deref(), bound.adopted), (Some(a), 0));
    assert!(again.steps("fleet").unwrap().is_empty());
    assert!(again.made_by_others("fleet", "r9").unwrap().is_empty());
    assert_eq!(again.steps(a).unwrap().len(), 1);
    // A copy carries the binding.
    assert_eq!(j.export().unwrap().scopes.len(), 1);
}

#[tokio::test]
async fn the_shared_journal_keeps_runs_steps_and_leases_as_the_file_does() {
    let Some(pg) = Cluster::start("postgres::the_shared_journal_keeps_runs_steps_and_leases")
    else {
        return;
    };
    let url = pg.database("journal");
    let j = open(&url);
    assert_eq!(j.path(), Path::new(&url));
    // Steps: done is never downgraded, clear forgets an intent.
    j.intent("r1", "t", "a@x", "user").unwrap();
    j.done("r1", "t", "a@x", "user", Some("42")).unwrap();
    j.intent("r2", "t", "a@x", "user").unwrap();
    j.intent("r1", "t", "b@x", "user").unwrap();
    let again = open(&url);
    let steps = again.steps("t").unwrap();
    let a = &steps[&("a@x".to_string(), "user".to_string())];
    assert_eq!((a.state, a.id.as_deref()), (StepState::Done, Some("42")));
    j.clear("t", "b@x", "user").unwrap();
    assert_eq!(again.steps("t").unwrap().len(), 1);
    let write = |key: &str, id: Option<&str>| match id {
        None => StepWrite::Intent {
            key: key.into(),
            step: "user".into(),
        },
        Some(id) => StepWrite::Done {
            key: key.into(),
            step: "user".into(),
            id: Some(id.into()),
        },
    };
    j.commit("r1", "t", vec![write("c@x", None), write("c@x", Some("7"))])
        .await
        .unwrap();
    assert_eq!(
        again.made_by_others("t", "r9").unwrap()["c@x"].0,
        "r1".to_string()
    );
    // Runs and rows.
    j.begin_run(&info("run-1"), "fp").unwrap();
    assert_eq!(again.unfinished_run("fp").unwrap().unwrap().run_id, "run-1");
    let headers = vec!["email".to_string()];
    j.record_rows(
        "run-1",
        [StoredRowRef {
            index: 0,
            source_file: "x.csv",
            sheet: "x",
            line: 2,
            target: Some("t"),
            vendor: Some("traccar"),
            headers: &headers,
            cells: vec!["a@x"],
        }]
        .into_iter(),
    )
    .unwrap();
    let o = Outcome::new(Status::Created, Action::Create);
    j.record_outcomes("run-1", [(0usize, &o)].into_iter())
        .unwrap();
    assert_eq!(again.outcomes("run-1").unwrap()[&0].status, Status::Created);
    j.finish_run(&info("run-1"), &[], true).unwrap();
    assert!(again.unfinished_run("fp").unwrap().is_none());
    assert_eq!(
        again.runs().unwrap()[0].counts,
        vec![("created".to_string(), 1)]
    );
    assert_eq!(again.rows("run-1").unwrap()[0].cells, vec!["a@x"]);
    j.record_plan("d", "now", "p.xlsx").unwrap();
    assert_eq!(again.plan_made("d").unwrap().as_deref(), Some("now"));
    // Leases: all or none across connections (machines); taken over once expired; the
    // run that lost one may record outcomes but commits no new intent.
    let mut ra = Holder::me("run-a");
    ra.host = "ops-1".into();
    let mut rb = Holder::me("run-b");
    rb.host = "ops-2".into();
    let long = Duration::from_secs(60);
    let both = ["motive".to_string(), "pegasus".to_string()];
    assert!(matches!(
        j.take_leases(&both[1..], &ra, long).unwrap(),
        Taking::Taken(over) if over.is_empty()
    ));
    match again.take_leases(&both, &rb, long).unwrap() {
        Taking::Busy(busy) => {
            assert_eq!(busy.len(), 1);
            assert_eq!(busy[0].1.holder.host, "ops-1");
        }
        other => panic!("{other:?}"),
    }
    j.renew_leases(&ra.token, Duration::ZERO).unwrap();
    match again.take_leases(&both, &rb, long).unwrap() {
        Taking::Taken(over) => assert_eq!(over.len(), 1),
        other => panic!("{other:?}"),
    }
    j.done("run-a", "pegasus", "u1", "user", Some("1")).unwrap();
    let err = j
        .commit("run-a", "pegasus", vec![write("u2", None)])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("journal: the lease on target pegasus was taken over by run run-b"),
        "{err}"
    );
    assert_eq!(j.renew_leases(&ra.token, long).unwrap(), vec!["pegasus"]);
    again.release_leases(&rb.token).unwrap();
    assert!(matches!(
        j.take_leases(&both, &ra, long).unwrap(),
        Taking::Taken(_)
    ));
    // A holder's leases expire together: a lease taken later (a scope, once probed)
    // keeps the first one live, so a run is never taken over by one lease and still live
    // by another.
    j.release_leases(&ra.token).unwrap();
    j.take_leases(&both[..1], &ra, Duration::ZERO).unwrap();
    j.take_leases(&both[1..], &ra, long).unwrap();
    assert!(matches!(
        again.take_leases(&both[..1], &rb, long).unwrap(),
        Taking::Busy(_)
    ));
    j.renew_leases(&ra.token, Duration::ZERO).unwrap();
    assert!(matches!(
        again.take_leases(&both[..1], &rb, long).unwrap(),
        Taking::Taken(_)
    ));
    assert_eq!(again.live_lease_of_run("run-a", &rb).unwrap(), None);
}

/// A roster of `n` Pegasus users over five companies.
fn pegasus_five_companies(n: usize) -> String {
    const COMPANIES: [&str; 5] = [
        "Acme Freight",
        "Bolt Logistics",
        "Cargo Uno",
        "Delta Haul",
        "Echo Lines",
    ];
    let mut s = String::from("target,username,email,first name,last name,password,company\n");
    for i in 0..n {
        s.push_str(&format!(
            "pegasus,Driver{i:05}@Fleet.test,driver{i:05}@fleet.test,Driver{i},Test,Secret-Pass-1,{}\n",
            COMPANIES[i % COMPANIES.len()]
        ));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_folders_sharing_a_postgres_journal_make_each_user_and_group_once() {
    let Some(pg) = Cluster::start("postgres::two_folders_sharing_a_postgres_journal") else {
        return;
    };
    let url = pg.database("team");
    let w = World::start_apart(Options {
        latency_ms: 5,
        pegasus: fast_pegasus(),
        ..Options::default()
    })
    .await;
    let config = w.config(&format!("rate = \"none\"\nconcurrency = 8\n{FAST_APPS}"));
    const PER: usize = 75;
    let rosters = [
        ("traccar.csv", vendor_roster("traccar", PER)),
        ("motive.csv", vendor_roster("motive", PER)),
        ("pegasus.csv", pegasus_five_companies(PER)),
        ("drtrack.csv", vendor_roster("drtrack", PER)),
    ];
    // Two operators, each in a folder of their own with the same roster, both pointed
    // at the team's journal (one by the flag, one by the variable), started together.
    let mut children = Vec::new();
    for (i, name) in ["alice", "bob"].into_iter().enumerate() {
        let dir = w.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in &rosters {
            std::fs::write(dir.join(file), text).unwrap();
        }
        std::fs::copy(&config, dir.join("muster.toml")).unwrap();
        let mut c = Command::new(BIN);
        c.current_dir(&dir)
            .arg("import")
            .args(rosters.iter().map(|(f, _)| *f))
            .args(["--out", "results.xlsx", "--json", "--wait=60s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if i == 0 {
            c.args(["--journal", &url]);
        } else {
            c.env("MUSTER_JOURNAL", &url);
        }
        for (k, v) in Sandbox::credentials() {
            c.env(k, v);
        }
        children.push((dir, c.spawn().expect("import starts")));
    }
    // Each child's pipes are read while it runs (a run blocked on a full stdout pipe
    // would hold its leases, and the other would wait for it).
    let waiting: Vec<_> = children
        .into_iter()
        .map(|(dir, c)| std::thread::spawn(move || (dir, c.wait_with_output().unwrap())))
        .collect();
    let ended = tokio::task::spawn_blocking(move || {
        waiting
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let journal = open(&url);
    for (dir, out) in &ended {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{}: {stderr}", dir.display());
        let run_id = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|v| v["summary"]["run_id"].as_str().map(str::to_string))
            .expect("a run id");
        // Each operator's workbook says what the shared journal says of their run.
        assert_eq!(
            assert_workbook_matches_stored(&dir.join("results.xlsx"), &journal, &run_id),
            4 * PER
        );
        for row in journal.rows(&run_id).unwrap() {
            let status = row.outcome.map(|o| o.status);
            assert!(
                matches!(status, Some(Status::Created | Status::Exists)),
                "{}: row {}: {status:?}",
                dir.display(),
                row.line
            );
        }
        // Neither folder got a journal file of its own.
        assert!(!dir.join(".muster/journal.db").exists());
    }
    for vendor in ["traccar", "motive", "pegasus", "drtrack"] {
        assert_eq!(w.stat(vendor, "created"), PER as u64, "{vendor}");
        assert_eq!(w.stat(vendor, "duplicates_refused"), 0, "{vendor}");
    }
    assert_eq!(w.stat("pegasus", "groups_created"), 5);
    // `muster report` reads the shared journal.
    let out = Command::new(BIN)
        .args(["report", "--list", "--journal", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folders_journal_copied_into_the_shared_one_carries_its_history_and_ledger() {
    let Some(pg) = Cluster::start("postgres::a_folders_journal_copied_into_the_shared_one") else {
        return;
    };
    let url = pg.database("copy");
    let w = World::start_apart(Options::default()).await;
    let config = w.config("rate = \"none\"");
    let roster = w.write("roster.csv", &vendor_roster("traccar", 30));
    let file = w.path("j.db");
    let out = w.path("r.xlsx");
    let exit = w.import(&roster, &config, &file, &out, &[]).await.unwrap();
    assert_eq!(exit, muster::Exit::Success);
    let (from, to) = (file.display().to_string(), url.clone());
    let copy = [
        "journal",
        "copy",
        "--from",
        from.as_str(),
        "--to",
        to.as_str(),
    ];
    assert_eq!(w.muster(&copy).await.unwrap(), muster::Exit::Success);
    // Copying again adds nothing: what the shared journal holds is kept.
    let before = open(&url).export().unwrap();
    w.muster(&copy).await.unwrap();
    let after = open(&url).export().unwrap();
    assert_eq!(
        (after.runs.len(), after.rows.len(), after.steps.len()),
        (before.runs.len(), before.rows.len(), before.steps.len())
    );
    let local = Journal::open(&file).unwrap();
    let shared = open(&url);
    assert_eq!(
        shared.steps("traccar").unwrap(),
        local.steps("traccar").unwrap()
    );
    let run = &local.runs().unwrap()[0].info.run_id;
    assert_eq!(
        assert_workbook_matches_stored(&out, &shared, run),
        30,
        "the copied run is the run the workbook shows"
    );
    // Importing the same roster against the shared journal makes nothing again.
    let again = w.path("again.xlsx");
    let exit = w
        .import(&roster, &config, Path::new(&url), &again, &[])
        .await
        .unwrap();
    assert_eq!(exit, muster::Exit::Success);
    assert_eq!(w.stat("traccar", "created"), 30);
    let newest = &shared.runs().unwrap()[0];
    assert_eq!(newest.counts, vec![("exists".to_string(), 30)]);
}
