//! A create answered 2xx is never sent again (issue 25, item 3), against a loopback
//! Traccar that answers `POST /api/users` with 200 and no id, and whose user list lags
//! behind (the created users are not listed yet). Each row's create is sent once; the row
//! fails saying the user cannot be found yet, and the journal keeps the intent, so the
//! next run looks before it sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;

use crate::support::{World, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answered_2xx_without_an_id_is_never_sent_again() {
    let posts = Arc::new(AtomicUsize::new(0));
    let counted = posts.clone();
    let app = Router::new()
        .route("/api/devices", get(|| async { "[]" }))
        .route(
            "/api/users",
            get(|| async { "[]" }).post(move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
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
