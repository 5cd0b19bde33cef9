//! Acceptance of issue 9 (audit, upsert, sync, plan, apply) against the sandbox with seeded
//! platform users, through `muster::run` in-process.
//!
//! One scenario per vendor, driven by [`acceptance`]: the platform holds 5 users the roster
//! lists identically, 3 it lists with another phone, and 4 it does not list; the roster adds
//! 2 users the platform lacks. To add a vendor, give it a [`person`] and a test calling
//! `acceptance(VendorKind::X)`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx, open_workbook};
use muster::model::{Field, Status, VendorKind};
use muster::sandbox::Options;
use muster::sandbox::seed::PlatformSeed;

use crate::support::World;

/// Users the roster lists as the platform holds them.
const SAME: std::ops::Range<usize> = 0..5;
/// Users the roster lists with another phone.
const DIFFERENT: std::ops::Range<usize> = 5..8;
/// Users only the platform holds.
const EXTRA: std::ops::Range<usize> = 8..12;
/// Users only the roster lists.
const MISSING: std::ops::Range<usize> = 12..14;

/// User `n` of `vendor` in roster terms; `changed` gives it another phone.
pub fn person(vendor: VendorKind, n: usize, changed: bool) -> Vec<(Field, String)> {
    let phone = if changed {
        format!("+43 660 {n:02}99")
    } else {
        format!("+43 660 {n:02}00")
    };
    match vendor {
        VendorKind::Traccar => vec![
            (Field::Name, format!("User {n}")),
            (Field::Email, format!("user{n}@example.com")),
            (Field::Phone, phone),
        ],
        VendorKind::Motive => vec![
            (Field::FirstName, format!("First{n}")),
            (Field::LastName, format!("Last{n}")),
            (Field::Email, format!("user{n}@example.com")),
            (Field::Phone, phone),
        ],
        VendorKind::Pegasus => vec![
            (Field::Username, format!("user{n}@example.com")),
            (Field::Email, format!("user{n}@example.com")),
            (Field::FirstName, format!("First{n}")),
            (Field::LastName, format!("Last{n}")),
            (Field::Phone, phone),
            (Field::Company, "Acme Freight".into()),
            // Required to create a Pegasus user (or send_email); never compared.
            (Field::Password, "Secret-Pass-1".into()),
        ],
        // DRTrack lists no phone: the changed users get another last name.
        VendorKind::Drtrack => vec![
            (Field::Username, format!("user{n}")),
            (Field::Email, format!("user{n}@example.com")),
            (Field::FirstName, format!("First{n}")),
            (
                Field::LastName,
                if changed {
                    format!("Changed{n}")
                } else {
                    format!("Last{n}")
                },
            ),
            (Field::UserGroup, "Driver".into()),
        ],
        other => panic!("no acceptance person for {other} yet"),
    }
}

/// The identity key of user `n` (what the audit names).
fn key(vendor: VendorKind, n: usize) -> String {
    let fields = person(vendor, n, false);
    let field = vendor.identity_field();
    fields
        .into_iter()
        .find(|(f, _)| *f == field)
        .map(|(_, v)| v.to_lowercase())
        .expect("the person has its identity field")
}

/// A roster CSV for `vendor` of the users `ns`; those in `changed` get the other phone.
pub fn roster(
    world: &World,
    name: &str,
    vendor: VendorKind,
    ns: &[usize],
    changed: &[usize],
) -> PathBuf {
    let fields: Vec<Field> = person(vendor, 0, false).iter().map(|(f, _)| *f).collect();
    let mut text = String::from("target");
    for f in &fields {
        text.push(',');
        text.push_str(f.name());
    }
    text.push('\n');
    for n in ns {
        text.push_str(vendor.key());
        for (_, v) in person(vendor, *n, changed.contains(n)) {
            text.push(',');
            text.push_str(&v);
        }
        text.push('\n');
    }
    world.write(name, &text)
}

/// `muster audit ROSTER --config CONFIG --out OUT --quiet` (OUT named `out` in the world's
/// folder): the workbook's path and the arguments.
pub fn audit_args(
    world: &World,
    roster: &Path,
    config: &Path,
    out: &str,
) -> (PathBuf, Vec<String>) {
    let out = world.path(out);
    let args = vec![
        "audit".to_string(),
        roster.display().to_string(),
        "--config".into(),
        config.display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--quiet".into(),
    ];
    (out, args)
}

