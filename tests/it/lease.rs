//! One run per target at a time (issue 26): overlapping imports in one folder, the real
//! binary against a sandbox slow enough that the runs overlap. The second run refuses
//! with the lease message, or with `--wait` finishes after the first; a holder that is
//! killed (or stops renewing) is taken over and its run finished, nothing made twice.
//!
//! Real time, kept short: the runs are processes, so paused tokio time cannot reach them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use muster::journal::Journal;
use muster::model::Status;
use muster::sandbox::{Options, Sandbox};

use crate::support::{World, assert_workbook_matches_run, traccar_roster};

const BIN: &str = env!("CARGO_BIN_EXE_muster");

/// `muster import roster.csv --config muster.toml --out OUT --json EXTRA…` in `dir` (the
/// default journal, `.muster/journal.db`, is the folder's), with the sandbox's credentials.
fn import(dir: &Path, out: &str, extra: &[&str], env: &[(&str, &str)]) -> Child {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .args([
            "import",
            "roster.csv",
            "--config",
            "muster.toml",
            "--out",
            out,
            "--json",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in Sandbox::credentials() {
        c.env(k, v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().expect("import starts")
}

/// A run's exit code, stderr, and run id (from `--json`'s summary, when it ran).
struct Ended {
    code: i32,
    stderr: String,
    run_id: Option<String>,
}

fn ended(out: Output) -> Ended {
    let run_id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["summary"]["run_id"].as_str().map(str::to_string));
    Ended {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        run_id,
    }
}

/// A folder with a roster of `n` Traccar users and a config at the sandbox; one request
/// at a time, so a run of `n` rows lasts about `n` × the sandbox's latency.
fn folder(w: &World, name: &str, n: usize) -> PathBuf {
    let dir = w.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("roster.csv"), traccar_roster(n)).unwrap();
    std::fs::copy(
        w.config("rate = \"none\"\nconcurrency = 1\ntimeout = \"10s\""),
        dir.join("muster.toml"),
    )
    .unwrap();
    dir
}

/// Every row of the run `run_id` is `created` or `exists`, and its workbook says the same
/// as the journal.
fn assert_run_whole(dir: &Path, out: &str, run_id: &str, n: usize) {
    let journal = dir.join(".muster/journal.db");
    assert_eq!(
        assert_workbook_matches_run(&dir.join(out), &journal, run_id),
        n
    );
    let j = Journal::open(&journal).unwrap();
    for row in j.rows(run_id).unwrap() {
        let status = row.outcome.map(|o| o.status);
        assert!(
            matches!(status, Some(Status::Created | Status::Exists)),
            "{out} row {}: {status:?}",
            row.line
        );
    }
}

fn refused(e: &Ended) -> bool {
    e.code == 2
        && e.stderr
            .contains("target traccar is being imported by run ")
        && e.stderr.contains("; wait for it, or pass --wait")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlapping_run_refuses_or_waits_and_nothing_is_made_twice() {
    const N: usize = 40;
    for delay_ms in [0u64, 100, 500, 2_000] {
        let w = World::start_apart(Options {
            latency_ms: 60,
            ..Options::default()
        })
        .await;
        let dir = folder(&w, "ops", N);
        let first = import(&dir, "first.xlsx", &[], &[]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let second = import(&dir, "second.xlsx", &[], &[]);
        let waiting = import(&dir, "third.xlsx", &["--wait=2m"], &[]);
        // Each child's pipes are read while it runs: a run blocked on a full pipe would
        // hold its lease.
        let read = |c: Child| std::thread::spawn(move || ended(c.wait_with_output().unwrap()));
        let (first, second, waiting) = (read(first), read(second), read(waiting));
        let (first, second, waiting) = tokio::task::spawn_blocking(move || {
            (
                first.join().unwrap(),
                second.join().unwrap(),
                waiting.join().unwrap(),
            )
        })
        .await
        .unwrap();
        let at = format!("second run {delay_ms} ms after the first");
        // The run that waited ran, after whoever held the lease.
        assert_eq!(waiting.code, 0, "{at}: {}", waiting.stderr);
        for (e, out) in [(&first, "first.xlsx"), (&second, "second.xlsx")] {
            assert!(
                e.code == 0 || refused(e),
                "{at}: {out} neither ran nor refused with the lease message: exit {}\n{}",
                e.code,
                e.stderr
            );
        }
        // One of the two that did not wait ran, the other refused; when the runs start
        // together, or the machine is slow to start the first, the one that waits may be
        // first instead (then both refused). Which one it was is read, not assumed.
        let ran: Vec<&Ended> = [&first, &second]
            .into_iter()
            .filter(|e| e.code == 0)
            .collect();
        assert!(ran.len() <= 1, "{at}: both ran at once");
        if delay_ms > 0 && ran.is_empty() {
            eprintln!("{at}: the run that waits took the lease before the first");
        }
        let j = Journal::open(&dir.join(".muster/journal.db")).unwrap();
        for row in j.rows(waiting.run_id.as_deref().unwrap()).unwrap() {
            let o = row.outcome.unwrap();
            match ran.first() {
                // The run that waited found every user made, and says by whom.
                Some(maker) => {
                    let by = format!("made by run {} at ", maker.run_id.as_deref().unwrap());
                    assert_eq!(o.status, Status::Exists, "{at}: row {}", row.line);
                    assert!(
                        o.error.as_deref().is_some_and(|e| e.starts_with(&by)),
                        "{at}: row {}: {:?}",
                        row.line,
                        o.error
                    );
                }
                None => assert_eq!(o.status, Status::Created, "{at}: row {}", row.line),
            }
        }
        for (e, out) in [
            (&first, "first.xlsx"),
            (&second, "second.xlsx"),
            (&waiting, "third.xlsx"),
        ] {
            if e.code == 0 {
                let run = e.run_id.as_deref().expect("a run id in --json's summary");
                assert_run_whole(&dir, out, run, N);
            } else {
                assert!(
                    !dir.join(out).exists(),
                    "{at}: {out} written by a refused run"
                );
            }
        }
        assert_eq!(w.stat("traccar", "created"), N as u64, "{at}");
        assert_eq!(w.stat("traccar", "duplicates_refused"), 0, "{at}");
        // Nothing is left leased.
        let j = Journal::open(&dir.join(".muster/journal.db")).unwrap();
        assert!(j.runs().unwrap().iter().all(|r| r.finished), "{at}");
    }
}

/// Waits (real time, bounded) until `until` holds.
fn wait_until(what: &str, mut until: impl FnMut() -> bool) {
    let began = Instant::now();
    while !until() {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "waited too long for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops `child` (SIGSTOP) between two journal transactions: a holder stopped while it
/// holds SQLite's write lock would keep every other run out of the journal file itself,
/// which no lease can cure, so the test stops it again until the lock is free.
fn stop_between_transactions(child: &Child, journal: &Path) {
    let pid = child.id() as i32;
    let began = Instant::now();
    loop {
        // SAFETY: signalling our own child, which has not been waited for.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
        let db = rusqlite::Connection::open(journal).unwrap();
        db.busy_timeout(Duration::ZERO).unwrap();
        if db.execute_batch("BEGIN IMMEDIATE; ROLLBACK;").is_ok() {
            return;
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the holder keeps the journal locked"
        );
        // SAFETY: as above.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A run's stderr, read as it comes: `seen` waits until a line holds a text, `rest` gives
/// all of it once the run has ended.
struct Stderr {
    lines: std::sync::mpsc::Receiver<String>,
    all: Vec<String>,
}

impl Stderr {
    fn of(child: &mut Child) -> Stderr {
        let pipe = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Stderr {
            lines,
            all: Vec::new(),
        }
    }

    /// Waits (real time, bounded) for a line that contains `text`.
    fn seen(&mut self, text: &str) {
        let began = Instant::now();
        while !self.all.iter().any(|l| l.contains(text)) {
            let left = Duration::from_secs(60).saturating_sub(began.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.all.push(line),
                Err(_) => panic!("no line with {text:?} in:\n{}", self.all.join("\n")),
            }
        }
    }

    /// Every line, once the pipe has closed.
    fn rest(mut self) -> String {
        self.all.extend(self.lines.iter());
        self.all.join("\n")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_or_stalled_holder_is_taken_over_and_its_run_finished_once() {
    const N: usize = 40;
    // SIGKILL: the holder's process is gone, the waiting run takes over at once (its lease
    // would last a minute more). SIGSTOP: the holder still exists but stops renewing, so
    // its lease is taken over once expired (then it is killed, as an operator would).
    for (signal, ttl, why) in [
        (libc::SIGKILL, "60s", "has ended without releasing it"),
        (libc::SIGSTOP, "3s", "stopped renewing it"),
    ] {
        let ttl = [("MUSTER_LEASE_TTL", ttl)];
        let w = World::start_apart(Options {
            latency_ms: 40,
            ..Options::default()
        })
        .await;
        let dir = folder(&w, "ops", N);
        let mut holder = import(&dir, "first.xlsx", &[], &ttl);
        let created = || w.stat("traccar", "created");
        wait_until("the first users", || created() >= 5);
        // The holder stops first, so it cannot finish before the waiting run has found the
        // target busy, however slowly that run starts.
        stop_between_transactions(&holder, &dir.join(".muster/journal.db"));
        let mut waiting = import(&dir, "second.xlsx", &["--wait"], &ttl);
        let mut stderr = Stderr::of(&mut waiting);
        stderr.seen("target traccar is being imported by run ");
        if signal == libc::SIGKILL {
            // SAFETY: signalling our own child, which has not been waited for.
            assert_eq!(unsafe { libc::kill(holder.id() as i32, signal) }, 0);
            // Reaped: a process that is gone, not a zombie that still exists.
            holder.wait().unwrap();
        }
        let waited = tokio::task::spawn_blocking(move || {
            let out = waiting.wait_with_output().unwrap();
            (out, stderr.rest())
        })
        .await
        .unwrap();
        let _ = holder.kill();
        let _ = holder.wait();
        let (out, stderr) = waited;
        let waited = Ended {
            stderr,
            ..ended(out)
        };
        assert_eq!(waited.code, 0, "{}", waited.stderr);
        assert!(
            waited
                .stderr
                .contains("target traccar: taking over the lease of run ")
                && waited.stderr.contains(why),
            "{}",
            waited.stderr
        );
        // The same folder and files: the waiting run resumed the holder's run.
        assert!(waited.stderr.contains("resuming run "), "{}", waited.stderr);
        let run = waited.run_id.expect("a run id");
        assert_run_whole(&dir, "second.xlsx", &run, N);
        assert_eq!(created(), N as u64);
        assert_eq!(w.stat("traccar", "duplicates_refused"), 0);
    }
}

/// `muster report --config FILE` reads the journal that config names, from any folder;
/// without it, a folder with no muster.toml has no journal to report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_reads_the_journal_its_config_names() {
    let w = World::start_apart(Options::default()).await;
    let dir = folder(&w, "team", 3);
    let shared = w.path("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let journal = shared.join("team.db");
    let config = dir.join("muster.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("journal = {:?}\n{text}", journal.display().to_string()),
    )
    .unwrap();
    let run = ended(
        import(&dir, "out.xlsx", &[], &[])
            .wait_with_output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run_id = run.run_id.expect("the import ran");
    assert!(journal.exists(), "the config's journal was used");

    let elsewhere = w.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let report = |extra: &[&str]| {
        Command::new(BIN)
            .current_dir(&elsewhere)
            .args(["report", "--list"])
            .args(extra)
            .env_remove("MUSTER_CONFIG")
            .env_remove("MUSTER_JOURNAL")
            .output()
            .unwrap()
    };
    let found = report(&["--config", config.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&found.stdout);
    assert!(
        found.status.success(),
        "{}",
        String::from_utf8_lossy(&found.stderr)
    );
    assert!(stdout.contains(&run_id), "{stdout}");
    let without = report(&[]);
    let stderr = String::from_utf8_lossy(&without.stderr);
    assert!(!without.status.success());
    assert!(stderr.contains("no journal at"), "{stderr}");
}
