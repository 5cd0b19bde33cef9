//! Redirects never carry credentials to another origin (issue 11). A second loopback
//! server records every request it receives; the target's origin redirects to it. First
//! at the HTTP layer, with every auth header style muster uses set at once; then through
//! each vendor's connector, the sandbox redirecting that vendor's user writes. The
//! recorder must see nothing, and the row must fail naming the redirect.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use muster::config::{Rate, Target};
use muster::http::retry::Kind;
use muster::http::{Halt, Http, Request, SendError};
use muster::model::{Status, VendorKind};
use muster::sandbox::{Options, Redirect};
use muster::secret::Secret;
use reqwest::Method;
use reqwest::header::HeaderName;

use crate::support::{FAST_APPS, World, fast_pegasus, vendor_roster};

/// The headers of every request a server received.
type Seen = Arc<Mutex<Vec<HeaderMap>>>;

/// A loopback server answering 200 to anything and recording its headers.
async fn recorder() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(headers);
            "recorded"
        }
    });
    (serve(app).await, seen)
}

async fn serve(app: Router) -> String {
    format!("http://{}", crate::support::serve(app).await)
}

/// Every header muster authenticates with, by vendor: Traccar `Authorization`, Motive
/// `X-Api-Key`, Pegasus `Authenticate`, DRTrack `Authtoken` and `username`/`password`.
const AUTH: [(&str, &str); 6] = [
    ("authorization", "Bearer traccar-secret-token"),
    ("x-api-key", "motive-secret-key"),
    ("authenticate", "pegasus-secret-token"),
    ("authtoken", "drtrack-secret-token"),
    ("username", "drtrack-secret-user"),
    ("password", "drtrack-secret-password"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_header_follows_a_redirect_to_another_origin() {
    let (elsewhere, seen) = recorder().await;
    for code in [301u16, 302, 303, 307, 308] {
        let to = elsewhere.clone();
        let origin = serve(Router::new().fallback(move |uri: axum::http::Uri| {
            let to = to.clone();
            async move {
                (
                    StatusCode::from_u16(code).unwrap(),
                    [(header::LOCATION, format!("{to}{}", uri.path()))],
                    "moved",
                )
                    .into_response()
            }
        }))
        .await;
        let mut target = Target::with_defaults("t", VendorKind::Traccar, &origin);
        target.rate = Rate::Unlimited;
        let http = Http::new(&target, Arc::new(Halt::new(None))).unwrap();
        http.set_auth(
            AUTH.iter()
                .map(|(n, v)| (HeaderName::from_static(n), Secret::new(*v)))
                .collect(),
        );
        for (method, kind) in [
            (Method::GET, Kind::Read),
            (Method::POST, Kind::Create),
            (Method::PUT, Kind::Idempotent),
        ] {
            let req = Request::new(method.clone(), "/users", kind)
                .json(serde_json::json!({"password": "row-secret"}))
                .header(
                    HeaderName::from_static("authenticate"),
                    Secret::new("per-request-secret"),
                );
            let err = http
                .send(req)
                .await
                .expect_err("a redirect elsewhere is not a reply");
            let SendError::Exhausted { detail, status, .. } = &err else {
                panic!("{code} {method}: {err:?}");
            };
            assert_eq!(*status, Some(code));
            assert_eq!(
                detail,
                &format!(
                    "HTTP {code}: redirected to {elsewhere}, not followed: credentials are only sent to the target's own origin"
                )
            );
        }
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "the other origin received {} requests",
        seen.lock().unwrap().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_create_fails_the_row_and_sends_nothing_elsewhere() {
    // The writes that carry each vendor's credentials with the user.
    let cases = [
        ("traccar", "/traccar/api/users"),
        ("motive", "/motive/v1/users"),
        ("pegasus", "/pegasus/users"),
        ("drtrack", "/drtrack/api/v1.0/users/sync"),
    ];
    let (elsewhere, seen) = recorder().await;
    for (vendor, path) in cases {
        let w = World::start(Options {
            pegasus: fast_pegasus(),
            redirect: Some(Redirect {
                path_contains: path.into(),
                to: elsewhere.clone(),
            }),
            ..Options::default()
        })
        .await;
        let config = w.config(&format!("rate = \"none\"\n{FAST_APPS}"));
        let roster = w.write("roster.csv", &vendor_roster(vendor, 3));
        let journal = w.path("j.db");
        w.import(&roster, &config, &journal, &w.path("r.xlsx"), &[])
            .await
            .expect("the run ends");
        let counts = w.last_run_counts(&journal);
        assert_eq!(
            counts.get(&Status::Failed),
            Some(&3),
            "{vendor}: {counts:?}"
        );
        let errors = w.last_run_errors(&journal, 3);
        for e in &errors {
            assert!(
                e.contains(&format!("redirected to {elsewhere}, not followed")),
                "{vendor}: {e}"
            );
        }
        assert_eq!(w.stat(vendor, "created"), 0, "{vendor}");
        assert!(
            seen.lock().unwrap().is_empty(),
            "{vendor}: the other origin received a request"
        );
    }
}
