//! A create answered 2xx is never sent again (issue 25, item 3), against a loopback
//! Traccar that answers `POST /api/users` with 200 and no id, and whose user list lags
//! behind (the created users are not listed yet). Each row's create is sent once; the row
//! fails saying the user cannot be found yet, and the journal keeps the intent, so the
//! next run looks before it sends. A list that lags less than `settle_wait` is waited for:
//! the row is `created`, with its create sent once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::support::{World, serve, traccar_answering};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answered_2xx_without_an_id_is_never_sent_again() {
    // 2xx, but nothing muster can read an id from.
    let (addr, posts) = traccar_answering(|_| "{}").await;

    let w = World::start(muster::sandbox::Options::default()).await;
    // settle_wait: how long muster keeps looking for it (default 30 s).
    let config = w.traccar_at(addr, "retries = 3\nsettle_wait = \"1s\"");
    let roster = w.write(
        "roster.csv",
        "target,name,email,password\ntraccar,A,a@x.test,Pass-word-1\ntraccar,B,b@x.test,Pass-word-1\ntraccar,C,c@x.test,Pass-word-1\n",
    );
    let (journal, out) = (w.path("j.db"), w.path("r.xlsx"));
    let exit = w
        .import(&roster, &config, &journal, &out, &[])
        .await
        .expect("the run ends");
    assert_eq!(exit, muster::Exit::RowsFailed);
    assert_eq!(
        posts.load(Ordering::SeqCst),
        3,
        "one create per row, never again"
    );
    let errors = w.last_run_errors(&journal, 5);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| e.contains("cannot be found yet; not sent again")),
        "{errors:?}"
    );
    // The next run looks first: the list still lags, and still nothing is sent again.
    w.import(&roster, &config, &journal, &out, &[])
        .await
        .expect("the second run ends");
    assert_eq!(
        posts.load(Ordering::SeqCst),
        3,
        "a re-run sends no create either"
    );
}

/// The list shows a user 3 s after its create (by tokio's clock, paused here): muster keeps
/// looking, with growing pauses, for up to `settle_wait` (default 30 s), and finds it.
#[tokio::test(start_paused = true)]
async fn a_list_that_lags_a_few_seconds_is_waited_for() {
    let posts = Arc::new(AtomicUsize::new(0));
    let looks = Arc::new(AtomicUsize::new(0));
    // email → (id, when it was created)
    let made: Arc<Mutex<HashMap<String, (u64, Instant)>>> = Arc::default();
    let (counted, store, seen, looked) = (posts.clone(), made.clone(), made.clone(), looks.clone());
    let app = Router::new()
        .route("/api/devices", get(|| async { "[]" }))
        .route(
            "/api/users",
            get(move |q: Query<HashMap<String, String>>| {
                let (seen, looked) = (seen.clone(), looked.clone());
                async move {
                    if q.contains_key("keyword") {
                        looked.fetch_add(1, Ordering::SeqCst);
                    }
                    let listed: Vec<Value> = seen
                        .lock()
                        .unwrap()
                        .iter()
                        .filter(|(_, (_, at))| at.elapsed() >= Duration::from_secs(3))
                        .map(|(email, (id, _))| json!({"id": id, "email": email}))
                        .collect();
                    axum::Json(listed)
                }
            })
            .post(move |body: axum::Json<Value>| {
                let (counted, store) = (counted.clone(), store.clone());
                async move {
                    let n = counted.fetch_add(1, Ordering::SeqCst) as u64;
                    let email = body["email"].as_str().unwrap_or_default().to_string();
                    store
                        .lock()
                        .unwrap()
                        .insert(email, (100 + n, Instant::now()));
                    // 2xx, but nothing muster can read an id from.
                    "{}"
                }
            }),
        );
    let addr = serve(app).await;

    let w = World::start(muster::sandbox::Options::default()).await;
    let config = w.traccar_at(addr, "retries = 3");
    let roster = w.write(
        "roster.csv",
        "target,name,email,password\ntraccar,A,a@x.test,Pass-word-1\ntraccar,B,b@x.test,Pass-word-1\n",
    );
    let (journal, out) = (w.path("j.db"), w.path("r.xlsx"));
    let exit = w
        .import(&roster, &config, &journal, &out, &[])
        .await
        .expect("the run ends");
    assert_eq!(
        exit,
        muster::Exit::Success,
        "{:?}",
        w.last_run_errors(&journal, 5)
    );
    assert_eq!(posts.load(Ordering::SeqCst), 2, "one create per row");
    assert!(
        looks.load(Ordering::SeqCst) > 2,
        "looked again while the list lagged"
    );
    assert_eq!(made.lock().unwrap().len(), 2);
}
