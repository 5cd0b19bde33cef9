//! Shared helpers for the integration tests: a sandbox on loopback, a config pointing at it,
//! rosters written to a temp dir, `muster::run` in-process, and the journal read back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use muster::journal::{Journal, JournalAt, PgAt};
use muster::model::Status;
use muster::sandbox::{Options, Sandbox};
use muster::{Cli, Env, Exit};

/// Serves `app` on 127.0.0.1:0, for a platform that misbehaves as a test needs; its
/// address.
pub async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A loopback Traccar that holds no users and no devices and answers its `n`-th
/// `POST /api/users` (from 0) with `answer(n)`: a platform misbehaving on creates. Its
/// address, and the count of creates it received.
pub async fn traccar_answering<R>(
    answer: impl Fn(usize) -> R + Clone + Send + Sync + 'static,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
)
where
    R: axum::response::IntoResponse,
{
    use axum::routing::get;
    let posts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = posts.clone();
    let app = axum::Router::new()
        .route("/api/devices", get(|| async { "[]" }))
        .route(
            "/api/users",
            get(|| async { "[]" }).post(move || {
                let (counted, answer) = (counted.clone(), answer.clone());
                async move {
                    let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    answer(n).into_response()
                }
            }),
        );
    (serve(app).await, posts)
}

/// The one HTTP client constructor of the integration tests. reqwest is built without a
/// default crypto provider (Cargo.toml: `rustls-no-provider`): even a plain-http client
/// needs one installed, so every client a test makes comes from here, and a test that runs
/// alone (`cargo test --test it motive::the_simulator_keeps_the_contract`) works too.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The journal `at` names: a SQLite file, or a `postgres://` URL (a test cluster, which
/// trusts loopback: no password).
pub fn journal_at(at: &Path) -> Journal {
    let text = at.to_string_lossy();
    if text.starts_with("postgres://") {
        Journal::open_at(&JournalAt::Postgres(PgAt {
            url: text.into_owned(),
            password: None,
        }))
    } else {
        Journal::open(at)
    }
    .expect("journal opens")
}

/// A sandbox and a scratch folder for one test.
pub struct World {
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
    /// The sandbox's own runtime, when it runs apart from the test's ([`World::start_apart`]).
    _apart: Apart,
}

/// A runtime of its own for the sandbox; shut down without blocking when dropped (a
/// runtime may not be dropped the ordinary way inside the test's async context).
struct Apart(Option<tokio::runtime::Runtime>);

impl Drop for Apart {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl World {
    /// A sandbox on the test's own runtime (paused time reaches it).
    pub async fn start(options: Options) -> World {
        let sandbox = Sandbox::start("127.0.0.1:0", options)
            .await
            .expect("sandbox starts");
        World {
            sandbox,
            dir: tempfile::tempdir().expect("temp dir"),
            _apart: Apart(None),
        }
    }