/// The keys of each class sheet of an audit workbook, for one target.
pub fn classes(path: &Path, target: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut wb: Xlsx<_> = open_workbook(path).expect("audit workbook opens");
    let mut out = BTreeMap::new();
    for sheet in [
        "Same",
        "Different",
        "Missing",
        "Extra",
        "Protected",
        "Manual",
    ] {
        let range = wb.worksheet_range(sheet).expect("class sheet");
        let keys: BTreeSet<String> = range
            .rows()
            .skip(1)
            .filter(|r| r.first() == Some(&Data::String(target.into())))
            .filter_map(|r| r.get(2).map(|d| d.to_string()))
            .collect();
        out.insert(sheet.to_string(), keys);
    }
    out
}

pub fn keys(vendor: VendorKind, ns: impl IntoIterator<Item = usize>) -> BTreeSet<String> {
    ns.into_iter().map(|n| key(vendor, n)).collect()
}

/// Requests that change the platform: writes but logins (Pegasus logs in with
/// `POST /login`, a writing method the sandbox counts as a write).
pub fn changes(world: &World, vendor: &str) -> u64 {
    world.stat(vendor, "writes") - world.stat(vendor, "logins")
}

/// Counts of the newest run's rows by status.
fn counts(world: &World, journal: &Path) -> BTreeMap<Status, usize> {
    world.last_run_counts(journal)
}

