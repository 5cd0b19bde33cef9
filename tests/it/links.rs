//! Issue 28: audit and upsert see relationships. A PowUnity roster imported without its
//! devices column leaves users without links; the audit then calls them `different` in
//! `devices`, an upsert with the column makes exactly the missing links, and a sync with
//! `--prune` removes the extra ones within `--max-unlink`. Each assertion reads what the
//! sandbox (or a loopback server) counted.

use std::path::Path;

use calamine::{Data, Reader, Xlsx, open_workbook};
use muster::model::Status;
use muster::sandbox::Options;
use muster::sandbox::traccar::{LINKS_CREATED, LINKS_DELETED, LINKS_DUPLICATED};

use crate::audit::{audit_args, classes};
use crate::support::World;

/// Users of the roster.
const USERS: usize = 6;

/// A PowUnity roster of [`USERS`] users; with `devices`, user `i` names devices by IMEI
/// (even users) or by name (odd users): two each, the second left out for `short` users.
fn roster(devices: bool, short: &[usize]) -> String {
    roster_of(USERS, devices, short)
}

/// [`roster`] of `users` users.
pub fn roster_of(users: usize, devices: bool, short: &[usize]) -> String {
    let seeded = muster::sandbox::seed::traccar_devices();
    let mut s = String::from(if devices {
        "target,name,email,devices\n"
    } else {
        "target,name,email\n"
    });
    for i in 0..users {
        s.push_str(&format!("traccar,User {i},user{i}@example.com"));
        if devices {
            let pick = |k: usize| {
                let (_, name, imei) = &seeded[(2 * i + k) % seeded.len()];
                if i % 2 == 0 {
                    imei.clone()
                } else {
                    name.clone()
                }
            };
            let cell = if short.contains(&i) {
                pick(0)
            } else {
                format!("{}|{}", pick(0), pick(1))
            };
            s.push_str(&format!(",{cell}"));
        }
        s.push('\n');
    }
    s
}

/// A sandbox whose `vendor` holds users 0..`users` of the audit tests' [`person`]s (and
/// Pegasus' `/apps` limits high enough not to matter).
///
/// [`person`]: crate::audit::person
async fn seeded(vendor: muster::model::VendorKind, users: usize) -> World {
    let seeds = (0..users)
        .map(|n| muster::sandbox::seed::PlatformSeed {
            vendor,
            fields: crate::audit::person(vendor, n, false),
        })
        .collect();
    World::start(Options {
        platform_users: seeds,
        pegasus: crate::support::fast_pegasus(),
        ..Options::default()
    })
    .await
}

/// The audit of `file`: the keys of each class sheet for target `traccar`, and the
/// `detail` cells of its Different sheet.
async fn audit(
    world: &World,
    file: &Path,
    config: &Path,
    out: &str,
) -> (
    std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    Vec<String>,
) {
    audit_of(world, file, config, out, "traccar").await
}

/// [`audit`] for `target`.
async fn audit_of(
    world: &World,
    file: &Path,
    config: &Path,
    out: &str,
    target: &str,
) -> (
    std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    Vec<String>,
) {
    let (out, args) = audit_args(world, file, config, out);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(
        world.muster(&args).await.expect("audit runs"),
        muster::Exit::Success
    );
    let mut wb: Xlsx<_> = open_workbook(&out).expect("audit workbook opens");
    let range = wb.worksheet_range("Different").expect("Different sheet");
    let mut rows = range.rows();
    let header: Vec<String> = rows
        .next()
        .map(|r| r.iter().map(Data::to_string).collect())
        .unwrap_or_default();
    let detail = header
        .iter()
        .position(|h| h == "detail")
        .expect("a detail column");
    let details = rows
        .filter_map(|r| r.get(detail).map(Data::to_string))
        .collect();
    (classes(&out, target), details)
}

/// `muster import FILE --mode upsert` with `config` and `journal`, its workbook `out`.
async fn upsert(world: &World, file: &Path, config: &Path, journal: &Path, out: &str) {
    world
        .import(
            file,
            config,
            journal,
            &world.path(out),
            &["--mode", "upsert"],
        )
        .await
        .expect("upsert runs");
}

