//! The engine driving the Pegasus connector against the sandbox's simulator, holding
//! seeded users: update of what differs, deactivation, the journal on re-runs.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::{Credentials, Rate, Target};
use crate::journal::{Journal, StepState};
use crate::model::Mode;
use crate::model::identity_key;
use crate::model::{Action, Field, Layout, Outcome, Row, Status, VendorKind};
use crate::sandbox::pegasus::PegasusSim;
use crate::sandbox::seed::PlatformSeed;
use crate::sandbox::{Options, Sandbox};
use crate::secret::Secret;
use crate::submit;
use crate::vendors::Job;

const COLUMNS: [Field; 6] = [
    Field::Username,
    Field::Email,
    Field::FirstName,
    Field::LastName,
    Field::Phone,
    Field::Company,
];

/// A seeded Pegasus user: username, email, first, last, phone, company.
fn seed(cells: [&str; 6]) -> PlatformSeed {
    PlatformSeed {
        vendor: VendorKind::Pegasus,
        fields: COLUMNS
            .iter()
            .zip(cells)
            .filter(|(_, v)| !v.is_empty())
            .map(|(f, v)| (*f, v.to_string()))
            .collect(),
    }
}

fn job(index: usize, cells: [&str; 6], action: Action) -> Job {
    let mut fields: Vec<Field> = COLUMNS.to_vec();
    fields.push(Field::Password);
    let layout = Arc::new(Layout {
        file: "roster.csv".into(),
        sheet: "roster".into(),
        is_workbook: false,
        header_row: 1,
        headers: fields.iter().map(|f| f.name().to_string()).collect(),
        fields: fields.iter().map(|f| Some(*f)).collect(),
        passthrough: vec![],
    });
    let mut values: Vec<String> = cells.iter().map(|c| c.to_string()).collect();
    values.push("Secret-Pass-1".into());
    let row = Row {
        index,
        layout,
        line: index as u32 + 2,
        cells: values.into(),
        errors: vec![],
    };
    let key = identity_key(VendorKind::Pegasus, &row).unwrap_or_default();
    Job {
        index,
        row: Arc::new(row),
        action,
        key,
    }
}

/// Seeded on every sandbox of these tests.
const SEEDS: [[&str; 6]; 4] = [
    [
        "ana@acme.test",
        "ana@acme.test",
        "Ana",
        "Ruiz",
        "+34 600 111 222",
        "Acme",
    ],
    ["ben@acme.test", "ben@acme.test", "Ben", "Ode", "", "Acme"],
    [
        "cy@bolt.test",
        "Cy@Bolt.test",
        "Cy",
        "Lam",
        "555 0100",
        "Bolt",
    ],
    ["dee@bolt.test", "dee@bolt.test", "Dee", "Fox", "", "Bolt"],
];

async fn sandbox() -> Sandbox {
    let options = Options {
        platform_users: SEEDS.iter().map(|s| seed(*s)).collect(),
        ..Options::default()
    };
    Sandbox::start("127.0.0.1:0", options).await.unwrap()
}

fn sim(sandbox: &Sandbox) -> Arc<PegasusSim> {
    sandbox
        .platform("pegasus")
        .and_then(|p| p.state::<PegasusSim>())
        .unwrap()
}

fn stat(sandbox: &Sandbox, name: &str) -> u64 {
    sandbox.stats()["pegasus"][name].as_u64().unwrap_or(0)
}

/// Writes other than logins (`POST /login` is a writing method too).
fn changes(sandbox: &Sandbox) -> u64 {
    stat(sandbox, "writes") - stat(sandbox, "logins")
}

fn stored<'a>(users: &'a [Value], username: &str) -> &'a Value {
    users
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("{username} is not on the platform"))
}

