//! A Retry-After longer than the target's `max_wait` (issue 25, item 9): a loopback Traccar
//! answers every `POST /api/users` with 429 and `Retry-After: 3600`. muster does not sleep
//! an hour: the target halts at once with "the platform asked to wait 3600 s", its rows
//! `not_attempted`, and nothing more is sent.

use std::sync::atomic::Ordering;

use axum::http::{StatusCode, header};
use muster::model::Status;

use crate::support::{World, traccar_answering};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_beyond_max_wait_halts_the_target_instead_of_sleeping() {
    let (addr, posts) = traccar_answering(|_| {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "3600")],
            "slow down",
        )
    })
    .await;

    let w = World::start(muster::sandbox::Options::default()).await;
    let config = w.traccar_at(addr, "concurrency = 1\nmax_wait = \"2m\"");
    let mut csv = String::from("target,name,email,password\n");
    for i in 0..4 {
        csv.push_str(&format!("traccar,U{i},u{i}@x.test,Pass-word-{i}\n"));
    }
    // Ends well before the hour it was asked to wait (no sleep here: the test's own time
    // limit would show a hang).
    let (exit, journal) = w.import_csv(&csv, &config).await;
    assert_eq!(exit, muster::Exit::RowsFailed);
    assert_eq!(posts.load(Ordering::SeqCst), 1, "nothing more was sent");
    let counts = w.last_run_counts(&journal);
    assert_eq!(counts.get(&Status::NotAttempted), Some(&4), "{counts:?}");
    let errors = w.last_run_errors(&journal, 4);
    assert!(
        errors.iter().all(|e| e.contains(
            "the platform asked to wait 3600 s (Retry-After), more than max_wait 120 s; run again later"
        )),
        "{errors:?}"
    );
}
