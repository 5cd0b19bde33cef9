//! Shared helpers for the integration tests: a sandbox on loopback, a config pointing at it,
//! rosters written to a temp dir, `muster::run` in-process, and the journal read back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use muster::journal::Journal;
use muster::model::Status;
use muster::sandbox::{Options, Sandbox};
use muster::{Cli, Env, Exit};

/// A sandbox and a scratch folder for one test.
pub struct World {
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
}

impl World {
    pub async fn start(options: Options) -> World {
        let sandbox = Sandbox::start("127.0.0.1:0", options)
            .await
            .expect("sandbox starts");
        World {
            sandbox,
            dir: tempfile::tempdir().expect("temp dir"),
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
    pub fn last_run_counts(&self, journal: &Path) -> BTreeMap<Status, usize> {
        let j = Journal::open(journal).expect("journal opens");
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
        let j = Journal::open(journal).expect("journal opens");
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
