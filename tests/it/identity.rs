//! Recorded ids are checked against the platform (issue 25, item 2). The journal keeps a
//! target's records by the platform's identity (vendor, URL, the account logged in as),
//! not by the target's name, and a recorded id the listing does not show for the row is
//! stale: the row is planned again from what the platform lists, and the workbook says so.
//!
//! Loopback Traccar servers that record every request they receive stand for the servers
//! of the finding; muster logs in with the sandbox's Basic token (its login is an email,
//! so the account is known without a request). Assertions are on what the servers
//! received and on the run's outcomes as the journal and the workbook hold them.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use muster::journal::lease::Holder;
use muster::model::{Outcome, Status};
use serde_json::{Value, json};

use crate::support::{World, assert_workbook_matches_journal, journal_at, serve};

/// A Traccar server's state: its users (id, email), its devices (id, uniqueId), whether it
/// refuses device links, the links it made (user, device), the id its next user gets, and
/// every request it received (method, path, body).
#[derive(Default)]
struct Platform {
    users: Vec<(i64, String)>,
    devices: Vec<(i64, String)>,
    refuse_links: bool,
    links: Vec<(i64, i64)>,
    next_id: i64,
    log: Vec<(Method, String, String)>,
}

type Shared = Arc<Mutex<Platform>>;

async fn answer(State(p): State<Shared>, method: Method, uri: Uri, body: String) -> Response {
    let mut p = p.lock().unwrap();
    let path = uri.path().to_string();
    p.log.push((method.clone(), path.clone(), body.clone()));
    // `GET /devices?userId=N`: the devices linked to user N.
    let linked_to = uri
        .query()
        .and_then(|q| q.strip_prefix("userId="))
        .and_then(|n| n.parse::<i64>().ok());
    match (method, path.as_str()) {
        (Method::GET, "/api/devices") => {
            let devices: Vec<Value> = p
                .devices
                .iter()
                .filter(|(id, _)| linked_to.is_none_or(|u| p.links.contains(&(u, *id))))
                .map(|(id, uid)| json!({"id": id, "name": format!("Bike {id}"), "uniqueId": uid}))
                .collect();
            axum::Json(devices).into_response()
        }
        (Method::GET, "/api/users") => {
            let users: Vec<Value> = p
                .users
                .iter()
                .map(|(id, email)| json!({"id": id, "name": email, "email": email}))
                .collect();
            axum::Json(users).into_response()
        }
        (Method::POST, "/api/users") => {
            let sent: Value = serde_json::from_str(&body).unwrap_or_default();
            let email = sent["email"].as_str().unwrap_or_default().to_string();
            let id = p.next_id;
            p.next_id += 1;
            p.users.push((id, email.clone()));
            axum::Json(json!({"id": id, "email": email})).into_response()
        }
        (Method::POST, "/api/permissions") if p.refuse_links => (
            StatusCode::BAD_REQUEST,
            "java.lang.SecurityException: Device access denied",
        )
            .into_response(),
        (Method::POST, "/api/permissions") => {
            let sent: Value = serde_json::from_str(&body).unwrap_or_default();
            let link = (
                sent["userId"].as_i64().unwrap_or_default(),
                sent["deviceId"].as_i64().unwrap_or_default(),
            );
            p.links.push(link);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => (StatusCode::BAD_REQUEST, "unexpected").into_response(),
    }
}

/// A loopback Traccar holding `users` and `devices`; new users get ids from `next_id`.
async fn traccar(
    users: &[(i64, &str)],
    devices: &[(i64, &str)],
    next_id: i64,
    refuse_links: bool,
) -> (std::net::SocketAddr, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Platform {
        users: users.iter().map(|(i, e)| (*i, e.to_string())).collect(),
        devices: devices.iter().map(|(i, u)| (*i, u.to_string())).collect(),
        refuse_links,
        next_id,
        ..Platform::default()
    }));
    let app = Router::new().fallback(answer).with_state(shared.clone());
    (serve(app).await, shared)
}

/// The writes a server received: `POST /api/permissions {"userId":1000,"deviceId":1}`.
fn writes(p: &Shared) -> Vec<String> {
    p.lock()
        .unwrap()
        .log
        .iter()
        .filter(|(m, _, _)| *m != Method::GET)
        .map(|(m, path, body)| format!("{m} {path} {body}"))
        .collect()
}

/// The one row's outcome in the newest run.
fn only_outcome(journal: &Path) -> Outcome {
    let j = journal_at(journal);
    let run = j.runs().unwrap().remove(0);
    let mut rows = j.rows(&run.info.run_id).unwrap();
    assert_eq!(rows.len(), 1);
    rows.remove(0).outcome.expect("an outcome")
}