/// The journal's last run updated all `n` rows (else the first errors are shown).
fn assert_all_updated(world: &World, journal: &Path, n: usize) {
    let c = world.last_run_counts(journal);
    assert_eq!(
        c.get(&Status::Updated),
        Some(&n),
        "{c:?} {:?}",
        world.last_run_errors(journal, 3)
    );
}

#[tokio::test]
async fn traccar_upsert_makes_exactly_the_missing_links_and_sync_prune_removes_extras() {
    let world = World::start(Options::default()).await;
    let config = world.config("rate = \"none\"");
    let journal = world.path("journal.db");
    let bare = world.write("bare.csv", &roster(false, &[]));
    let linked = world.write("linked.csv", &roster(true, &[]));
    let all: std::collections::BTreeSet<String> =
        (0..USERS).map(|i| format!("user{i}@example.com")).collect();

    // 1. The import without the devices column makes users and no link.
    world
        .import(&bare, &config, &journal, &world.path("r1.xlsx"), &[])
        .await
        .expect("import runs");
    assert_eq!(world.stat("traccar", "created"), USERS as u64);
    assert_eq!(world.stat("traccar", LINKS_CREATED), 0);

    // 2. The audit with the column: every user `different` in devices, with what is missing.
    let (found, details) = audit(&world, &linked, &config, "a1.xlsx").await;
    assert_eq!(found["Different"], all);
    assert!(found["Same"].is_empty());
    assert_eq!(details.len(), USERS, "{details:?}");
    assert!(
        details
            .iter()
            .all(|d| d.starts_with("missing on platform: ")),
        "{details:?}"
    );
    // By name for odd users: the roster's own words.
    assert!(details.iter().any(|d| d.contains("Bike 04")), "{details:?}");
    let requests = world.stat("traccar", "writes");

    // 3. Upsert: exactly the missing links, nothing else; no link twice.
    upsert(&world, &linked, &config, &journal, "r2.xlsx").await;
    assert_all_updated(&world, &journal, USERS);
    assert_eq!(world.stat("traccar", LINKS_CREATED), 2 * USERS as u64);
    assert_eq!(world.stat("traccar", LINKS_DUPLICATED), 0);
    assert_eq!(world.stat("traccar", "created"), USERS as u64);
    assert_eq!(
        world.stat("traccar", "writes") - requests,
        2 * USERS as u64,
        "only the links were written"
    );
    let (found, _) = audit(&world, &linked, &config, "a2.xlsx").await;
    assert_eq!(found["Same"], all);
    assert!(found["Different"].is_empty());

    // A second upsert: every row `exists`, no write.
    let writes = world.stat("traccar", "writes");
    upsert(&world, &linked, &config, &journal, "r3.xlsx").await;
    assert_eq!(world.stat("traccar", "writes"), writes);

    // 4. Sync --prune with a roster that drops one device of two users: the extra links
    //    are refused past --max-unlink before anything is sent, then removed within it.
    let short = world.write("short.csv", &roster(true, &[1, 2]));
    let err = world
        .import(
            &short,
            &config,
            &journal,
            &world.path("r4.xlsx"),
            &["--mode", "sync", "--prune", "--yes", "--max-unlink", "1"],
        )
        .await
        .expect_err("an oversized unlink is refused");
    let text = format!("{err:#}");
    assert!(
        text.contains(
            "target traccar: refusing to unlink 2 of its 12 links: more than --max-unlink 1"
        ),
        "{text}"
    );
    assert_eq!(world.stat("traccar", "writes"), writes);
    world
        .import(
            &short,
            &config,
            &journal,
            &world.path("r5.xlsx"),
            &["--mode", "sync", "--prune", "--yes", "--max-unlink", "2"],
        )
        .await
        .expect("sync runs");
    assert_eq!(world.stat("traccar", LINKS_DELETED), 2);
    assert_eq!(world.stat("traccar", LINKS_CREATED), 2 * USERS as u64);
    let (found, _) = audit(&world, &short, &config, "a3.xlsx").await;
    assert_eq!(found["Same"], all);

    // A blank devices cell says nothing: a sync with prune removes none of that user's links.
    let mut text = String::new();
    for (i, line) in roster(true, &[1, 2]).lines().enumerate() {
        let line = if i == 1 {
            line.rsplit_once(',')
                .map_or(line, |(head, _)| head)
                .to_string()
                + ","
        } else {
            line.to_string()
        };
        text.push_str(&line);
        text.push('\n');
    }
    let blank = world.write("blank.csv", &text);
    world
        .import(
            &blank,
            &config,
            &journal,
            &world.path("r6.xlsx"),
            &["--mode", "sync", "--prune", "--yes", "--max-unlink", "20"],
        )
        .await
        .expect("sync runs");
    assert_eq!(world.stat("traccar", LINKS_DELETED), 2);
}

