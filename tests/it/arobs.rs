//! AROBS TrackGPS end to end (issue 8): API users made "by hand" in the simulator, then
//! `muster verify` and `muster import` in-process against it; and the simulator's own
//! contract (`shared/vendors/arobs-trackgps.md`) over the wire.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx, open_workbook};
use muster::Exit;
use muster::journal::Journal;
use muster::model::Status;
use muster::sandbox::Options;
use muster::sandbox::arobs::ApiUser;
use muster::secret::Secret;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{World, client};

/// One line of the roster, and how the administrator really made the user.
struct Person {
    username: String,
    email: String,
    password: String,
    /// What the roster asks for.
    vehicles: Vec<String>,
    /// What was ticked in the web app; `None`: never made.
    made: Option<Made>,
}

struct Made {
    active: bool,
    vehicles: Vec<String>,
}

fn reg(n: usize) -> String {
    format!("CJ-{n:02}-ARB")
}

/// The acceptance roster: 20 users; 1–15 made right, 16–18 with a wrong vehicle set
/// (one of the roster's missing, one extra), 19–20 made but never activated.
fn twenty() -> Vec<Person> {
    (1..=20)
        .map(|i| {
            let vehicles = vec![reg(i), reg(i + 10)];
            let made = match i {
                1..=15 => Made {
                    active: true,
                    vehicles: vehicles.clone(),
                },
                16..=18 => Made {
                    active: true,
                    vehicles: vec![reg(i), reg(30)],
                },
                _ => Made {
                    active: false,
                    vehicles: vehicles.clone(),
                },
            };
            Person {
                username: format!("api.driver{i:02}"),
                email: format!("driver{i:02}@fleet.example"),
                password: format!("Fleet{i:02}Secret"),
                vehicles,
                made: Some(made),
            }
        })
        .collect()
}

/// Makes every person's user in the simulator, as the administrator did by hand.
fn make_by_hand(world: &World, people: &[Person]) {
    let arobs = world.sandbox.arobs();
    for p in people {
        if let Some(made) = &p.made {
            arobs
                .add_user(ApiUser {
                    username: p.username.clone(),
                    email: p.email.clone(),
                    password: Secret::new(&p.password),
                    active: made.active,
                    api_user: true,
                    vehicles: made.vehicles.clone(),
                })
                .unwrap();
        }
    }
}

/// The roster CSV, with or without its password column.
fn roster(people: &[Person], with_password: bool) -> String {
    let mut s = String::from("target,username,first_name,last_name,email,");
    if with_password {
        s.push_str("password,");
    }
    s.push_str("vehicles\n");
    for (i, p) in people.iter().enumerate() {
        s.push_str(&format!(
            "arobs,{},Driver,Number{},{},",
            p.username,
            i + 1,
            p.email
        ));
        if with_password {
            s.push_str(&format!("{},", p.password));
        }
        s.push_str(&p.vehicles.join("|"));
        s.push('\n');
    }
    s
}

/// The newest run's outcomes by roster line (the header is line 1): (status, error).
fn outcomes(journal: &Path) -> BTreeMap<u32, (Status, String)> {
    let j = Journal::open(journal).unwrap();
    let run = j.runs().unwrap().remove(0);
    j.rows(&run.info.run_id)
        .unwrap()
        .into_iter()
        .map(|r| {
            let o = r.outcome.expect("every row has an outcome");
            (r.line, (o.status, o.error.unwrap_or_default()))
        })
        .collect()
}

/// 429s the newest run met, from its stored stats.
fn run_rate_limited(journal: &Path) -> u64 {
    let j = Journal::open(journal).unwrap();
    let run = j.runs().unwrap().remove(0);
    run.stats.iter().map(|s| s.rate_limited).sum()
}

fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// Every sheet of a workbook as text grids.
fn sheets(path: &Path) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    wb.sheet_names()
        .into_iter()
        .map(|name| {
            let range = wb.worksheet_range(&name).unwrap();
            let rows = range.rows().map(|r| r.iter().map(text).collect()).collect();
            (name, rows)
        })
        .collect()
}

