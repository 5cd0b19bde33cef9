//! Credentials revoked during a run (issue 25, item 10): a loopback Traccar accepts the
//! probe and the first two creates, then answers every `POST /api/users` with 401. After
//! three writes in a row are refused so, the target halts: the rest of the file is not
//! sent, its rows are `not_attempted` with the reason.

use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use muster::model::Status;

use crate::support::{World, traccar_answering};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_refused_401_three_times_in_a_row_halt_the_target() {
    let (addr, posts) = traccar_answering(|n| {
        if n < 2 {
            (StatusCode::OK, format!("{{\"id\":{}}}", n + 1))
        } else {
            (StatusCode::UNAUTHORIZED, String::new())
        }
    })
    .await;

    let w = World::start(muster::sandbox::Options::default()).await;
    let config = w.traccar_at(addr, "concurrency = 1");
    let mut csv = String::from("target,name,email,password\n");
    for i in 0..10 {
        csv.push_str(&format!("traccar,U{i},u{i}@x.test,Pass-word-{i}\n"));
    }
    let (exit, journal) = w.import_csv(&csv, &config).await;
    assert_eq!(exit, muster::Exit::RowsFailed);
    assert_eq!(
        posts.load(Ordering::SeqCst),
        5,
        "two made, three refused, then nothing"
    );
    let counts = w.last_run_counts(&journal);
    assert_eq!(counts.get(&Status::Created), Some(&2), "{counts:?}");
    assert_eq!(counts.get(&Status::Failed), Some(&3), "{counts:?}");
    assert_eq!(counts.get(&Status::NotAttempted), Some(&5), "{counts:?}");
    let errors = w.last_run_errors(&journal, 10);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("not attempted: credentials rejected: 3 writes in a row were answered HTTP 401 after earlier writes went through")),
        "{errors:?}"
    );
}