    /// A sandbox on a runtime of its own (two threads), as a real platform runs on another
    /// machine: muster's blocking work (the SQLite journal, the workbook) on the test's
    /// threads cannot starve the simulated platform into timeouts. Not for paused time.
    pub async fn start_apart(options: Options) -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sandbox")
            .enable_all()
            .build()
            .expect("a runtime for the sandbox");
        // Started (and so spawned) on the sandbox's runtime; awaited from the test's.
        let sandbox = rt
            .spawn(Sandbox::start("127.0.0.1:0", options))
            .await
            .expect("sandbox start does not panic")
            .expect("sandbox starts");
        World {
            sandbox,
            dir: tempfile::tempdir().expect("temp dir"),
            _apart: Apart(Some(rt)),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a muster.toml with one target per vendor at this sandbox; `extra` is appended
    /// to every target (e.g. `rate = "none"\nconcurrency = 32\ntimeout = "1s"`).
    pub fn config(&self, extra: &str) -> PathBuf {
        let mut text = String::new();
        for line in self.sandbox.config_toml().lines() {
            let key = line.split('=').next().unwrap_or("").trim();
            if !extra.is_empty()
                && extra
                    .lines()
                    .any(|e| e.split('=').next().unwrap_or("").trim() == key)
            {
                continue;
            }
            text.push_str(line);
            text.push('\n');
            if line.starts_with("[target.") {
                text.push_str(extra);
                text.push('\n');
            }
        }
        let path = self.path("muster.toml");
        std::fs::write(&path, text).expect("config written");
        path
    }

    /// A config whose one target, `traccar`, is the Traccar at `addr` (a [`serve`]d
    /// server), authenticated with the sandbox's Traccar token so `import` and `muster`
    /// work as they are; `extra` lines are added to the target.
    pub fn traccar_at(&self, addr: std::net::SocketAddr, extra: &str) -> PathBuf {
        self.write(
            "loopback.toml",
            &format!(
                "[target.traccar]\nvendor = \"traccar\"\nurl = \"http://{addr}/api\"\ntoken_env = \"SANDBOX_TRACCAR_TOKEN\"\nrate = \"none\"\n{extra}\n"
            ),
        )
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("file written");
        path
    }

    pub fn env(&self) -> Env {
        Env::with(Sandbox::credentials())
    }

    /// Runs muster in-process with `args` (after the program name).
    pub async fn muster(&self, args: &[&str]) -> anyhow::Result<Exit> {
        let mut argv = vec!["muster"];
        argv.extend_from_slice(args);
        muster::run(Cli::parse_from(argv), &self.env()).await
    }

    /// `muster import ROSTER --config CONFIG --journal JOURNAL --out OUT --quiet EXTRA…`,
    /// in-process.
    pub async fn import(
        &self,
        roster: &Path,
        config: &Path,
        journal: &Path,
        out: &Path,
        extra: &[&str],
    ) -> anyhow::Result<Exit> {
        let paths = [roster, config, journal, out].map(|p| p.display().to_string());
        let mut args = vec![
            "import",
            &paths[0],
            "--config",
            &paths[1],
            "--journal",
            &paths[2],
            "--out",
            &paths[3],
            "--quiet",
        ];
        args.extend_from_slice(extra);
        self.muster(&args).await
    }

    /// Counts of the newest run's rows by status, from the journal.
    /// Imports `csv` (written as roster.csv) with `config` and the journal j.db; the exit
    /// and the journal's path.
    pub async fn import_csv(&self, csv: &str, config: &Path) -> (Exit, PathBuf) {
        let roster = self.write("roster.csv", csv);
        let journal = self.path("j.db");
        let exit = self
            .import(&roster, config, &journal, &self.path("r.xlsx"), &[])
            .await
            .expect("the run ends");
        (exit, journal)
    }

    pub fn last_run_counts(&self, journal: &Path) -> BTreeMap<Status, usize> {
        let j = journal_at(journal);
        let runs = j.runs().expect("runs");
        let run = runs.first().expect("a run");
        let mut counts = BTreeMap::new();
        for row in j.rows(&run.info.run_id).expect("rows") {
            let status = row
                .outcome
                .map(|o| o.status)
                .unwrap_or(Status::NotAttempted);
            *counts.entry(status).or_insert(0) += 1;
        }
        counts
    }

    /// The first few errors of the newest run's rows, for assertion messages.
    pub fn last_run_errors(&self, journal: &Path, most: usize) -> Vec<String> {
        let j = journal_at(journal);
        let run = j.runs().expect("runs").remove(0);
        j.rows(&run.info.run_id)
            .expect("rows")
            .into_iter()
            .filter_map(|r| {
                let o = r.outcome?;
                Some(format!("row {} {}: {}", r.line, o.status, o.error?))
            })
            .take(most)
            .collect()
    }

    /// One vendor's counters from the sandbox.
    pub fn stat(&self, vendor: &str, key: &str) -> u64 {
        self.sandbox.stats()[vendor][key].as_u64().unwrap_or(0)
    }
}

/// A Traccar roster of `n` users; every third links one seeded device.
pub fn traccar_roster(n: usize) -> String {
    let devices = muster::sandbox::seed::traccar_devices();
    let mut s = String::from("target,name,email,devices\n");
    for i in 0..n {
        let device = if i % 3 == 0 {
            devices[i % devices.len()].2.clone()
        } else {
            String::new()
        };
        s.push_str(&format!("traccar,User {i},user{i}@example.com,{device}\n"));
    }
    s
}

/// A roster of `n` users that `vendor`'s simulator accepts without refusal: the rows the
/// reliability tests (faults, crash, secrets) push through every connector.
pub fn vendor_roster(vendor: &str, n: usize) -> String {
    match vendor {
        "traccar" => traccar_roster(n),
        "motive" => {
            let mut s = String::from(
                "target,first_name,last_name,email,role,groups,eld_mode,time_tracking_mode,phone,motive.user_role_id\n",
            );
            for i in 0..n {
                if i % 3 == 0 {
                    s.push_str(&format!(
                        "motive,Fleet,User{i},fleet{i}@motive.test,fleet_user,North|South,,,+1555{i:07},7\n"
                    ));
                } else {
                    s.push_str(&format!(
                        "motive,Drive,Er{i},driver{i}@motive.test,driver,East,logs,logs,+1666{i:07},\n"
                    ));
                }
            }
            s
        }
        "pegasus" => {
            const COMPANIES: [&str; 3] = ["Acme Freight", "Bolt Logistics", "Cargo Uno"];
            let mut s =
                String::from("target,username,email,first name,last name,password,company\n");
            for i in 0..n {
                s.push_str(&format!(
                    "pegasus,Driver{i:05}@Fleet.test,driver{i:05}@fleet.test,Driver{i},Test,Secret-Pass-1,{}\n",
                    COMPANIES[i % COMPANIES.len()]
                ));
            }
            s
        }
        "drtrack" => {
            let groups = ["Driver", "dispatcher", "VIEWER", "Admin"];
            let mut s =
                String::from("target,username,email,first_name,last_name,user_group,branch_ids\n");
            for i in 0..n {
                s.push_str(&format!(
                    "drtrack,Driver{i:05},driver{i}@fleet.test,Dana,Driver {i},{}\n",
                    groups[i % 4]
                ));
            }
            s
        }
        other => panic!("no roster for {other}"),
    }
}

/// Config lines that keep each vendor's own secondary limits out of the way (Pegasus'
/// `/apps` 20 a minute; it has its own test), appended to every target by [`World::config`].
pub const FAST_APPS: &str = "apps_rate = \"none\"\napps_per_minute = 0";

/// Sandbox options for Pegasus' `/apps` limits high enough not to matter.
pub fn fast_pegasus() -> muster::sandbox::pegasus::Settings {
    muster::sandbox::pegasus::Settings {
        apps_per_second: 100_000,
        apps_per_minute: 1_000_000,
        ..muster::sandbox::pegasus::Settings::default()
    }
}

/// Asserts the result workbook's Results sheet holds the journal's newest run row for
/// row: line, status, user id, error, other ids. Returns the number of rows compared.
pub fn assert_workbook_matches_journal(out: &Path, journal: &Path) -> usize {
    let j = journal_at(journal);
    let run = j.runs().expect("runs").remove(0);
    assert_workbook_matches_run(out, journal, &run.info.run_id)
}

/// As [`assert_workbook_matches_journal`], for the run `run_id` (several runs share a
/// journal).
pub fn assert_workbook_matches_run(out: &Path, journal: &Path, run_id: &str) -> usize {
    let j = journal_at(journal);
    assert_workbook_matches_stored(out, &j, run_id)
}

/// As [`assert_workbook_matches_run`], for a journal already open (a shared database).
pub fn assert_workbook_matches_stored(out: &Path, j: &Journal, run_id: &str) -> usize {
    use calamine::{Reader, open_workbook_auto};
    let mut rows = j.rows(run_id).expect("rows");
    rows.sort_by_key(|r| r.index);
    let mut wb = open_workbook_auto(out).expect("the workbook opens");
    let results = wb.worksheet_range("Results").expect("a Results sheet");
    let mut grid = results.rows();
    let header: Vec<String> = grid
        .next()
        .expect("a header")
        .iter()
        .map(|c| c.to_string())
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let lines: Vec<Vec<String>> = grid
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(lines.len(), rows.len(), "one workbook line per journal row");
    for (line, stored) in lines.iter().zip(&rows) {
        let o = stored.outcome.clone().unwrap_or_else(|| {
            muster::model::Outcome::new(Status::NotAttempted, Default::default())
        });
        let at = format!("row {}", stored.line);
        assert_eq!(line[col("row")], stored.line.to_string(), "{at}");
        assert_eq!(line[col("status")], o.status.key(), "{at}");
        assert_eq!(
            line[col("user_id")],
            o.user_id.clone().unwrap_or_default(),
            "{at}"
        );
        if stored.outcome.is_some() {
            assert_eq!(
                line[col("error")],
                o.error.clone().unwrap_or_default(),
                "{at}"
            );
        }
        assert_eq!(line[col("other_ids")], o.other_ids_text(), "{at}");
    }
    lines.len()
}

/// A python3 that has openpyxl, or `None` (a test then says it skipped, and fails under
/// `CI=true`).
pub fn python_with_openpyxl() -> Option<&'static str> {
    let found = ["python3", "/usr/bin/python3"].into_iter().find(|py| {
        std::process::Command::new(py)
            .args(["-c", "import openpyxl"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "CI=true but no python3 with openpyxl"
        );
        eprintln!("skipped the openpyxl check: no python3 with openpyxl");
    }
    found
}

/// Reads `workbook` with openpyxl (tests/check_workbook.py): fails the test when any cell
/// is a formula or holds one of `secrets`.
pub fn check_workbook(workbook: &Path, secrets: &[String]) {
    let Some(python) = python_with_openpyxl() else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check_workbook.py");
    let mut cmd = std::process::Command::new(python);
    cmd.arg(&script).arg(workbook);
    for s in secrets {
        cmd.arg(format!("--secret={s}"));
    }
    let out = cmd.output().expect("check_workbook.py runs");
    assert!(
        out.status.success(),
        "check_workbook.py {}:\n{}{}",
        workbook.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
