//! The engine driving the DRTrack connector, against the simulator and against scripted
//! servers (exact sequences: token expiry, unanswered syncs, refused logins): batches,
//! their journaling and settling.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, put};
use serde_json::{Value, json};

use crate::config::Credentials;
use crate::config::{Rate, Target};
use crate::journal::Journal;
use crate::model::Mode;
use crate::model::Outcome;
use crate::model::StepState;
use crate::model::{Action, Status};
use crate::model::{Field, VendorKind};
use crate::model::{Layout, Row, TargetStats};
use crate::sandbox::{Options, Sandbox};
use crate::secret::Secret;
use crate::submit;
use crate::vendors::Job;
use crate::vendors::STEP_USER as STEP;

const HEADERS: &[(&str, Field)] = &[
    ("Login", Field::Username),
    ("E-Mail", Field::Email),
    ("First name", Field::FirstName),
    ("Last name", Field::LastName),
    ("User group", Field::UserGroup),
    ("Branches", Field::BranchIds),
    ("Password", Field::Password),
];

fn layout() -> Arc<Layout> {
    Arc::new(Layout {
        file: "roster.csv".into(),
        sheet: "roster".into(),
        is_workbook: false,
        header_row: 1,
        headers: HEADERS.iter().map(|(h, _)| h.to_string()).collect(),
        fields: HEADERS.iter().map(|(_, f)| Some(*f)).collect(),
        passthrough: Vec::new(),
    })
}

/// A job: login, email, user group, branches, password ("" = blank).
fn job(index: usize, cells: [&str; 5], action: Action) -> Job {
    let [login, email, group, branches, password] = cells;
    let row = Row {
        index,
        layout: layout(),
        line: index as u32 + 2,
        cells: [login, email, "Ann", "Lee", group, branches, password]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        errors: Vec::new(),
    };
    let key = crate::model::identity_key(VendorKind::Drtrack, &row).unwrap_or_default();
    Job {
        index,
        row: Arc::new(row),
        action,
        key,
    }
}

fn good(i: usize) -> Job {
    job(
        i,
        [
            &format!("user{i}"),
            &format!("user{i}@fleet.test"),
            "Driver",
            "",
            "Str0ng-Pass!",
        ],
        Action::Create,
    )
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn sim(atomic: bool) -> (Sandbox, String) {
    let options = Options {
        drtrack_atomic: atomic,
        ..Options::default()
    };
    let sandbox = Sandbox::start("127.0.0.1:0", options).await.unwrap();
    let url = format!("{}/drtrack/api/v1.0", sandbox.url());
    (sandbox, url)
}

struct Run {
    journal: Arc<Journal>,
    dry_run: bool,
    _dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        let dir = tempfile::tempdir().unwrap();
        Run {
            journal: Arc::new(Journal::open(&dir.path().join("j.db")).unwrap()),
            dry_run: false,
            _dir: dir,
        }
    }

    async fn go(
        &self,
        run_id: &str,
        url: &str,
        password: &str,
        mode: Mode,
        jobs: Vec<Job>,
    ) -> (HashMap<usize, Outcome>, TargetStats) {
        let mut target = Target::with_defaults("dr", VendorKind::Drtrack, url);
        target.rate = Rate::Unlimited;
        target.batch_size = 10;
        target.retries = 2;
        target.app_name = Some("acme".into());
        let credentials = Credentials {
            token: None,
            username: Some(Secret::new("sandbox-admin")),
            password: Some(Secret::new(password)),
        };
        super::submit_to(
            target,
            credentials,
            jobs,
            (run_id, self.journal.clone()),
            (mode, self.dry_run),
        )
        .await
    }
}

const PASSWORD: &str = "Sandbox-Pass-1!";

fn stat(sandbox: &Sandbox, name: &str) -> u64 {
    sandbox.stats()["drtrack"][name].as_u64().unwrap()
}