/// A loopback Traccar holding users 1 (user0@example.com) and 2 (user1@example.com) and
/// four devices, whose `GET /devices` ignores `userId` and answers every device; it
/// records every request (`METHOD path?query`) and answers `POST`/`DELETE /permissions`
/// 204.
async fn traccar_ignoring_user_id() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use axum::extract::Request;
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let record = move |req: Request| {
        let log = log.clone();
        async move {
            let uri = req.uri().to_string();
            log.lock().unwrap().push(format!("{} {uri}", req.method()));
            req
        }
    };
    let devices = r#"[{"id":1,"name":"Bike A","uniqueId":"111"},{"id":2,"name":"Bike B","uniqueId":"222"},{"id":3,"name":"Bike C","uniqueId":"333"},{"id":4,"name":"Bike D","uniqueId":"444"}]"#;
    let users = r#"[{"id":1,"name":"User 0","email":"user0@example.com"},{"id":2,"name":"User 1","email":"user1@example.com"}]"#;
    let app = axum::Router::new()
        .route("/api/devices", get(move || async move { devices }))
        .route("/api/users", get(move || async move { users }))
        .route(
            "/api/permissions",
            post(|| async { StatusCode::NO_CONTENT }).delete(|| async { StatusCode::NO_CONTENT }),
        )
        .layer(axum::middleware::map_request(record));
    (crate::support::serve(app).await, seen)
}

#[tokio::test]
async fn a_server_that_ignores_the_user_filter_cannot_make_a_sync_remove_every_link() {
    let world = World::start(Options::default()).await;
    let (addr, seen) = traccar_ignoring_user_id().await;
    let config = world.traccar_at(addr, "");
    let file = world.write(
        "roster.csv",
        "target,name,email,devices\ntraccar,User 0,user0@example.com,111\ntraccar,User 1,user1@example.com,Bike B\n",
    );
    let journal = world.path("j.db");
    // Every user seems linked to all four devices: 6 of the 8 links look extra, past the
    // default limit (10% of 8, rounded up: 1). Nothing is removed.
    let err = world
        .import(
            &file,
            &config,
            &journal,
            &world.path("r.xlsx"),
            &["--mode", "sync", "--prune", "--yes"],
        )
        .await
        .expect_err("the unlink is refused");
    let text = format!("{err:#}");
    assert!(
        text.contains(
            "refusing to unlink 6 of its 8 links: more than --max-unlink 1 (10% of its links)"
        ),
        "{text}"
    );
    let got = seen.lock().unwrap().clone();
    assert!(
        got.iter().any(|r| r == "GET /api/devices?userId=1")
            && got.iter().any(|r| r == "GET /api/devices?userId=2"),
        "{got:?}"
    );
    assert!(
        !got.iter().any(|r| r.contains("/permissions")),
        "nothing linked or unlinked: {got:?}"
    );
    // An upsert trusts the answer: every wanted device looks linked, so nothing is sent
    // (the audit shows the extras; a server this broken cannot be compared better).
    seen.lock().unwrap().clear();
    world
        .import(
            &file,
            &config,
            &journal,
            &world.path("r2.xlsx"),
            &["--mode", "upsert"],
        )
        .await
        .expect("the upsert runs");
    let got = seen.lock().unwrap().clone();
    assert!(
        !got.iter()
            .any(|r| r.starts_with("POST") || r.starts_with("DELETE")),
        "{got:?}"
    );
}

