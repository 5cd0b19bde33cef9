//! Unit tests of the Pegasus connector: bodies, readable errors, scopes, the `/apps` window.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::client::Window;
use super::wire::{self, Me};
use crate::model::{Action, Field, Layout, Row};
use crate::vendors::Job;

fn job(cells: &[(Field, &str)]) -> Job {
    let layout = Layout {
        file: "roster.csv".into(),
        sheet: "roster".into(),
        is_workbook: false,
        header_row: 1,
        headers: cells.iter().map(|(f, _)| f.name().to_string()).collect(),
        fields: cells.iter().map(|(f, _)| Some(*f)).collect(),
        passthrough: vec![],
    };
    let row = Row {
        index: 0,
        layout: Arc::new(layout),
        line: 2,
        cells: cells.iter().map(|(_, v)| v.to_string()).collect(),
        errors: vec![],
    };
    let key =
        crate::model::identity_key(crate::model::VendorKind::Pegasus, &row).unwrap_or_default();
    Job {
        index: 0,
        row: Arc::new(row),
        action: Action::Create,
        key,
    }
}

use crate::http::test_reply as reply;

#[test]
fn user_body_follows_the_guides_sample() {
    let j = job(&[
        (Field::Username, "Ana@Acme.test"),
        (Field::Email, "ana@acme.test"),
        (Field::FirstName, "Ana"),
        (Field::LastName, "Ruiz"),
        (Field::Password, "Secret-Pass-9"),
        (Field::Language, "ES"),
        (Field::Scopes, "vehicles=w|assets=r"),
    ]);
    let mut b = wire::user_body(&j).unwrap();
    assert!(b.generated.is_none());
    wire::set_group(&mut b.body, "3705");
    let v = &b.body;
    assert_eq!(v["groups"], json!([3705]));
    assert_eq!(v["username"], "Ana@Acme.test");
    assert_eq!(v["password"], "Secret-Pass-9");
    assert_eq!(v["send_email"], false);
    assert_eq!(v["id"], Value::Null);
    assert_eq!(v["id_user"], "new");
    assert_eq!(v["access"], "basic");
    assert_eq!(v["prefs"]["language"], "es");
    assert_eq!(v["scopes"], json!({"vehicles": "w", "assets": "r"}));
    // Key order as in the sample: `groups` keeps its place after being filled.
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(&keys[..4], ["access", "email", "send_email", "username"]);
    assert!(keys.iter().position(|k| *k == "groups") < keys.iter().position(|k| *k == "id"));
}

