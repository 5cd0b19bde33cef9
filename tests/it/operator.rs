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

/// `quietly` an import, with its own journal in the test's folder.
async fn import(w: &World, roster: &Path, config: &Path, extra: &[&str]) -> anyhow::Result<Exit> {
    let journal = w.path("j.db");
    let mut args = vec!["--journal", journal.to_str().unwrap()];
    args.extend_from_slice(extra);
    quietly(w, "import", roster, config, &args).await
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

/// A loopback webhook receiver: records each POST's body and answers with the statuses
/// given, one per request (the last repeats); `None` never answers.
pub(crate) struct Receiver {
    url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    pub(crate) async fn start(answers: Vec<Option<u16>>) -> Receiver {
        use axum::http::StatusCode;
        use std::sync::{Arc, Mutex};
        let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let seen = bodies.clone();
        let app = axum::Router::new().route(
            "/hook/T1/secret-path",
            axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
                let seen = seen.clone();
                let answers = answers.clone();
                async move {
                    let n = {
                        let mut b = seen.lock().unwrap();
                        b.push(body);
                        b.len()
                    };
                    match answers[(n - 1).min(answers.len() - 1)] {
                        Some(code) => StatusCode::from_u16(code).unwrap(),
                        None => std::future::pending().await,
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/hook/T1/secret-path"),
            bodies,
        }
    }

    pub(crate) fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }
}

/// The sandbox's config with a `[notify]` section for `hook`.
pub(crate) fn config_with_hook(w: &World, hook: &Receiver, on: &str) -> std::path::PathBuf {
    let config = w.config("");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[notify]\nwebhook = \"{}\"\nnotify_on = \"{on}\"\n",
        hook.url
    ));
    std::fs::write(&config, text).unwrap();
    config
}

/// Two Traccar users and one row with a bad e-mail address; a password column to mask.
const TWO_AND_A_BAD_ONE: &str = "target,name,email,password\n\
    traccar,Ana,ana@fleet.test,Sup3r-Secret-A\n\
    traccar,Bo,bo@fleet.test,Sup3r-Secret-B\n\
    traccar,Cy,not-an-address,Sup3r-Secret-C\n";

#[tokio::test]
async fn the_webhook_gets_one_post_per_run_with_the_counts_and_no_secret() {
    let w = World::start(Options::default()).await;
    let hook = Receiver::start(vec![Some(200)]).await;
    let config = config_with_hook(&w, &hook, "always");
    let roster = w.write("roster.csv", TWO_AND_A_BAD_ONE);
    let exit = import(&w, &roster, &config, &[]).await.unwrap();
    assert_eq!(exit, Exit::RowsFailed);
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body = &bodies[0];
    assert_eq!(body["command"], "import");
    assert_eq!(body["ok"], false);
    assert_eq!(body["errors"], 1);
    assert_eq!(body["targets"][0]["target"], "traccar");
    assert_eq!(body["targets"][0]["statuses"]["created"], 2);
    assert_eq!(body["targets"][0]["statuses"]["invalid"], 1);
    assert!(
        body["workbook"].as_str().unwrap().ends_with("import.xlsx"),
        "{body}"
    );
    let first = body["first_errors"][0].as_str().unwrap();
    assert!(
        first.contains("row 4 (invalid, traccar)") && first.contains("not-an-address"),
        "{first}"
    );
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains(body["run_id"].as_str().unwrap()) && text.contains("2 created"),
        "{text}"
    );
    let all = body.to_string();
    for (_, secret) in muster::sandbox::Sandbox::credentials() {
        assert!(!all.contains(&secret), "a credential in {all}");
    }
    assert!(!all.contains("Sup3r-Secret"), "a password in {all}");

    // --notify-on failure: a run that fully succeeds tells nobody.
    let good = w.write("good.csv", "target,name,email\ntraccar,Di,di@fleet.test\n");
    let exit = import(&w, &good, &config, &["--notify-on", "failure"])
        .await
        .unwrap();
    assert_eq!(exit, Exit::Success);
    assert_eq!(hook.bodies().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_webhook_that_answers_500_gets_the_post_again() {
    let w = World::start(Options::default()).await;
    let hook = Receiver::start(vec![Some(500), Some(200)]).await;
    let config = config_with_hook(&w, &hook, "failure");
    let roster = w.write("roster.csv", TWO_AND_A_BAD_ONE);
    let exit = import(&w, &roster, &config, &[]).await.unwrap();
    assert_eq!(exit, Exit::RowsFailed);
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test(start_paused = true)]
async fn a_webhook_that_never_answers_changes_no_exit_code() {
    let w = World::start(Options::default()).await;
    let hook = Receiver::start(vec![None]).await;
    let config = config_with_hook(&w, &hook, "always");
    let good = w.write("good.csv", "target,name,email\ntraccar,Di,di@fleet.test\n");
    let exit = import(&w, &good, &config, &[]).await.unwrap();
    assert_eq!(exit, Exit::Success);
    // Each attempt reached the receiver, and none was answered.
    assert_eq!(hook.bodies().len(), 4);
}

#[tokio::test]
async fn an_audit_with_fail_on_drift_tells_the_webhook() {
    let w = World::start(Options::default()).await;
    let hook = Receiver::start(vec![Some(200)]).await;
    let config = config_with_hook(&w, &hook, "failure");
    let roster = w.write(
        "roster.csv",
        "target,name,email\ntraccar,Ana,ana@fleet.test\n",
    );
    let exit = quietly(&w, "audit", &roster, &config, &["--fail-on-drift"])
        .await
        .unwrap();
    assert_eq!(exit, Exit::RowsFailed);
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["command"], "audit");
    assert!(
        bodies[0]["first_errors"][0]
            .as_str()
            .unwrap()
            .contains("ana@fleet.test is missing"),
        "{}",
        bodies[0]
    );
    // Without --fail-on-drift an audit tells nobody.
    quietly(&w, "audit", &roster, &config, &[]).await.unwrap();
    assert_eq!(hook.bodies().len(), 1);
}

#[test]
fn the_ending_names_the_time_the_first_failures_and_the_next_step() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = rt.block_on(World::start(Options::default()));
    let config = w.config("");
    w.write("roster.csv", TWO_AND_A_BAD_ONE);
    let out = Command::new(BIN)
        .current_dir(w.dir.path())
        .envs(muster::sandbox::Sandbox::credentials())
        .env_remove("MUSTER_CONFIG")
        .args(["import", "roster.csv", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(" finished in "), "{stderr}");
    assert!(
        stderr.contains("1 row needs fixing; they are:\n  roster.csv row 4 (invalid, traccar): "),
        "{stderr}"
    );
    assert!(
        stderr.contains("next: fix the Errors sheet in results.xlsx and run: muster import results.xlsx --config "),
        "{stderr}"
    );
    assert!(!stderr.contains("Sup3r-Secret"), "{stderr}");
    drop(w);
}
