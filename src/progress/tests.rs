//! The ETA, the rates and the lines, against a clock the tests move (never the wall clock).

use std::time::{Duration, Instant};

use super::eta::{self, Eta};
use super::{Line, Paced};
use crate::http::limiter::Pace;
use crate::model::Status;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// What happens in a simulated run, and when (seconds from its start).
enum Event {
    Done(f64),
    Wait(f64, Duration),
}

impl Event {
    fn at(&self) -> f64 {
        match self {
            Event::Done(t) | Event::Wait(t, _) => *t,
        }
    }
}

/// A run of `rows` rows paced by a window of `max` a `per` (the Pegasus `/apps` limit, 20 a
/// minute plus its second of slack): each window's rows pass at once when it opens and are
/// done `latency` later; the next row finds the window full and tells the wait for it.
fn window_run(rows: usize, max: usize, per: Duration, latency: Duration) -> Vec<Event> {
    let mut events = Vec::new();
    for k in 0..rows.div_ceil(max) {
        let opens = k as f64 * per.as_secs_f64();
        let passing = max.min(rows - k * max);
        if k * max + passing < rows {
            events.push(Event::Wait(opens, per));
        }
        for _ in 0..passing {
            events.push(Event::Done(opens + latency.as_secs_f64()));
        }
    }
    events.sort_by(|a, b| a.at().total_cmp(&b.at()));
    events
}

/// Samples `eta` four times a second (as often as a bar is drawn) through `events`: (when,
/// ETA told, time actually left).
fn samples(rows: usize, pace: Pace, events: &[Event]) -> Vec<(f64, Option<Duration>, f64)> {
    let start = Instant::now();
    let end = events.iter().map(Event::at).fold(0.0, f64::max);
    let mut eta = Eta::default();
    eta.allow(pace);
    let (mut next, mut done, mut out) = (0, 0, Vec::new());
    let mut second = 0.0;
    while second < end {
        while let Some(e) = events.get(next).filter(|e| e.at() <= second) {
            match e {
                Event::Done(t) => {
                    eta.row_done(start + secs(*t));
                    done += 1;
                }
                Event::Wait(t, wait) => {
                    eta.waiting(start + secs(*t), *wait);
                }
            }
            next += 1;
        }
        out.push((
            second,
            eta.left(start + secs(second), rows - done),
            end - second,
        ));
        second += 0.25;
    }
    out
}

#[test]
fn eta_in_a_run_paced_by_a_20_a_minute_window_stays_within_a_quarter_of_the_time_left() {
    // Issue 29: the ETA went 26 s, 2 min, 53 min, 19 h, 9 h on a run that took 2 minutes.
    let per = Duration::from_secs(61);
    let window = Pace {
        per_second: 20.0 / per.as_secs_f64(),
        burst: 20,
    };
    // Rows are done when their request comes back: at once, or a typical 200 ms later.
    for latency in [0.0, 0.2] {
        let run = window_run(60, 20, per, secs(latency));
        let samples = samples(60, window, &run);
        assert!(samples.len() > 480, "{} samples", samples.len());
        for (second, told, left) in samples {
            // After the first minute; in the last second the ETA shows 0 or 1 s (it does
            // not know how long a request takes), below the display's resolution.
            if second < 60.0 || left < 1.0 {
                continue;
            }
            let told = told.expect("the pace is known").as_secs_f64();
            assert!(
                (told - left).abs() <= 0.25 * left,
                "latency {latency} s, at {second} s: ETA {told} s, {left} s left"
            );
        }
    }
}

#[test]
fn a_retry_after_pause_is_added_once_to_the_work_left() {
    let start = Instant::now();
    let mut eta = Eta::default();
    eta.allow(Pace {
        per_second: 10.0,
        burst: 1,
    });
    for i in 0..30 {
        eta.row_done(start + secs(f64::from(i) * 0.1));
    }
    // At 3 s the platform asks for 40 s: 70 rows left at 10 a second after it.
    assert!(eta.waiting(start + secs(3.0), secs(40.0)));
    assert!(
        !eta.waiting(start + secs(3.2), secs(39.5)),
        "within the wait"
    );
    for (at, want) in [(3.0, 46.9), (23.0, 26.9), (42.0, 7.9)] {
        let told = eta.left(start + secs(at), 70).unwrap().as_secs_f64();
        assert!(
            (told - want).abs() < 0.01,
            "at {at} s: {told} s, not {want} s"
        );
    }
    assert_eq!(eta.wait_left(start + secs(23.0)), Some(secs(20.0)));
    assert_eq!(eta.wait_left(start + secs(43.0)), None);
    // After it, rows come at 10 a second again: the wait does not make them look slower.
    for i in 0..20 {
        eta.row_done(start + secs(43.0 + f64::from(i) * 0.1));
    }
    let told = eta.left(start + secs(45.0), 50).unwrap().as_secs_f64();
    assert!((told - 4.9).abs() < 0.01, "after the wait: {told} s");
}

#[test]
fn a_platform_slower_than_its_limits_is_timed_by_its_own_pace() {
    let start = Instant::now();
    let mut eta = Eta::default();
    eta.allow(Pace {
        per_second: 10.0,
        burst: 5,
    });
    for i in 0..11 {
        eta.row_done(start + secs(f64::from(i) * 0.5));
    }
    assert_eq!(eta.pace(), Some(2.0));
    assert_eq!(eta.left(start + secs(5.0), 20), Some(secs(10.0)));
}

