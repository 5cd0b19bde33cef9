//! A run that stops early ends cleanly: past `--deadline` (issue 25, item 8) or on SIGINT
//! or SIGTERM (issue 29), no new request is sent, requests in flight get a short grace and
//! are then cancelled (their outcome unknown, settled by the next run), every outcome is
//! recorded and the workbook written. Interrupted, muster says how far it got and exits 130.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use serde_json::{Value, json};

use muster::model::Status;
use muster::sandbox::{Options, Sandbox};

use crate::support::{World, serve, traccar_answering, traccar_roster};

/// A loopback Traccar that makes each user it is asked to, and never answers the first
/// create (the request stays in flight until the client gives up); it lists what it made.
fn hanging_first_create(posts: Arc<AtomicUsize>) -> Router {
    let made: Arc<Mutex<Vec<Value>>> = Arc::default();
    let listed = made.clone();
    Router::new()
        .route("/api/devices", get(|| async { "[]" }))
        .route(
            "/api/users",
            get(move |q: Query<HashMap<String, String>>| {
                let listed = listed.clone();
                async move {
                    let users = listed.lock().unwrap().clone();
                    let users: Vec<Value> = match q.get("keyword") {
                        Some(k) => users
                            .into_iter()
                            .filter(|u| u["email"] == k.as_str())
                            .collect(),
                        None => users,
                    };
                    axum::Json(users)
                }
            })
            .post(move |body: axum::Json<Value>| {
                let (posts, made) = (posts.clone(), made.clone());
                async move {
                    let n = posts.fetch_add(1, Ordering::SeqCst);
                    let user = json!({"id": 100 + n, "email": body["email"]});
                    made.lock().unwrap().push(user.clone());
                    if n == 0 {
                        std::future::pending::<()>().await;
                    }
                    axum::Json(user)
                }
            }),
        )
}

#[tokio::test(start_paused = true)]
async fn a_deadline_cancels_the_request_in_flight_and_the_next_run_settles_it() {
    let posts = Arc::new(AtomicUsize::new(0));
    let addr = serve(hanging_first_create(posts.clone())).await;
    let w = World::start(Options::default()).await;
    // One request at a time, and a request timeout far beyond the deadline.
    let config = w.traccar_at(addr, "concurrency = 1\ntimeout = \"60s\"");
    let roster = w.write(
        "roster.csv",
        "target,name,email\ntraccar,A,a@x.test\ntraccar,B,b@x.test\n",
    );
    let (journal, out) = (w.path("j.db"), w.path("r.xlsx"));
    let started = tokio::time::Instant::now();
    let exit = w
        .import(&roster, &config, &journal, &out, &["--deadline", "2"])
        .await
        .expect("the run ends");
    let took = started.elapsed();
    assert_eq!(exit, muster::Exit::RowsFailed);
    assert!(
        took < Duration::from_secs(2 + 3 + 2),
        "ended {took:?} after it began: the deadline (2 s) and the grace (3 s), not the request timeout (60 s)"
    );
    assert_eq!(posts.load(Ordering::SeqCst), 1, "A's create, then nothing");
    let errors = w.last_run_errors(&journal, 5);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e
                .contains("deadline reached, with a request in flight; its outcome is unknown")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .all(|e| e.contains(": not attempted: deadline reached")),
        "{errors:?}"
    );

    // The next run looks A up (the platform made it) and creates only B.
    let exit = w
        .import(&roster, &config, &journal, &out, &[])
        .await
        .expect("the second run ends");
    assert_eq!(
        exit,
        muster::Exit::Success,
        "{:?}",
        w.last_run_errors(&journal, 5)
    );
    assert_eq!(
        posts.load(Ordering::SeqCst),
        2,
        "B's create only: A was not sent again"
    );
    assert_eq!(w.last_run_counts(&journal).get(&Status::Created), Some(&2));
}

const BIN: &str = env!("CARGO_BIN_EXE_muster");

