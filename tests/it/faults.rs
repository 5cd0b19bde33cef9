//! Faults at scale for every vendor with a connector (issue 11): the sandbox answers 10%
//! of requests 500/503, withholds 2% of create answers, drops 2% of connections, adds
//! latency and limits each platform below muster's own configured rate (so 429s happen).
//! Every row must end final, nothing may be created twice, the platform's count of users
//! made must equal the rows reported with a user, and the workbook must agree with the
//! journal row for row and hold no formula (read back with openpyxl).
//!
//! Quick mode (default, CI): 400 rows per vendor at 5 ms latency. `MUSTER_LONG=1`: 20,000
//! rows per vendor at 20 ms, as the issue asks.
//!
//! The sandbox runs on a runtime of its own ([`World::start_apart`]), as a platform runs on
//! another machine: muster's blocking journal writes on the test's two threads must not
//! make the simulated platform itself slow to answer.

use std::time::Instant;

use muster::config::Rate;
use muster::model::Status;
use muster::sandbox::Options;

use crate::support::{
    FAST_APPS, World, assert_workbook_matches_journal, check_workbook, fast_pegasus, vendor_roster,
};

/// The vendors with a connector that sends rows (AROBS sends nothing on import).
pub const VENDORS: [&str; 4] = ["traccar", "motive", "pegasus", "drtrack"];

/// Whether the long variants run (`MUSTER_LONG=1`).
pub fn long() -> bool {
    std::env::var("MUSTER_LONG").is_ok_and(|v| v == "1")
}

/// Rows, latency (ms) and muster's timeout (a withheld answer costs one timeout).
fn scale() -> (usize, u64, &'static str) {
    if long() {
        (20_000, 20, "2s")
    } else {
        (400, 5, "1s")
    }
}

/// Per vendor: the platform's own limit, muster's configured rate (twice that, so the
/// platform answers 429 whenever muster runs at full speed) and the DRTrack batch size.
/// DRTrack sends a batch per request, so its limit is lower to be met at all.
const CASES: [(&str, &str, &str); 4] = [
    ("traccar", "100/s", "200/s"),
    ("motive", "100/s", "200/s"),
    ("pegasus", "100/s", "200/s"),
    ("drtrack", "20/s", "40/s"),
];

/// The long variant's rates for `vendor`, where they differ from [`CASES`]: Motive needs
/// about one request per row, and on a loaded 2-core machine muster did not reach 100 a
/// second over 20,000 rows (29/s measured), so the platform never answered 429. Half of
/// that limit is still below muster's configured rate and is met.
fn long_rates(vendor: &str) -> Option<(&'static str, &'static str)> {
    (long() && vendor == "motive").then_some(("50/s", "100/s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vendor_ends_every_row_final_and_creates_nothing_twice_under_faults() {
    let (n, latency_ms, timeout) = scale();
    assert_eq!(CASES.map(|c| c.0), VENDORS);
    // `MUSTER_VENDORS=traccar,motive` runs only those (a long run split over processes).
    let only = std::env::var("MUSTER_VENDORS").unwrap_or_default();
    for (i, (vendor, platform_rate, our_rate)) in CASES.into_iter().enumerate() {
        if !only.is_empty() && !only.split(',').any(|v| v.trim() == vendor) {
            continue;
        }
        let (platform_rate, our_rate) = long_rates(vendor).unwrap_or((platform_rate, our_rate));
        let w = World::start_apart(Options {
            latency_ms,
            error_rate: 0.1,
            timeout_rate: 0.02,
            drop_rate: 0.02,
            rate: Some(Rate::parse(platform_rate).expect("a rate")),
            seed: Some(100 + i as u64),
            pegasus: fast_pegasus(),
            ..Options::default()
        })
        .await;
        // Where to read the counters while a long run goes on (`GET /_sandbox/stats`).
        eprintln!("faults {vendor}: sandbox at {}", w.sandbox.url());
        let config = w.config(&format!(
            "rate = \"{our_rate}\"\nburst = 20\nconcurrency = 16\ntimeout = \"{timeout}\"\nretries = 8\nbatch_size = 5\n{FAST_APPS}"
        ));
        let roster = w.write("roster.csv", &vendor_roster(vendor, n));
        let journal = w.path("j.db");
        let out = w.path("r.xlsx");
        let began = Instant::now();
        w.import(&roster, &config, &journal, &out, &[])
            .await
            .unwrap_or_else(|e| panic!("{vendor}: import runs: {e:#}"));
        let took = began.elapsed();
        let counts = w.last_run_counts(&journal);
        let get = |s: Status| counts.get(&s).copied().unwrap_or(0);
        let (created, partial, failed) = (
            get(Status::Created),
            get(Status::Partial),
            get(Status::Failed),
        );
        let stats = w.sandbox.stats();
        let s = &stats[vendor];
        // The figures docs/reliability.md lists, with the machine's load (timing is noisy).
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        eprintln!(
            "faults {vendor}: {n} rows in {took:.1?}: {created} created, {partial} partial, {failed} failed; \
             requests {} errors {} timeouts {} drops {} rate_limited {} duplicates_refused {}; load {}",
            s["requests"],
            s["errors_injected"],
            s["timeouts_injected"],
            s["drops_injected"],
            s["rate_limited"],
            s["duplicates_refused"],
            load.split(' ').take(3).collect::<Vec<_>>().join(" ")
        );
        assert_eq!(
            created + partial + failed,
            n,
            "{vendor}: every row final: {counts:?}\n{:#?}",
            w.last_run_errors(&journal, 8)
        );
        assert_eq!(w.stat(vendor, "duplicates_refused"), 0, "{vendor}: {s}");
        assert_eq!(
            w.stat(vendor, "created") as usize,
            created + partial,
            "{vendor}: every user made is a row reported with its id: {s}\n{:#?}",
            w.last_run_errors(&journal, 8)
        );
        assert!(w.stat(vendor, "faults_injected") > 0, "{vendor}: {s}");
        assert!(w.stat(vendor, "rate_limited") > 0, "{vendor}: no 429: {s}");
        assert!(
            created * 10 >= n * 8,
            "{vendor}: most rows get through: {counts:?}\n{:#?}",
            w.last_run_errors(&journal, 8)
        );
        assert_eq!(assert_workbook_matches_journal(&out, &journal), n);
        check_workbook(&out, &[]);
    }
}
