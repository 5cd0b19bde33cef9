//! Integration tests: an operator's run (issue 29): every problem that stops a run said at
//! once (exit 2), the config found the same way by every command, the ending on the
//! terminal, and the webhook told how the run ended.

use std::path::Path;
use std::process::Command;

use clap::Parser as _;
use muster::sandbox::Options;
use muster::{Cli, Env, Exit};

use crate::support::World;

const BIN: &str = env!("CARGO_BIN_EXE_muster");

/// One row for each of the four targets that need credentials, and one for AROBS.
fn five_targets() -> String {
    "target,username,email,first_name,last_name,password,company,user_group,role\n\
     traccar,,t1@fleet.test,Tia,One,,,,\n\
     motive,,m1@fleet.test,Mo,One,,,,driver\n\
     pegasus,p1@fleet.test,p1@fleet.test,Pe,One,Secret-Pass-1,Acme,,\n\
     drtrack,dr00001,d1@fleet.test,Dr,One,,,Driver,\n"
        .to_string()
}

/// `muster COMMAND ROSTER --config CONFIG --out DIR/out.xlsx --quiet EXTRA…`, in-process.
async fn quietly(
    w: &World,
    command: &str,
    roster: &Path,
    config: &Path,
    extra: &[&str],
) -> anyhow::Result<Exit> {
    let out = w.path(&format!("{command}.xlsx"));
    let mut args = vec![
        command,
        roster.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    w.muster(&args).await
}

#[tokio::test]
async fn every_missing_variable_is_listed_at_once() {
    let w = World::start(Options::default()).await;
    let config = w.config("");
    let roster = w.write("roster.csv", &five_targets());
    let out = w.path("results.xlsx");
    let journal = w.path("j.db");
    let argv = [
        "muster",
        "import",
        roster.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--quiet",
    ];
    let err = muster::run(Cli::parse_from(argv), &Env::with([]))
        .await
        .unwrap_err()
        .to_string();
    for var in [
        "SANDBOX_TRACCAR_TOKEN",
        "SANDBOX_MOTIVE_API_KEY",
        "SANDBOX_PEGASUS_USER",
        "SANDBOX_PEGASUS_PASSWORD",
        "SANDBOX_DRTRACK_USER",
        "SANDBOX_DRTRACK_PASSWORD",
    ] {
        assert!(err.contains(var), "{var} missing from: {err}");
    }
    assert_eq!(w.sandbox.stats()["traccar"]["requests"], 0);
}

#[tokio::test]
async fn an_unknown_target_flag_cannot_run_and_suggests_the_closest() {
    let w = World::start(Options::default()).await;
    let config = w.config("");
    let roster = w.write("roster.csv", &crate::support::traccar_roster(2));
    for command in ["import", "audit", "validate"] {
        let err = quietly(&w, command, &roster, &config, &["--target", "tracar"])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--target tracar: is not a target of ")
                && err.contains("; did you mean traccar?"),
            "{command}: {err}"
        );
    }
    assert_eq!(w.stat("traccar", "requests"), 0);
}

#[tokio::test]
async fn a_roster_naming_an_unknown_target_cannot_run_and_names_its_cells() {
    let w = World::start(Options::default()).await;
    let config = w.config("");
    let roster = w.write(
        "roster.csv",
        "target,name,email\ntraccar,A,a@x.test\ntracar,B,b@x.test\ntracar,C,c@x.test\nsamsara,D,d@x.test\n",
    );
    for command in ["import", "audit"] {
        let err = quietly(&w, command, &roster, &config, &[])
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("the roster names targets that are not in "),
            "{err}"
        );
        assert!(
            err.contains("\"tracar\" in ")
                && err.contains("A3; ")
                && err.contains("A4; did you mean traccar?"),
            "{command}: {err}"
        );
        assert!(
            err.contains("\"samsara\" in ") && err.contains("A5"),
            "{command}: {err}"
        );
    }
    assert_eq!(w.stat("traccar", "requests"), 0);
    // validate reports it per row, with the suggestion, and exits 1.
    let exit = quietly(&w, "validate", &roster, &config, &[])
        .await
        .unwrap();
    assert_eq!(exit, Exit::RowsFailed);
}

#[test]
fn every_command_finds_the_config_in_muster_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("elsewhere.toml");
    std::fs::write(
        &config,
        "[target.fleet]\nvendor = \"motive\"\nurl = \"https://m.example/v1\"\napi_key_env = \"MUSTER_TEST_SURELY_UNSET_KEY\"\n",
    )
    .unwrap();
    let roster = dir.path().join("roster.csv");
    std::fs::write(
        &roster,
        "target,first_name,last_name,email,role\nfleet,A,B,a@x.test,driver\n",
    )
    .unwrap();
    // validate knows the target `fleet` only from the config MUSTER_CONFIG names.
    let run = |args: &[&str], env: Option<&std::path::Path>| {
        let mut c = Command::new(BIN);
        c.current_dir(dir.path())
            .args(args)
            .env_remove("MUSTER_CONFIG");
        if let Some(p) = env {
            c.env("MUSTER_CONFIG", p);
        }
        c.output().unwrap()
    };
    let with = run(&["validate", "roster.csv", "--quiet"], Some(&config));
    assert_eq!(
        with.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let without = run(&["validate", "roster.csv", "--quiet"], None);
    assert_eq!(without.status.code(), Some(1));
    // import reads the same config and says the variable it names is not set.
    let import = run(&["import", "roster.csv", "--quiet"], Some(&config));
    assert_eq!(import.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(stderr.contains("MUSTER_TEST_SURELY_UNSET_KEY"), "{stderr}");
    // --config wins over MUSTER_CONFIG.
    let wins = run(
        &["validate", "roster.csv", "--quiet", "--config", "nope.toml"],
        Some(&config),
    );
    assert_eq!(wins.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wins.stderr).contains("nope.toml"));
}

#[test]
fn every_bad_config_key_is_listed_with_its_place_and_no_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("muster.toml"),
        "[target.fleet]\nvendor = \"motive\"\nurl = \"https://m.example/v1\"\napi_key = \"sk-live-hunter2\"\nconcurency = 3\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("r.csv"), "target,email\nfleet,a@x.test\n").unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env_remove("MUSTER_CONFIG")
        .args(["import", "r.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("muster.toml:4:1: target.fleet.api_key: a credential written in the config"),
        "{stderr}"
    );
    assert!(stderr.contains("name it with api_key_env"), "{stderr}");
    assert!(
        stderr.contains(
            "muster.toml:5:1: target.fleet.concurency: unknown key; did you mean concurrency?"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
