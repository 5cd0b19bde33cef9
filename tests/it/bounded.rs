//! Bounded listings and bodies (issue 25, item 4): loopback platforms that page forever or
//! answer without end. Every listing stops at a page that adds no new ids and within its
//! budget of pages (`max_pages`) and bytes (`max_listing`); every reply is read up to a cap
//! (`max_body`). Past any of them the run ends with an error naming the endpoint and the
//! budget, and the server's own counts show muster stopped asking (or reading).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::routing::get;
use muster::model::Status;

use crate::support::{World, serve, vendor_roster};

/// A page of Motive's `GET /users` holding the users `first..first+100`, and a total that
/// says there are always more.
fn motive_page(first: u64) -> String {
    let users: Vec<String> = (first..first + 100)
        .map(|id| {
            format!(r#"{{"user":{{"id":{id},"email":"u{id}@motive.test","status":"active"}}}}"#)
        })
        .collect();
    format!(
        r#"{{"users":[{}],"pagination":{{"per_page":100,"page_no":1,"total":100000000}}}}"#,
        users.join(",")
    )
}

/// A loopback Motive whose `GET /v1/users` answers `page(page_no)`; counts the list
/// requests in `asked`.
async fn motive(asked: Arc<AtomicU64>, page: fn(u64) -> String) -> std::net::SocketAddr {
    let app = Router::new()
        .route("/v1/companies", get(|| async { r#"{"companies":[]}"# }))
        .route(
            "/v1/users",
            get(move |Query(q): Query<Vec<(String, String)>>| {
                let asked = asked.clone();
                async move {
                    asked.fetch_add(1, Ordering::SeqCst);
                    let page_no = q
                        .iter()
                        .find(|(k, _)| k == "page_no")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(1);
                    page(page_no)
                }
            }),
        );
    serve(app).await
}

fn motive_config(w: &World, addr: std::net::SocketAddr, extra: &str) -> std::path::PathBuf {
    w.write(
        "loopback.toml",
        &format!(
            "[target.motive]\nvendor = \"motive\"\nurl = \"http://{addr}/v1\"\napi_key_env = \"SANDBOX_MOTIVE_API_KEY\"\nrate = \"none\"\n{extra}\n"
        ),
    )
}

/// `muster audit ROSTER --config CONFIG`: its error's text.
async fn audit_error(w: &World, roster: &str, config: &std::path::Path) -> String {
    let roster = w.write("roster.csv", roster);
    let (r, c, o) = (
        roster.display().to_string(),
        config.display().to_string(),
        w.path("audit.xlsx").display().to_string(),
    );
    let err = w
        .muster(&["audit", &r, "--config", &c, "--out", &o, "--quiet"])
        .await
        .expect_err("the audit cannot list the target");
    format!("{err:#}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_answering_the_same_page_forever_is_asked_twice() {
    let asked = Arc::new(AtomicU64::new(0));
    // Whatever page is asked for, the first one comes back (the finding: 17,578 pages and
    // 9.3 GB after 90 s, still growing).
    let addr = motive(asked.clone(), |_| motive_page(1)).await;
    let w = World::start(muster::sandbox::Options::default()).await;
    let config = motive_config(&w, addr, "");
    let err = audit_error(&w, &vendor_roster("motive", 3), &config).await;
    assert!(
        err.contains("target motive: cannot list its users: unexpected answer: GET /users: page 2 lists only ids earlier pages listed: the platform ignores the page asked for; listing stopped after 2 pages"),
        "{err}"
    );
    assert_eq!(asked.load(Ordering::SeqCst), 2, "pages asked for");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_with_ever_new_pages_halts_the_target_at_max_pages() {
    let asked = Arc::new(AtomicU64::new(0));
    let addr = motive(asked.clone(), |page_no| motive_page(page_no * 100)).await;
    let w = World::start(muster::sandbox::Options::default()).await;
    let config = motive_config(&w, addr, "max_pages = 5");
    let (exit, journal) = w.import_csv(&vendor_roster("motive", 3), &config).await;
    assert_eq!(exit, muster::Exit::RowsFailed);
    assert_eq!(asked.load(Ordering::SeqCst), 5, "pages asked for");
    let counts = w.last_run_counts(&journal);
    assert_eq!(counts.get(&Status::NotAttempted), Some(&3), "{counts:?}");
    let errors = w.last_run_errors(&journal, 3);
    assert!(
        errors.iter().all(|e| e.contains(
            "GET /users: still more after 5 pages, the most one listing reads (max_pages = 5 on target motive)"
        )),
        "{errors:?}"
    );
    // The audit says the same.
    let err = audit_error(&w, &vendor_roster("motive", 3), &config).await;
    assert!(err.contains("still more after 5 pages"), "{err}");
}

/// A body that never ends: `chunk`s of what `next` makes, counting the bytes sent in
/// `sent`. Nothing here holds more than one chunk.
fn endless(sent: Arc<AtomicU64>, next: impl FnMut(u64) -> String + Send + 'static) -> Body {
    let mut next = next;
    let mut n = 0u64;
    let chunks = futures_util::stream::repeat_with(move || {
        n += 1;
        let chunk = Bytes::from(next(n));
        sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        Ok::<_, std::io::Error>(chunk)
    });
    Body::from_stream(chunks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_larger_than_max_body_is_not_read_past_it() {
    let sent = Arc::new(AtomicU64::new(0));
    let asked = Arc::new(AtomicU64::new(0));
    let (s, a) = (sent.clone(), asked.clone());
    // The probe (`GET /api/devices?limit=1`) answers 200 with a body without end.
    let app = Router::new().route(
        "/api/devices",
        get(move || {
            a.fetch_add(1, Ordering::SeqCst);
            let s = s.clone();
            async move { endless(s, |_| format!("[{}", " ".repeat(64 * 1024))) }
        }),
    );
    let addr = serve(app).await;
    let w = World::start(muster::sandbox::Options::default()).await;
    let config = w.traccar_at(addr, "max_body = \"256 KiB\"");
    let err = audit_error(&w, "target,name,email\ntraccar,A,a@x.test\n", &config).await;
    assert!(
        err.contains("the reply to GET /devices (HTTP 200) is larger than max_body = 256 KiB; muster stopped reading it"),
        "{err}"
    );
    assert_eq!(asked.load(Ordering::SeqCst), 1, "not asked again");
    // The server wrote more than muster read only as far as the socket buffers took it.
    assert!(sent.load(Ordering::SeqCst) < 64 << 20, "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_without_end_stops_at_max_listing() {
    let sent = Arc::new(AtomicU64::new(0));
    let asked = Arc::new(AtomicU64::new(0));
    let (s, a) = (sent.clone(), asked.clone());
    // `GET /api/users` lists new users without end: `[{"id":1,...},{"id":2,...},...`.
    let app = Router::new()
        .route("/api/devices", get(|| async { "[]" }))
        .route(
            "/api/users",
            get(move || {
                a.fetch_add(1, Ordering::SeqCst);
                let s = s.clone();
                async move {
                    endless(s, |n| {
                        let users: Vec<String> = (n * 100..n * 100 + 100)
                            .map(|id| format!(r#"{{"id":{id},"email":"u{id}@x.test"}}"#))
                            .collect();
                        let open = if n == 1 { "[" } else { "," };
                        format!("{open}{}", users.join(","))
                    })
                }
            }),
        );
    let addr = serve(app).await;
    let w = World::start(muster::sandbox::Options::default()).await;
    let config = w.traccar_at(addr, "max_listing = \"1 MiB\"");
    let err = audit_error(&w, "target,name,email\ntraccar,A,a@x.test\n", &config).await;
    assert!(
        err.contains("the reply to GET /users (HTTP 200) is larger than max_listing = 1 MiB (the most one listing reads, on target traccar); muster stopped reading it"),
        "{err}"
    );
    assert_eq!(asked.load(Ordering::SeqCst), 1, "not asked again");
    assert!(sent.load(Ordering::SeqCst) < 64 << 20, "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pegasus_answering_the_same_page_forever_is_asked_twice() {
    let asked = Arc::new(AtomicU64::new(0));
    let counted = asked.clone();
    // `GET /users` answers page 1 of 50 whatever page is asked for.
    let app = Router::new()
        .route(
            "/login",
            axum::routing::post(|| async { r#"{"message":"ok","auth":"tok"}"# }),
        )
        .route("/user", get(|| async { r#"{"is_staff":true}"# }))
        .route(
            "/users",
            get(move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let users: Vec<String> = (1..=1000)
                        .map(|id| format!(r#"{{"id":{id},"username":"u{id}"}}"#))
                        .collect();
                    format!(
                        r#"{{"set":1000,"total":50000,"page":1,"pages":50,"data":[{}]}}"#,
                        users.join(",")
                    )
                }
            }),
        );
    let addr = serve(app).await;
    let w = World::start(muster::sandbox::Options::default()).await;
    let config = w.write(
        "loopback.toml",
        &format!(
            "[target.pegasus]\nvendor = \"pegasus\"\nurl = \"http://{addr}\"\nusername_env = \"SANDBOX_PEGASUS_USER\"\npassword_env = \"SANDBOX_PEGASUS_PASSWORD\"\nrate = \"none\"\n"
        ),
    );
    let err = audit_error(&w, &vendor_roster("pegasus", 3), &config).await;
    assert!(
        err.contains("target pegasus: cannot list its users: unexpected answer: GET /users: page 2 lists only ids earlier pages listed"),
        "{err}"
    );
    assert_eq!(asked.load(Ordering::SeqCst), 2, "pages asked for");
}