struct Run {
    journal: Arc<Journal>,
    _dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        let dir = tempfile::tempdir().unwrap();
        Run {
            journal: Arc::new(Journal::open(&dir.path().join("j.db")).unwrap()),
            _dir: dir,
        }
    }

    async fn go(
        &self,
        run_id: &str,
        sandbox: &Sandbox,
        mode: Mode,
        dry_run: bool,
        jobs: Vec<Job>,
    ) -> HashMap<usize, Outcome> {
        let url = format!("{}/pegasus", sandbox.url());
        let mut target = Target::with_defaults("pg", VendorKind::Pegasus, &url);
        target.rate = Rate::Unlimited;
        target.apps_rate = Rate::Unlimited;
        target.apps_per_minute = 0;
        target.retries = 1;
        let credentials = Credentials {
            token: None,
            username: Some(Secret::new("admin@sandbox.test")),
            password: Some(Secret::new("Sandbox-Pass-1")),
        };
        super::submit_to(
            target,
            credentials,
            jobs,
            (run_id, self.journal.clone()),
            (mode, dry_run),
        )
        .await
        .0
    }
}

#[tokio::test]
async fn seeded_users_are_listed_with_their_keys_and_fields() {
    let sandbox = sandbox().await;
    let run = Run::new();
    // One deactivated: still listed, inactive.
    run.go(
        "r",
        &sandbox,
        Mode::Sync,
        false,
        vec![job(
            0,
            ["dee@bolt.test", "", "", "", "", ""],
            Action::Delete,
        )],
    )
    .await;
    let url = format!("{}/pegasus", sandbox.url());
    let target = Target::with_defaults("pg", VendorKind::Pegasus, &url);
    let credentials = Credentials {
        token: None,
        username: Some(Secret::new("admin@sandbox.test")),
        password: Some(Secret::new("Sandbox-Pass-1")),
    };
    let listing = submit::list_users(
        &target,
        credentials,
        run.journal.clone(),
        &Default::default(),
    )
    .await
    .unwrap();
    // `GET /user` names the account muster is logged in as.
    assert_eq!(listing.logged_in_as.as_deref(), Some("admin@sandbox.test"));
    let users = listing.users.unwrap();
    let keys: Vec<(&str, bool)> = users.iter().map(|u| (u.key.as_str(), u.active)).collect();
    assert_eq!(
        keys,
        [
            ("ana@acme.test", true),
            ("ben@acme.test", true),
            ("cy@bolt.test", true),
            ("dee@bolt.test", false),
        ]
    );
    let cy = &users[2];
    let fields: Vec<(Field, &str)> = cy.fields.iter().map(|(f, v)| (*f, v.as_str())).collect();
    assert_eq!(
        fields,
        [
            (Field::Username, "cy@bolt.test"),
            (Field::Email, "Cy@Bolt.test"),
            (Field::FirstName, "Cy"),
            (Field::LastName, "Lam"),
            (Field::Phone, "555 0100"),
            (Field::Company, "Bolt"),
        ]
    );
    let ids: Vec<String> = sim(&sandbox)
        .users()
        .iter()
        .map(|u| u["id"].to_string())
        .collect();
    assert_eq!(users.iter().map(|u| u.id.clone()).collect::<Vec<_>>(), ids);
    // Read-only: a login, the scope check and the pages; no change.
    assert_eq!(
        changes(&sandbox),
        1,
        "only the deactivation changed anything"
    );
}

#[tokio::test]
async fn seeded_users_are_stored_in_their_company_group() {
    let sandbox = sandbox().await;
    let sim = sim(&sandbox);
    let users = sim.users();
    assert_eq!(users.len(), 4);
    assert_eq!(stat(&sandbox, "users"), 4);
    let groups = sim.groups();
    assert_eq!(groups.len(), 2, "one group per company");
    let acme = groups.iter().find(|g| g["name"] == "Acme").unwrap()["id"].clone();
    assert_eq!(stored(&users, "ana@acme.test")["groups"], json!([acme]));
    assert_eq!(stored(&users, "ana@acme.test")["phone"], "+34 600 111 222");
    assert_eq!(stored(&users, "ben@acme.test")["phone"], Value::Null);
    assert_eq!(stat(&sandbox, "created"), 0, "seeds are not creates");
}