#[test]
fn the_slowest_limit_binds_and_nothing_known_tells_no_eta() {
    let start = Instant::now();
    let mut eta = Eta::default();
    assert_eq!(eta.left(start, 10), None);
    assert_eq!(eta.left(start, 0), Some(Duration::ZERO));
    let slow = Pace {
        per_second: 0.5,
        burst: 1,
    };
    eta.allow(Pace {
        per_second: 10.0,
        burst: 2,
    });
    eta.allow(slow);
    eta.allow(Pace {
        per_second: 5.0,
        burst: 2,
    });
    eta.allow(Pace {
        per_second: f64::NAN,
        burst: 2,
    });
    assert_eq!(eta.pace(), Some(0.5));
    // One row passes now, ten more one every 2 s, the last in 1/5 s (the 5/s limit).
    assert_eq!(eta.left(start, 11), Some(secs(20.2)));
}

#[test]
fn rates_print_with_a_precision_people_read() {
    for (per_second, text) in [
        (123.4, "123 rows/s"),
        (12.3456, "12 rows/s"),
        (9.96, "10 rows/s"),
        (2.54, "2.5 rows/s"),
        (1.0, "1 rows/s"),
        (20.0 / 61.0, "20 rows/min"),
        (0.3, "18 rows/min"),
        (0.05, "3 rows/min"),
        (0.01, "0.6 rows/min"),
        (1.0 / 3600.0, "1 rows/h"),
        (0.0, "0 rows/s"),
        (f64::NAN, "0 rows/s"),
    ] {
        assert_eq!(eta::rate(per_second), text, "{per_second}");
    }
}

#[test]
fn durations_print_to_the_second() {
    for (d, text) in [
        (secs(0.2), "0 s"),
        (secs(44.6), "45 s"),
        (secs(62.0), "1 min 02 s"),
        (secs(3599.4), "59 min 59 s"),
        (secs(3.0 * 3600.0 + 20.0 * 60.0 + 7.0), "3 h 20 min"),
    ] {
        assert_eq!(eta::duration(d), text);
    }
}

#[test]
fn a_line_tells_rate_eta_failures_and_the_wait_under_way() {
    let start = Instant::now();
    let mut line = Line::new(60, start);
    assert_eq!(line.status(start), "");
    let window = Pace {
        per_second: 20.0 / 61.0,
        burst: 20,
    };
    line.paced(&Paced::Allowed(window), start);
    assert_eq!(line.status(start), "20 rows/min, ETA 2 min 02 s");
    for i in 0..20 {
        let status = if i < 2 {
            Status::Failed
        } else {
            Status::Created
        };
        line.row_done(status, start + secs(0.5));
    }
    let told = line.paced(
        &Paced::Waiting {
            wait: secs(61.0),
            why: "/apps limit of 20 per minute".into(),
        },
        start + secs(0.5),
    );
    assert_eq!(
        told,
        Some(secs(61.0)),
        "a long wait is told on its own line"
    );
    assert_eq!(
        line.status(start + secs(21.5)),
        "20 rows/min, ETA 1 min 41 s, 2 failed, waiting 40 s: /apps limit of 20 per minute"
    );
    assert_eq!(
        line.log("pegasus", start + secs(21.5)),
        "pegasus: 20/60 rows, 20 rows/min, ETA 1 min 41 s, 2 failed, waiting 40 s: /apps limit of 20 per minute"
    );
    // A short wait is not worth showing; the connector's note shows when no wait does.
    let short = Paced::Waiting {
        wait: secs(1.0),
        why: "rate limited (429)".into(),
    };
    let mut quiet = Line::new(5, start);
    assert_eq!(quiet.paced(&short, start), None);
    quiet.note = "looking again".into();
    assert_eq!(quiet.status(start), "looking again");
}

#[test]
fn a_finished_line_keeps_its_final_counts() {
    let start = Instant::now();
    let mut line = Line::new(10, start);
    for status in [Status::Created; 6]
        .into_iter()
        .chain([Status::Exists, Status::Failed, Status::Invalid])
        .chain([Status::NotAttempted])
    {
        line.row_done(status, start + secs(1.0));
    }
    assert_eq!(
        line.finished(start + secs(123.0)),
        "7 done, 2 failed, 1 not attempted in 2 min 03 s"
    );
    assert_eq!(Line::new(0, start).finished(start), "nothing to do in 0 s");
}

#[test]
fn a_target_that_sends_nothing_shows_its_manual_rows_without_rate_or_eta() {
    let start = Instant::now();
    let mut line = Line::new(12, start);
    line.paced(
        &Paced::Allowed(Pace {
            per_second: 2.0,
            burst: 1,
        }),
        start,
    );
    for i in 0..12 {
        line.row_done(Status::Manual, start + secs(f64::from(i) * 0.001));
        assert_eq!(line.status(start + secs(0.1)), format!("{} manual", i + 1));
    }
    assert_eq!(line.finished(start + secs(0.1)), "12 manual");
    assert_eq!(line.log("arobs", start), "arobs: 12/12 rows, 12 manual");
}