/// Pegasus app access (issue 28): users the platform holds without pegasus2.0 access are
/// `different` in `apps` when the roster names their apps; an upsert grants exactly those
/// (the sandbox's `apps_granted`), nothing else, and the audit after it finds all `same`.
#[tokio::test]
async fn pegasus_upsert_grants_exactly_the_missing_app_access() {
    use muster::model::{Field, VendorKind};
    use muster::sandbox::pegasus::{APPS_GRANTED, USERS_WITH_APPS};

    let users = 4;
    let world = seeded(VendorKind::Pegasus, users).await;
    let config = world.config(&format!("rate = \"none\"\n{}", crate::support::FAST_APPS));
    let mut csv = String::from("target");
    let fields: Vec<Field> = crate::audit::person(VendorKind::Pegasus, 0, false)
        .iter()
        .map(|(f, _)| *f)
        .collect();
    for f in &fields {
        csv.push_str(&format!(",{}", f.name()));
    }
    csv.push_str(",apps\n");
    for n in 0..users {
        csv.push_str("pegasus");
        for (_, v) in crate::audit::person(VendorKind::Pegasus, n, false) {
            csv.push_str(&format!(",{v}"));
        }
        csv.push_str(",Tracking|reports\n");
    }
    let file = world.write("roster.csv", &csv);
    let all: std::collections::BTreeSet<String> =
        (0..users).map(|n| format!("user{n}@example.com")).collect();

    let (out, args) = audit_args(&world, &file, &config, "a1.xlsx");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    world.muster(&args).await.expect("audit runs");
    assert_eq!(classes(&out, "pegasus")["Different"], all);
    let writes = world.stat("pegasus", "writes") - world.stat("pegasus", "logins");
    assert_eq!(writes, 0, "the audit wrote");

    let journal = world.path("j.db");
    upsert(&world, &file, &config, &journal, "r.xlsx").await;
    assert_all_updated(&world, &journal, users);
    assert_eq!(world.stat("pegasus", APPS_GRANTED), users as u64);
    assert_eq!(world.stat("pegasus", USERS_WITH_APPS), users as u64);
    assert_eq!(world.stat("pegasus", "created"), 0);
    assert_eq!(
        world.stat("pegasus", "writes") - world.stat("pegasus", "logins"),
        users as u64,
        "only the grants were written"
    );
    let (found, _) = audit_of(&world, &file, &config, "a2.xlsx", "pegasus").await;
    assert_eq!(found["Same"], all);

    // Again: every row `exists`, no grant.
    upsert(&world, &file, &config, &journal, "r2.xlsx").await;
    assert_eq!(world.stat("pegasus", APPS_GRANTED), users as u64);
}

/// Motive groups (issue 28): drivers the platform holds without groups are `different` in
/// `groups` when the roster names them (by name or by id); an upsert adds exactly those
/// memberships (`groups_joined`), and the audit after it finds all `same`.
#[tokio::test]
async fn motive_upsert_adds_exactly_the_missing_groups() {
    use muster::model::{Field, VendorKind};
    use muster::sandbox::motive::{GROUPS_JOINED, UPDATED};

    let users = 4;
    let world = seeded(VendorKind::Motive, users).await;
    let config = world.config("rate = \"none\"");
    let fields: Vec<Field> = crate::audit::person(VendorKind::Motive, 0, false)
        .iter()
        .map(|(f, _)| *f)
        .collect();
    let mut csv = String::from("target");
    for f in &fields {
        csv.push_str(&format!(",{}", f.name()));
    }
    csv.push_str(",groups\n");
    for n in 0..users {
        csv.push_str("motive");
        for (_, v) in crate::audit::person(VendorKind::Motive, n, false) {
            csv.push_str(&format!(",{v}"));
        }
        // By name, and by id (102 is South).
        csv.push_str(",North|102\n");
    }
    let file = world.write("roster.csv", &csv);
    let all: std::collections::BTreeSet<String> =
        (0..users).map(|n| format!("user{n}@example.com")).collect();

    let (found, details) = audit_of(&world, &file, &config, "a1.xlsx", "motive").await;
    assert_eq!(found["Different"], all);
    assert!(
        details
            .iter()
            .all(|d| d == "missing on platform: North, 102"),
        "{details:?}"
    );

    let journal = world.path("j.db");
    upsert(&world, &file, &config, &journal, "r.xlsx").await;
    assert_all_updated(&world, &journal, users);
    assert_eq!(world.stat("motive", GROUPS_JOINED), 2 * users as u64);
    assert_eq!(world.stat("motive", UPDATED), users as u64);
    assert_eq!(world.stat("motive", "created"), 0);
    let (found, _) = audit_of(&world, &file, &config, "a2.xlsx", "motive").await;
    assert_eq!(found["Same"], all);
}

