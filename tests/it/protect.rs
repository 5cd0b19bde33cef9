//! Protected accounts (issue 25, item 1, "self-prune"): the account muster is logged in as,
//! and those a target's `protect` lists, are never updated, deactivated or deleted, and
//! audit shows them `protected`, not `extra`.
//!
//! A loopback Traccar that records every request it receives stands for a server whose
//! admin sees itself in `GET /users`; muster logs in with a Bearer token (the account told
//! by `GET /session?token=`) or with a Basic token for a login name (told by
//! `POST /session`). DRTrack's sandbox lists the account muster logs in as
//! (`sandbox-admin`). Assertions are on what the servers received.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use clap::Parser;
use muster::model::Status;
use muster::{Cli, Env, Exit};
use serde_json::{Value, json};

use crate::audit::classes;
use crate::support::{World, serve};

const BEARER: &str = "bearer-token-of-the-boss";
const PASSWORD: &str = "boss-password";

/// Every request the loopback Traccar received: (method, path with query).
type Log = Arc<Mutex<Vec<(Method, String)>>>;

#[derive(Clone)]
struct Server {
    log: Log,
    /// The `Authorization` value it accepts.
    auth: String,
}

fn users() -> Value {
    json!([
        {"id": 1, "name": "Boss", "email": "boss@fleet.test", "login": "boss", "administrator": true},
        {"id": 2, "name": "Kept", "email": "kept@fleet.test"},
        {"id": 3, "name": "Gone", "email": "gone@fleet.test"},
        {"id": 4, "name": "Service", "email": "svc@fleet.test"},
    ])
}

fn boss() -> Value {
    users()[0].clone()
}