const ANN_WITH_BIKE: &str = "email,name,devices\nann@fleet.test,Ann Lee,3551\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_row_repointed_at_another_server_does_not_link_the_journals_id_there() {
    let w = World::start(Default::default()).await;
    let roster = w.write("roster.csv", ANN_WITH_BIKE);
    let journal = w.path("j.db");
    // Server A makes ann as user 1000 and refuses her device link: the row is partial.
    let (a, server_a) = traccar(&[], &[(1, "3551")], 1000, true).await;
    let config = w.traccar_at(a, "");
    let out_a = w.path("a.xlsx");
    w.import(&roster, &config, &journal, &out_a, &[])
        .await
        .unwrap();
    let first = only_outcome(&journal);
    assert_eq!(
        (first.status, first.user_id.as_deref()),
        (Status::Partial, Some("1000")),
        "{:?}",
        first.error
    );
    assert_eq!(writes(&server_a).len(), 2, "{:?}", writes(&server_a));
    // The same target name now points at server B, where 1000 is someone else and ann is 7.
    let (b, server_b) = traccar(
        &[(1000, "zed@other.test"), (7, "ann@fleet.test")],
        &[(1, "3551")],
        2000,
        false,
    )
    .await;
    let config = w.traccar_at(b, "");
    let out_b = w.path("b.xlsx");
    w.import(&roster, &config, &journal, &out_b, &[])
        .await
        .unwrap();
    // Nothing links a tracker to user 1000 (zed) on B; nothing is made there at all: ann is
    // there, someone else's as far as this platform's records go.
    let sent = writes(&server_b);
    assert!(
        !sent.iter().any(|w| w.contains(r#""userId":1000"#)),
        "{sent:?}"
    );
    assert!(sent.is_empty(), "{sent:?}");
    let again = only_outcome(&journal);
    assert_eq!(
        (again.status, again.user_id.as_deref()),
        (Status::Exists, Some("7"))
    );
    assert!(again.other_ids.is_empty(), "{:?}", again.other_ids);
    let said = again.error.unwrap_or_default();
    assert!(
        said.starts_with("the journal's record of this user (id 1000) is stale: it was made through target traccar on another platform (traccar http://127.0.0.1:"),
        "{said}"
    );
    // (The sandbox's password is the start of its login: scrubbed wherever it appears.)
    assert!(
        said.ends_with("/api as ***@muster.test); not used here, the row was planned again from what this one lists"),
        "{said}"
    );
    // The workbook says what the journal says.
    assert_workbook_matches_journal(&out_b, &journal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_name_at_another_url_does_not_reuse_the_first_urls_records() {
    let w = World::start(Default::default()).await;
    let roster = w.write("roster.csv", ANN_WITH_BIKE);
    let journal = w.path("j.db");
    // On A, ann is made as 1000 and linked to bike 1: complete.
    let (a, _server_a) = traccar(&[], &[(1, "3551")], 1000, false).await;
    let config = w.traccar_at(a, "");
    w.import(&roster, &config, &journal, &w.path("a.xlsx"), &[])
        .await
        .unwrap();
    assert_eq!(only_outcome(&journal).status, Status::Created);
    let records_of_a = journal_at(&journal).steps("traccar").unwrap();
    assert_eq!(records_of_a.len(), 3, "{records_of_a:?}"); // user, link:1, complete
    // B happens to hold ann as 1000 too, and bike 1: a record of A would match its listing.
    let (b, server_b) = traccar(&[(1000, "ann@fleet.test")], &[(1, "3551")], 2000, false).await;
    let config = w.traccar_at(b, "");
    // A dry run at B says what the run will, and binds nothing: the name still reads A's.
    let scope_a = format!("traccar http://{a}/api as sandbox@muster.test");
    w.import(
        &roster,
        &config,
        &journal,
        &w.path("dry.xlsx"),
        &["--dry-run"],
    )
    .await
    .unwrap();
    let dry = only_outcome(&journal);
    assert_eq!(dry.status, Status::Exists);
    assert!(
        dry.error
            .as_deref()
            .is_some_and(|e| e.contains("made through target traccar on another platform")),
        "{:?}",
        dry.error
    );
    let j = journal_at(&journal);
    assert_eq!(j.binding("traccar").unwrap(), Some(scope_a.clone()));
    assert_eq!(j.steps("traccar").unwrap(), records_of_a);
    w.import(&roster, &config, &journal, &w.path("b.xlsx"), &[])
        .await
        .unwrap();
    assert!(writes(&server_b).is_empty(), "{:?}", writes(&server_b));
    let on_b = only_outcome(&journal);
    // Not "made by run …", not "linked to bike 1": B's records are B's own (none).
    assert_eq!(
        (on_b.status, on_b.user_id.as_deref()),
        (Status::Exists, Some("1000"))
    );
    assert!(on_b.other_ids.is_empty(), "{:?}", on_b.other_ids);
    assert!(
        on_b.error
            .as_deref()
            .is_some_and(|e| e.contains("made through target traccar on another platform")),
        "{:?}",
        on_b.error
    );
    // The name now reads B's records (none); A's are kept under A's scope.
    assert!(j.steps("traccar").unwrap().is_empty());
    assert_eq!(j.steps(&scope_a).unwrap(), records_of_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_id_missing_from_the_listing_is_planned_again() {
    let w = World::start(Default::default()).await;
    let roster = w.write("roster.csv", "email,name\nann@fleet.test,Ann Lee\n");
    let journal = w.path("j.db");
    let (at, server) = traccar(&[], &[], 1000, false).await;
    let config = w.traccar_at(at, "");
    w.import(&roster, &config, &journal, &w.path("1.xlsx"), &[])
        .await
        .unwrap();
    assert_eq!(only_outcome(&journal).user_id.as_deref(), Some("1000"));
    // The same server, rebuilt: user 1000 is gone, and nobody has ann's email.
    server.lock().unwrap().users.clear();
    server.lock().unwrap().log.clear();
    let out = w.path("2.xlsx");
    w.import(&roster, &config, &journal, &out, &[])
        .await
        .unwrap();
    let again = only_outcome(&journal);
    assert_eq!(
        (again.status, again.user_id.as_deref()),
        (Status::Created, Some("1001"))
    );
    assert_eq!(
        again.error.as_deref(),
        Some(
            "the journal's id 1000 is not this user on the platform (it does not list this user); planned again from what it lists"
        )
    );
    let sent = writes(&server);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("POST /api/users "), "{sent:?}");
    assert_workbook_matches_journal(&out, &journal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_target_names_for_one_platform_account_do_not_run_at_once() {
    let w = World::start(Default::default()).await;
    let roster = w.write("roster.csv", "email,name\nann@fleet.test,Ann Lee\n");
    let journal = w.path("j.db");
    let (at, server) = traccar(&[], &[], 1000, false).await;
    // Another run, on another host, works in this platform account through another name.
    let mut other = Holder::me("20261206-070000-beef");
    other.host = "ops-elsewhere".into();
    let scope = format!("traccar http://{at}/api as sandbox@muster.test");
    let j = journal_at(&journal);
    j.take_leases(
        &["fleet-b".to_string(), scope.clone()],
        &other,
        std::time::Duration::from_secs(600),
    )
    .unwrap();
    let config = w.traccar_at(at, "");
    w.import(&roster, &config, &journal, &w.path("r.xlsx"), &[])
        .await
        .unwrap();
    let o = only_outcome(&journal);
    assert_eq!(o.status, Status::NotAttempted);
    let said = o.error.unwrap_or_default();
    // (The sandbox's password is the start of its login: scrubbed wherever it appears.)
    assert!(
        said.starts_with(&format!(
            "not attempted: its platform account is busy: target traccar http://{at}/api as ***@muster.test is being imported by run 20261206-070000-beef (pid "
        )),
        "{said}"
    );
    assert!(writes(&server).is_empty(), "{:?}", writes(&server));
    // Released, the account is free for this name.
    j.release_leases(&other.token).unwrap();
    w.import(&roster, &config, &journal, &w.path("r2.xlsx"), &[])
        .await
        .unwrap();
    assert_eq!(only_outcome(&journal).status, Status::Created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_row_says_once_which_link_failed_and_a_rerun_makes_only_that_link() {
    let w = World::start(Default::default()).await;
    let roster = w.write("roster.csv", ANN_WITH_BIKE);
    let journal = w.path("j.db");
    // The server makes ann as user 1000 and refuses her device link.
    let (at, server) = traccar(&[], &[(1, "3551")], 1000, true).await;
    let config = w.traccar_at(at, "");
    let run = |n: u32| {
        let (roster, config, journal, out) =
            (&roster, &config, &journal, w.path(&format!("{n}.xlsx")));
        let w = &w;
        async move { w.import(roster, config, journal, &out, &[]).await.unwrap() }
    };
    run(1).await;
    let first = only_outcome(&journal);
    let said = first.error.clone().unwrap_or_default();
    assert_eq!(first.status, Status::Partial, "{said}");
    assert!(
        said.starts_with("user 1000 created, but linking failed: device 1: ")
            && said.ends_with("; a re-run makes only the missing links")
            && said.matches("linking failed").count() == 1,
        "{said}"
    );
    // Still refused: the re-run reads ann's links, makes no user, and says the same once.
    run(2).await;
    let second = only_outcome(&journal);
    assert_eq!(
        (second.status, second.error.as_deref()),
        (Status::Partial, Some(said.as_str()))
    );
    // Allowed now: only the link is made, and the row is complete.
    server.lock().unwrap().refuse_links = false;
    run(3).await;
    let third = only_outcome(&journal);
    assert_eq!((third.status, third.error), (Status::Created, None));
    let made: Vec<String> = writes(&server)
        .into_iter()
        .map(|w| w.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        made,
        [
            "POST /api/users",
            "POST /api/permissions",
            "POST /api/permissions",
            "POST /api/permissions"
        ]
    );
    assert_eq!(server.lock().unwrap().links, [(1000, 1)]);
}
