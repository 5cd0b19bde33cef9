//! The run's own record in the journal. The engine writes each row's steps (`step.rs`,
//! `batch.rs`); this module writes the rest a run leaves there: the lease on its targets,
//! its start (with the fingerprint a resume looks for), its rows, the outcomes decided
//! without a request, its end, and the digest of a plan it wrote. So everything written to
//! the journal is written from the engine, and a change to what a run records (a lease, a
//! shared journal) is made here.

use std::sync::Arc;
use std::time::Duration;

use crate::journal::lease::{Holder, Lease, LeaseError, Wait};
use crate::journal::{self, Journal, StoredRowRef};
use crate::model::{Outcome, RunInfo, TargetStats};

/// Takes the lease on `targets` for the run `me` (waiting as `wait` says), renewed until it
/// is dropped.
pub async fn lease(
    journal: Arc<Journal>,
    targets: Vec<String>,
    me: Holder,
    ttl: Duration,
    wait: Wait,
    note: &(dyn Fn(&str) + Sync),
) -> Result<Lease, LeaseError> {
    Lease::take(journal, targets, me, ttl, wait, note).await
}

/// Records that a run began, under the fingerprint a resume looks for.
pub fn begin(journal: &Journal, info: &RunInfo, fingerprint: &str) -> Result<(), journal::Error> {
    journal.begin_run(info, fingerprint)
}

/// Records the run's rows (rows already recorded are kept as they are).
pub fn rows<'a>(
    journal: &Journal,
    run_id: &str,
    rows: impl Iterator<Item = StoredRowRef<'a>>,
) -> Result<(), journal::Error> {
    journal.record_rows(run_id, rows)
}

/// Records outcomes decided outside a target's work (invalid rows, rows already settled,
/// notes added after the engine recorded them).
pub fn outcomes<'a>(
    journal: &Journal,
    run_id: &str,
    outcomes: impl Iterator<Item = (usize, &'a Outcome)>,
) -> Result<(), journal::Error> {
    journal.record_outcomes(run_id, outcomes)
}

/// Records the run's end; `complete`: every row has a final outcome.
pub fn finish(
    journal: &Journal,
    info: &RunInfo,
    stats: &[TargetStats],
    complete: bool,
) -> Result<(), journal::Error> {
    journal.finish_run(info, stats, complete)
}

/// Records the digest of a plan written to `path` (`muster apply` refuses any other).
pub fn plan(journal: &Journal, digest: &str, made: &str, path: &str) -> Result<(), journal::Error> {
    journal.record_plan(digest, made, path)
}
