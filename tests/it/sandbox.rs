//! Integration tests: the sandbox on 127.0.0.1:0 — its core (stats, faults, rate limit,
//! stop, config) and the Traccar simulator's contract (`shared/vendors/traccar.md`).

use std::path::Path;
use std::time::Duration;

use muster::config::{Config, Rate};
use muster::model::VendorKind;
use muster::sandbox::{Options, Sandbox};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::client;

async fn start(options: Options) -> Sandbox {
    Sandbox::start("127.0.0.1:0", options).await.unwrap()
}

fn token() -> String {
    Sandbox::credentials()
        .into_iter()
        .find(|(var, _)| var == "SANDBOX_TRACCAR_TOKEN")
        .unwrap()
        .1
}

/// A Traccar API call with the sandbox's manager token.
struct Api {
    base: String,
    http: reqwest::Client,
    auth: Option<String>,
}

impl Api {
    fn new(sandbox: &Sandbox) -> Api {
        Api {
            base: format!("{}/traccar/api", sandbox.url()),
            http: client(),
            auth: Some(format!("Basic {}", token())),
        }
    }

    fn anonymous(sandbox: &Sandbox, auth: Option<&str>) -> Api {
        Api {
            auth: auth.map(str::to_string),
            ..Api::new(sandbox)
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.auth {
            Some(auth) => r.header("Authorization", auth),
            None => r,
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
    ) -> (StatusCode, String) {
        let mut r = self.request(method, path);
        if let Some(body) = body {
            r = r
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = r.send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: &str) -> (StatusCode, String) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn create(&self, name: &str, email: &str) -> i64 {
        let body = json!({"name": name, "email": email, "password": "pw"}).to_string();
        let (status, text) = self.post("/users", &body).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        serde_json::from_str::<Value>(&text).unwrap()["id"]
            .as_i64()
            .unwrap()
    }
}

fn counter(sandbox: &Sandbox, name: &str) -> u64 {
    sandbox.stats()["traccar"][name].as_u64().unwrap()
}

/// Waits, without a fixed sleep, until the sandbox's counters satisfy `done`.
async fn until(sandbox: &Sandbox, done: impl Fn(&Value) -> bool) {
    for _ in 0..2000 {
        if done(&sandbox.stats()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the sandbox never got there: {}", sandbox.stats());
}

#[tokio::test]
async fn stats_report_every_design_counter_per_vendor_key() {
    let sandbox = start(Options::default()).await;
    let api = Api::new(&sandbox);
    api.create("Ann", "ann@x.io").await;
    let body = client()
        .get(format!("{}/_sandbox/stats", sandbox.url()))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(body, sandbox.stats());
    let traccar = &body["traccar"];
    for key in [
        "requests",
        "created",
        "duplicates_refused",
        "rate_limited",
        "faults_injected",
        "writes",
        "errors_injected",
        "timeouts_injected",
        "drops_injected",
        "users",
        "links_created",
    ] {
        assert!(traccar[key].is_u64(), "{key} missing in {body}");
    }
    assert_eq!(traccar["requests"], 1);
    assert_eq!(traccar["writes"], 1);
    assert_eq!(traccar["created"], 1);
    assert_eq!(traccar["users"], 1);
    // Only vendor keys at the top.
    for key in body.as_object().unwrap().keys() {
        assert!(VendorKind::from_key(key).is_some(), "{key}");
    }
    sandbox.stop().await;
}

#[tokio::test]
async fn protected_endpoints_answer_an_empty_401_to_bad_credentials() {
    let sandbox = start(Options::default()).await;
    let id = sandbox.traccar().add_user("Ann", "ann@x.io").unwrap();
    let user_path = format!("/users/{id}");
    for auth in [None, Some("Basic d3Jvbmc6d3Jvbmc="), Some("Token abc")] {
        let api = Api::anonymous(&sandbox, auth);
        let cases = [
            (reqwest::Method::GET, "/users", None),
            (reqwest::Method::GET, "/devices", None),
            (reqwest::Method::GET, user_path.as_str(), None),
            (reqwest::Method::DELETE, user_path.as_str(), None),
            (
                reqwest::Method::PUT,
                user_path.as_str(),
                Some(r#"{"id":2,"name":"A","email":"a@x.io"}"#),
            ),
            (
                reqwest::Method::POST,
                "/permissions",
                Some(r#"{"userId":2,"deviceId":1}"#),
            ),
        ];
        for (method, path, body) in cases {
            let (status, text) = api.send(method.clone(), path, body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?} {method} {path}");
            assert_eq!(text, "", "{auth:?} {method} {path}");
        }
    }
    assert!(sandbox.traccar().links().is_empty());
    assert_eq!(sandbox.traccar().users().len(), 1);
    // Bearer with the same value is accepted; `GET /session` is no probe (404).
    let bearer = Api::anonymous(&sandbox, Some(&format!("Bearer {}", token())));
    assert_eq!(bearer.get("/devices").await.0, StatusCode::OK);
    assert_eq!(bearer.get("/session").await.0, StatusCode::NOT_FOUND);
    // With `?token=` it answers the token's user, the manager (the OpenAPI file's
    // `getSession`); another token has no session.
    let (status, text) = bearer.get(&format!("/session?token={}", token())).await;
    assert_eq!(status, StatusCode::OK);
    let me: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(me["email"], "sandbox@muster.test");
    assert_eq!(
        bearer.get("/session?token=other").await.0,
        StatusCode::NOT_FOUND
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn a_create_with_bad_credentials_is_a_refused_registration_not_a_401() {
    let sandbox = start(Options::default()).await;
    let api = Api::anonymous(&sandbox, Some("Basic d3Jvbmc6d3Jvbmc="));
    let (status, text) = api
        .post("/users", r#"{"name":"Ann","email":"ann@x.io"}"#)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.starts_with("java.lang.SecurityException: Registration disabled\n\tat org.traccar."),
        "{text}"
    );
    // PowUnity's sample `deviceLimit: -1` on the anonymous path meets a null caller.
    let (status, text) = api
        .post(
            "/users",
            r#"{"name":"Ann","email":"ann@x.io","deviceLimit":-1}"#,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.starts_with("java.lang.NullPointerException"), "{text}");
    assert_eq!(counter(&sandbox, "created"), 0);
    assert!(sandbox.traccar().users().is_empty());
    sandbox.stop().await;
}

#[tokio::test]
async fn a_create_answers_the_stored_user_and_a_second_same_email_is_refused() {
    let sandbox = start(Options::default()).await;
    let api = Api::new(&sandbox);
    let (status, text) = api
        .post(
            "/users",
            r#"{"name":"Ann Smith","email":" Ann@X.io ","password":"secret","phone":"+40 1"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let user: Value = serde_json::from_str(&text).unwrap();
    assert!(user["id"].as_i64().unwrap() > 0);
    assert_eq!(user["email"], "Ann@X.io");
    assert_eq!(user["password"], Value::Null);
    assert_eq!(user["deviceLimit"], 0);
    assert!(!text.contains("secret"));

    let (status, text) = api
        .post("/users", r#"{"name":"Ann again","email":"ann@x.io "}"#)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("org.traccar.storage.StorageException: "),
        "{first}"
    );
    assert!(
        first.contains("Duplicate entry 'ann@x.io' for key 'email'"),
        "{first}"
    );
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("\tat org.traccar.")
    );

    // Another tenant's address is taken too, though `GET /users` never shows it.
    sandbox
        .traccar()
        .add_foreign_user("Bob", "bob@other.io")
        .unwrap();
    let (status, _) = api
        .post("/users", r#"{"name":"Bob","email":"BOB@other.io"}"#)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let listed = api.json("/users").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(counter(&sandbox, "created"), 1);
    assert_eq!(counter(&sandbox, "duplicates_refused"), 2);
    sandbox.stop().await;
}

#[tokio::test]
async fn bodies_traccar_cannot_bind_or_store_are_refused() {
    let sandbox = start(Options::default()).await;
    let api = Api::new(&sandbox);
    let cases = [
        (
            r#"{"name":"A","email":"a@x.io","firstName":"A"}"#,
            "Unrecognized field \"firstName\"",
        ),
        (r#"{"name":"A","email":null}"#, "\"email\" is null"),
        (r#"{"name":"A"}"#, "Column 'email' cannot be null"),
        (r#"{"email":"a@x.io"}"#, "Column 'name' cannot be null"),
        ("not json", "Unexpected character"),
    ];
    for (body, want) in cases {
        let (status, text) = api.post("/users", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(text.contains(want), "{body}: {text}");
    }
    assert_eq!(counter(&sandbox, "created"), 0);
    sandbox.stop().await;
}

#[tokio::test]
async fn a_manager_cannot_set_admin_only_fields() {
    let sandbox = start(Options::default()).await;
    let api = Api::new(&sandbox);
    for field in [
        r#""deviceLimit":-1"#,
        r#""userLimit":5"#,
        r#""administrator":true"#,
    ] {
        let body = format!(r#"{{"name":"A","email":"a@x.io",{field}}}"#);
        let (status, text) = api.post("/users", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            text.starts_with("java.lang.SecurityException: Administrator access required\n"),
            "{text}"
        );
    }
    assert_eq!(counter(&sandbox, "created"), 0);
    // Defaults and manager-settable fields pass.
    let (status, text) = api
        .post(
            "/users",
            r#"{"name":"A","email":"a@x.io","deviceLimit":0,"readonly":true,"deviceReadonly":true}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    sandbox.stop().await;
}

#[tokio::test]
async fn users_are_listed_by_name_with_keyword_and_paging() {
    let sandbox = start(Options::default()).await;
    let traccar = sandbox.traccar();
    for (name, email) in [
        ("carol", "carol@x.io"),
        ("Alice", "alice@x.io"),
        ("bob", "bob_1@x.io"),
    ] {
        traccar.add_user(name, email).unwrap();
    }
    traccar.add_foreign_user("Aaron", "aaron@x.io").unwrap();
    let api = Api::new(&sandbox);
    let names = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(api.json("/users").await), ["Alice", "bob", "carol"]);
    assert_eq!(names(api.json("/users?keyword=ALICE").await), ["Alice"]);
    // `_` is a LIKE wildcard: `b_b` matches "bob".
    assert_eq!(names(api.json("/users?keyword=b_b").await), ["bob"]);
    assert_eq!(names(api.json("/users?limit=1&offset=1").await), ["bob"]);
    let alice = traccar.user_by_email(" ALICE@x.io").unwrap();
    let one = api.json(&format!("/users/{}", alice.id)).await;
    assert_eq!(one["email"], "alice@x.io");
    sandbox.stop().await;
}

#[tokio::test]
async fn devices_are_seeded_and_picked_by_unique_id_or_id() {
    let sandbox = start(Options::default()).await;
    let api = Api::new(&sandbox);
    let seeded = muster::sandbox::seed::traccar_devices();
    let all = api.json("/devices").await;
    assert_eq!(all.as_array().unwrap().len(), seeded.len());
    let (id2, _, imei2) = &seeded[1];
    let (id5, _, imei5) = &seeded[4];
    let picked = api
        .json(&format!(
            "/devices?uniqueId={imei5}&uniqueId={imei2}&uniqueId=000"
        ))
        .await;
    let ids: Vec<i64> = picked
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [*id5, *id2]);
    let by_id = api.json(&format!("/devices?id={id2}")).await;
    assert_eq!(by_id[0]["uniqueId"], imei2.as_str());
    sandbox.stop().await;
}

#[tokio::test]
async fn permissions_take_the_user_first_and_link_twice_harmlessly() {
    let sandbox = start(Options::default()).await;
    let api = Api::new(&sandbox);
    let user = api.create("Ann", "ann@x.io").await;
    let link = format!(r#"{{"userId":{user},"deviceId":3}}"#);
    assert_eq!(
        api.post("/permissions", &link).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.post("/permissions", &link).await.0,
        StatusCode::NO_CONTENT
    );

    let cases = [
        (
            format!(r#"{{"deviceId":3,"userId":{user}}}"#),
            "Table 'traccar.tc_device_user' doesn't exist",
        ),
        (format!(r#"{{"userId":{user}}}"#), "Invalid permission"),
        (
            format!(r#"{{"userId":{user},"deviceId":3,"groupId":1}}"#),
            "Invalid permission",
        ),
        (
            format!(r#"{{"userId":{user},"deviceId":999}}"#),
            "Device access denied",
        ),
        (
            r#"{"userId":777,"deviceId":3}"#.to_string(),
            "User access denied",
        ),
    ];
    for (body, want) in cases {
        let (status, text) = api.post("/permissions", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(text.contains(want), "{body}: {text}");
    }
    let links = sandbox.traccar().links();
    assert_eq!(links.len(), 2);
    assert!(links.iter().all(|l| l.user_id == user && l.device_id == 3));
    assert_eq!(counter(&sandbox, "links_created"), 2);
    let devices = api.json(&format!("/devices?userId={user}")).await;
    assert_eq!(devices.as_array().unwrap().len(), 1);
    sandbox.stop().await;
}

#[tokio::test]
async fn a_user_can_be_read_replaced_and_deleted() {
    let sandbox = start(Options::default()).await;
    let api = Api::new(&sandbox);
    let id = api.create("Ann", "ann@x.io").await;
    let path = format!("/users/{id}");
    let put = |body: String| {
        let api = &api;
        let path = path.clone();
        async move { api.send(reqwest::Method::PUT, &path, Some(&body)).await }
    };
    let (status, text) = put(format!(
        r#"{{"id":{id},"name":"Ann B","email":"ann@x.io","phone":"1"}}"#
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(api.json(&path).await["name"], "Ann B");
    // Traccar takes the id from the body, not the path.
    let (status, text) = put(r#"{"name":"Ann C","email":"ann@x.io"}"#.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("User access denied"), "{text}");
    let (status, _) = put(format!(
        r#"{{"id":{id},"name":"Ann","email":"ann@x.io","deviceLimit":-1}}"#
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, text) = api.send(reqwest::Method::DELETE, &path, None).await;
    assert_eq!((status, text.as_str()), (StatusCode::NO_CONTENT, ""));
    let (status, text) = api.get(&path).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("User access denied"));
    assert_eq!(counter(&sandbox, "users"), 0);
    assert_eq!(counter(&sandbox, "created"), 1);
    sandbox.stop().await;
}

#[tokio::test]
async fn the_platform_rate_limit_answers_429_with_retry_after() {
    let sandbox = start(Options {
        rate: Some(Rate::parse("2/h").unwrap()),
        ..Options::default()
    })
    .await;
    let api = Api::new(&sandbox);
    assert_eq!(api.get("/devices").await.0, StatusCode::OK);
    assert_eq!(api.get("/devices").await.0, StatusCode::OK);
    let response = api
        .request(reqwest::Method::POST, "/users")
        .header("Content-Type", "application/json")
        .body(r#"{"name":"A","email":"a@x.io"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=1800).contains(&retry_after), "{retry_after}");
    // The control endpoints are never limited.
    for _ in 0..5 {
        let r = client()
            .get(format!("{}/_sandbox/stats", sandbox.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(counter(&sandbox, "rate_limited"), 1);
    assert_eq!(counter(&sandbox, "requests"), 3);
    assert_eq!(counter(&sandbox, "created"), 0);
    assert_eq!(counter(&sandbox, "faults_injected"), 0);
    sandbox.stop().await;
}

#[tokio::test]
async fn an_injected_error_answers_5xx_and_does_nothing() {
    let sandbox = start(Options {
        error_rate: 1.0,
        ..Options::default()
    })
    .await;
    let api = Api::new(&sandbox);
    let (status, _) = api.post("/users", r#"{"name":"A","email":"a@x.io"}"#).await;
    assert!(
        matches!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR | StatusCode::SERVICE_UNAVAILABLE
        ),
        "{status}"
    );
    assert!(sandbox.traccar().users().is_empty());
    assert_eq!(counter(&sandbox, "created"), 0);
    assert_eq!(counter(&sandbox, "errors_injected"), 1);
    assert_eq!(counter(&sandbox, "faults_injected"), 1);
    sandbox.stop().await;
}

#[tokio::test]
async fn a_dropped_connection_gets_no_answer_and_does_nothing() {
    let sandbox = start(Options {
        drop_rate: 1.0,
        ..Options::default()
    })
    .await;
    let api = Api::new(&sandbox);
    let result = api
        .request(reqwest::Method::POST, "/users")
        .header("Content-Type", "application/json")
        .body(r#"{"name":"A","email":"a@x.io"}"#)
        .send()
        .await;
    let err = result.expect_err("a dropped connection has no answer");
    assert!(err.status().is_none(), "{err}");
    assert!(sandbox.traccar().users().is_empty());
    let stats = sandbox.stats();
    assert_eq!(stats["traccar"]["drops_injected"], 1);
    assert_eq!(stats["traccar"]["faults_injected"], 1);
    assert_eq!(stats["traccar"]["writes"], 1);
    assert_eq!(stats["traccar"]["created"], 0);
    sandbox.stop().await;
}

#[tokio::test]
async fn a_timed_out_create_is_done_but_never_answered_and_stop_still_returns() {
    let sandbox = start(Options {
        timeout_rate: 1.0,
        ..Options::default()
    })
    .await;
    let api = Api::new(&sandbox);
    let pending = tokio::spawn(
        api.request(reqwest::Method::POST, "/users")
            .header("Content-Type", "application/json")
            .body(r#"{"name":"A","email":"a@x.io"}"#)
            .send(),
    );
    until(&sandbox, |s| s["traccar"]["timeouts_injected"] == 1).await;
    // Reads are not creates: they are answered.
    let listed = api.json("/users").await;
    assert_eq!(listed[0]["email"], "a@x.io");
    assert_eq!(counter(&sandbox, "created"), 1);
    assert_eq!(counter(&sandbox, "faults_injected"), 1);
    assert!(!pending.is_finished());

    sandbox.stop().await;
    let answer = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("stop closed the held connection")
        .unwrap();
    assert!(answer.is_err(), "the answer never comes: {answer:?}");
}

#[tokio::test(start_paused = true)]
async fn latency_delays_every_answer() {
    let sandbox = start(Options {
        latency_ms: 60_000,
        ..Options::default()
    })
    .await;
    let api = Api::new(&sandbox);
    let before = tokio::time::Instant::now();
    assert_eq!(api.get("/devices").await.0, StatusCode::OK);
    assert!(before.elapsed() >= Duration::from_secs(60));
    sandbox.stop().await;
}

#[tokio::test]
async fn the_same_seed_injects_the_same_faults() {
    let options = Options {
        error_rate: 0.5,
        seed: Some(42),
        ..Options::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sandbox = start(options.clone()).await;
        let api = Api::new(&sandbox);
        let mut statuses = Vec::new();
        for _ in 0..24 {
            statuses.push(api.get("/devices").await.0.as_u16());
        }
        assert_eq!(
            counter(&sandbox, "errors_injected"),
            statuses.iter().filter(|s| **s >= 500).count() as u64
        );
        sandbox.stop().await;
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&200) && runs[0].iter().any(|s| *s >= 500));
}

#[tokio::test]
async fn reset_forgets_users_and_counters() {
    let sandbox = start(Options::default()).await;
    let api = Api::new(&sandbox);
    api.create("Ann", "ann@x.io").await;
    let r = client()
        .post(format!("{}/_sandbox/reset", sandbox.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(sandbox.traccar().users().is_empty());
    assert_eq!(counter(&sandbox, "created"), 0);
    assert_eq!(counter(&sandbox, "users"), 0);
    // The same address can be created again.
    api.create("Ann", "ann@x.io").await;
    sandbox.stop().await;
}

#[tokio::test]
async fn the_written_config_names_one_target_per_vendor_pointing_here() {
    let sandbox = start(Options::default()).await;
    let config = Config::parse(&sandbox.config_toml(), Path::new("sandbox.toml")).unwrap();
    let url = sandbox.url();
    let want = [
        ("traccar", "/traccar/api"),
        ("motive", "/motive/v1"),
        ("pegasus", "/pegasus"),
        ("drtrack", "/drtrack/api/v1.0"),
        ("arobs", "/arobs/api"),
    ];
    assert_eq!(config.targets.len(), want.len());
    for (key, path) in want {
        let target = &config.targets[key];
        assert_eq!(target.vendor.key(), key);
        assert_eq!(target.url, format!("{url}{path}"));
        for (_, var) in target.credential_vars() {
            let var = var.unwrap_or_else(|| panic!("{key} names its credentials"));
            assert!(
                Sandbox::credentials().iter().any(|(v, _)| v == var),
                "{key}: {var}"
            );
        }
    }
    assert_eq!(
        config.targets["traccar"].token_env.as_deref(),
        Some("SANDBOX_TRACCAR_TOKEN")
    );
    assert_eq!(
        config.targets["drtrack"].app_name.as_deref(),
        Some("sandbox")
    );
    sandbox.stop().await;
}

/// Kills the child on every way out of the test.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn muster_sandbox_prints_its_address_first_and_serves_stats() {
    use std::io::BufRead;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("muster.toml");
    let mut child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_muster"))
            .args(["sandbox", "--listen", "127.0.0.1:0", "--write-config"])
            .arg(&config)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let last = line.contains("Ctrl-C");
            lines.push(line);
            if last {
                break;
            }
        }
        lines
    });
    let lines = tokio::time::timeout(Duration::from_secs(60), lines)
        .await
        .expect("muster sandbox prints its address")
        .unwrap();
    let url = lines[0]
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {:?}", lines[0]));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let text = lines.join("\n");
    assert!(text.contains("export SANDBOX_TRACCAR_TOKEN="), "{text}");

    let stats: Value = client()
        .get(format!("{url}/_sandbox/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["traccar"]["requests"], 0);
    let written = std::fs::read_to_string(&config).unwrap();
    let parsed = Config::parse(&written, &config).unwrap();
    assert_eq!(parsed.targets["traccar"].url, format!("{url}/traccar/api"));
    drop(child);
}

#[test]
fn muster_sandbox_refuses_a_share_above_one() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--error-rate", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--error-rate 2: must be a share between 0 and 1"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

/// Paths, methods and response codes of the simulated endpoints as
/// `shared/contracts/traccar-openapi.yaml` (Traccar 6.14.5, sha256 27943f3e…) declares
/// them. 401 is implied for every one by the spec's global `security`.
const SPEC: &[(&str, &str, &[u16])] = &[
    ("GET", "/users", &[200, 400]),
    ("POST", "/users", &[200, 400, 401]),
    ("GET", "/users/{id}", &[200, 401, 404]),
    ("PUT", "/users/{id}", &[200, 400, 401]),
    ("DELETE", "/users/{id}", &[204, 401]),
    ("GET", "/devices", &[200, 400]),
    ("GET", "/permissions", &[200, 400]),
    ("POST", "/permissions", &[204, 400]),
    ("DELETE", "/permissions", &[204, 401]),
    ("POST", "/permissions/bulk", &[204, 400]),
    ("GET", "/session", &[200, 404]),
    ("POST", "/session", &[200, 401]),
];

#[tokio::test]
async fn answers_use_the_paths_methods_and_codes_of_the_openapi_file() {
    let sandbox = start(Options::default()).await;
    let api = Api::new(&sandbox);
    let nobody = Api::anonymous(&sandbox, None);
    let id = api.create("Ann", "ann@x.io").await;
    let gone = api.create("Gone", "gone@x.io").await;
    let user = format!("/users/{id}");
    let put_ok = format!(r#"{{"id":{id},"name":"Ann","email":"ann@x.io"}}"#);
    let link = format!(r#"{{"userId":{id},"deviceId":1}}"#);
    let bulk = format!(r#"[{{"userId":{id},"deviceId":2}},{{"userId":{id},"deviceId":3}}]"#);
    use reqwest::Method as M;
    // (spec row, who asks, method, path, body, the status this case must get)
    type Case<'a> = (&'a str, &'a Api, M, String, Option<String>, u16);
    let cases: Vec<Case> = vec![
        ("/users", &api, M::GET, "/users".into(), None, 200),
        ("/users", &api, M::GET, "/users?limit=x".into(), None, 400),
        ("/users", &nobody, M::GET, "/users".into(), None, 401),
        (
            "/users",
            &api,
            M::POST,
            "/users".into(),
            Some(r#"{"name":"B","email":"b@x.io"}"#.into()),
            200,
        ),
        (
            "/users",
            &api,
            M::POST,
            "/users".into(),
            Some(r#"{"name":"B","email":"b@x.io"}"#.into()),
            400,
        ),
        ("/users/{id}", &api, M::GET, user.clone(), None, 200),
        ("/users/{id}", &nobody, M::GET, user.clone(), None, 401),
        ("/users/{id}", &api, M::GET, "/users/abc".into(), None, 404),
        ("/users/{id}", &api, M::PUT, user.clone(), Some(put_ok), 200),
        (
            "/users/{id}",
            &api,
            M::PUT,
            user.clone(),
            Some(r#"{"id":1,"x":1}"#.into()),
            400,
        ),
        (
            "/users/{id}",
            &nobody,
            M::PUT,
            user.clone(),
            Some("{}".into()),
            401,
        ),
        (
            "/users/{id}",
            &api,
            M::DELETE,
            format!("/users/{gone}"),
            None,
            204,
        ),
        ("/users/{id}", &nobody, M::DELETE, user.clone(), None, 401),
        (
            "/devices",
            &api,
            M::GET,
            "/devices?all=true".into(),
            None,
            200,
        ),
        (
            "/devices",
            &api,
            M::GET,
            "/devices?userId=999".into(),
            None,
            400,
        ),
        (
            "/permissions",
            &api,
            M::GET,
            "/permissions".into(),
            None,
            400,
        ),
        (
            "/permissions",
            &api,
            M::POST,
            "/permissions".into(),
            Some(link.clone()),
            204,
        ),
        (
            "/permissions",
            &api,
            M::POST,
            "/permissions".into(),
            Some("{}".into()),
            400,
        ),
        (
            "/permissions",
            &api,
            M::DELETE,
            "/permissions".into(),
            Some(link),
            204,
        ),
        (
            "/permissions",
            &nobody,
            M::DELETE,
            "/permissions".into(),
            Some("{}".into()),
            401,
        ),
        (
            "/permissions/bulk",
            &api,
            M::POST,
            "/permissions/bulk".into(),
            Some(bulk),
            204,
        ),
        (
            "/permissions/bulk",
            &api,
            M::POST,
            "/permissions/bulk".into(),
            Some(r#"[{"userId":1,"deviceId":2},{"userId":1}]"#.into()),
            400,
        ),
        ("/session", &api, M::GET, "/session".into(), None, 404),
    ];
    for (row, who, method, path, body, want) in &cases {
        let (_, _, codes) = SPEC
            .iter()
            .find(|(m, p, _)| *m == method.as_str() && p == row)
            .unwrap_or_else(|| panic!("{method} {row} is not in the spec table"));
        let (status, text) = who.send(method.clone(), path, body.as_deref()).await;
        assert_eq!(status.as_u16(), *want, "{method} {path}: {text}");
        assert!(
            codes.contains(want) || *want == 401,
            "{method} {path}: {want} is not a code the spec declares"
        );
    }
    for (ok, password, want) in [(true, "sandbox", 200), (false, "nope", 401)] {
        let r = api
            .http
            .post(format!("{}/session", api.base))
            .form(&[("email", "sandbox@muster.test"), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "login ok={ok}");
    }
    for (method, row, _) in SPEC {
        let covered = *row == "/session" && *method == "POST"
            || cases
                .iter()
                .any(|(r, _, m, ..)| r == row && m.as_str() == *method);
        assert!(covered, "{method} {row} has no case");
    }
    // Where the source outranks the spec (traccar.md): a manager asking for a user it
    // does not manage gets 400 `User access denied`, never the spec's 404.
    let (status, text) = api.get("/users/999").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("User access denied"));
    sandbox.stop().await;
}
