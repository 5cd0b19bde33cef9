//! The engine driving connectors end to end, against the sandbox and scripted servers.

mod drtrack;
mod log;
mod pegasus;

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Credentials, Target};
use crate::journal::Journal;
use crate::model::{Mode, Outcome, TargetStats};
use crate::vendors::Job;

use super::{Options, Silent, TargetWork, submit};

/// Submits `jobs` to one target, quietly, as run `run_id` journaled in `journal`: each
/// row's outcome and the target's stats.
async fn submit_to(
    target: Target,
    credentials: Credentials,
    jobs: Vec<Job>,
    (run_id, journal): (&str, Arc<Journal>),
    (mode, dry_run): (Mode, bool),
) -> (HashMap<usize, Outcome>, TargetStats) {
    let (outcomes, mut stats) = submit(
        vec![TargetWork {
            target,
            credentials,
            jobs,
        }],
        Options {
            run_id: run_id.into(),
            dry_run,
            mode,
            deadline: None,
            journal,
            reporter: Arc::new(Silent),
            secrets: None,
            purpose: crate::vendors::Purpose::Import,
            interrupt: Default::default(),
            max_failures: None,
            lease: None,
            prune: false,
        },
    )
    .await
    .unwrap();
    (outcomes, stats.remove(0))
}
