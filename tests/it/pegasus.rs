//! Integration tests: the Pegasus connector against the sandbox's Pegasus simulator
//! (issue 6's acceptance): one group per company even with 50 workers, a stop midway and a
//! re-run, refused app access then a re-run, a missing scope, the `/apps` 20/min limit.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use muster::Env;
use muster::cli::Mode;
use muster::config::{Config, Target};
use muster::http::Paced;
use muster::journal::Journal;
use muster::model::identity_key;
use muster::model::{Action, Field, Layout, Outcome, Row, Status, TargetStats, VendorKind};
use muster::progress::Eta;
use muster::sandbox::pegasus::{self as sim, PegasusSim, Settings};
use muster::sandbox::{Options, Sandbox};
use muster::submit::{self, Reporter, Silent, TargetWork};
use muster::vendors::Job;

const COMPANIES: [&str; 7] = [
    "Acme Freight",
    "Bolt Logistics",
    "Cargo Uno",
    "Delta Haulage",
    "Eagle Fleet",
    "Fjord Transport",
    "Granite Movers",
];

/// A sandbox whose `/apps` limits are `settings`'.
async fn sandbox(settings: Settings, options: Options) -> Sandbox {
    Sandbox::start(
        "127.0.0.1:0",
        Options {
            pegasus: settings,
            ..options
        },
    )
    .await
    .unwrap()
}

/// Limits high enough that a test takes milliseconds (the 20/min has its own test).
fn fast() -> Settings {
    Settings {
        apps_per_second: 100_000,
        apps_per_minute: 1_000_000,
        ..Settings::default()
    }
}

/// The sandbox config's `pegasus` target, with `concurrency` workers.
fn target(sandbox: &Sandbox, concurrency: usize, fast_apps: bool) -> Target {
    let config = Config::parse(&sandbox.config_toml(), Path::new("muster.toml")).unwrap();
    let mut t = config.targets["pegasus"].clone();
    t.concurrency = concurrency;
    t.rate = muster::config::Rate::Unlimited;
    if fast_apps {
        t.apps_rate = muster::config::Rate::Unlimited;
        t.apps_per_minute = 0;
    }
    t
}

/// `n` users spread over the seven companies, every one with a policy-conform password.
fn jobs(n: usize) -> Vec<Job> {
    let fields = [
        Field::Username,
        Field::Email,
        Field::FirstName,
        Field::LastName,
        Field::Password,
        Field::Company,
    ];
    let layout = Arc::new(Layout {
        file: "roster.csv".into(),
        sheet: "roster".into(),
        is_workbook: false,
        header_row: 1,
        headers: fields.iter().map(|f| f.name().to_string()).collect(),
        fields: fields.iter().map(|f| Some(*f)).collect(),
        passthrough: vec![],
    });
    (0..n)
        .map(|i| {
            let row = Row {
                index: i,
                layout: layout.clone(),
                line: i as u32 + 2,
                cells: vec![
                    format!("Driver{i:04}@Fleet.test"),
                    format!("driver{i:04}@fleet.test"),
                    format!("Driver{i}"),
                    "Test".into(),
                    "Secret-Pass-1".into(),
                    COMPANIES[i % COMPANIES.len()].into(),
                ]
                .into(),
                errors: vec![],
            };
            let key = identity_key(VendorKind::Pegasus, &row).unwrap();
            Job {
                index: i,
                row: Arc::new(row),
                action: Action::Create,
                key,
            }
        })
        .collect()
}

struct Ran {
    outcomes: HashMap<usize, Outcome>,
    stats: TargetStats,
}

impl Ran {
    fn count(&self, status: Status) -> usize {
        self.outcomes
            .values()
            .filter(|o| o.status == status)
            .count()
    }

    fn statuses(&self) -> BTreeMap<Status, usize> {
        let mut m = BTreeMap::new();
        for o in self.outcomes.values() {
            *m.entry(o.status).or_default() += 1;
        }
        m
    }
}

/// One run of the engine on the Pegasus target, as `muster import` would do it.
async fn run(
    target: &Target,
    env: &Env,
    jobs: Vec<Job>,
    journal: &Arc<Journal>,
    deadline: Option<Duration>,
) -> Ran {
    run_reported(target, env, jobs, journal, deadline, Arc::new(Silent)).await
}