/// Upsert: per row, the keys `PUT /users/{id}` carried (`None`: no request).
#[tokio::test]
async fn upsert_sends_exactly_the_fields_that_differ() {
    type Case = ([&'static str; 6], Status, Option<&'static [&'static str]>);
    let cases: [Case; 5] = [
        // Same, the phone written differently and the e-mail in other case.
        (
            [
                "ana@acme.test",
                "ANA@acme.test",
                "Ana",
                "Ruiz",
                "+34600111222",
                "Acme",
            ],
            Status::Exists,
            None,
        ),
        // A new last name; the blank phone does not clear the platform's.
        (
            ["ben@acme.test", "ben@acme.test", "Ben", "Odell", "", "Acme"],
            Status::Updated,
            Some(&["last_name"]),
        ),
        // Another phone and another company: its group is made once and set.
        (
            [
                "cy@bolt.test",
                "cy@bolt.test",
                "Cy",
                "Lam",
                "555 0199",
                "Crane",
            ],
            Status::Updated,
            Some(&["phone", "groups"]),
        ),
        // A new e-mail.
        (
            [
                "dee@bolt.test",
                "dee.fox@bolt.test",
                "Dee",
                "Fox",
                "",
                "Bolt",
            ],
            Status::Updated,
            Some(&["email"]),
        ),
        // Not on the platform: created.
        (
            ["eve@bolt.test", "eve@bolt.test", "Eve", "Tan", "", "Bolt"],
            Status::Created,
            None,
        ),
    ];
    let sandbox = sandbox().await;
    let sim = sim(&sandbox);
    let before = sim.users();
    let run = Run::new();
    let jobs: Vec<Job> = cases
        .iter()
        .enumerate()
        .map(|(i, (cells, _, _))| job(i, *cells, Action::Create))
        .collect();
    let out = run
        .go("r1", &sandbox, Mode::Upsert, false, jobs.clone())
        .await;
    let after = sim.users();
    let updates = sim.updates();
    for (i, (cells, status, keys)) in cases.iter().enumerate() {
        let o = &out[&i];
        assert_eq!(o.status, *status, "row {i}: {o:?}");
        let Some(id) = before
            .iter()
            .find(|u| u["username"] == cells[0])
            .map(|u| u["id"].as_i64().unwrap())
        else {
            continue;
        };
        assert_eq!(o.user_id.as_deref(), Some(id.to_string().as_str()));
        let sent: Vec<&Value> = updates
            .iter()
            .filter(|(u, _)| *u == id)
            .map(|(_, b)| b)
            .collect();
        match keys {
            None => assert!(sent.is_empty(), "row {i}: sent {sent:?}"),
            Some(keys) => {
                assert_eq!(sent.len(), 1, "row {i}");
                let mut got: Vec<&str> = sent[0]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                let mut want = keys.to_vec();
                got.sort_unstable();
                want.sort_unstable();
                assert_eq!(got, want, "row {i}");
            }
        }
    }
    assert_eq!(stored(&after, "ben@acme.test")["last_name"], "Odell");
    assert_eq!(
        stored(&after, "dee@bolt.test")["email"],
        "dee.fox@bolt.test"
    );
    let crane = sim
        .groups()
        .iter()
        .find(|g| g["name"] == "Crane")
        .map(|g| g["id"].clone())
        .unwrap();
    assert_eq!(stored(&after, "cy@bolt.test")["groups"], json!([crane]));
    assert_eq!(stored(&after, "cy@bolt.test")["first_name"], "Cy");
    assert_eq!(stat(&sandbox, "updated"), 3);
    assert_eq!(stat(&sandbox, "created"), 1);

    // A second upsert finds nothing to change: no write at all.
    let writes = changes(&sandbox);
    let again = run.go("r2", &sandbox, Mode::Upsert, false, jobs).await;
    for i in 0..cases.len() {
        assert_eq!(again[&i].status, Status::Exists, "row {i}: {:?}", again[&i]);
    }
    assert_eq!(changes(&sandbox), writes);
    assert_eq!(stat(&sandbox, "duplicates_refused"), 0);
}

#[tokio::test]
async fn create_mode_leaves_a_differing_user_alone_and_a_dry_run_only_plans() {
    let sandbox = sandbox().await;
    let rows = vec![
        job(
            0,
            ["ben@acme.test", "", "Benjamin", "", "", ""],
            Action::Create,
        ),
        job(1, ["ana@acme.test", "", "Ana", "", "", ""], Action::Create),
    ];
    let out = Run::new()
        .go("r", &sandbox, Mode::Create, false, rows.clone())
        .await;
    assert_eq!(out[&0].status, Status::Exists);
    let dry = Run::new().go("d", &sandbox, Mode::Sync, true, rows).await;
    assert_eq!(dry[&0].status, Status::Planned);
    assert_eq!(dry[&1].status, Status::Exists);
    assert_eq!(changes(&sandbox), 0);
    assert_eq!(stat(&sandbox, "updated"), 0);
}

#[tokio::test]
async fn an_explicit_update_of_an_unknown_user_fails_by_name() {
    let sandbox = sandbox().await;
    let out = Run::new()
        .go(
            "r",
            &sandbox,
            Mode::Create,
            false,
            vec![job(
                0,
                ["ghost@acme.test", "", "G", "", "", ""],
                Action::Update,
            )],
        )
        .await;
    assert_eq!(out[&0].status, Status::Failed);
    let e = out[&0].error.as_deref().unwrap_or_default();
    assert!(e.contains("ghost@acme.test"), "{e}");
    assert_eq!(changes(&sandbox), 0);
}

#[tokio::test]
async fn delete_deactivates_once_and_a_rerun_sends_nothing() {
    let sandbox = sandbox().await;
    let sim = sim(&sandbox);
    let run = Run::new();
    let jobs = vec![
        job(0, ["cy@bolt.test", "", "", "", "", ""], Action::Delete),
        job(1, ["dee@bolt.test", "", "", "", "", ""], Action::Delete),
        job(2, ["nobody@bolt.test", "", "", "", "", ""], Action::Delete),
    ];
    let out = run
        .go("r1", &sandbox, Mode::Sync, false, jobs.clone())
        .await;
    for i in [0, 1] {
        assert_eq!(out[&i].status, Status::Deleted, "row {i}: {:?}", out[&i]);
        assert_eq!(out[&i].error, None);
    }
    assert_eq!(out[&2].status, Status::Failed);
    assert!(
        out[&2]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("no user with username nobody@bolt.test")),
        "{:?}",
        out[&2]
    );
    let users = sim.users();
    assert_eq!(users.len(), 4, "deactivated users stay listed");
    assert_eq!(stored(&users, "cy@bolt.test")["is_active"], false);
    assert_eq!(stored(&users, "ana@acme.test")["is_active"], true);
    assert_eq!(stat(&sandbox, "deactivated"), 2);
    let bodies: Vec<Value> = sim.updates().into_iter().map(|(_, b)| b).collect();
    assert_eq!(bodies, vec![json!({"is_active": false}); 2]);
    let steps = run.journal.steps("pg").unwrap();
    let step = &steps[&("cy@bolt.test".to_string(), "deactivate".to_string())];
    assert_eq!(step.state, StepState::Done);

    let writes = changes(&sandbox);
    let again = run.go("r2", &sandbox, Mode::Sync, false, jobs).await;
    for i in [0, 1] {
        assert_eq!(again[&i].status, Status::Deleted, "row {i}");
        assert_eq!(again[&i].attempts, 0, "row {i}");
        assert!(
            again[&i]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("already inactive")),
            "{:?}",
            again[&i]
        );
    }
    assert_eq!(changes(&sandbox), writes, "nothing sent again");
    assert_eq!(stat(&sandbox, "deactivated"), 2);
}
