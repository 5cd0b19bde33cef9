//! The Traccar connector's requests checked against Traccar's official OpenAPI file with
//! Prism (`prism mock --errors` answers a request that breaks the spec with a 4xx and an
//! `sl-violations` header, which fails the row). Prism comes from npm via `.ci/run`; without
//! it this test says why it skips, and fails instead when CI=true.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use muster::model::Status;
use muster::{Cli, Env, Exit};

fn prism() -> Option<PathBuf> {
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/node_modules/.bin/prism");
    if local.exists() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("prism"))
            .find(|p| p.exists())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traccar_requests_follow_the_official_openapi_file() {
    let Some(prism) = prism() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("Prism is not installed: .ci/run installs it with npm (see .ci/package.json)");
        }
        eprintln!(
            "skipped: Prism is not installed (cd .ci && npm install) — this test checks requests against the Traccar OpenAPI file"
        );
        return;
    };
    let spec =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/traccar-openapi.yaml");
    let port = free_port();
    let mut child = Command::new(&prism)
        .args([
            "mock",
            "--errors",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .arg(&spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prism starts");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "Prism did not start listening"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("muster.toml");
    std::fs::write(
        &config,
        format!(
            "[target.traccar]\nvendor = \"traccar\"\nurl = \"http://127.0.0.1:{port}\"\ntoken_env = \"PRISM_TOKEN\"\nrate = \"none\"\n"
        ),
    )
    .unwrap();
    // Prism's example device has uniqueId "string": the first row links it.
    let roster = dir.path().join("roster.csv");
    std::fs::write(
        &roster,
        "target,first_name,last_name,email,phone,devices,readonly,expiration_time\n\
         traccar,Ana,Pop,ana@example.com,+40712345678,string,true,2027-01-31\n\
         traccar,Ben,Ode,ben@example.com,,,,\n",
    )
    .unwrap();
    let journal = dir.path().join("j.db");
    let cli = Cli::parse_from([
        "muster",
        "import",
        roster.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--out",
        dir.path().join("r.xlsx").to_str().unwrap(),
        "--quiet",
    ]);
    let env = Env::with([("PRISM_TOKEN".to_string(), "dXNlcjpwYXNz".to_string())]);
    let exit = muster::run(cli, &env).await;
    let _ = child.kill();
    let mut log = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut log);
    }
    let _ = child.wait();
    let exit = exit.expect("import runs");
    let j = muster::journal::Journal::open(&journal).unwrap();
    let run = j.runs().unwrap().remove(0);
    for row in j.rows(&run.info.run_id).unwrap() {
        let o = row.outcome.unwrap();
        assert_eq!(
            o.status,
            Status::Created,
            "row {}: {:?}\nprism log:\n{log}",
            row.line,
            o.error
        );
    }
    assert_eq!(exit, Exit::Success);
    let violations: Vec<&str> = log.lines().filter(|l| l.contains("Violation")).collect();
    assert!(
        violations.is_empty(),
        "Prism reported violations:\n{}",
        violations.join("\n")
    );
    // The connector really exercised probe, list, create and permissions.
    for path in ["/devices", "/users", "/permissions"] {
        assert!(log.contains(path), "Prism saw no request to {path}:\n{log}");
    }
}