#[test]
fn password_or_send_email_or_a_generated_one() {
    type Cells<'a> = &'a [(Field, &'a str)];
    let cases: [(Cells, bool, bool); 3] = [
        // (cells, password sent, send_email)
        (
            &[(Field::Username, "a@x.test"), (Field::SendEmail, "yes")],
            false,
            true,
        ),
        (
            &[(Field::Username, "a@x.test"), (Field::Password, "Abcdefg1")],
            true,
            false,
        ),
        (&[(Field::Username, "a@x.test")], true, false),
    ];
    for (cells, has_password, send_email) in cases {
        let b = wire::user_body(&job(cells)).unwrap();
        assert_eq!(b.body.get("password").is_some(), has_password, "{cells:?}");
        assert_eq!(b.body["send_email"], send_email, "{cells:?}");
    }
    // A generated password meets the 6.11.1 policy.
    let b = wire::user_body(&job(&[(Field::Username, "a@x.test")])).unwrap();
    let p = b.generated.unwrap();
    let p = p.expose();
    assert!(p.len() >= 8);
    assert!(p.chars().any(|c| c.is_ascii_uppercase()));
    assert!(p.chars().any(|c| c.is_ascii_lowercase()));
    assert!(p.chars().any(|c| c.is_ascii_digit()));
    assert_eq!(b.body["email"], "a@x.test");
}

#[test]
fn default_scopes_and_malformed_scopes() {
    let b = wire::user_body(&job(&[(Field::Username, "a@x.test")])).unwrap();
    assert_eq!(
        b.body["scopes"],
        json!({"assets": "r", "vehicles": "w", "geofences": "w", "vehicles:device": "r"})
    );
    let bad = wire::user_body(&job(&[
        (Field::Username, "a@x.test"),
        (Field::Scopes, "vehicles=x|assets"),
    ]));
    let Err(problems) = bad else {
        panic!("malformed scopes were accepted")
    };
    assert_eq!(problems.len(), 2);
    assert!(
        problems[0].message.contains("vehicles=x"),
        "{}",
        problems[0]
    );
}

#[test]
fn apps_default_to_the_nine_of_the_guide() {
    let b = wire::apps_body(&job(&[(Field::Username, "a@x.test")]).row);
    let apps = b["staff"]["apps"].as_object().unwrap();
    assert_eq!(apps.len(), 9);
    assert!(apps.values().all(|v| v == &json!(true)));
    let b = wire::apps_body(&job(&[(Field::Apps, "Tracking | reports")]).row);
    assert_eq!(
        b,
        json!({"staff": {"apps": {"tracking": true, "reports": true}}})
    );
}

#[test]
fn refusals_become_readable_lines() {
    let cases = [
        (
            409,
            r#"{"message": "A user with username a@x.test already exists"}"#,
            "HTTP 409 (duplicate): A user with username a@x.test already exists",
        ),
        (
            400,
            r#"{"message": "password: too short"}"#,
            "HTTP 400 (refused as invalid): password: too short",
        ),
        (
            429,
            r#"{"reason": "apps", "message": "Rate exceeded", "limit": 20, "id": "1", "value": 21}"#,
            "HTTP 429 (rate limited): Rate exceeded on apps (limit 20)",
        ),
        (
            500,
            "Internal Server Error\n at x",
            "HTTP 500: Internal Server Error",
        ),
        (400, "", "HTTP 400 (refused as invalid)"),
    ];
    for (status, body, want) in cases {
        assert_eq!(wire::readable(&reply(status, body)), want);
    }
}

#[test]
fn scopes_needed_to_write() {
    let me = |v: Value| -> Me { serde_json::from_value(v).unwrap() };
    let staff = me(json!({"scopes": {}, "is_staff": true}));
    assert!(staff.can_write("users"));
    let limited = me(json!({"scopes": {"users": "r", "groups": "w"}, "is_staff": false}));
    assert!(!limited.can_write("users"));
    assert!(limited.can_write("groups"));
    assert!(!limited.can_write("users.application_data"));
    assert!(!me(json!({})).can_write("groups"));
}

#[test]
fn reply_ids_are_numbers_or_strings() {
    assert_eq!(
        wire::reply_id(&reply(201, r#"{"id": 3705}"#)).as_deref(),
        Some("3705")
    );
    assert_eq!(
        wire::reply_id(&reply(201, r#"{"id": "a1"}"#)).as_deref(),
        Some("a1")
    );
    assert_eq!(wire::reply_id(&reply(201, r#"{"id": null}"#)), None);
    assert_eq!(wire::reply_id(&reply(201, "ok")), None);
}

#[tokio::test(start_paused = true)]
async fn window_lets_at_most_max_through_in_any_period() {
    let w = Window::new(20, Duration::from_secs(60)).unwrap();
    let start = tokio::time::Instant::now();
    let mut times = Vec::new();
    let mut waited = 0;
    for _ in 0..45 {
        w.acquire(|| waited += 1).await;
        times.push(start.elapsed());
    }
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|u| **u < *t + Duration::from_secs(60))
            .count();
        assert!(
            in_window <= 20,
            "{in_window} sends within a minute of {t:?}"
        );
    }
    // 45 sends: 20 now, 20 after a minute, 5 after two (plus the slack).
    assert!(times[44] >= Duration::from_secs(120), "{:?}", times[44]);
    assert!(times[44] <= Duration::from_secs(125), "{:?}", times[44]);
    // Only the first send of each new minute had to wait: the others found room.
    assert_eq!(waited, 2);
    assert!(Window::new(0, Duration::from_secs(60)).is_none());
}

#[test]
fn listed_users_become_platform_users_in_roster_terms() {
    use std::collections::HashMap;
    let names: HashMap<String, String> = [("3705", "Acme"), ("3706", "Bolt")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let user = |v: Value| -> wire::User { serde_json::from_value(v).unwrap() };
    type Case = (
        Value,
        Option<(&'static str, bool, Vec<(Field, &'static str)>)>,
    );
    let cases: Vec<Case> = vec![
        (
            json!({"id": 5288, "username": " Ana@Acme.test ", "email": "ana@acme.test",
                   "first_name": "Ana", "last_name": "Ruiz", "phone": "+34 600",
                   "groups": [3705], "is_active": true}),
            Some((
                "ana@acme.test",
                true,
                vec![
                    (Field::Username, "Ana@Acme.test"),
                    (Field::Email, "ana@acme.test"),
                    (Field::FirstName, "Ana"),
                    (Field::LastName, "Ruiz"),
                    (Field::Phone, "+34 600"),
                    (Field::Company, "Acme"),
                ],
            )),
        ),
        // No username: the e-mail is the key; two groups (one unknown) and inactive.
        (
            json!({"id": 7, "email": "Bo@Bolt.test", "phone": null, "groups": [3706, 9, 3705],
                   "is_active": false}),
            Some((
                "bo@bolt.test",
                false,
                vec![
                    (Field::Email, "Bo@Bolt.test"),
                    (Field::Company, "Bolt|Acme"),
                ],
            )),
        ),
        (json!({"id": 8, "groups": null}), None),
    ];
    for (listed, want) in cases {
        let got = wire::platform_user(&user(listed.clone()), &names);
        match (got, want) {
            (None, None) => {}
            (Some(p), Some((key, active, fields))) => {
                assert_eq!(p.key, key, "{listed}");
                assert_eq!(p.active, active, "{listed}");
                let fields: Vec<(Field, String)> = fields
                    .into_iter()
                    .map(|(f, v)| (f, v.to_string()))
                    .collect();
                assert_eq!(p.fields, fields, "{listed}");
            }
            (got, _) => panic!("{listed}: {got:?}"),
        }
    }
}

/// The connector against the sandbox's Pegasus simulator, holding seeded users: update of
/// what differs, deactivation, the journal on re-runs.
mod against_the_sandbox {
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
    use crate::submit::{self, Silent, TargetWork};
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
            let (outcomes, _) = submit::submit(
                vec![TargetWork {
                    target,
                    credentials,
                    jobs,
                }],
                submit::Options {
                    run_id: run_id.into(),
                    dry_run,
                    mode,
                    deadline: None,
                    journal: self.journal.clone(),
                    reporter: Arc::new(Silent),
                    secrets: None,
                    purpose: crate::vendors::Purpose::Import,
                },
            )
            .await
            .unwrap();
            outcomes
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
        let listing = submit::list_users(&target, credentials, run.journal.clone())
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
}

#[test]
fn create_replies_read_as_made_taken_or_refused() {
    use crate::vendors::protocol::Verdict;
    let conflict = r#"{"message":"username already exists"}"#;
    let user_cases = [
        (201, r#"{"id": 3705}"#, Verdict::Made(Some("3705".into()))),
        (200, "ok", Verdict::Made(None)),
        (
            409,
            conflict,
            Verdict::Taken {
                reason: wire::readable(&reply(409, conflict)),
                if_absent: format!(
                    "{}; no user has this username, so the e-mail is probably another user's",
                    wire::readable(&reply(409, conflict))
                ),
            },
        ),
        (
            400,
            r#"{"message":"bad scopes"}"#,
            Verdict::Refused {
                reason: wire::readable(&reply(400, r#"{"message":"bad scopes"}"#)),
            },
        ),
    ];
    for (status, body, want) in user_cases {
        assert_eq!(
            wire::classify_user(&reply(status, body)),
            want,
            "{status} {body}"
        );
    }
    // A group: made, or refused; a 409 for a group is a refusal like any other.
    assert_eq!(
        wire::classify_group(&reply(201, r#"{"id": "g7"}"#)),
        Verdict::Made(Some("g7".into()))
    );
    assert!(matches!(
        wire::classify_group(&reply(409, conflict)),
        Verdict::Refused { .. }
    ));
}
