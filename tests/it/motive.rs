//! Integration tests: the Motive connector against the Motive simulator, over loopback.
//!
//! Rows go through the engine (`submit::submit`) with a real journal, so the exactly-once
//! bookkeeping is the one `muster import` uses; the simulator's counters prove that nothing
//! was created twice.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use clap::Parser as _;
use muster::cli::Mode;
use muster::config::{Credentials, Rate, Target};
use muster::journal::Journal;
use muster::model::identity_key;
use muster::model::{Action, Field, Layout, Outcome, Row, Status, VendorKind};
use muster::sandbox::motive::Motive as Sim;
use muster::sandbox::{Options, Sandbox, seed};
use muster::secret::Secret;
use muster::submit::{self, Silent, TargetWork};
use muster::vendors::Job;
use muster::{Cli, Env};

use crate::support;

const KEY: &str = "sandbox-motive-key";

/// A sandbox on 127.0.0.1:0 and the URL of its Motive simulator.
async fn start_with(options: Options) -> (Sandbox, String) {
    let sandbox = Sandbox::start("127.0.0.1:0", options).await.unwrap();
    let url = format!("{}/motive/v1", sandbox.url());
    (sandbox, url)
}

async fn start() -> (Sandbox, String) {
    start_with(Options::default()).await
}

fn stat(sandbox: &Sandbox, name: &str) -> u64 {
    sandbox.stats()["motive"][name].as_u64().unwrap_or(0)
}

fn user_count(sandbox: &Sandbox) -> usize {
    sandbox
        .platform("motive")
        .and_then(|p| p.state::<Sim>())
        .map(|s| s.user_count())
        .unwrap()
}

fn target(url: &str) -> Target {
    let mut t = Target::with_defaults("motive", VendorKind::Motive, url);
    t.rate = Rate::Unlimited;
    t.concurrency = 8;
    t
}

/// Rows from a header line and cell lines (`,`-separated; `motive.x` headers pass through).
fn rows(headers: &str, lines: &[String]) -> Vec<Row> {
    let headers: Vec<&str> = headers.split(',').collect();
    let mut layout = Layout {
        file: "roster.csv".into(),
        sheet: "roster".into(),
        header_row: 1,
        ..Layout::default()
    };
    for (i, h) in headers.iter().enumerate() {
        layout.headers.push(h.to_string());
        layout
            .fields
            .push(Field::ALL.iter().copied().find(|f| f.name() == *h));
        if let Some(name) = h.strip_prefix("motive.") {
            layout
                .passthrough
                .push((i, VendorKind::Motive, name.to_string()));
        }
    }
    let layout = Arc::new(layout);
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| Row {
            index: i,
            layout: layout.clone(),
            line: i as u32 + 2,
            cells: line.split(',').map(str::to_string).collect(),
            errors: vec![],
        })
        .collect()
}

const HEADERS: &str =
    "first_name,last_name,email,role,groups,eld_mode,time_tracking_mode,phone,motive.user_role_id";

/// `n` rows: every third a fleet user restricted to groups, the others drivers in a group.
fn roster(n: usize) -> Vec<Row> {
    let lines: Vec<String> = (0..n)
        .map(|i| {
            if i % 3 == 0 {
                format!("Fleet,User{i},fleet{i}@motive.test,fleet_user,North|South,,,+1555{i:06},7")
            } else {
                format!("Drive,Er{i},driver{i}@motive.test,driver,East,logs,logs,+1666{i:06},")
            }
        })
        .collect();
    rows(HEADERS, &lines)
}

struct Run {
    outcomes: HashMap<usize, Outcome>,
    halted: Option<String>,
}

async fn run(t: &Target, key: &str, journal: &Path, rows: &[Row], mode: Mode) -> Run {
    run_as(t, key, journal, rows, mode, false).await
}