/// DRTrack lists neither branches nor user group (issue 28): the audit's Summary says they
/// are not comparable on this platform instead of calling the users `same` in silence; an
/// extra user is shown with its name and email.
#[tokio::test]
async fn drtrack_relationships_are_named_not_comparable_in_the_audit_summary() {
    use muster::model::VendorKind;

    let world = seeded(VendorKind::Drtrack, 3).await;
    let config = world.config("rate = \"none\"");
    let file = world.write(
        "roster.csv",
        "target,username,email,first_name,last_name,user_group,branch_ids\n\
         drtrack,user0,user0@example.com,First0,Last0,Driver,101|102\n\
         drtrack,user1,user1@example.com,First1,Last1,Driver,101\n",
    );
    let (out, args) = audit_args(&world, &file, &config, "a.xlsx");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    world.muster(&args).await.expect("audit runs");
    let mut wb: Xlsx<_> = open_workbook(&out).expect("audit workbook opens");
    let summary = wb.worksheet_range("Summary").expect("Summary sheet");
    let said: Vec<String> = summary
        .rows()
        .filter(|r| {
            r.first().map(Data::to_string).as_deref() == Some("not comparable on this platform")
        })
        .filter_map(|r| r.get(1).map(Data::to_string))
        .collect();
    assert_eq!(
        said,
        ["target drtrack (DRTrack): branch_ids, user_group"],
        "{:?}",
        summary.rows().collect::<Vec<_>>()
    );
    assert_eq!(classes(&out, "drtrack")["Same"].len(), 2);
    // The terminal summary (on stderr) and --json say it too (the real binary).
    let without_quiet: Vec<String> = args[..args.len() - 1]
        .iter()
        .map(|a| a.to_string())
        .collect();
    let bin = move |extra: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_muster"));
        c.args(&without_quiet).args(extra);
        for (k, v) in muster::sandbox::Sandbox::credentials() {
            c.env(k, v);
        }
        c
    };
    let said = tokio::task::spawn_blocking(move || {
        let table = bin(&[]).output().expect("audit runs");
        let json = bin(&["--json"]).output().expect("audit runs");
        (
            String::from_utf8_lossy(&table.stderr).into_owned(),
            String::from_utf8_lossy(&json.stdout).into_owned(),
        )
    });
    let (table, json) = said.await.unwrap();
    assert!(
        table.contains("target drtrack: branch_ids, user_group not comparable on this platform"),
        "{table}"
    );
    let summary: serde_json::Value = json
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|v: &serde_json::Value| v.get("summary").is_some())
        .expect("a JSON summary");
    assert_eq!(
        summary["summary"]["not_comparable"],
        serde_json::json!({"drtrack": ["branch_ids", "user_group"]})
    );
    // The extra user (not on the roster) is shown with its name and email.
    let extra = wb.worksheet_range("Extra").expect("Extra sheet");
    let rows: Vec<Vec<String>> = extra
        .rows()
        .map(|r| r.iter().map(Data::to_string).collect())
        .collect();
    assert_eq!(
        rows[0][..6],
        ["target", "vendor", "key", "platform_id", "name", "email"]
    );
    assert_eq!(
        (
            rows[1][2].as_str(),
            rows[1][4].as_str(),
            rows[1][5].as_str()
        ),
        ("user2", "First2 Last2", "user2@example.com"),
        "{rows:?}"
    );
}

