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
    let seeded = muster::sandbox::seed::traccar_devices();
    let mut s = String::from(if devices {
        "target,name,email,devices\n"
    } else {
        "target,name,email\n"
    });
    for i in 0..USERS {
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
    (classes(&out, "traccar"), details)
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
    world
        .import(
            &linked,
            &config,
            &journal,
            &world.path("r2.xlsx"),
            &["--mode", "upsert"],
        )
        .await
        .expect("upsert runs");
    let c = world.last_run_counts(&journal);
    assert_eq!(
        c.get(&Status::Updated),
        Some(&USERS),
        "{c:?} {:?}",
        world.last_run_errors(&journal, 3)
    );
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
    world
        .import(
            &linked,
            &config,
            &journal,
            &world.path("r3.xlsx"),
            &["--mode", "upsert"],
        )
        .await
        .expect("upsert runs");
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
}