/// As `run`, reporting to `reporter`.
async fn run_reported(
    target: &Target,
    env: &Env,
    jobs: Vec<Job>,
    journal: &Arc<Journal>,
    deadline: Option<Duration>,
    reporter: Arc<dyn Reporter>,
) -> Ran {
    let credentials = target.credentials(env).unwrap();
    let (outcomes, mut stats) = submit::submit(
        vec![TargetWork {
            target: target.clone(),
            credentials,
            jobs,
        }],
        submit::Options {
            run_id: format!("run-{}", rand_suffix()),
            dry_run: false,
            mode: Mode::Create,
            deadline,
            journal: journal.clone(),
            reporter,
            secrets: None,
            purpose: Default::default(),
            interrupt: Default::default(),
            max_failures: None,
            lease: None,
            prune: false,
        },
    )
    .await
    .unwrap();
    Ran {
        outcomes,
        stats: stats.remove(0),
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn journal(dir: &tempfile::TempDir) -> Arc<Journal> {
    Arc::new(Journal::open(&dir.path().join("j.db")).unwrap())
}

fn env() -> Env {
    Env::with(Sandbox::credentials())
}

fn stat(sandbox: &Sandbox, name: &str) -> u64 {
    sandbox.stats()["pegasus"][name].as_u64().unwrap_or(0)
}

fn state(sandbox: &Sandbox) -> Arc<PegasusSim> {
    sandbox
        .platform("pegasus")
        .unwrap()
        .state::<PegasusSim>()
        .unwrap()
}

/// The platform holds each user once, in its company's one group, with app access.
fn assert_end_state(sandbox: &Sandbox, n: usize) {
    let s = state(sandbox);
    let groups = s.groups();
    assert_eq!(groups.len(), COMPANIES.len(), "groups: {groups:?}");
    let group_of: HashMap<String, i64> = groups
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_string(),
                g["id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(group_of.len(), COMPANIES.len(), "two groups share a name");
    let users = s.users();
    assert_eq!(users.len(), n);
    let apps = s.apps();
    for u in &users {
        let name = u["username"].as_str().unwrap();
        let i: usize = name[6..10].parse().unwrap();
        let company = COMPANIES[i % COMPANIES.len()];
        assert_eq!(
            u["groups"],
            serde_json::json!([group_of[company]]),
            "{name}"
        );
        let id = u["id"].as_i64().unwrap();
        let grant = apps
            .get(&id)
            .unwrap_or_else(|| panic!("{name} has no app access"));
        assert_eq!(grant["staff"]["apps"].as_object().unwrap().len(), 9);
    }
    assert_eq!(apps.len(), n);
    assert_eq!(stat(sandbox, "duplicates_refused"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_workers_make_one_group_per_company() {
    let sandbox = sandbox(fast(), Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let t = target(&sandbox, 50, true);
    let ran = run(&t, &env(), jobs(200), &journal(&dir), None).await;
    assert_eq!(ran.count(Status::Created), 200, "{:?}", ran.statuses());
    assert_eq!(stat(&sandbox, sim::GROUPS_CREATED), 7);
    assert_eq!(stat(&sandbox, "created"), 200);
    assert_eq!(stat(&sandbox, sim::APPS_GRANTED), 200);
    assert_eq!(stat(&sandbox, "rate_limited"), 0);
    assert_end_state(&sandbox, 200);
    for o in ran.outcomes.values() {
        assert!(o.user_id.is_some(), "{o:?}");
        let text = o.other_ids_text();
        assert!(
            text.starts_with("group=") && text.contains("; app="),
            "{text}"
        );
    }
    assert!(ran.stats.halted.is_none());

    // Again with the same journal: nothing to do, everything `exists`.
    let again = run(&t, &env(), jobs(200), &journal(&dir), None).await;
    assert_eq!(again.count(Status::Exists), 200, "{:?}", again.statuses());
    assert_eq!(stat(&sandbox, sim::GROUPS_CREATED), 7);
    assert_eq!(stat(&sandbox, "created"), 200);
    assert_eq!(stat(&sandbox, sim::APPS_GRANTED), 200);
}

#[tokio::test(start_paused = true)]
async fn stopped_midway_then_run_again_reaches_the_same_end_state() {
    // Every request takes 50 ms, so the deadline falls inside the group and user steps.
    let options = Options {
        latency_ms: 50,
        ..Options::default()
    };
    let sandbox = sandbox(fast(), options).await;
    let dir = tempfile::tempdir().unwrap();
    let t = target(&sandbox, 50, true);
    let first = run(
        &t,
        &env(),
        jobs(200),
        &journal(&dir),
        Some(Duration::from_millis(400)),
    )
    .await;
    let made = stat(&sandbox, "created");
    assert!(
        made > 0 && made < 200,
        "the stop should fall midway: {made} users made, {:?}",
        first.statuses()
    );
    assert!(first.count(Status::Created) < 200, "{:?}", first.statuses());
    assert!(first.stats.halted.is_some());

    let second = run(&t, &env(), jobs(200), &journal(&dir), None).await;
    assert_eq!(second.count(Status::Failed), 0, "{:?}", second.statuses());
    assert_eq!(
        second.count(Status::Created) + second.count(Status::Exists),
        200,
        "{:?}",
        second.statuses()
    );
    assert_eq!(stat(&sandbox, sim::GROUPS_CREATED), 7);
    assert_eq!(stat(&sandbox, "created"), 200);
    assert_end_state(&sandbox, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_app_access_is_partial_and_a_rerun_grants_only_that() {
    let sandbox = sandbox(fast(), Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let t = target(&sandbox, 20, true);
    state(&sandbox).refuse_apps(true);
    let first = run(&t, &env(), jobs(40), &journal(&dir), None).await;
    assert_eq!(first.count(Status::Partial), 40, "{:?}", first.statuses());
    for o in first.outcomes.values() {
        assert!(o.user_id.is_some(), "{o:?}");
        assert!(o.other_ids_text().starts_with("group="), "{o:?}");
        assert_eq!(o.http_status, Some(400));
        let error = o.error.as_deref().unwrap_or("");
        assert!(error.contains("app access failed"), "{error}");
        assert!(error.contains("test hook"), "{error}");
    }
    assert_eq!(stat(&sandbox, "created"), 40);
    assert_eq!(stat(&sandbox, sim::APPS_GRANTED), 0);

    state(&sandbox).refuse_apps(false);
    let second = run(&t, &env(), jobs(40), &journal(&dir), None).await;
    assert_eq!(second.count(Status::Created), 40, "{:?}", second.statuses());
    assert_eq!(stat(&sandbox, "created"), 40, "a user was made twice");
    assert_eq!(stat(&sandbox, sim::GROUPS_CREATED), 7);
    assert_eq!(stat(&sandbox, sim::APPS_GRANTED), 40);
    assert_eq!(stat(&sandbox, "duplicates_refused"), 0);
    for o in second.outcomes.values() {
        assert!(o.other_ids_text().contains("app="), "{o:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_users_write_halts_the_target_naming_the_scope() {
    let sandbox = sandbox(fast(), Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let t = target(&sandbox, 8, true);
    let mut vars = Sandbox::credentials();
    vars.retain(|(k, _)| k != "SANDBOX_PEGASUS_USER");
    vars.push(("SANDBOX_PEGASUS_USER".into(), sim::LIMITED_USER.into()));
    let ran = run(&t, &Env::with(vars), jobs(10), &journal(&dir), None).await;
    assert_eq!(ran.count(Status::NotAttempted), 10, "{:?}", ran.statuses());
    let halted = ran.stats.halted.clone().unwrap_or_default();
    assert!(halted.contains("users=w"), "{halted}");
    for o in ran.outcomes.values() {
        assert!(
            o.error.as_deref().unwrap_or("").contains("users=w"),
            "{o:?}"
        );
    }
    // The login is the only POST; nothing was made.
    assert_eq!(stat(&sandbox, "writes"), 1);
    assert_eq!(stat(&sandbox, "created"), 0);
    assert_eq!(stat(&sandbox, sim::GROUPS_CREATED), 0);
    assert_eq!(stat(&sandbox, sim::APPS_GRANTED), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_password_is_refused_at_login_without_retrying() {
    let sandbox = sandbox(fast(), Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let t = target(&sandbox, 8, true);
    let mut vars = Sandbox::credentials();
    vars.retain(|(k, _)| k != "SANDBOX_PEGASUS_PASSWORD");
    vars.push(("SANDBOX_PEGASUS_PASSWORD".into(), "Wrong-Pass-1".into()));
    let ran = run(&t, &Env::with(vars), jobs(5), &journal(&dir), None).await;
    assert_eq!(ran.count(Status::NotAttempted), 5);
    let halted = ran.stats.halted.unwrap_or_default();
    assert!(halted.contains("credentials rejected"), "{halted}");
    assert!(!halted.contains("Wrong-Pass-1"), "{halted}");
    assert_eq!(stat(&sandbox, "requests"), 1, "login is tried once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_user_exists_and_a_taken_email_is_a_readable_failure() {
    let sandbox = sandbox(fast(), Options::default()).await;
    let t = target(&sandbox, 8, true);
    // Made by another run with another journal: on the platform, not ours.
    let other = tempfile::tempdir().unwrap();
    run(&t, &env(), jobs(3), &journal(&other), None).await;

    let dir = tempfile::tempdir().unwrap();
    let mut all = jobs(4);
    // Row 3 reuses row 0's e-mail under a new username.
    let mut row = (*all[3].row).clone();
    row.cells.set(1, "driver0000@fleet.test");
    all[3].row = Arc::new(row);
    let ran = run(&t, &env(), all, &journal(&dir), None).await;
    for i in 0..3 {
        assert_eq!(
            ran.outcomes[&i].status,
            Status::Exists,
            "{:?}",
            ran.outcomes[&i]
        );
        assert!(ran.outcomes[&i].user_id.is_some());
    }
    let taken = &ran.outcomes[&3];
    assert_eq!(taken.status, Status::Failed, "{taken:?}");
    assert_eq!(taken.http_status, Some(409));
    let error = taken.error.as_deref().unwrap_or("");
    assert!(
        error.contains(
            "HTTP 409 (duplicate): A user with email driver0000@fleet.test already exists"
        ),
        "{error}"
    );
    assert_eq!(stat(&sandbox, "created"), 3);
    assert_eq!(stat(&sandbox, "duplicates_refused"), 1);
}

#[tokio::test(start_paused = true)]
async fn app_grants_keep_to_twenty_a_minute_and_expired_tokens_log_in_again() {
    // The platform's own limits (5/s, 20/min) and a token that expires after 10 s idle.
    let settings = Settings {
        token_ttl: Duration::from_secs(10),
        ..Settings::default()
    };
    let sandbox = sandbox(settings, Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut t = target(&sandbox, 50, false);
    t.timeout = Duration::from_secs(600);
    let start = tokio::time::Instant::now();
    let ran = run(&t, &env(), jobs(45), &journal(&dir), None).await;
    let took = start.elapsed();
    assert_eq!(ran.count(Status::Created), 45, "{:?}", ran.statuses());
    assert_eq!(stat(&sandbox, sim::APPS_GRANTED), 45);
    assert_eq!(stat(&sandbox, "rate_limited"), 0, "the connector met a 429");
    // 20 in the first minute, 20 in the second, 5 in the third.
    assert!(took >= Duration::from_secs(120), "took {took:?}");
    assert!(took < Duration::from_secs(130), "took {took:?}");
    // The token expired while grants waited: logged in again, no row suffered.
    assert!(stat(&sandbox, sim::LOGINS) >= 2, "{}", sandbox.stats());
    assert!(
        stat(&sandbox, sim::EXPIRED_TOKENS) >= 1,
        "{}",
        sandbox.stats()
    );
    assert!(ran.stats.halted.is_none());
}

/// What a progress line would make of a run: its ETA, fed on the paused clock.
#[derive(Default)]
struct EtaOf {
    state: std::sync::Mutex<(Eta, usize, usize)>,
}

impl EtaOf {
    /// The ETA now, and the rows left.
    fn sample(&self) -> (Option<Duration>, usize) {
        let s = self.state.lock().unwrap();
        let left = s.1 - s.2;
        (s.0.left(tokio::time::Instant::now().into_std(), left), left)
    }
}

impl Reporter for EtaOf {
    fn start(&self, _: &str, total: usize) {
        self.state.lock().unwrap().1 = total;
    }
    fn row_done(&self, _: &str, _: Status) {
        let mut s = self.state.lock().unwrap();
        s.0.row_done(tokio::time::Instant::now().into_std());
        s.2 += 1;
    }
    fn note(&self, _: &str, _: &str) {}
    fn finish(&self, _: &str) {}
    fn paced(&self, _: &str, event: &Paced) {
        let mut s = self.state.lock().unwrap();
        let now = tokio::time::Instant::now().into_std();
        match event {
            Paced::Allowed(pace) => s.0.allow(*pace),
            Paced::Waiting { wait, .. } => {
                s.0.waiting(now, *wait);
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_eta_of_a_run_paced_by_the_apps_window_stays_within_a_quarter_of_the_time_left() {
    // Issue 29: with the /apps window, the ETA went 26 s, 2 min, 53 min, 19 h, 9 h on a
    // run that took 2 minutes. Here: 60 rows at 20 a minute, the ETA sampled 4 times a
    // second of the paused clock, as a bar is drawn.
    let sandbox = sandbox(Settings::default(), Options::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut t = target(&sandbox, 10, false);
    t.timeout = Duration::from_secs(600);
    let eta = Arc::new(EtaOf::default());
    let start = tokio::time::Instant::now();
    let sampler = {
        let eta = eta.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let (told, left) = eta.sample();
                if left == 0 {
                    return samples;
                }
                samples.push((start.elapsed(), told));
            }
        })
    };
    let journal = journal(&dir);
    let ran = run_reported(&t, &env(), jobs(60), &journal, None, eta.clone()).await;
    let took = start.elapsed();
    assert_eq!(ran.count(Status::Created), 60, "{:?}", ran.statuses());
    let samples = sampler.await.unwrap();
    assert!(took >= Duration::from_secs(120), "took {took:?}");
    let (mut checked, mut worst) = (0, 0.0f64);
    for (at, told) in samples {
        let left = took.saturating_sub(at).as_secs_f64();
        // After the first minute; the last second is below the display's resolution.
        if at < Duration::from_secs(60) || left < 1.0 {
            continue;
        }
        let told = told.expect("the pace is known").as_secs_f64();
        assert!(
            (told - left).abs() <= 0.25 * left,
            "at {at:?}: ETA {told:.1} s, {left:.1} s left (the run took {took:?})"
        );
        checked += 1;
        worst = worst.max((told - left).abs() / left);
    }
    assert!(checked > 200, "{checked} samples checked");
    eprintln!(
        "{checked} ETAs after the first minute, the worst {:.0} % off",
        worst * 100.0
    );
}

#[tokio::test(start_paused = true)]
async fn answers_lost_after_a_create_are_looked_up_never_resent_blindly() {
    // A share of group and user creates is done but never answered.
    let options = Options {
        timeout_rate: 0.3,
        seed: Some(11),
        ..Options::default()
    };
    let sandbox = sandbox(fast(), options).await;
    let dir = tempfile::tempdir().unwrap();
    let t = target(&sandbox, 20, true);
    let ran = run(&t, &env(), jobs(60), &journal(&dir), None).await;
    assert!(
        stat(&sandbox, "timeouts_injected") > 0,
        "{}",
        sandbox.stats()
    );
    assert_eq!(ran.count(Status::Created), 60, "{:?}", ran.statuses());
    assert_eq!(state(&sandbox).users().len(), 60);
    assert_eq!(state(&sandbox).groups().len(), 7, "a group was made twice");
    assert_eq!(stat(&sandbox, "created"), 60);
    assert_eq!(stat(&sandbox, "duplicates_refused"), 0);
}

/// A roster CSV of `n` Pegasus users over the seven companies.
fn roster(n: usize) -> String {
    let mut s = String::from("target,username,email,first name,last name,password,company\n");
    for i in 0..n {
        s.push_str(&format!(
            "pegasus,Driver{i:04}@Fleet.test,driver{i:04}@fleet.test,Driver{i},Test,Secret-Pass-1,{}\n",
            COMPANIES[i % COMPANIES.len()]
        ));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_of_two_hundred_users_with_fifty_workers() {
    let w = crate::support::World::start(Options {
        pegasus: fast(),
        ..Options::default()
    })
    .await;
    let config =
        w.config("rate = \"none\"\nconcurrency = 50\napps_rate = \"none\"\napps_per_minute = 0");
    let csv = w.write("roster.csv", &roster(200));
    let journal = w.path("j.db");
    let out = w.path("r.xlsx");
    let args = [
        "import",
        csv.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    let exit = w.muster(&args).await.unwrap();
    assert_eq!(
        w.last_run_counts(&journal),
        BTreeMap::from([(Status::Created, 200)])
    );
    assert_eq!(exit, muster::Exit::Success);
    assert_eq!(w.stat("pegasus", sim::GROUPS_CREATED), 7);
    assert_eq!(w.stat("pegasus", "created"), 200);
    assert_eq!(w.stat("pegasus", sim::APPS_GRANTED), 200);
    assert_eq!(w.stat("pegasus", "duplicates_refused"), 0);
    assert_end_state(&w.sandbox, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_stopped_by_its_deadline_is_finished_by_the_next_run() {
    let w = crate::support::World::start(Options {
        latency_ms: 20,
        pegasus: fast(),
        ..Options::default()
    })
    .await;
    let config =
        w.config("rate = \"none\"\nconcurrency = 10\napps_rate = \"none\"\napps_per_minute = 0");
    let csv = w.write("roster.csv", &roster(140));
    let journal = w.path("j.db");
    let out = w.path("r.xlsx");
    let args = |deadline: Option<&'static str>| {
        let mut a = vec![
            "import".to_string(),
            csv.display().to_string(),
            "--config".into(),
            config.display().to_string(),
            "--journal".into(),
            journal.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--quiet".into(),
        ];
        if let Some(d) = deadline {
            a.push("--deadline".into());
            a.push(d.into());
        }
        a
    };
    let first: Vec<String> = args(Some("0.4"));
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    w.muster(&first).await.unwrap();
    let made = w.stat("pegasus", "created");
    assert!(
        made > 0 && made < 140,
        "the deadline should fall midway: {made}"
    );
    assert!(
        w.last_run_counts(&journal)
            .contains_key(&Status::NotAttempted),
        "{:?}",
        w.last_run_counts(&journal)
    );

    let second: Vec<String> = args(None);
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    w.muster(&second).await.unwrap();
    let counts = w.last_run_counts(&journal);
    assert_eq!(
        counts.get(&Status::Created).copied().unwrap_or(0)
            + counts.get(&Status::Exists).copied().unwrap_or(0),
        140,
        "{counts:?}"
    );
    assert_eq!(w.stat("pegasus", sim::GROUPS_CREATED), 7);
    assert_eq!(w.stat("pegasus", "created"), 140);
    assert_end_state(&w.sandbox, 140);
}

/// A listing does not show app access: a row left partial (its user made, app access
/// refused) is finished by a later `--mode upsert` run, not settled `exists` from the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_row_is_finished_by_a_later_upsert() {
    let w = crate::support::World::start(Options {
        pegasus: fast(),
        ..Options::default()
    })
    .await;
    let config =
        w.config("rate = \"none\"\nconcurrency = 5\napps_rate = \"none\"\napps_per_minute = 0");
    let csv = w.write("roster.csv", &roster(10));
    let journal = w.path("j.db");
    state(&w.sandbox).refuse_apps(true);
    let first = w
        .import(&csv, &config, &journal, &w.path("a.xlsx"), &[])
        .await;
    assert_eq!(first.unwrap(), muster::Exit::RowsFailed);
    assert_eq!(
        w.last_run_counts(&journal),
        BTreeMap::from([(Status::Partial, 10)])
    );
    state(&w.sandbox).refuse_apps(false);
    let upsert = w
        .import(
            &csv,
            &config,
            &journal,
            &w.path("b.xlsx"),
            &["--mode", "upsert"],
        )
        .await;
    assert_eq!(upsert.unwrap(), muster::Exit::Success);
    assert_eq!(
        w.last_run_counts(&journal),
        BTreeMap::from([(Status::Created, 10)])
    );
    assert_eq!(w.stat("pegasus", "created"), 10, "a user was made twice");
    assert_eq!(w.stat("pegasus", sim::APPS_GRANTED), 10);
    assert_eq!(w.stat("pegasus", sim::USERS_WITH_APPS), 10);
    // Now complete: another upsert settles every row from the listing, sending nothing.
    let writes = w.stat("pegasus", "writes") - w.stat("pegasus", sim::LOGINS);
    w.import(
        &csv,
        &config,
        &journal,
        &w.path("c.xlsx"),
        &["--mode", "upsert"],
    )
    .await
    .unwrap();
    assert_eq!(
        w.last_run_counts(&journal),
        BTreeMap::from([(Status::Exists, 10)])
    );
    assert_eq!(
        w.stat("pegasus", "writes") - w.stat("pegasus", sim::LOGINS),
        writes
    );
}