/// SIGINT (and SIGTERM) to the real binary mid-run: requests in flight finish, the rest of
/// the rows are `not_attempted: interrupted`, the workbook is written, muster says how far
/// it got and exits 130; the same command again finishes, with no user made twice.
#[test]
fn an_interrupted_import_says_how_far_it_got_and_the_same_command_finishes_it() {
    for signal in ["INT", "TERM"] {
        let rt = tokio::runtime::Runtime::new().expect("a runtime for the sandbox");
        let w = rt.block_on(World::start(Options {
            latency_ms: 20,
            ..Options::default()
        }));
        let n = 400;
        let config = w.config("rate = \"none\"\nconcurrency = 4");
        let roster = w.write("roster.csv", &traccar_roster(n));
        let (journal, out) = (w.path("j.db"), w.path("r.xlsx"));
        let command = || {
            let mut c = Command::new(BIN);
            c.arg("import")
                .arg(&roster)
                .arg("--config")
                .arg(&config)
                .arg("--journal")
                .arg(&journal)
                .arg("--out")
                .arg(&out)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            for (k, v) in Sandbox::credentials() {
                c.env(k, v);
            }
            c
        };
        let child = command().spawn().expect("import starts");
        while w.stat("traccar", "created") < 20 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let done = child.wait_with_output().expect("import ends");
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(done.status.code(), Some(130), "SIG{signal}: {stderr}");
        assert!(stderr.contains("stopping: no new requests"), "{stderr}");
        let line = stderr
            .lines()
            .find(|l| l.starts_with("interrupted: "))
            .unwrap_or_else(|| panic!("no 'interrupted:' line: {stderr}"));
        assert!(
            line.ends_with("left; run the same command again to finish"),
            "{line}"
        );
        assert!(out.exists(), "the workbook is written");
        let counts = w.last_run_counts(&journal);
        let left = counts.get(&Status::NotAttempted).copied().unwrap_or(0);
        assert!(left > 0 && left < n, "SIG{signal}: {counts:?}");
        assert_eq!(
            line,
            format!(
                "interrupted: {} done, {left} left; run the same command again to finish",
                n - left
            )
        );
        assert!(
            w.last_run_errors(&journal, n)
                .iter()
                .filter(|e| e.contains(": not attempted"))
                .all(|e| e.contains(": not attempted: interrupted")),
            "SIG{signal}"
        );

        let again = command().output().expect("the same command runs again");
        assert_eq!(
            again.status.code(),
            Some(0),
            "SIG{signal}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        assert_eq!(w.stat("traccar", "created") as usize, n, "one user per row");
        assert_eq!(w.stat("traccar", "duplicates_refused"), 0);
    }
}

/// `--max-failures`: a platform that refuses every create (a systematic problem, such as a
/// field it does not accept) stops the target once more rows than the budget failed; the
/// rest are `not_attempted: failure budget spent`, and nothing more is sent.
#[tokio::test]
async fn a_spent_failure_budget_stops_the_target() {
    for (budget, posts_wanted) in [("3", 4), ("20%", 3)] {
        let (addr, posts) = traccar_answering(|_| {
            (
                axum::http::StatusCode::BAD_REQUEST,
                "java.lang.IllegalArgumentException: Unrecognized field \"phone\"",
            )
        })
        .await;
        let w = World::start(Options::default()).await;
        let config = w.traccar_at(addr, "concurrency = 1");
        let mut roster = String::from("target,name,email\n");
        for i in 0..10 {
            roster.push_str(&format!("traccar,U{i},u{i}@x.test\n"));
        }
        let roster = w.write("roster.csv", &roster);
        let (journal, out) = (w.path("j.db"), w.path("r.xlsx"));
        let exit = w
            .import(
                &roster,
                &config,
                &journal,
                &out,
                &["--max-failures", budget],
            )
            .await
            .expect("the run ends");
        assert_eq!(exit, muster::Exit::RowsFailed);
        // 10 rows: 3 allowed, the 4th failure stops it; 20% of 10 is 2, the 3rd stops it.
        assert_eq!(
            posts.load(Ordering::SeqCst),
            posts_wanted,
            "--max-failures {budget}"
        );
        let counts = w.last_run_counts(&journal);
        assert_eq!(
            counts.get(&Status::Failed),
            Some(&posts_wanted),
            "{counts:?}"
        );
        assert_eq!(
            counts.get(&Status::NotAttempted),
            Some(&(10 - posts_wanted))
        );
        let errors = w.last_run_errors(&journal, 10);
        assert!(
            errors
                .iter()
                .filter(|e| e.contains("not_attempted"))
                .all(|e| e.contains(": not attempted: failure budget spent")),
            "{errors:?}"
        );
    }
}