/// The whole acceptance scenario for one vendor (see the module docs).
pub async fn acceptance(vendor: VendorKind) {
    let seeds: Vec<PlatformSeed> = SAME
        .chain(DIFFERENT)
        .chain(EXTRA)
        .map(|n| PlatformSeed {
            vendor,
            fields: person(vendor, n, false),
        })
        .collect();
    let world = World::start(Options {
        platform_users: seeds,
        ..Options::default()
    })
    .await;
    let v = vendor.key();
    let config = world.config("rate = \"none\"");
    let journal = world.path("journal.db");
    let listed: Vec<usize> = SAME.chain(DIFFERENT).chain(MISSING).collect();
    let changed: Vec<usize> = DIFFERENT.collect();
    let file = roster(&world, "roster.csv", vendor, &listed, &changed);
    let audit = |out: &str| audit_args(&world, &file, &config, out);

    // 1. The audit finds exactly the classes, and writes nothing.
    let (out, args) = audit("audit1.xlsx");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let exit = world.muster(&args).await.expect("audit runs");
    assert_eq!(exit, muster::Exit::Success);
    let found = classes(&out, v);
    assert_eq!(found["Same"], keys(vendor, SAME), "{v}: same");
    assert_eq!(
        found["Different"],
        keys(vendor, DIFFERENT),
        "{v}: different"
    );
    assert_eq!(found["Missing"], keys(vendor, MISSING), "{v}: missing");
    assert_eq!(found["Extra"], keys(vendor, EXTRA), "{v}: extra");
    assert!(found["Manual"].is_empty());
    assert_eq!(changes(&world, v), 0, "{v}: the audit wrote");
    // --fail-on-drift turns the drift into exit 1.
    let mut drift = args.clone();
    drift.push("--fail-on-drift");
    assert_eq!(
        world.muster(&drift).await.expect("audit runs"),
        muster::Exit::RowsFailed
    );

    // 2. Upsert: 3 updated, 2 created, 5 exists; a second audit shows all the roster same.
    let results = world.path("upsert.xlsx");
    world
        .import(&file, &config, &journal, &results, &["--mode", "upsert"])
        .await
        .expect("upsert runs");
    let c = counts(&world, &journal);
    assert_eq!(
        (
            c.get(&Status::Updated),
            c.get(&Status::Created),
            c.get(&Status::Exists)
        ),
        (Some(&3), Some(&2), Some(&5)),
        "{v}: {c:?} {:?}",
        world.last_run_errors(&journal, 5)
    );
    // Upsert again: every row `exists`, and not one write is sent.
    let writes = changes(&world, v);
    world
        .import(
            &file,
            &config,
            &journal,
            &world.path("again.xlsx"),
            &["--mode", "upsert"],
        )
        .await
        .expect("upsert runs");
    let c = counts(&world, &journal);
    assert_eq!(c.get(&Status::Exists), Some(&10), "{v}: {c:?}");
    assert_eq!(changes(&world, v), writes, "{v}: a same row wrote");
    let (out, args) = audit("audit2.xlsx");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    world.muster(&args).await.expect("audit runs");
    let found = classes(&out, v);
    assert_eq!(found["Same"], keys(vendor, listed.iter().copied()), "{v}");
    assert!(found["Different"].is_empty() && found["Missing"].is_empty());
    assert_eq!(found["Extra"], keys(vendor, EXTRA), "{v}: extras stay");

    // 3. Sync with --prune: the default limit (10% of 14 users: 2) and --max-prune 2
    //    refuse before anything is sent; without --yes and no terminal it refuses too.
    let writes = changes(&world, v);
    let sync = world.path("sync.xlsx");
    for extra in [
        &["--mode", "sync", "--prune", "--yes"][..],
        &["--mode", "sync", "--prune", "--yes", "--max-prune", "2"][..],
    ] {
        let err = world
            .import(&file, &config, &journal, &sync, extra)
            .await
            .expect_err("an oversized prune is refused");
        let text = format!("{err:#}");
        assert!(
            text.contains(&format!("target {v}: refusing to prune 4 of its 14 users")),
            "{text}"
        );
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        let err = world
            .import(
                &file,
                &config,
                &journal,
                &sync,
                &["--mode", "sync", "--prune", "--max-prune", "4"],
            )
            .await
            .expect_err("no --yes and no terminal");
        assert!(format!("{err:#}").contains("--yes"), "{err:#}");
    }
    assert_eq!(changes(&world, v), writes, "{v}: a refused prune wrote");
    world
        .import(
            &file,
            &config,
            &journal,
            &sync,
            &["--mode", "sync", "--prune", "--yes", "--max-prune", "4"],
        )
        .await
        .expect("sync runs");
    let c = counts(&world, &journal);
    assert_eq!(
        (c.get(&Status::Deleted), c.get(&Status::Exists)),
        (Some(&4), Some(&10)),
        "{v}: {c:?} {:?}",
        world.last_run_errors(&journal, 5)
    );
    let (out, args) = audit("audit3.xlsx");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    world.muster(&args).await.expect("audit runs");
    let found = classes(&out, v);
    assert!(found["Extra"].is_empty(), "{v}: {:?}", found["Extra"]);
    assert_eq!(found["Same"].len(), 10);

    // 4. Plan and apply: a plan made, then the platform changed → apply refuses, naming
    //    the user; a fresh plan with nothing changed in between is carried out.
    let more: Vec<usize> = listed.iter().copied().chain([20]).collect();
    let next = roster(&world, "next.csv", vendor, &more, &[0, 5, 6, 7]);
    let plan = world.path("plan.xlsx");
    let p = |x: &Path| x.display().to_string();
    let plan_args = [
        "import".to_string(),
        p(&next),
        "--config".into(),
        p(&config),
        "--journal".into(),
        p(&journal),
        "--out".into(),
        p(&plan),
        "--mode".into(),
        "upsert".into(),
        "--plan-only".into(),
        "--quiet".into(),
    ];
    let plan_args: Vec<&str> = plan_args.iter().map(String::as_str).collect();
    let writes = changes(&world, v);
    world.muster(&plan_args).await.expect("plan is made");
    assert_eq!(changes(&world, v), writes, "{v}: a plan wrote");
    // Someone creates a user directly in between.
    let intruder = roster(&world, "intruder.csv", vendor, &[21], &[]);
    world
        .import(
            &intruder,
            &config,
            &world.path("other.db"),
            &world.path("i.xlsx"),
            &[],
        )
        .await
        .expect("direct create");
    let applied = world.path("applied.xlsx");
    let apply_args = [
        "apply".to_string(),
        p(&plan),
        "--journal".into(),
        p(&journal),
        "--out".into(),
        p(&applied),
        "--yes".into(),
        "--quiet".into(),
    ];
    let apply_args: Vec<&str> = apply_args.iter().map(String::as_str).collect();
    let writes = changes(&world, v);
    let err = world
        .muster(&apply_args)
        .await
        .expect_err("the platform changed since the plan");
    let text = format!("{err:#}");
    assert!(
        text.contains(&format!("target {v}: appeared: {}", key(vendor, 21))),
        "{text}"
    );
    assert_eq!(changes(&world, v), writes, "{v}: a refused apply wrote");
    // A fresh plan, nothing changed: apply carries it out (1 created, 1 updated).
    world.muster(&plan_args).await.expect("plan is made");
    world.muster(&apply_args).await.expect("apply runs");
    let c = counts(&world, &journal);
    assert_eq!(
        (
            c.get(&Status::Created),
            c.get(&Status::Updated),
            c.get(&Status::Exists)
        ),
        (Some(&1), Some(&1), Some(&9)),
        "{v}: {c:?} {:?}",
        world.last_run_errors(&journal, 5)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traccar_audit_upsert_sync_plan_apply() {
    acceptance(VendorKind::Traccar).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn motive_audit_upsert_sync_plan_apply() {
    acceptance(VendorKind::Motive).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pegasus_audit_upsert_sync_plan_apply() {
    acceptance(VendorKind::Pegasus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drtrack_audit_upsert_sync_plan_apply() {
    acceptance(VendorKind::Drtrack).await;
}

/// AROBS cannot be listed: its rows are `manual`, which is not drift, and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arobs_rows_are_manual_and_not_drift() {
    let world = World::start(Options::default()).await;
    let config = world.config("rate = \"none\"");
    let file = world.write(
        "arobs.csv",
        "target,username,first_name,last_name,email,vehicles\narobs,driver.one,Driver,One,one@example.com,CJ-01-ARB\n",
    );
    let out = world.path("audit.xlsx");
    let (f, c, o) = (
        file.display().to_string(),
        config.display().to_string(),
        out.display().to_string(),
    );
    let exit = world
        .muster(&[
            "audit",
            &f,
            "--config",
            &c,
            "--out",
            &o,
            "--quiet",
            "--fail-on-drift",
        ])
        .await
        .expect("audit runs");
    assert_eq!(exit, muster::Exit::Success, "manual is not drift");
    let found = classes(&out, "arobs");
    assert_eq!(found["Manual"], BTreeSet::from(["driver.one".to_string()]));
    assert_eq!(world.stat("arobs", "requests"), 0);
}

/// A target whose users cannot be listed: `audit` and `--plan-only` refuse (exit 2, naming
/// it); an upsert goes on and the engine halts that target (`not_attempted`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlistable_target_stops_the_audit_and_halts_the_upsert() {
    let world = World::start(Options::default()).await;
    let good = world.config("rate = \"none\"");
    let text = std::fs::read_to_string(&good).expect("config").replace(
        "token_env = \"SANDBOX_TRACCAR_TOKEN\"",
        "token_env = \"SANDBOX_MOTIVE_API_KEY\"",
    );
    let config = world.write("bad.toml", &text);
    let file = roster(&world, "r.csv", VendorKind::Traccar, &[1, 2], &[]);
    let (f, c) = (file.display().to_string(), config.display().to_string());
    let out = world.path("audit.xlsx").display().to_string();
    let err = world
        .muster(&["audit", &f, "--config", &c, "--out", &out, "--quiet"])
        .await
        .expect_err("cannot list");
    assert!(
        format!("{err:#}").contains("target traccar: cannot list its users: credentials rejected"),
        "{err:#}"
    );
    let journal = world.path("j.db");
    let exit = world
        .import(
            &file,
            &config,
            &journal,
            &world.path("r.xlsx"),
            &["--mode", "upsert"],
        )
        .await
        .expect("the import runs");
    assert_eq!(exit, muster::Exit::RowsFailed);
    assert_eq!(
        counts(&world, &journal).get(&Status::NotAttempted),
        Some(&2)
    );
    assert_eq!(world.stat("traccar", "writes"), 0);
}

/// A user the platform holds deactivated (Motive) or inactive (Pegasus) and the roster
/// lists again, as for a person who comes back: the audit shows it `different` in
/// `disabled`, and an upsert gives it back its access, once.
async fn a_listed_inactive_user_is_reactivated(vendor: VendorKind) {
    let v = vendor.key();
    let seeds = (0..4)
        .map(|n| {
            let mut fields = person(vendor, n, false);
            if n == 1 {
                fields.push((Field::Disabled, "true".into()));
            }
            PlatformSeed { vendor, fields }
        })
        .collect();
    let world = World::start(Options {
        platform_users: seeds,
        ..Options::default()
    })
    .await;
    let config = world.config("rate = \"none\"");
    let journal = world.path("journal.db");
    let file = roster(&world, "roster.csv", vendor, &[0, 1, 2, 3], &[]);
    let audit = |out: &str| audit_args(&world, &file, &config, out);
    let (out, args) = audit("before.xlsx");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    world.muster(&args).await.expect("audit runs");
    let found = classes(&out, v);
    assert_eq!(found["Different"], keys(vendor, [1]), "{v}");
    assert_eq!(found["Same"], keys(vendor, [0, 2, 3]), "{v}");

    world
        .import(
            &file,
            &config,
            &journal,
            &world.path("upsert.xlsx"),
            &["--mode", "upsert"],
        )
        .await
        .expect("upsert runs");
    let c = counts(&world, &journal);
    assert_eq!(
        (c.get(&Status::Updated), c.get(&Status::Exists)),
        (Some(&1), Some(&3)),
        "{v}: {c:?} {:?}",
        world.last_run_errors(&journal, 5)
    );
    assert_eq!(world.stat(v, "created"), 0, "{v}");
    let (out, args) = audit("after.xlsx");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    world.muster(&args).await.expect("audit runs");
    let found = classes(&out, v);
    assert_eq!(found["Same"], keys(vendor, 0..4), "{v}: reactivated");
    assert!(found["Different"].is_empty(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn motive_reactivates_a_listed_deactivated_user() {
    a_listed_inactive_user_is_reactivated(VendorKind::Motive).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pegasus_reactivates_a_listed_inactive_user() {
    a_listed_inactive_user_is_reactivated(VendorKind::Pegasus).await;
}