/// Rows made from pruned platform users fill the roster's own columns (issue 28): a roster
/// headed `E-Mail` gets no second, `email` column in Results; the plan names them.
#[tokio::test]
async fn deleted_rows_fill_the_rosters_own_columns() {
    use muster::model::VendorKind;

    let world = seeded(VendorKind::Traccar, 3).await;
    let config = world.config("rate = \"none\"");
    let file = world.write(
        "roster.csv",
        "target,Full Name,E-Mail,Phone\n\
         traccar,User 0,user0@example.com,+43 660 0000\n\
         traccar,User 1,user1@example.com,+43 660 0100\n",
    );
    // The plan names the platform users: who would be removed, who is updated.
    let plan = world.path("plan.xlsx");
    world
        .import(
            &file,
            &config,
            &world.path("j.db"),
            &plan,
            &[
                "--mode",
                "sync",
                "--prune",
                "--yes",
                "--max-prune",
                "1",
                "--plan-only",
            ],
        )
        .await
        .expect("the plan is made");
    let mut wb: Xlsx<_> = open_workbook(&plan).expect("plan opens");
    let sheet = wb.worksheet_range("Plan").expect("Plan sheet");
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(Data::to_string).collect())
        .collect();
    let col = |h: &str| rows[0].iter().position(|c| c == h).expect(h);
    let (action, name, email) = (col("action"), col("platform_name"), col("platform_email"));
    let pruned: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r[action] == "delete (prune)")
        .map(|r| (r[name].as_str(), r[email].as_str()))
        .collect();
    assert_eq!(pruned, [("User 2", "user2@example.com")], "{rows:?}");

    let out = world.path("r.xlsx");
    world
        .import(
            &file,
            &config,
            &world.path("j.db"),
            &out,
            &["--mode", "sync", "--prune", "--yes", "--max-prune", "1"],
        )
        .await
        .expect("sync runs");
    assert_eq!(world.stat("traccar", "deleted"), 1);
    let mut wb: Xlsx<_> = open_workbook(&out).expect("results open");
    let results = wb.worksheet_range("Results").expect("Results sheet");
    let rows: Vec<Vec<String>> = results
        .rows()
        .map(|r| r.iter().map(Data::to_string).collect())
        .collect();
    let header = &rows[0];
    assert!(
        !header.iter().any(|h| h == "email" || h == "name"),
        "{header:?}"
    );
    let status = header.iter().position(|h| h == "status").expect("status");
    let email = header.iter().position(|h| h == "E-Mail").expect("E-Mail");
    let name = header
        .iter()
        .position(|h| h == "Full Name")
        .expect("Full Name");
    let deleted: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r[status] == "deleted")
        .map(|r| (r[name].as_str(), r[email].as_str()))
        .collect();
    assert_eq!(deleted, [("User 2", "user2@example.com")]);
}

/// A Motive fleet user's groups are its custom role's `group_ids` (issue 28): the audit
/// reads them there, and an upsert sets them there (with `group_visibility: limited`).
#[tokio::test]
async fn motive_fleet_users_get_their_groups_through_the_custom_role() {
    use muster::model::{Field, VendorKind};
    use muster::sandbox::motive::GROUPS_JOINED;
    use muster::sandbox::seed::PlatformSeed;

    let seeds = (0..2)
        .map(|n| {
            let mut fields = crate::audit::person(VendorKind::Motive, n, false);
            fields.push((Field::Role, "fleet_user".into()));
            PlatformSeed {
                vendor: VendorKind::Motive,
                fields,
            }
        })
        .collect();
    let world = World::start(Options {
        platform_users: seeds,
        ..Options::default()
    })
    .await;
    let config = world.config("rate = \"none\"");
    let mut csv =
        String::from("target,first_name,last_name,email,phone,role,groups,motive.user_role_id\n");
    for n in 0..2 {
        let p = crate::audit::person(VendorKind::Motive, n, false);
        let v: Vec<&str> = p.iter().map(|(_, v)| v.as_str()).collect();
        csv.push_str(&format!(
            "motive,{},{},{},{},fleet_user,North|South,7\n",
            v[0], v[1], v[2], v[3]
        ));
    }
    let file = world.write("roster.csv", &csv);
    let (found, _) = audit_of(&world, &file, &config, "a1.xlsx", "motive").await;
    assert_eq!(found["Different"].len(), 2, "{found:?}");
    let journal = world.path("j.db");
    upsert(&world, &file, &config, &journal, "r.xlsx").await;
    assert_eq!(
        world.stat("motive", GROUPS_JOINED),
        4,
        "{:?}",
        world.last_run_errors(&journal, 3)
    );
    let (found, _) = audit_of(&world, &file, &config, "a2.xlsx", "motive").await;
    assert_eq!(found["Same"].len(), 2, "{found:?}");
}