#[tokio::test]
async fn each_rejected_row_gets_its_own_verdict_under_both_semantics() {
    for atomic in [true, false] {
        let (sim, url) = sim(atomic).await;
        let bad = [3usize, 11, 12, 27];
        let jobs: Vec<Job> = (0..30)
            .map(|i| {
                if bad.contains(&i) {
                    job(
                        i,
                        [
                            &format!("user{i}"),
                            &format!("user{i}@fleet.test"),
                            "Pilot",
                            "",
                            "",
                        ],
                        Action::Create,
                    )
                } else {
                    good(i)
                }
            })
            .collect();
        let run = Run::new();
        let (out, _) = run
            .go("r1", &url, PASSWORD, Mode::Create, jobs.clone())
            .await;
        for i in 0..30 {
            let o = &out[&i];
            if bad.contains(&i) {
                assert_eq!(o.status, Status::Failed, "atomic={atomic} row {i}: {o:?}");
                let e = o.error.as_deref().unwrap();
                assert!(
                    e.starts_with("sync rejected by DRTrack (no detail given)"),
                    "{e}"
                );
                assert!(e.contains("user group \"Pilot\""), "{e}");
            } else {
                assert_eq!(o.status, Status::Created, "atomic={atomic} row {i}: {o:?}");
                assert!(o.user_id.as_deref().unwrap().parse::<i64>().is_ok());
                assert_eq!(o.error, None);
            }
        }
        assert_eq!(stat(&sim, "created"), 26);
        assert_eq!(stat(&sim, "duplicates_refused"), 0, "atomic={atomic}");
        // 3 batches of 10; each rejected row costs at most 2·ceil(log2 10) more.
        let calls = stat(&sim, "sync_calls");
        assert!(
            calls <= 3 + 4 * 4 * 2,
            "atomic={atomic}: {calls} sync calls"
        );

        // A re-run: the good rows exist, only the rejected ones are tried again.
        let (again, _) = run.go("r2", &url, PASSWORD, Mode::Create, jobs).await;
        for i in 0..30 {
            let want = if bad.contains(&i) {
                Status::Failed
            } else {
                Status::Exists
            };
            assert_eq!(again[&i].status, want, "row {i}");
        }
        assert_eq!(stat(&sim, "created"), 26);
        // An ADD of a login that exists would be refused as a duplicate.
        assert_eq!(stat(&sim, "duplicates_refused"), 0);
    }
}

#[tokio::test]
async fn taken_email_and_existing_login_are_settled_before_sending() {
    let (sim, url) = sim(true).await;
    let jobs = vec![
        job(
            0,
            ["newbie", "JULIA_MORALES@company.com", "Driver", "", ""],
            Action::Create,
        ),
        job(
            1,
            ["JMorales", "julia_morales@company.com", "Driver", "", ""],
            Action::Create,
        ),
        job(
            2,
            ["twin1", "twin@fleet.test", "Driver", "", ""],
            Action::Create,
        ),
        job(
            3,
            ["twin2", "twin@fleet.test", "Driver", "", ""],
            Action::Create,
        ),
        job(
            4,
            ["twin1", "other@fleet.test", "Driver", "", ""],
            Action::Create,
        ),
        job(
            5,
            ["weak", "weak@fleet.test", "Driver", "", "password"],
            Action::Create,
        ),
        job(
            6,
            ["comma", "comma@fleet.test", "Driver", "101,102", ""],
            Action::Create,
        ),
        job(
            7,
            ["nogroup", "nogroup@fleet.test", "", "", ""],
            Action::Create,
        ),
        job(8, ["ghost", "", "", "", ""], Action::Update),
    ];
    let (out, _) = Run::new().go("r", &url, PASSWORD, Mode::Create, jobs).await;
    let err = |i: usize| out[&i].error.clone().unwrap_or_default();
    assert_eq!(out[&0].status, Status::Failed);
    assert!(
        err(0).contains("already used by login jmorales"),
        "{}",
        err(0)
    );
    assert_eq!(out[&1].status, Status::Exists);
    assert_eq!(out[&1].user_id.as_deref(), Some("4002"));
    assert_eq!(out[&2].status, Status::Created);
    assert_eq!(out[&3].status, Status::Failed);
    assert!(
        err(3).contains("also given to login twin1 at roster.csv row 4"),
        "{}",
        err(3)
    );
    assert_eq!(out[&4].status, Status::Failed);
    assert!(
        err(4).contains("also appears at roster.csv row 4"),
        "{}",
        err(4)
    );
    assert_eq!(out[&5].status, Status::Invalid);
    assert!(err(5).contains("Password (G7)") && err(5).contains("silently replace"));
    assert!(
        !err(5).contains("\"password\""),
        "the password is never echoed"
    );
    assert_eq!(out[&6].status, Status::Invalid);
    assert!(
        err(6).contains("use | between branch ids (101|102)"),
        "{}",
        err(6)
    );
    assert_eq!(out[&7].status, Status::Invalid);
    assert_eq!(out[&8].status, Status::Failed);
    assert!(err(8).contains("no user with login ghost"), "{}", err(8));
    assert_eq!(stat(&sim, "sync_calls"), 1, "only twin1 was sent");
}