async fn anything(
    State(s): State<Server>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let path = uri.path().to_string();
    s.log.lock().unwrap().push((
        method.clone(),
        uri.path_and_query()
            .map(|p| p.to_string())
            .unwrap_or(path.clone()),
    ));
    // `/session` is "permit all": it reads its own parameters (traccar.md "Auth").
    if path == "/api/session" {
        return session(&method, uri.query().unwrap_or(""), &body);
    }
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(s.auth.as_str());
    if !authorized {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match (method, path.as_str()) {
        (Method::GET, "/api/devices") => axum::Json(json!([])).into_response(),
        (Method::GET, "/api/users") => axum::Json(users()).into_response(),
        (Method::DELETE, p) if p.starts_with("/api/users/") => {
            StatusCode::NO_CONTENT.into_response()
        }
        (Method::PUT, p) if p.starts_with("/api/users/") => (StatusCode::OK, body).into_response(),
        _ => (StatusCode::BAD_REQUEST, "unexpected").into_response(),
    }
}

/// `GET /session?token=` (the Bearer token's user) and `POST /session` (form login).
fn session(method: &Method, query: &str, body: &str) -> Response {
    let form = |text: &str| -> Vec<(String, String)> {
        url::form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect()
    };
    let get = |pairs: &[(String, String)], k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let ok = match *method {
        Method::GET => get(&form(query), "token").as_deref() == Some(BEARER),
        Method::POST => {
            let pairs = form(body);
            get(&pairs, "email").is_some_and(|e| e.eq_ignore_ascii_case("boss"))
                && get(&pairs, "password").as_deref() == Some(PASSWORD)
        }
        _ => false,
    };
    match (ok, method) {
        (true, _) => axum::Json(boss()).into_response(),
        (false, &Method::GET) => StatusCode::NOT_FOUND.into_response(),
        (false, _) => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// A loopback Traccar accepting `auth`; its request log.
async fn traccar(auth: String) -> (std::net::SocketAddr, Log) {
    let log: Log = Arc::default();
    let app = Router::new().fallback(anything).with_state(Server {
        log: log.clone(),
        auth,
    });
    (serve(app).await, log)
}

/// The user-changing requests the server received: `DELETE /api/users/3`, ...
fn writes(log: &Log) -> BTreeSet<String> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(m, p)| (*m == Method::PUT || *m == Method::DELETE) && p.starts_with("/api/users"))
        .map(|(m, p)| format!("{m} {p}"))
        .collect()
}

async fn muster_run(env: &Env, args: &[&str]) -> anyhow::Result<Exit> {
    let mut argv = vec!["muster"];
    argv.extend_from_slice(args);
    muster::run(Cli::parse_from(argv), env).await
}

/// Results sheet rows as text: (email, status, error).
fn results(path: &Path) -> Vec<(String, String, String)> {
    use calamine::{Reader, Xlsx, open_workbook};
    let mut wb: Xlsx<_> = open_workbook(path).expect("results open");
    let range = wb.worksheet_range("Results").expect("Results");
    let mut rows = range.rows();
    let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (email, status, error) = (col("email"), col("status"), col("error"));
    rows.map(|r| {
        (
            r[email].to_string(),
            r[status].to_string(),
            r[error].to_string(),
        )
    })
    .collect()
}

/// The scenario against a loopback Traccar logged in with `auth_line` (config) and the
/// token `token`: the refused prune names its users; a sync with prune deletes only the
/// unprotected extra user; an explicit update of the logged-in account fails, naming the
/// protection; audit says `protected`.
async fn logged_in_account_is_never_changed(
    auth_line: &str,
    token: String,
    header: String,
    told_by: &str,
) {
    let (addr, log) = traccar(header).await;
    let w = World::start(muster::sandbox::Options::default()).await;
    let config = w.write(
        "muster.toml",
        &format!(
            "[target.traccar]\nvendor = \"traccar\"\nurl = \"http://{addr}/api\"\ntoken_env = \"LOOP_TOKEN\"\nrate = \"none\"\n{auth_line}protect = [\"SVC@fleet.test\"]\n"
        ),
    );
    let env = Env::with([("LOOP_TOKEN".to_string(), token)]);
    let roster = w.write(
        "roster.csv",
        "target,action,name,email\ntraccar,,Kept,kept@fleet.test\ntraccar,update,Boss Renamed,boss@fleet.test\n",
    );
    let p = |x: &Path| x.display().to_string();
    let (roster_s, config_s) = (p(&roster), p(&config));
    let journal = p(&w.path("j.db"));
    let out = w.path("sync.xlsx");
    let out_s = p(&out);
    let import = |extra: &'static [&'static str]| {
        let mut args = vec![
            "import",
            roster_s.as_str(),
            "--config",
            config_s.as_str(),
            "--journal",
            journal.as_str(),
            "--out",
            out_s.as_str(),
            "--quiet",
            "--mode",
            "sync",
            "--prune",
            "--yes",
        ];
        args.extend_from_slice(extra);
        args
    };

    // Over --max-prune: refused, naming the one user it would have removed.
    let err = muster_run(&env, &import(&["--max-prune", "0"]))
        .await
        .expect_err("over the limit");
    let text = format!("{err:#}");
    assert!(
        text.contains("refusing to prune 1 of its 4 users")
            && text.ends_with("It would have removed: gone@fleet.test"),
        "{text}"
    );
    assert!(writes(&log).is_empty(), "{:?}", writes(&log));

    // Within it: only the unprotected extra user is deleted.
    let exit = muster_run(&env, &import(&["--max-prune", "5"]))
        .await
        .expect("sync runs");
    assert_eq!(exit, Exit::RowsFailed, "the boss row fails");
    assert_eq!(
        writes(&log),
        BTreeSet::from(["DELETE /api/users/3".to_string()]),
        "the server received a write for a protected account"
    );
    let rows = results(&out);
    let find = |email: &str| rows.iter().find(|r| r.0 == email).cloned().unwrap();
    assert_eq!(find("kept@fleet.test").1, Status::Exists.to_string());
    assert_eq!(find("gone@fleet.test").1, Status::Deleted.to_string());
    let (_, status, error) = find("boss@fleet.test");
    assert_eq!(status, Status::Failed.to_string());
    assert_eq!(
        error,
        "protected account: muster is logged in as this account (target traccar); muster never updates, deactivates or deletes it"
    );
    assert!(rows.iter().all(|r| r.0 != "svc@fleet.test"), "{rows:?}");
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|(m, p)| format!("{m} {p}").starts_with(told_by)),
        "the account was not asked for with {told_by}"
    );

    // Audit of a roster without them: the logged-in account and the listed service
    // account are `protected` (a protected account the roster lists is compared as any).
    let audit_out = w.path("audit.xlsx");
    let kept = w.write(
        "kept.csv",
        "target,name,email\ntraccar,Kept,kept@fleet.test\n",
    );
    muster_run(
        &env,
        &[
            "audit",
            &p(&kept),
            "--config",
            &config_s,
            "--out",
            &p(&audit_out),
            "--quiet",
        ],
    )
    .await
    .expect("audit runs");
    let found = classes(&audit_out, "traccar");
    assert_eq!(
        found["Protected"],
        BTreeSet::from(["boss@fleet.test".to_string(), "svc@fleet.test".into()])
    );
    assert_eq!(
        found["Extra"],
        BTreeSet::from(["gone@fleet.test".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_tokens_account_is_protected_from_sync_and_prune() {
    logged_in_account_is_never_changed(
        "auth = \"bearer\"\n",
        BEARER.into(),
        format!("Bearer {BEARER}"),
        "GET /api/session?token=",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_basic_login_names_account_is_protected_from_sync_and_prune() {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("boss:{PASSWORD}"));
    logged_in_account_is_never_changed(
        "",
        token.clone(),
        format!("Basic {token}"),
        "POST /api/session",
    )
    .await;
}

/// The DRTrack sandbox holds `sandbox-admin`, the account in `SANDBOX_DRTRACK_USER`: a sync
/// with prune removes the other extra user and never sends a DELETE for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drtrack_sandbox_admin_is_not_pruned() {
    let w = World::start(muster::sandbox::Options::default()).await;
    let config = w.config("rate = \"none\"");
    let roster = w.write(
        "roster.csv",
        "target,username,email,first_name,last_name,user_group\ndrtrack,newbie,newbie@fleet.test,New,Bie,Driver\n",
    );
    let journal = w.path("j.db");
    w.import(
        &roster,
        &config,
        &journal,
        &w.path("sync.xlsx"),
        &["--mode", "sync", "--prune", "--yes", "--max-prune", "5"],
    )
    .await
    .expect("sync runs");
    let counts = w.last_run_counts(&journal);
    assert_eq!(
        (counts.get(&Status::Created), counts.get(&Status::Deleted)),
        (Some(&1), Some(&1)),
        "{counts:?} {:?}",
        w.last_run_errors(&journal, 5)
    );
    assert_eq!(w.stat("drtrack", "deleted"), 1, "only jmorales");
    let (out, args) = crate::audit::audit_args(&w, &roster, &config, "audit.xlsx");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    w.muster(&args).await.expect("audit runs");
    let found = classes(&out, "drtrack");
    assert_eq!(
        found["Protected"],
        BTreeSet::from(["sandbox-admin".to_string()])
    );
    assert!(found["Extra"].is_empty(), "{:?}", found["Extra"]);
}

/// An explicit `delete` row of a protected account fails with the reason, and nothing is
/// sent for it, in `--mode create` too (no listing: the account is told by a probe).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_delete_of_a_protected_account_fails_in_create_mode() {
    let w = World::start(muster::sandbox::Options::default()).await;
    let config = w.config("rate = \"none\"");
    let roster = w.write(
        "roster.csv",
        "target,action,username,email,first_name,last_name,user_group\ndrtrack,delete,Sandbox-Admin,,,,\ndrtrack,delete,jmorales,,,,\n",
    );
    let journal = w.path("j.db");
    let out = w.path("r.xlsx");
    let exit = w
        .import(&roster, &config, &journal, &out, &[])
        .await
        .expect("import runs");
    assert_eq!(exit, Exit::RowsFailed);
    assert_eq!(w.stat("drtrack", "deleted"), 1, "only jmorales");
    let errors = w.last_run_errors(&journal, 5);
    assert!(
        errors.iter().any(|e| e.contains(
            "failed: protected account: muster is logged in as this account (target drtrack)"
        )),
        "{errors:?}"
    );
}
