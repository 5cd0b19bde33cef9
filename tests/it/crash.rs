//! A run killed with SIGKILL at random moments and started again ends with every row
//! accounted for and no user created twice (issue 3). Real processes: the sandbox runs as
//! its own process so it outlives each killed importer.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::Rng;

use crate::support::traccar_roster;

const BIN: &str = env!("CARGO_BIN_EXE_muster");

/// The sandbox as a child process; killed when dropped.
struct SandboxProcess {
    child: Child,
    url: String,
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sandbox(extra: &[&str]) -> SandboxProcess {
    let mut child = Command::new(BIN)
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the sandbox starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout piped"))
        .read_line(&mut first)
        .expect("the sandbox prints its address");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_string();
    SandboxProcess { child, url }
}

/// `GET /_sandbox/stats` over plain HTTP/1.0 with the standard library.
fn stats(url: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the sandbox");
    write!(s, "GET /_sandbox/stats HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).expect("stats are JSON")
}

#[test]
fn sigkill_at_random_moments_then_rerun_creates_each_user_once() {
    let sandbox = start_sandbox(&["--latency-ms", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("muster.toml");
    std::fs::write(
        &config,
        format!(
            "[target.traccar]\nvendor = \"traccar\"\nurl = \"{}/traccar/api\"\ntoken_env = \"SANDBOX_TRACCAR_TOKEN\"\nrate = \"none\"\nconcurrency = 8\ntimeout = \"5s\"\n",
            sandbox.url
        ),
    )
    .unwrap();
    let n = 1_200;
    let roster = dir.path().join("roster.csv");
    std::fs::write(&roster, traccar_roster(n)).unwrap();
    let journal = dir.path().join("j.db");
    let out = dir.path().join("r.xlsx");
    let import = || {
        let mut c = Command::new(BIN);
        c.args(["import"])
            .arg(&roster)
            .arg("--config")
            .arg(&config)
            .arg("--journal")
            .arg(&journal)
            .arg("--out")
            .arg(&out)
            .arg("--quiet")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in muster::sandbox::Sandbox::credentials() {
            c.env(k, v);
        }
        c
    };
    let mut rng = rand::rng();
    let mut kills = 0;
    for _ in 0..10 {
        let mut child = import().spawn().expect("import starts");
        std::thread::sleep(Duration::from_millis(rng.random_range(30..900)));
        if child.try_wait().unwrap().is_none() {
            // SIGKILL: no chance to clean up.
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    let status = import().status().expect("final import runs");
    assert_eq!(status.code(), Some(0), "the final run finishes every row");
    let s = stats(&sandbox.url);
    assert_eq!(s["traccar"]["duplicates_refused"], 0, "{s}");
    assert_eq!(s["traccar"]["created"], n as u64, "{s}");
    let j = muster::journal::Journal::open(&journal).unwrap();
    let run = j.runs().unwrap().remove(0);
    let rows = j.rows(&run.info.run_id).unwrap();
    assert_eq!(rows.len(), n);
    assert!(
        rows.iter()
            .all(|r| r.outcome.as_ref().is_some_and(|o| o.status.is_success())),
        "every row accounted for"
    );
    assert!(
        kills >= 3,
        "the test killed only {kills} runs: make the roster larger"
    );
}