#[tokio::test]
async fn branches_are_never_a_silent_pass() {
    let (sim, url) = sim(false).await;
    let jobs = vec![
        job(
            0,
            ["b1", "b1@fleet.test", "Viewer", "101|999", ""],
            Action::Create,
        ),
        job(
            1,
            ["b2", "b2@fleet.test", "Viewer", "ALL", ""],
            Action::Create,
        ),
    ];
    let (out, _) = Run::new().go("r", &url, PASSWORD, Mode::Create, jobs).await;
    assert_eq!(out[&0].status, Status::Created);
    assert_eq!(
        out[&0].error.as_deref(),
        Some(
            "created; branches 101|999 cannot be confirmed: DRTrack's API does not return branches"
        )
    );
    assert_eq!(sim.drtrack().branches_of("b1"), Some(vec![101]));
    assert_eq!(out[&1].error, None);
}

#[tokio::test]
async fn upsert_modifies_and_delete_removes() {
    let (sim, url) = sim(true).await;
    let run = Run::new();
    let jobs = vec![
        job(
            0,
            [
                "jmorales",
                "julia_morales@company.com",
                "Dispatcher",
                "",
                "",
            ],
            Action::Upsert,
        ),
        job(1, ["sandbox-admin", "", "", "", ""], Action::Delete),
        job(
            2,
            ["fresh", "fresh@fleet.test", "Admin", "", ""],
            Action::Upsert,
        ),
    ];
    let (out, _) = run.go("r", &url, PASSWORD, Mode::Create, jobs).await;
    assert_eq!(out[&0].status, Status::Updated, "{:?}", out[&0]);
    assert_eq!(out[&0].user_id.as_deref(), Some("4002"));
    assert_eq!(out[&1].status, Status::Deleted, "{:?}", out[&1]);
    assert_eq!(out[&2].status, Status::Created, "{:?}", out[&2]);
    assert_eq!(stat(&sim, "updated"), 1);
    assert_eq!(stat(&sim, "deleted"), 1);
}

/// A scripted DRTrack: `/users/sync` answers from `script` in order, then `true`.
#[derive(Default)]
struct Script {
    logins: AtomicU64,
    syncs: AtomicU64,
    listed: std::sync::Mutex<Vec<String>>,
}

fn scripted(script: Arc<Script>, sync_reply: fn(u64) -> (StatusCode, bool)) -> Router {
    let s1 = script.clone();
    let s2 = script.clone();
    Router::new()
        .route(
            "/auth",
            get(move |headers: HeaderMap| {
                let s = s1.clone();
                async move {
                    let n = s.logins.fetch_add(1, Ordering::SeqCst) + 1;
                    let ok = headers
                        .get("username")
                        .is_some_and(|v| v == "sandbox-admin")
                        && headers.get("password").is_some_and(|v| v == PASSWORD)
                        && headers.get("appname").is_some_and(|v| v == "acme");
                    if ok {
                        axum::Json(
                            json!({"AuthenticationToken": format!("tok{n}"), "Status": "200"}),
                        )
                        .into_response()
                    } else {
                        // 200 with a refusal inside: the importer must read Status too.
                        axum::Json(json!({"AuthenticationToken": "", "Status": "401"}))
                            .into_response()
                    }
                }
            }),
        )
        .route(
            "/users",
            get(move || {
                let s = s2.clone();
                async move {
                    let list: Vec<_> = s
                        .listed
                        .lock()
                        .unwrap()
                        .iter()
                        .enumerate()
                        .map(|(i, l)| json!({"key": 9000 + i, "userID": l}))
                        .collect();
                    axum::Json(list)
                }
            }),
        )
        .route(
            "/users/sync",
            put(
                move |headers: HeaderMap, body: axum::Json<serde_json::Value>| {
                    let s = script.clone();
                    async move {
                        let n = s.syncs.fetch_add(1, Ordering::SeqCst) + 1;
                        let token = headers.get("authtoken").and_then(|v| v.to_str().ok());
                        let (status, apply) = sync_reply(n);
                        if status == StatusCode::UNAUTHORIZED {
                            return (status, "token expired").into_response();
                        }
                        assert!(token.is_some_and(|t| t.starts_with("tok")));
                        if apply {
                            for op in body.0.as_array().unwrap() {
                                let login = op["userLoginId"].as_str().unwrap().to_string();
                                s.listed.lock().unwrap().push(login);
                            }
                        }
                        if status == StatusCode::OK {
                            axum::Json(json!(true)).into_response()
                        } else {
                            (status, "").into_response()
                        }
                    }
                },
            ),
        )
}