/// Fails if any of `secrets` appears in the workbook's cells, its raw parts, or the journal's
/// files (the database and any WAL beside it).
fn assert_nowhere(secrets: &[String], workbook: &Path, journal: &Path) {
    assert!(!secrets.is_empty());
    for (sheet, rows) in sheets(workbook) {
        for row in rows {
            for cell in row {
                for s in secrets {
                    assert!(!cell.contains(s.as_str()), "{sheet} shows a secret: {cell}");
                }
            }
        }
    }
    let mut files = vec![std::fs::read(workbook).unwrap()];
    let dir = journal.parent().unwrap();
    let stem = journal.file_name().unwrap().to_string_lossy().into_owned();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().starts_with(&stem) {
            files.push(std::fs::read(entry.path()).unwrap());
        }
    }
    // The xlsx is a zip: look inside every part too.
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(std::fs::read(workbook).unwrap())).unwrap();
    for i in 0..archive.len() {
        let mut part = Vec::new();
        std::io::Read::read_to_end(&mut archive.by_index(i).unwrap(), &mut part).unwrap();
        files.push(part);
    }
    for bytes in &files {
        for s in secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "a secret is stored in the workbook or journal"
            );
        }
    }
}

/// `muster verify FILE --config --journal --out --quiet`, in-process.
async fn verify(
    world: &World,
    file: &Path,
    config: &Path,
    journal: &Path,
    out: &Path,
) -> anyhow::Result<Exit> {
    let [file, config, journal, out] =
        [file, config, journal, out].map(|p| p.display().to_string());
    world
        .muster(&[
            "verify",
            &file,
            "--config",
            &config,
            "--journal",
            &journal,
            "--out",
            &out,
            "--quiet",
        ])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_tells_the_webhook_its_counts_and_no_password() {
    use crate::operator::{Receiver, config_with_hook};
    let world = World::start(Options::default()).await;
    let people = twenty();
    make_by_hand(&world, &people);
    let hook = Receiver::start(vec![Some(200)]).await;
    let config = config_with_hook(&world, &hook, "failure");
    let file = world.write("roster.csv", &roster(&people, true));
    let journal = world.path("j.db");
    let out = world.path("verify.xlsx");
    let exit = verify(&world, &file, &config, &journal, &out)
        .await
        .unwrap();
    assert_eq!(exit, Exit::RowsFailed);
    let bodies = hook.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body = &bodies[0];
    assert_eq!(body["command"], "verify");
    assert_eq!(body["targets"][0]["statuses"]["verified"], 15, "{body}");
    assert_eq!(body["errors"], 5, "{body}");
    let all = body.to_string();
    for p in &people {
        assert!(!all.contains(&p.password), "a password in {all}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_sorts_twenty_hand_made_users_into_verified_and_failed() {
    let world = World::start(Options::default()).await;
    let people = twenty();
    make_by_hand(&world, &people);
    let config = world.config("");
    let file = world.write("roster.csv", &roster(&people, true));
    let journal = world.path("j.db");
    let out = world.path("verify.xlsx");
    let exit = verify(&world, &file, &config, &journal, &out)
        .await
        .unwrap();
    assert_eq!(exit, Exit::RowsFailed, "5 rows fail");

    let got = outcomes(&journal);
    assert_eq!(got.len(), 20);
    for (i, p) in people.iter().enumerate() {
        let (status, error) = &got[&(i as u32 + 2)];
        match i + 1 {
            1..=15 => assert_eq!(
                (*status, error.as_str()),
                (Status::Verified, ""),
                "{}",
                p.username
            ),
            n @ 16..=18 => {
                assert_eq!(*status, Status::Failed, "{}", p.username);
                assert_eq!(
                    error,
                    &format!(
                        "vehicles differ: missing {}; unexpected CJ-30-ARB",
                        reg(n + 10)
                    ),
                    "{}",
                    p.username
                );
            }
            _ => {
                assert_eq!(*status, Status::Failed, "{}", p.username);
                assert!(
                    error.starts_with("login refused ("),
                    "{}: {error}",
                    p.username
                );
            }
        }
    }

    // One login and at most one data call per user; the platform's limit was never met.
    assert_eq!(world.stat("arobs", "logins"), 18);
    assert_eq!(world.stat("arobs", "logins_refused"), 2);
    assert_eq!(world.stat("arobs", "data_calls"), 18);
    assert_eq!(world.stat("arobs", "rate_limited"), 0);
    assert_eq!(world.stat("arobs", "created"), 0);
    assert_eq!(world.stat("arobs", "requests"), 38);
    assert_eq!(run_rate_limited(&journal), 0);

    // The workbook says the same, line by line.
    let book = sheets(&out);
    let results = &book["Results"];
    let h = &results[0];
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let statuses: Vec<&str> = results[1..]
        .iter()
        .map(|r| r[col("status")].as_str())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "verified").count(), 15);
    assert_eq!(statuses.iter().filter(|s| **s == "failed").count(), 5);
    assert!(results[16][col("error")].starts_with("vehicles differ: missing CJ-26-ARB"));

    // Neither the passwords nor the tokens the platform issued are kept anywhere.
    let mut secrets: Vec<String> = people.iter().map(|p| p.password.clone()).collect();
    let tokens = world.sandbox.arobs().issued_tokens();
    assert_eq!(tokens.len(), 18);
    secrets.extend(tokens);
    assert_nowhere(&secrets, &out, &journal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_of_an_arobs_roster_is_manual_and_sends_nothing() {
    let world = World::start(Options::default()).await;
    let people = twenty();
    let config = world.config("");
    let file = world.write("roster.csv", &roster(&people, true));
    let journal = world.path("j.db");
    let out = world.path("results.xlsx");
    let exit = world
        .muster(&[
            "import",
            file.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .await
        .unwrap();
    assert_eq!(exit, Exit::Success);
    let got = outcomes(&journal);
    assert_eq!(got.len(), 20);
    assert!(
        got.values()
            .all(|(s, e)| *s == Status::Manual && e.is_empty()),
        "{got:?}"
    );
    assert_eq!(world.stat("arobs", "requests"), 0);

    // The Manual sheet lists every user with exactly the vehicles to tick.
    let book = sheets(&out);
    let manual = &book["Manual"];
    let header = manual
        .iter()
        .position(|r| r.iter().any(|c| c == "Username"))
        .expect("the Manual sheet has its user table");
    let h = &manual[header];
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let listed: BTreeMap<String, String> = manual[header + 1..]
        .iter()
        .filter(|r| !r[col("Username")].is_empty())
        .map(|r| (r[col("Username")].clone(), r[col("Vehicle Rights")].clone()))
        .collect();
    let want: BTreeMap<String, String> = people
        .iter()
        .map(|p| (p.username.clone(), p.vehicles.join(", ")))
        .collect();
    assert_eq!(listed, want);
    let passwords: Vec<String> = people.iter().map(|p| p.password.clone()).collect();
    assert_nowhere(&passwords, &out, &journal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_can_come_from_a_secrets_file() {
    let world = World::start(Options::default()).await;
    let mut people: Vec<Person> = twenty().into_iter().take(4).collect();
    // The fourth was never made at all.
    people[3].made = None;
    make_by_hand(&world, &people);
    let config = world.config("");
    let file = world.write("roster.csv", &roster(&people, false));
    // The first two with their passwords (one written in other case), the third's is wrong,
    // the fourth's is right but the user does not exist.
    let secrets = format!(
        "target,username,password\n# given by the users\narobs,{},{}\narobs,{},{}\narobs,{},Wrong1Password\narobs,{},{}\n",
        people[0].username,
        people[0].password,
        people[1].username.to_uppercase(),
        people[1].password,
        people[2].username,
        people[3].username,
        people[3].password,
    );
    let secrets_file = world.write("passwords.csv", &secrets);
    let journal = world.path("j.db");
    let out = world.path("verify.xlsx");
    let exit = world
        .muster(&[
            "verify",
            file.to_str().unwrap(),
            "--secrets",
            secrets_file.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .await
        .unwrap();
    assert_eq!(exit, Exit::RowsFailed);
    let got = outcomes(&journal);
    let statuses: Vec<Status> = got.values().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses,
        [
            Status::Verified,
            Status::Verified,
            Status::Failed,
            Status::Failed
        ]
    );
    assert!(got[&4].1.starts_with("login refused"), "{:?}", got[&4]);
    assert!(got[&5].1.starts_with("login refused"), "{:?}", got[&5]);
    assert_eq!(world.stat("arobs", "logins"), 2);
    assert_eq!(world.stat("arobs", "logins_refused"), 2);
    let mut secrets: Vec<String> = people.iter().map(|p| p.password.clone()).collect();
    secrets.push("Wrong1Password".into());
    secrets.extend(world.sandbox.arobs().issued_tokens());
    assert_nowhere(&secrets, &out, &journal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_without_any_password_says_where_to_give_one() {
    let world = World::start(Options::default()).await;
    let people: Vec<Person> = twenty().into_iter().take(1).collect();
    make_by_hand(&world, &people);
    let config = world.config("");
    let file = world.write("roster.csv", &roster(&people, false));
    let journal = world.path("j.db");
    let out = world.path("verify.xlsx");
    let exit = verify(&world, &file, &config, &journal, &out)
        .await
        .unwrap();
    assert_eq!(exit, Exit::RowsFailed);
    let got = outcomes(&journal);
    assert_eq!(got[&2].0, Status::Failed);
    assert!(got[&2].1.contains("--secrets FILE"), "{:?}", got[&2]);
    assert_eq!(world.stat("arobs", "requests"), 0);
}

/// Two verifications of the same user within 30 s: the second run has no memory of the
/// first, so it meets the platform's 429 once and waits `Retry-After` for that user, then
/// verifies (no failure, no second 429). Paused clock: the wait costs no real time.
#[tokio::test(start_paused = true)]
async fn a_second_verify_within_thirty_seconds_waits_for_the_user_s_window() {
    let world = World::start(Options::default()).await;
    let people: Vec<Person> = twenty().into_iter().take(1).collect();
    make_by_hand(&world, &people);
    let config = world.config("");
    let file = world.write("roster.csv", &roster(&people, true));
    let journal = world.path("j.db");
    let run = |out: &'static str| {
        let (world, file, config, journal) = (&world, &file, &config, &journal);
        async move {
            verify(world, file, config, journal, &world.path(out))
                .await
                .unwrap()
        }
    };
    let t0 = tokio::time::Instant::now();
    assert_eq!(run("first.xlsx").await, Exit::Success);
    assert_eq!(run("second.xlsx").await, Exit::Success);
    assert!(
        t0.elapsed() >= Duration::from_secs(29),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(outcomes(&journal)[&2].0, Status::Verified);
    assert_eq!(world.stat("arobs", "data_calls"), 2);
    assert_eq!(world.stat("arobs", "rate_limited"), 1);
    assert_eq!(run_rate_limited(&journal), 1);
}

// ---- The simulator's contract over the wire -------------------------------------------

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(world: &World) -> Api {
        Api {
            base: format!("{}/arobs/api", world.sandbox.url()),
            http: client(),
        }
    }

    async fn login_form(&self, query: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/authentication/login{query}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn login(&self, username: &str, password: &str) -> (StatusCode, Value) {
        self.login_form(
            "?api-version=2.0",
            &[("username", username), ("password", password)],
        )
        .await
    }

    async fn token(&self, username: &str, password: &str) -> String {
        let (status, body) = self.login(username, password).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    async fn vehicles(&self, token: &str) -> (StatusCode, Option<String>, Value) {
        let r = self
            .http
            .get(format!(
                "{}/carriers/company-vehicles?api-version=2.0",
                self.base
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        (status, retry_after, r.json().await.unwrap_or(Value::Null))
    }
}

fn add(world: &World, username: &str, active: bool, api_user: bool, vehicles: &[&str]) {
    world
        .sandbox
        .arobs()
        .add_user(ApiUser {
            username: username.into(),
            email: format!("{username}@fleet.example"),
            password: Secret::new("Activ8Me"),
            active,
            api_user,
            vehicles: vehicles.iter().map(|v| v.to_string()).collect(),
        })
        .unwrap();
}

#[tokio::test]
async fn login_takes_form_data_and_refuses_users_that_may_not_use_the_api() {
    let world = World::start(Options::default()).await;
    add(&world, "api.ok", true, true, &[]);
    add(&world, "api.sleeping", false, true, &[]);
    add(&world, "web.only", true, false, &[]);
    let api = Api::new(&world);

    let (status, body) = api.login("api.ok", "Activ8Me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expires_in"], 28800);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["refresh_token"].is_string() && body["scope"].is_string());
    // The e-mail is accepted as the login name too.
    assert_eq!(
        api.login("API.OK@fleet.example", "Activ8Me").await.0,
        StatusCode::OK
    );

    for (user, password) in [
        ("api.ok", "activ8me"),
        ("nobody", "Activ8Me"),
        ("api.sleeping", "Activ8Me"),
        ("web.only", "Activ8Me"),
    ] {
        let (status, body) = api.login(user, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{user}: {body}");
    }

    // A JSON body, a missing field or a missing api-version is a 400.
    let json = api
        .http
        .post(format!("{}/authentication/login?api-version=2.0", api.base))
        .json(&serde_json::json!({"username": "api.ok", "password": "Activ8Me"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        api.login_form("?api-version=2.0", &[("username", "api.ok")])
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.login_form("", &[("username", "api.ok"), ("password", "Activ8Me")])
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    assert_eq!(world.stat("arobs", "logins"), 2);
    assert_eq!(world.stat("arobs", "logins_refused"), 4);
    // Logins are exempt from the per-user limit.
    assert_eq!(world.stat("arobs", "rate_limited"), 0);
    assert_eq!(world.stat("arobs", "users"), 3);
}

#[tokio::test(start_paused = true)]
async fn company_vehicles_lists_the_user_s_rights_once_per_thirty_seconds() {
    let world = World::start(Options::default()).await;
    add(&world, "api.ok", true, true, &["CJ-03-ARB", "cj-01-arb"]);
    add(&world, "api.other", true, true, &[]);
    let api = Api::new(&world);
    let token = api.token("api.ok", "Activ8Me").await;

    let (status, _, body) = api.vehicles(&token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["isSuccess"], true);
    assert_eq!(body["failureReasons"], serde_json::json!([]));
    assert!(body["correlationId"].is_string());
    let regs: Vec<&str> = body["payload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["vehicleRegistrationNumber"].as_str().unwrap())
        .collect();
    assert_eq!(regs, ["CJ-01-ARB", "CJ-03-ARB"]);
    let first = &body["payload"][0];
    assert!(first["vehicleId"].is_i64() && first["vehicleUId"].is_string());
    assert!(first["vehicleName"].is_string());

    // Again within 30 s, even with a fresh token: 429 in the failure envelope.
    tokio::time::advance(Duration::from_secs(10)).await;
    let again = api.token("api.ok", "Activ8Me").await;
    let (status, retry_after, body) = api.vehicles(&again).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after.as_deref(), Some("20"));
    assert_eq!(body["isSuccess"], false);
    assert_eq!(body["failureReasons"].as_array().unwrap().len(), 1);

    // Another user has a window of its own; an empty payload means no rights.
    let other = api.token("api.other", "Activ8Me").await;
    let (status, _, body) = api.vehicles(&other).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["payload"], serde_json::json!([]));

    tokio::time::advance(Duration::from_secs(20)).await;
    assert_eq!(api.vehicles(&token).await.0, StatusCode::OK);

    // A forged or expired token is a 401.
    assert_eq!(
        api.vehicles("eyJ.forged.token").await.0,
        StatusCode::UNAUTHORIZED
    );
    tokio::time::advance(Duration::from_secs(28_800)).await;
    assert_eq!(api.vehicles(&token).await.0, StatusCode::UNAUTHORIZED);

    assert_eq!(world.stat("arobs", "data_calls"), 3);
    assert_eq!(world.stat("arobs", "rate_limited"), 1);
    assert_eq!(world.stat("arobs", "created"), 0);
}

#[tokio::test]
async fn the_sandbox_command_seeds_api_users_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.csv");
    std::fs::write(
        &path,
        "username,email,password,active,api_user,vehicles\n\
         api.ok,ok@fleet.example,Activ8Me,true,true,CJ-01-ARB|CJ-02-ARB\n\
         api.new,new@fleet.example,Activ8Me,false,true,\n",
    )
    .unwrap();
    let users = muster::sandbox::arobs::read_users(&path).unwrap();
    let world = World::start(Options {
        arobs_users: users,
        ..Options::default()
    })
    .await;
    assert_eq!(world.stat("arobs", "users"), 2);
    let api = Api::new(&world);
    let token = api.token("api.ok", "Activ8Me").await;
    let (_, _, body) = api.vehicles(&token).await;
    assert_eq!(body["payload"].as_array().unwrap().len(), 2);
    assert_eq!(
        api.login("api.new", "Activ8Me").await.0,
        StatusCode::UNAUTHORIZED
    );
}
