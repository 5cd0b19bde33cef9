//! The engine's HTTP behaviour against a scripted loopback server: Retry-After pauses the
//! whole target, not only the request that met it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use muster::config::{Rate, Target};
use muster::http::{Halt, Http, Request};
use muster::model::VendorKind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_pauses_the_whole_target() {
    let arrivals: Arc<Mutex<Vec<(Instant, &'static str)>>> = Arc::default();
    let seen = arrivals.clone();
    let app = Router::new()
        .route(
            "/first",
            get({
                let seen = seen.clone();
                move || async move {
                    let mut s = seen.lock().unwrap();
                    let first = !s.iter().any(|(_, p)| *p == "first");
                    s.push((Instant::now(), "first"));
                    if first {
                        (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after", "1")],
                            "slow down",
                        )
                            .into_response()
                    } else {
                        (StatusCode::OK, "ok").into_response()
                    }
                }
            }),
        )
        .route(
            "/second",
            get(move || async move {
                seen.lock().unwrap().push((Instant::now(), "second"));
                "ok"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut target = Target::with_defaults("t", VendorKind::Traccar, &format!("http://{addr}"));
    target.rate = Rate::Unlimited;
    let http = Arc::new(Http::new(&target, Arc::new(Halt::new(None))).unwrap());
    let a = {
        let http = http.clone();
        tokio::spawn(async move { http.send(Request::get("/first")).await })
    };
    // Start the second request only once the first has met its 429.
    while !arrivals.lock().unwrap().iter().any(|(_, p)| *p == "first") {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let b = http.send(Request::get("/second")).await.unwrap();
    assert_eq!(b.status, 200);
    let a = a.await.unwrap().unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.attempts, 2);
    let log = arrivals.lock().unwrap().clone();
    let t429 = log[0].0;
    let second = log.iter().find(|(_, p)| *p == "second").unwrap().0;
    assert!(
        second.duration_since(t429) >= Duration::from_millis(900),
        "the other request went out {:?} after the 429, inside the pause",
        second.duration_since(t429)
    );
    assert_eq!(
        http.counters
            .rate_limited
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}