async fn scripted_run(
    sync_reply: fn(u64) -> (StatusCode, bool),
    password: &str,
) -> (Arc<Script>, HashMap<usize, Outcome>, TargetStats) {
    let script = Arc::new(Script::default());
    let url = serve(scripted(script.clone(), sync_reply)).await;
    let (out, stats) = Run::new()
        .go("r", &url, password, Mode::Create, vec![good(0)])
        .await;
    (script, out, stats)
}

#[tokio::test]
async fn an_expired_token_logs_in_again_once_and_repeats() {
    let (script, out, _) = scripted_run(
        |n| match n {
            1 => (StatusCode::UNAUTHORIZED, false),
            _ => (StatusCode::OK, true),
        },
        PASSWORD,
    )
    .await;
    assert_eq!(out[&0].status, Status::Created, "{:?}", out[&0]);
    assert_eq!(out[&0].user_id.as_deref(), Some("9000"));
    assert_eq!(script.logins.load(Ordering::SeqCst), 2);
    assert_eq!(script.syncs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_login_halts_the_target_without_showing_secrets() {
    let (script, out, stats) = scripted_run(|_| (StatusCode::OK, true), "wrong-Pass-1!").await;
    assert_eq!(out[&0].status, Status::NotAttempted);
    let e = out[&0].error.clone().unwrap();
    assert!(e.contains("credentials rejected"), "{e}");
    assert!(e.contains("Status \"401\""), "{e}");
    assert!(
        !e.contains("wrong-Pass-1!") && !e.contains("sandbox-admin"),
        "{e}"
    );
    assert!(stats.halted.is_some());
    assert_eq!(script.syncs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_unanswered_sync_that_took_effect_is_not_sent_again() {
    let (script, out, _) = scripted_run(
        |n| match n {
            1 => (StatusCode::INTERNAL_SERVER_ERROR, true),
            _ => (StatusCode::OK, true),
        },
        PASSWORD,
    )
    .await;
    assert_eq!(out[&0].status, Status::Created, "{:?}", out[&0]);
    assert_eq!(script.syncs.load(Ordering::SeqCst), 1);
    assert_eq!(script.listed.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_unanswered_sync_without_effect_is_sent_again() {
    let (script, out, _) = scripted_run(
        |n| match n {
            1 => (StatusCode::INTERNAL_SERVER_ERROR, false),
            _ => (StatusCode::OK, true),
        },
        PASSWORD,
    )
    .await;
    assert_eq!(out[&0].status, Status::Created, "{:?}", out[&0]);
    assert_eq!(script.syncs.load(Ordering::SeqCst), 2);
    assert_eq!(script.listed.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_intent_left_by_a_killed_run_is_settled_by_the_list() {
    let (sim, url) = sim(true).await;
    let run = Run::new();
    // The killed run "r" wrote intents for user0 (whose ADD took effect) and user1 (not).
    let other_client = json!({"method": "ADD", "userLoginId": "user0",
        "email": "user0@fleet.test", "userGroup": "Driver"});
    assert!(sim.drtrack().apply_batch(&[other_client]).0);
    run.journal.intent("r", "dr", "user0", STEP).unwrap();
    run.journal.intent("r", "dr", "user1", STEP).unwrap();
    let (out, _) = run
        .go("r", &url, PASSWORD, Mode::Create, vec![good(0), good(1)])
        .await;
    assert_eq!(out[&0].status, Status::Created);
    assert_eq!(out[&1].status, Status::Created);
    assert_eq!(stat(&sim, "created"), 2);
    assert_eq!(stat(&sim, "adds_received"), 2, "user0 was not sent again");
    let steps = run.journal.steps("dr").unwrap();
    for key in ["user0", "user1"] {
        assert_eq!(
            steps[&(key.to_string(), STEP.to_string())].state,
            StepState::Done
        );
    }
}

#[tokio::test]
async fn a_dry_run_plans_without_writing() {
    let (sim, url) = sim(true).await;
    let run = Run {
        dry_run: true,
        ..Run::new()
    };
    let jobs = vec![
        good(0),
        job(1, ["jmorales", "", "", "", ""], Action::Create),
        job(
            2,
            ["jmorales2", "Julia_Morales@company.com", "Driver", "", ""],
            Action::Create,
        ),
    ];
    let (out, _) = run.go("r", &url, PASSWORD, Mode::Create, jobs).await;
    assert_eq!(out[&0].status, Status::Planned);
    assert_eq!(out[&1].status, Status::Exists);
    assert_eq!(out[&2].status, Status::Failed);
    assert_eq!(stat(&sim, "writes"), 0);
    assert!(
        run.journal.steps("dr").unwrap().is_empty(),
        "no intent written"
    );
}

/// A sandbox whose DRTrack holds just `seeds` (login, email, first, last, user group);
/// `atomic`: a `false` batch applies nothing.
async fn seeded(seeds: &[[&str; 5]], atomic: bool) -> (Sandbox, String) {
    use crate::sandbox::seed::PlatformSeed;
    let fields = [
        Field::Username,
        Field::Email,
        Field::FirstName,
        Field::LastName,
        Field::UserGroup,
    ];
    let options = Options {
        platform_users: seeds
            .iter()
            .map(|cells| PlatformSeed {
                vendor: VendorKind::Drtrack,
                fields: fields
                    .iter()
                    .zip(cells)
                    .map(|(f, v)| (*f, v.to_string()))
                    .collect(),
            })
            .collect(),
        drtrack_atomic: atomic,
        ..Options::default()
    };
    let sandbox = Sandbox::start("127.0.0.1:0", options).await.unwrap();
    let url = format!("{}/drtrack/api/v1.0", sandbox.url());
    (sandbox, url)
}

const SEEDS: [[&str; 5]; 3] = [
    ["kim", "kim@fleet.test", "Kim", "Park", "Driver"],
    ["lou", "Lou@Fleet.test", "Lou", "Reed", "Viewer"],
    ["max", "max@fleet.test", "Max", "Stone", "Admin"],
];

/// A job with first and last name of its own: login, email, first, last, user group.
fn named(index: usize, cells: [&str; 5], action: Action) -> Job {
    let [login, email, first, last, group] = cells;
    let row = Row {
        index,
        layout: layout(),
        line: index as u32 + 2,
        cells: [login, email, first, last, group, "", ""]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        errors: Vec::new(),
    };
    let key = crate::model::identity_key(VendorKind::Drtrack, &row).unwrap_or_default();
    Job {
        index,
        row: Arc::new(row),
        action,
        key,
    }
}

#[tokio::test]
async fn seeded_users_are_held_with_their_group() {
    let (sim, _) = seeded(&SEEDS, true).await;
    assert_eq!(stat(&sim, "users"), 3, "the seeds replace the sample users");
    assert_eq!(sim.drtrack().group_of("LOU").as_deref(), Some("Viewer"));
    assert_eq!(stat(&sim, "created"), 0, "seeds are not creates");
}

#[tokio::test]
async fn seeded_users_are_listed_with_their_keys_and_fields() {
    let (sim, url) = seeded(&SEEDS, true).await;
    let mut target = Target::with_defaults("dr", VendorKind::Drtrack, &url);
    target.app_name = Some("acme".into());
    let credentials = Credentials {
        token: None,
        username: Some(Secret::new("sandbox-admin")),
        password: Some(Secret::new(PASSWORD)),
    };
    let run = Run::new();
    let listing = submit::list_users(
        &target,
        credentials,
        run.journal.clone(),
        &Default::default(),
    )
    .await
    .unwrap();
    // The login muster authenticated with is the account it acts as.
    assert_eq!(listing.logged_in_as.as_deref(), Some("sandbox-admin"));
    let users = listing.users.unwrap();
    type Listed<'a> = (&'a str, &'a str, bool, Vec<(Field, &'a str)>);
    let got: Vec<Listed> = users
        .iter()
        .map(|u| {
            (
                u.key.as_str(),
                u.id.as_str(),
                u.active,
                u.fields.iter().map(|(f, v)| (*f, v.as_str())).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "kim",
                "4102",
                true,
                vec![
                    (Field::Username, "kim"),
                    (Field::FirstName, "Kim"),
                    (Field::LastName, "Park"),
                    (Field::Email, "kim@fleet.test"),
                ]
            ),
            (
                "lou",
                "4103",
                true,
                vec![
                    (Field::Username, "lou"),
                    (Field::FirstName, "Lou"),
                    (Field::LastName, "Reed"),
                    (Field::Email, "lou@fleet.test"),
                ]
            ),
            (
                "max",
                "4104",
                true,
                vec![
                    (Field::Username, "max"),
                    (Field::FirstName, "Max"),
                    (Field::LastName, "Stone"),
                    (Field::Email, "max@fleet.test"),
                ]
            ),
        ]
    );
    assert_eq!(stat(&sim, "writes"), 0, "listing is read-only");
}

/// Upsert follows what `GET /users` shows: a user whose listed fields match is `exists`
/// with no request even though the row names a user group the list cannot show; a MODIFY
/// carries only the listed fields that differ (plus the user group the row names).
#[tokio::test]
async fn upsert_modifies_only_what_differs() {
    type Case = ([&'static str; 5], Status, Option<Value>);
    let cases: [Case; 4] = [
        (
            ["kim", "KIM@fleet.test", "Kim", "Park", "Driver"],
            Status::Exists,
            None,
        ),
        (
            ["lou", "lou@fleet.test", "Lou", "Reid", "Viewer"],
            Status::Updated,
            Some(
                json!({"method": "MODIFY", "lastName": "Reid", "userLoginId": "lou", "userGroup": "Viewer"}),
            ),
        ),
        (
            [
                "MAX",
                "max.stone@fleet.test",
                "Maximilian",
                "Stone",
                "Admin",
            ],
            Status::Updated,
            Some(
                json!({"method": "MODIFY", "firstName": "Maximilian", "email": "max.stone@fleet.test", "userLoginId": "max", "userGroup": "Admin"}),
            ),
        ),
        (
            ["new", "new@fleet.test", "New", "Hire", "Driver"],
            Status::Created,
            None,
        ),
    ];
    let (sim, url) = seeded(&SEEDS, true).await;
    let jobs: Vec<Job> = cases
        .iter()
        .enumerate()
        .map(|(i, (cells, _, _))| named(i, *cells, Action::Create))
        .collect();
    let run = Run::new();
    let (out, _) = run
        .go("r1", &url, PASSWORD, Mode::Upsert, jobs.clone())
        .await;
    let ops = sim.drtrack().operations();
    for (i, (cells, status, modify)) in cases.iter().enumerate() {
        assert_eq!(out[&i].status, *status, "row {i}: {:?}", out[&i]);
        let sent: Vec<&Value> = ops
            .iter()
            .filter(|o| {
                o["userLoginId"]
                    .as_str()
                    .is_some_and(|l| l.eq_ignore_ascii_case(cells[0]))
            })
            .collect();
        match modify {
            Some(want) => assert_eq!(sent, vec![want], "row {i}"),
            None if *status == Status::Exists => assert!(sent.is_empty(), "row {i}: {sent:?}"),
            None => assert_eq!(sent.len(), 1, "row {i}: one ADD"),
        }
    }
    assert_eq!(stat(&sim, "updated"), 2);
    assert_eq!(stat(&sim, "created"), 1);

    // The second upsert: everything matches, nothing is sent.
    let calls = stat(&sim, "sync_calls");
    let (again, _) = run.go("r2", &url, PASSWORD, Mode::Upsert, jobs).await;
    for i in 0..cases.len() {
        assert_eq!(again[&i].status, Status::Exists, "row {i}: {:?}", again[&i]);
    }
    assert_eq!(stat(&sim, "sync_calls"), calls);
    assert_eq!(stat(&sim, "duplicates_refused"), 0);
}

/// Removal through the sync batch: DELETE bisected like ADD when DRTrack says `false`,
/// journaled, and never sent again by a re-run.
#[tokio::test]
async fn deletes_are_bisected_journaled_and_not_resent() {
    for atomic in [true, false] {
        let (sim, url) = seeded(&SEEDS, atomic).await;
        let jobs = vec![
            named(0, ["kim", "", "", "", ""], Action::Delete),
            named(1, ["lou", "", "", "", ""], Action::Delete),
            named(2, ["max", "", "", "", ""], Action::Delete),
        ];
        let run = Run::new();
        let (out, _) = run.go("r1", &url, PASSWORD, Mode::Sync, jobs.clone()).await;
        for i in 0..3 {
            assert_eq!(out[&i].status, Status::Deleted, "atomic={atomic} row {i}");
        }
        assert_eq!(stat(&sim, "deleted"), 3);
        assert_eq!(stat(&sim, "users"), 0);
        let steps = run.journal.steps("dr").unwrap();
        assert_eq!(
            steps[&("kim".to_string(), "delete".to_string())].state,
            StepState::Done
        );

        let calls = stat(&sim, "sync_calls");
        let (again, _) = run.go("r2", &url, PASSWORD, Mode::Sync, jobs).await;
        for i in 0..3 {
            assert_eq!(
                again[&i].status,
                Status::Deleted,
                "row {i}: {:?}",
                again[&i]
            );
            assert!(
                again[&i]
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("already removed by an earlier run")),
                "{:?}",
                again[&i]
            );
        }
        assert_eq!(stat(&sim, "sync_calls"), calls, "nothing sent again");
    }
}

#[tokio::test]
async fn deletes_in_a_false_batch_are_bisected_with_the_rest() {
    for atomic in [true, false] {
        let (sim, url) = seeded(&SEEDS, atomic).await;
        // One batch: two DELETEs around an ADD DRTrack refuses (unknown user group).
        let jobs = vec![
            named(0, ["kim", "", "", "", ""], Action::Delete),
            named(
                1,
                ["pilot", "pilot@fleet.test", "P", "L", "Pilot"],
                Action::Create,
            ),
            named(2, ["max", "", "", "", ""], Action::Delete),
            named(3, ["nobody", "", "", "", ""], Action::Delete),
        ];
        let (out, _) = Run::new().go("r", &url, PASSWORD, Mode::Sync, jobs).await;
        assert_eq!(
            out[&0].status,
            Status::Deleted,
            "atomic={atomic}: {:?}",
            out[&0]
        );
        assert_eq!(
            out[&2].status,
            Status::Deleted,
            "atomic={atomic}: {:?}",
            out[&2]
        );
        assert_eq!(out[&1].status, Status::Failed, "atomic={atomic}");
        assert!(
            out[&1]
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("sync rejected by DRTrack")),
            "{:?}",
            out[&1]
        );
        // Not listed: settled before sending.
        assert_eq!(out[&3].status, Status::Failed);
        assert!(
            out[&3]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("no user with login nobody")),
            "{:?}",
            out[&3]
        );
        assert_eq!(stat(&sim, "deleted"), 2, "atomic={atomic}");
        let deletes = sim
            .drtrack()
            .operations()
            .iter()
            .filter(|o| o["method"] == "DELETE" && o["userLoginId"] == "kim")
            .count();
        // Atomic: the first batch applied nothing, so kim's DELETE went again in a half;
        // partial: it took effect at once and was never repeated.
        assert_eq!(
            deletes,
            if atomic { 2 } else { 1 },
            "atomic={atomic}: {:?}",
            sim.drtrack().operations()
        );
    }
}