async fn run_as(
    t: &Target,
    key: &str,
    journal: &Path,
    rows: &[Row],
    mode: Mode,
    dry_run: bool,
) -> Run {
    let journal = Arc::new(Journal::open(journal).unwrap());
    let jobs = rows
        .iter()
        .map(|r| Job {
            index: r.index,
            row: Arc::new(r.clone()),
            action: Action::Create,
            key: identity_key(VendorKind::Motive, r).unwrap(),
        })
        .collect();
    let (outcomes, stats) = submit::submit(
        vec![TargetWork {
            target: t.clone(),
            credentials: Credentials {
                token: Some(Secret::new(key)),
                ..Credentials::default()
            },
            jobs,
        }],
        submit::Options {
            run_id: "run".into(),
            dry_run,
            mode,
            deadline: None,
            journal,
            reporter: Arc::new(Silent),
            secrets: None,
            purpose: Default::default(),
            interrupt: Default::default(),
            max_failures: None,
            lease: None,
            prune: false,
        },
    )
    .await
    .unwrap();
    Run {
        outcomes,
        halted: stats[0].halted.clone(),
    }
}

fn count(run: &Run, status: Status) -> usize {
    run.outcomes.values().filter(|o| o.status == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drivers_and_fleet_users_are_created_once_and_a_rerun_finds_them() {
    let (sim, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let t = target(&url);
    let roster = roster(300);
    let first = run(&t, KEY, &dir.path().join("j.db"), &roster, Mode::Create).await;
    assert_eq!(
        count(&first, Status::Created),
        300,
        "{:?}",
        first.outcomes.get(&0)
    );
    assert_eq!(stat(&sim, "created"), 300);
    assert_eq!(stat(&sim, "duplicates_refused"), 0);
    assert!(first.outcomes.values().all(|o| o.user_id.is_some()));

    let again = run(&t, KEY, &dir.path().join("j.db"), &roster, Mode::Create).await;
    assert_eq!(count(&again, Status::Exists), 300);
    assert_eq!(stat(&sim, "created"), 300, "a re-run creates nothing");
    // A lost journal: the platform's external ids still say the users are ours.
    let fresh = run(&t, KEY, &dir.path().join("other.db"), &roster, Mode::Create).await;
    assert_eq!(count(&fresh, Status::Exists), 300);
    assert_eq!(stat(&sim, "created"), 300);
    assert_eq!(stat(&sim, "duplicates_refused"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_mode_key_fails_the_first_row_and_halts_the_target() {
    let (sim, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let run = run(
        &target(&url),
        seed::MOTIVE_TEST_MODE_KEY,
        &dir.path().join("j.db"),
        &roster(20),
        Mode::Create,
    )
    .await;
    assert_eq!(count(&run, Status::Failed), 1);
    assert_eq!(count(&run, Status::NotAttempted), 19);
    let failed = run
        .outcomes
        .values()
        .find(|o| o.status == Status::Failed)
        .unwrap();
    let error = failed.error.as_deref().unwrap();
    assert!(error.contains("test mode"), "{error}");
    assert!(error.contains("no user was saved"), "{error}");
    assert!(run.halted.unwrap().contains("test mode"));
    assert_eq!(user_count(&sim), 0);
    assert_eq!(stat(&sim, "test_mode_writes"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_group_makes_the_row_invalid_before_anything_is_sent() {
    let (sim, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        "Ana,Diaz,ana@motive.test,driver,North|Nowhere,,,,".to_string(),
        "Bo,Li,bo@motive.test,driver,102,,,,".to_string(),
    ];
    let rows = rows(HEADERS, &lines);
    let run = run(
        &target(&url),
        KEY,
        &dir.path().join("j.db"),
        &rows,
        Mode::Create,
    )
    .await;
    let bad = &run.outcomes[&0];
    assert_eq!(bad.status, Status::Invalid);
    assert_eq!(
        bad.error.as_deref(),
        Some(
            "groups (E2): \"North|Nowhere\" names group \"Nowhere\", which target motive does not have (by name or id)"
        )
    );
    assert_eq!(
        run.outcomes[&1].status,
        Status::Created,
        "a group id works too"
    );
    assert_eq!(user_count(&sim), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_rules_stop_rows_before_they_are_sent() {
    let (sim, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        // role
        "Ana,Diaz,a@motive.test,dispatcher,,,,,".to_string(),
        // eld × time tracking pair
        "Bo,Li,b@motive.test,driver,,exempt,logs,,".to_string(),
        // names
        ",Li,c@motive.test,driver,,,,,".to_string(),
        // driver fields on a fleet user
        "Di,Wu,d@motive.test,fleet_user,,logs,logs,,".to_string(),
        // fleet user with groups but no role id
        "Ed,Ng,e@motive.test,fleet_user,North,,,,".to_string(),
    ];
    let rows = rows(HEADERS, &lines);
    let run = run(
        &target(&url),
        KEY,
        &dir.path().join("j.db"),
        &rows,
        Mode::Create,
    )
    .await;
    // The messages are the validation stage's: one rule, one home, one message.
    let wants = [
        "role (D2): \"dispatcher\" is not one of driver, fleet_user, admin",
        "eld_mode (F3): \"exempt\" does not go with time_tracking_mode \"logs\" (allowed: logs with logs or none; timecards with exempt; not_required with exempt)",
        "first_name (A4): is required",
        "eld_mode (F5): \"logs\" is only for drivers (role is fleet_user)",
        "groups (E6): \"North\" restricts a fleet user to groups, which Motive does through a custom user role",
    ];
    for (i, want) in wants.iter().enumerate() {
        let o = &run.outcomes[&i];
        assert_eq!(o.status, Status::Invalid, "row {i}");
        assert!(
            o.error.as_deref().unwrap_or("").contains(want),
            "row {i}: {:?}",
            o.error
        );
    }
    assert_eq!(user_count(&sim), 0);
    assert_eq!(
        stat(&sim, "requests"),
        3,
        "only the probe, the user list and the group list"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upsert_puts_only_what_differs() {
    let (sim, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let t = target(&url);
    let j = dir.path().join("j.db");
    let before = roster(6);
    assert_eq!(
        count(
            &run(&t, KEY, &j, &before, Mode::Create).await,
            Status::Created
        ),
        6
    );
    let mut after = before.clone();
    after[1].cells.set(7, "+19990001"); // phone of a driver
    let up = run(&t, KEY, &j, &after, Mode::Upsert).await;
    assert_eq!(up.outcomes[&1].status, Status::Updated);
    assert_eq!(count(&up, Status::Exists), 5);
    assert_eq!(stat(&sim, "updated"), 1);
    let again = run(&t, KEY, &j, &after, Mode::Upsert).await;
    assert_eq!(count(&again, Status::Exists), 6);
    assert_eq!(stat(&sim, "updated"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_made_elsewhere_exists_and_a_taken_username_fails() {
    let (sim, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let t = target(&url);
    // Someone else's users, without muster's external ids.
    let other = rows(
        "first_name,last_name,email,username",
        &[
            "Ana,Diaz,ana@motive.test,ana".to_string(),
            "Bo,Li,bo@motive.test,bo".to_string(),
        ],
    );
    let mut t2 = t.clone();
    t2.name = "someone-else".into();
    t2.integration_name = "hr-system".into();
    run(&t2, KEY, &dir.path().join("x.db"), &other, Mode::Create).await;
    assert_eq!(user_count(&sim), 2);
    let mine = rows(
        "first_name,last_name,email,username",
        &[
            "Ana,Diaz,ANA@motive.test,ana".to_string(),
            "Cy,Ho,cy@motive.test,bo".to_string(),
        ],
    );
    let run = run(&t, KEY, &dir.path().join("j.db"), &mine, Mode::Create).await;
    assert_eq!(run.outcomes[&0].status, Status::Exists);
    assert_eq!(run.outcomes[&1].status, Status::Failed);
    let e = run.outcomes[&1].error.as_deref().unwrap();
    assert!(
        e.contains("username \"bo\" is taken on target motive"),
        "{e}"
    );
    assert_eq!(user_count(&sim), 2);
    assert_eq!(stat(&sim, "duplicates_refused"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_halts_the_target_and_bearer_auth_works() {
    let (_sandbox, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let bad = run(
        &target(&url),
        "wrong",
        &dir.path().join("j.db"),
        &roster(3),
        Mode::Create,
    )
    .await;
    assert_eq!(count(&bad, Status::NotAttempted), 3);
    let halted = bad.halted.unwrap();
    assert!(halted.contains("HTTP 401"), "{halted}");
    assert!(!halted.contains("wrong"), "the key never appears: {halted}");
    let mut bearer = target(&url);
    bearer.bearer = true;
    let ok = run(
        &bearer,
        KEY,
        &dir.path().join("j.db"),
        &roster(3),
        Mode::Create,
    )
    .await;
    assert_eq!(count(&ok, Status::Created), 3);
}

/// The roster as a CSV file, `n` rows, for `muster import`.
fn roster_csv(path: &Path, n: usize) {
    let mut text = format!("target,{HEADERS}\n");
    for i in 0..n {
        if i % 3 == 0 {
            text.push_str(&format!(
                "motive,Fleet,User{i},fleet{i}@motive.test,fleet_user,North|South,,,+1555{i:07},7\n"
            ));
        } else {
            text.push_str(&format!(
                "motive,Drive,Er{i},driver{i}@motive.test,driver,East,logs,logs,+1666{i:07},\n"
            ));
        }
    }
    std::fs::write(path, text).unwrap();
}

/// `muster import` in-process; returns the outcome of every row of the run.
async fn import(dir: &Path, config: &Path, csv: &Path) -> Vec<Outcome> {
    let journal = dir.join("j.db");
    let cli = Cli::parse_from([
        "muster".to_string(),
        "import".into(),
        csv.display().to_string(),
        "--config".into(),
        config.display().to_string(),
        "--journal".into(),
        journal.display().to_string(),
        "--out".into(),
        dir.join("r.xlsx").display().to_string(),
        "--quiet".into(),
    ]);
    muster::run(cli, &Env::with(Sandbox::credentials()))
        .await
        .unwrap();
    let j = Journal::open(&journal).unwrap();
    let run = j.runs().unwrap().remove(0);
    j.rows(&run.info.run_id)
        .unwrap()
        .into_iter()
        .map(|r| r.outcome.expect("every row has an outcome"))
        .collect()
}

/// Issue 5's acceptance: 2,000 drivers and fleet users, 10% injected errors and 2% creates
/// whose answer never comes → every row created or failed with a reason, nothing refused
/// as a duplicate, and the platform's count equals the rows reported created; the same
/// file again → every row `exists`, nothing created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_rows_with_faults_are_created_exactly_once() {
    let rows: usize = std::env::var("MUSTER_MOTIVE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let (sandbox, _url) = start_with(Options {
        error_rate: 0.1,
        timeout_rate: 0.02,
        seed: Some(5),
        ..Options::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    // The sandbox's config, without its pacing (the limiter is tested on its own) and with
    // a short timeout, so a withheld answer costs half a second.
    let config = sandbox
        .config_toml()
        .replace("rate = \"50/s\"", "rate = \"unlimited\"")
        .replace("timeout = \"5s\"", "timeout = \"500ms\"");
    let config_path = dir.path().join("muster.toml");
    std::fs::write(&config_path, config).unwrap();
    let csv = dir.path().join("motive.csv");
    roster_csv(&csv, rows);

    let first = import(dir.path(), &config_path, &csv).await;
    assert_eq!(first.len(), rows);
    let created = first.iter().filter(|o| o.status == Status::Created).count();
    for o in &first {
        match o.status {
            Status::Created => assert!(o.user_id.is_some()),
            Status::Failed => assert!(o.error.as_deref().is_some_and(|e| !e.is_empty()), "{o:?}"),
            other => panic!("unexpected {other}: {o:?}"),
        }
    }
    eprintln!(
        "{created}/{rows} created; motive stats: {}",
        sandbox.stats()["motive"]
    );
    assert!(
        stat(&sandbox, "timeouts_injected") > 0,
        "the faults happened"
    );
    assert!(stat(&sandbox, "errors_injected") > 0);
    assert_eq!(stat(&sandbox, "duplicates_refused"), 0);
    assert_eq!(stat(&sandbox, "created") as usize, created);
    assert_eq!(user_count(&sandbox), created);
    assert!(
        created * 10 >= rows * 9,
        "most rows get through: {created}/{rows}"
    );

    let again = import(dir.path(), &config_path, &csv).await;
    let failed_before = rows - created;
    let exists = again.iter().filter(|o| o.status == Status::Exists).count();
    assert!(
        exists >= created,
        "{exists} exists, {created} created before"
    );
    assert_eq!(
        stat(&sandbox, "created") as usize,
        created + again.iter().filter(|o| o.status == Status::Created).count()
    );
    if failed_before == 0 {
        assert_eq!(exists, rows);
    }
    assert_eq!(stat(&sandbox, "duplicates_refused"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_plans_without_writing() {
    let (sandbox, url) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let t = target(&url);
    let j = dir.path().join("j.db");
    let roster = roster(6);
    run(&t, KEY, &j, &roster[..2], Mode::Create).await;
    let dry = run_as(&t, KEY, &j, &roster, Mode::Create, true).await;
    assert_eq!(count(&dry, Status::Exists), 2);
    assert_eq!(count(&dry, Status::Planned), 4);
    assert_eq!(stat(&sandbox, "writes"), 2, "only the first run wrote");
    assert_eq!(user_count(&sandbox), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platforms_429s_slow_the_target_down_without_losing_rows() {
    let (sandbox, url) = start_with(Options {
        rate: Some(Rate::parse("40/s").unwrap()),
        seed: Some(3),
        ..Options::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let run = run(
        &target(&url),
        KEY,
        &dir.path().join("j.db"),
        &roster(60),
        Mode::Create,
    )
    .await;
    assert_eq!(
        count(&run, Status::Created),
        60,
        "{:?}",
        run.outcomes.get(&0)
    );
    assert!(stat(&sandbox, "rate_limited") > 0, "the limit was met");
    assert_eq!(stat(&sandbox, "created"), 60);
    assert_eq!(stat(&sandbox, "duplicates_refused"), 0);
}

/// A platform that refuses a create as taken although the user is the row's own (its
/// earlier create's answer was lost): muster looks it up and adopts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_as_taken_of_our_own_user_is_adopted_not_failed() {
    use axum::Json;
    use axum::http::StatusCode;
    use axum::routing::get;
    use serde_json::json;
    let user = json!({"user": {"id": 77, "email": "ana@motive.test",
        "external_ids": [{"id": 1, "external_id": "EMP-1", "integration_name": "muster"}]}});
    let found = user.clone();
    let app = axum::Router::new()
        .route(
            "/v1/companies",
            get(|| async { Json(json!({"companies": []})) }),
        )
        .route(
            "/v1/users",
            get(|| async { Json(json!({"users": [], "pagination": {"total": 0}})) }).post(
                || async {
                    (
                        StatusCode::BAD_REQUEST,
                        Json(json!({"error_message": "External id has already been taken"})),
                    )
                },
            ),
        )
        .route(
            "/v1/users/lookup_by_external_id",
            get(move || {
                let found = found.clone();
                async move { Json(found) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(
        "first_name,last_name,email,external_id",
        &["Ana,Diaz,ana@motive.test,EMP-1".to_string()],
    );
    let run = run(
        &target(&format!("http://{addr}/v1")),
        KEY,
        &dir.path().join("j.db"),
        &rows,
        Mode::Create,
    )
    .await;
    let o = &run.outcomes[&0];
    assert_eq!(o.status, Status::Created, "{o:?}");
    assert_eq!(o.user_id.as_deref(), Some("77"));
}

/// The simulator itself: what the contract refuses is refused with `error_message`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_keeps_the_contract() {
    use serde_json::{Value, json};
    let (sandbox, url) = start().await;
    let http = support::client();
    let post = |body: Value, key: &'static str| {
        http.post(format!("{url}/users"))
            .header("X-Api-Key", key)
            .json(&body)
            .send()
    };
    let ana = json!({"first_name": "Ana", "last_name": "Diaz", "email": "ana@x.test",
        "external_ids_attributes": [{"external_id": "E1", "integration_name": "muster"}]});
    let r = post(ana.clone(), KEY).await.unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["user"]["external_ids"][0]["external_id"], "E1");
    assert!(created["user"].get("password").is_none());
    let cases = [
        (ana.clone(), "Email has already been taken"),
        (
            json!({"first_name": "B", "last_name": "C", "email": "b@x.test",
                "external_ids_attributes": [{"external_id": "E1", "integration_name": "muster"}]}),
            "External id has already been taken",
        ),
        (json!({"last_name": "C"}), "First name can't be blank"),
        (
            json!({"first_name": "B", "last_name": "C", "role": "dispatcher"}),
            "Role \"dispatcher\" is not included in the list",
        ),
        (
            json!({"first_name": "B", "last_name": "C", "eld_mode": "exempt", "time_tracking_mode": "logs"}),
            "Eld mode \"exempt\" is not allowed with time tracking mode \"logs\"",
        ),
        (
            json!({"first_name": "B", "last_name": "C", "role": "fleet_user", "group_ids": [101]}),
            "group_ids can only be set on drivers; restrict fleet users with custom_user_role and group_visibility",
        ),
        (
            json!({"first_name": "B", "last_name": "C", "role": "fleet_user",
                "custom_user_role": {"user_role_id": 7, "group_ids": [101]}}),
            "custom_user_role with group_ids needs group_visibility \"limited\"",
        ),
        (
            json!({"first_name": "B", "last_name": "C", "group_ids": [999]}),
            "Group 999 not found",
        ),
    ];
    for (body, want) in cases {
        let r = post(body.clone(), KEY).await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let got: Value = r.json().await.unwrap();
        assert_eq!(got["error_message"], want, "{body}");
    }
    assert_eq!(stat(&sandbox, "duplicates_refused"), 2);

    // The test-mode key: a valid create answers 200 and nothing is kept.
    let bo = json!({"first_name": "Bo", "last_name": "Li", "email": "bo@x.test"});
    assert_eq!(
        post(bo, seed::MOTIVE_TEST_MODE_KEY).await.unwrap().status(),
        200
    );
    assert_eq!(user_count(&sandbox), 1);
    // A wrong key, and lookups that find nobody.
    let r = post(json!({}), "nope").await.unwrap();
    assert_eq!(r.status(), 401);
    let get = |path: &str| {
        http.get(format!("{url}{path}"))
            .header("Authorization", format!("Bearer {KEY}"))
            .send()
    };
    let r = get("/users/lookup?email=nobody@x.test").await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error_message": "user not found"})
    );
    let r = get("/users/lookup_by_external_id?external_id=E1&integration_name=muster")
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["user"]["email"],
        "ana@x.test"
    );
    let list: Value = get("/users?per_page=500")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["pagination"]["per_page"], 100,
        "per_page is capped at 100"
    );
    assert_eq!(list["users"][0]["user"]["email"], "ana@x.test");
    let groups: Value = get("/groups?per_page=2&page_no=3")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        groups["groups"],
        json!([{"group": {"id": 105, "name": "Yard"}}])
    );
}
