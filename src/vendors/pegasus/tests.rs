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
    let mut waits = Vec::new();
    for _ in 0..45 {
        w.acquire(|wait| waits.push(wait)).await;
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
    // Only the first send of each new minute had to wait, a whole window (and its slack):
    // the others found room.
    assert_eq!(waits, [Duration::from_secs(61); 2]);
    assert_eq!(w.pace().burst, 20);
    assert!((w.pace().per_second - 20.0 / 61.0).abs() < 1e-9);
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

/// Row planning on a dry run, without a server: what the listing and the ledger decide.
mod planning {
    use std::collections::HashMap;
    use std::sync::Arc;

    use serde_json::json;

    use super::super::client::{Groups, Users};
    use super::super::wire::User;
    use super::super::{AppsGate, Existing, Pegasus, STEP_APP, STEP_GROUP, group_key};
    use crate::config::Credentials;
    use crate::model::{Action, Mode, Row, StepState, VendorKind};
    use crate::vendors::protocol::{Rows, Then};
    use crate::vendors::testing::Planner;
    use crate::vendors::{Job, STEP_COMPLETE, STEP_USER};

    /// Pegasus holding users 7 (ann, Ann Lee, in group 30 "Acme") and 8 (bob, inactive).
    fn holding(engine: &Planner) -> Existing {
        let listed: Vec<User> = serde_json::from_value(json!([
            {"id": 7, "username": "ann", "email": "ann@fleet.test", "first_name": "Ann", "last_name": "Lee", "groups": [30], "is_active": true},
            {"id": 8, "username": "bob", "email": "bob@fleet.test", "first_name": "Bob", "last_name": "Lee", "groups": [30], "is_active": false},
        ]))
        .unwrap();
        let mut users = Users {
            by_username: HashMap::new(),
            by_email: HashMap::new(),
            by_id: HashMap::new(),
            order: Vec::new(),
        };
        for u in listed {
            let id = u.id.to_string();
            users
                .by_username
                .insert(u.username.clone().unwrap(), id.clone());
            users.by_email.insert(u.email.clone().unwrap(), id.clone());
            users.order.push(id.clone());
            users.by_id.insert(id, u);
        }
        Existing {
            users,
            groups: Groups {
                by_name: HashMap::from([("Acme".into(), "30".into())]),
                names: HashMap::from([("30".into(), "Acme".into())]),
            },
            contacts: HashMap::new(),
            gate: AppsGate::of(engine),
        }
    }

    fn job(action: Action, username: &str, first: &str) -> Job {
        let row = Row::of_pairs(&[
            ("username", username),
            ("email", &format!("{username}@fleet.test")),
            ("first_name", first),
            ("last_name", "Lee"),
            ("company", "Acme"),
        ]);
        let key = crate::model::identity_key(VendorKind::Pegasus, &row).unwrap_or_default();
        Job {
            index: 0,
            row: Arc::new(row),
            action,
            key,
        }
    }

    /// A row planned: its status and error, user id, created ids and how many steps it
    /// hands the engine to settle.
    fn planned(engine: &Planner, job: Job) -> (String, Option<String>, String, usize) {
        let plan = Pegasus::new(Credentials::default()).plan(engine, &holding(engine), &job, ());
        let out = plan.out;
        let said = match out.error {
            Some(e) => format!("{}: {e}", out.status),
            None => out.status.to_string(),
        };
        let ids: Vec<String> = out
            .other_ids
            .iter()
            .map(|s| format!("{}:{}", s.kind, s.id))
            .collect();
        (said, out.user_id, ids.join(" "), plan.settle.len())
    }

    /// What the engine is asked to do for a row (not a dry run): the group it shares, the
    /// user's create or write, then what follows.
    fn steps(engine: &Planner, job: Job) -> String {
        let plan = Pegasus::new(Credentials::default()).plan(engine, &holding(engine), &job, ());
        let shared = match &plan.shared {
            None => "no group".to_string(),
            Some(g) => format!("{} ({})", g.what, g.known.as_deref().unwrap_or("to make")),
        };
        let user = crate::vendors::testing::user_step(&plan.user);
        let then = match &plan.then {
            Then::Nothing => "nothing",
            Then::Finish => "finish",
            Then::Make(()) => "grant app access",
            Then::Align { .. } => "read app access, grant if it differs",
        };
        format!("{shared}; {user}; then {then}")
    }

    #[test]
    fn rows_are_planned_as_steps_for_the_engine() {
        let sending = |mode: Mode| {
            let mut p = Planner::new(VendorKind::Pegasus, mode);
            p.dry_run = false;
            p
        };
        let with_apps = |mut j: Job| {
            let row = Row::of_pairs(&[
                ("username", j.key.as_str()),
                ("email", &format!("{}@fleet.test", j.key)),
                ("first_name", "Ann"),
                ("last_name", "Lee"),
                ("company", "Acme"),
                ("apps", "tracking"),
            ]);
            j.row = Arc::new(row);
            j
        };
        let cases: Vec<(&str, Planner, Job, &str)> = vec![
            (
                "a new user: its company's group (known), the user, then app access",
                sending(Mode::Create),
                job(Action::Create, "cat", "Cat"),
                "group \"Acme\" (30); create POST /users; then grant app access",
            ),
            (
                "ours, app access missing: only the grant",
                sending(Mode::Create).with_step_id(
                    "ann",
                    STEP_USER,
                    StepState::Done,
                    "earlier",
                    Some("7"),
                ),
                job(Action::Create, "ann", "Ann"),
                "no group; nothing; then grant app access",
            ),
            (
                "ours, app access granted, not marked complete: finished",
                sending(Mode::Create)
                    .with_step_id("ann", STEP_USER, StepState::Done, "earlier", Some("7"))
                    .with_step("ann", STEP_APP, StepState::Done, "earlier"),
                job(Action::Create, "ann", "Ann"),
                "no group; nothing; then finish",
            ),
            (
                "upsert of another name",
                sending(Mode::Upsert),
                job(Action::Create, "ann", "Anna"),
                "no group; update: PUT /users/7 -> updated; then nothing",
            ),
            (
                "upsert naming apps: read, granted if they differ",
                sending(Mode::Upsert),
                with_apps(job(Action::Create, "ann", "Ann")),
                "no group; nothing; then read app access, grant if it differs",
            ),
            (
                "a delete deactivates",
                sending(Mode::Create),
                job(Action::Delete, "ann", "Ann"),
                "no group; deactivate: PUT /users/7 -> deleted; then nothing",
            ),
        ];
        for (name, engine, job, expected) in cases {
            assert_eq!(steps(&engine, job), expected, "{name}");
        }
    }

    #[tokio::test]
    async fn rows_are_planned_from_the_listing_and_the_ledger() {
        let create = || Planner::new(VendorKind::Pegasus, Mode::Create);
        let upsert = || Planner::new(VendorKind::Pegasus, Mode::Upsert);
        // Muster made ann as 7 (the id the listing shows for ann).
        let ours = |state| {
            let made = (state == StepState::Done).then_some("7");
            create()
                .with_step_id("ann", STEP_USER, state, "earlier", made)
                .with_step(&group_key("Acme"), STEP_GROUP, StepState::Done, "earlier")
        };
        let id = |s: &str| Some(s.to_string());
        type Case = (
            &'static str,
            Planner,
            Job,
            &'static str,
            Option<String>,
            &'static str,
            usize,
        );
        let cases: Vec<Case> = vec![
            (
                "a new user",
                create(),
                job(Action::Create, "cat", "Cat"),
                "planned",
                None,
                "",
                0,
            ),
            (
                "someone else's",
                create(),
                job(Action::Create, "ann", "Ann"),
                "exists",
                id("7"),
                "",
                0,
            ),
            (
                "someone else's, upsert, the same",
                upsert(),
                job(Action::Create, "ann", "Ann"),
                "exists",
                id("7"),
                "",
                0,
            ),
            (
                "someone else's, upsert, another name",
                upsert(),
                job(Action::Create, "ann", "Anna"),
                "planned",
                id("7"),
                "",
                0,
            ),
            (
                "an update of nobody",
                create(),
                job(Action::Update, "cat", "Cat"),
                "failed: no user with username cat on target t to update",
                None,
                "",
                0,
            ),
            (
                "ours, app access missing",
                ours(StepState::Done),
                job(Action::Create, "ann", "Ann"),
                "planned",
                id("7"),
                "group:30",
                0,
            ),
            (
                "a stale record: the journal's id is not ann's on the platform",
                create()
                    .with_step_id("ann", STEP_USER, StepState::Done, "earlier", Some("1000"))
                    .with_step("ann", STEP_APP, StepState::Done, "earlier"),
                job(Action::Create, "ann", "Ann"),
                "exists",
                id("7"),
                "",
                0,
            ),
            (
                "ours and complete",
                ours(StepState::Done)
                    .with_step("ann", STEP_COMPLETE, StepState::Done, "earlier")
                    .with_step("ann", STEP_APP, StepState::Done, "earlier"),
                job(Action::Create, "ann", "Ann"),
                "exists",
                id("7"),
                "group:30 app:ann-id",
                0,
            ),
            (
                "an earlier create the list shows",
                ours(StepState::Intent),
                job(Action::Create, "ann", "Ann"),
                "planned",
                id("7"),
                "group:30",
                1,
            ),
            (
                "a delete of an inactive user",
                create(),
                job(Action::Delete, "bob", "Bob"),
                "deleted: deleted; already inactive on Pegasus, nothing sent",
                id("8"),
                "",
                0,
            ),
            (
                "a delete of an active user",
                create(),
                job(Action::Delete, "ann", "Ann"),
                "planned",
                id("7"),
                "",
                0,
            ),
            (
                "a delete of nobody",
                create(),
                job(Action::Delete, "cat", "Cat"),
                "failed: no user with username cat on target t",
                None,
                "",
                0,
            ),
        ];
        for (name, engine, job, said, user_id, ids, settled) in cases {
            let got = planned(&engine, job);
            assert_eq!(
                got,
                (said.to_string(), user_id, ids.to_string(), settled),
                "{name}"
            );
        }
    }
}

#[test]
fn granted_apps_read_as_the_rosters_apps_cell() {
    let record = r#"{"id":4891,"app":"pegasus2.0","user":5288,"disabled":false,"staff":{"apps":{"Tracking":true,"reports":true,"alerts":false}}}"#;
    assert_eq!(
        wire::granted_apps(&reply(200, record)),
        Ok("reports|tracking".into())
    );
    // None granted: a 404, or a disabled record.
    assert_eq!(wire::granted_apps(&reply(404, "{}")), Ok(String::new()));
    let off = r#"{"disabled":true,"staff":{"apps":{"tracking":true}}}"#;
    assert_eq!(wire::granted_apps(&reply(200, off)), Ok(String::new()));
    assert!(wire::granted_apps(&reply(200, "<html>")).is_err());
    assert!(wire::granted_apps(&reply(500, "")).is_err());
}
