//! Resuming and finishing: which run `--resume` attaches to (its fingerprint), and which
//! users the journal shows muster left unfinished, so that they go to their connector
//! rather than being settled from a listing.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use crate::journal::{Ledger, Step, StepState};
use crate::model::{InputFile, Mode, VendorKind};
use crate::vendors::{STEP_COMPLETE, STEP_USER};

/// Whether a user's ledger steps (by step name) on `vendor` say muster's work on it is
/// unfinished: a request sent and never settled (an intent), or, where a user is made in
/// several steps, the user made and its row not complete.
pub fn unfinished<'a>(
    vendor: VendorKind,
    mut steps: impl Iterator<Item = (&'a str, &'a Step)>,
) -> bool {
    let several_steps = !crate::vendors::platform(vendor).made_in_one_request;
    let (mut made, mut complete) = (false, false);
    let intent = steps.any(|(step, s)| {
        made |= step == STEP_USER;
        complete |= step == STEP_COMPLETE;
        s.state == StepState::Intent
    });
    intent || (several_steps && made && !complete)
}

/// The users `(target, key)` whose work the ledgers show unfinished ([`unfinished`]) or,
/// when the run resumes (`resumed`: its id), touched by this run's interrupted attempt,
/// which may have been killed between two steps. `ledgers` holds each planned target's
/// vendor and its ledger (by key and step name).
pub fn unfinished_users(
    ledgers: Vec<(String, VendorKind, Ledger)>,
    resumed: Option<&str>,
) -> HashSet<(String, String)> {
    let mut users = HashSet::new();
    for (target, vendor, ledger) in ledgers {
        let mut by_key: HashMap<String, Vec<(String, Step)>> = HashMap::new();
        for ((key, step), s) in ledger {
            by_key.entry(key).or_default().push((step, s));
        }
        for (key, steps) in by_key {
            let this_run = steps
                .iter()
                .any(|(_, s)| Some(s.run_id.as_str()) == resumed);
            let named = steps.iter().map(|(n, s)| (n.as_str(), s));
            if this_run || unfinished(vendor, named) {
                users.insert((target.clone(), key));
            }
        }
    }
    users
}

/// What makes two runs the same run for `--resume`.
#[derive(Debug, Clone, Copy)]
pub struct RunIdentity<'a> {
    pub command: &'a str,
    pub inputs: &'a [InputFile],
    pub target: Option<&'a str>,
    pub mode: Mode,
    pub dry_run: bool,
    pub config: Option<&'a std::path::Path>,
}

/// Same command, same files, same options → same fingerprint (what `--resume` finds). The
/// text hashed is the one earlier versions hashed, so a run they began is still found.
pub fn fingerprint(run: &RunIdentity<'_>) -> String {
    let mut h = Sha256::new();
    h.update(run.command.as_bytes());
    for i in run.inputs {
        h.update(i.sha256.as_bytes());
        h.update(b"\0");
    }
    h.update(format!(
        "{:?}|{:?}|{}|{:?}",
        run.target.map(str::to_string),
        run.mode,
        run.dry_run,
        run.config.map(std::path::Path::to_path_buf)
    ));
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_unfinished_while_a_request_is_open_or_its_row_incomplete() {
        let step = |state| Step {
            state,
            id: None,
            run_id: "r".into(),
        };
        let (done, intent) = (step(StepState::Done), step(StepState::Intent));
        let cases: [(&[(&str, &Step)], bool); 6] = [
            (&[], false),
            (&[(STEP_USER, &done), (STEP_COMPLETE, &done)], false),
            (&[("update", &done)], false),
            (&[(STEP_USER, &done)], true),
            (
                &[(STEP_USER, &done), ("app", &intent), (STEP_COMPLETE, &done)],
                true,
            ),
            (&[("delete", &intent)], true),
        ];
        for (steps, want) in cases {
            assert_eq!(
                unfinished(VendorKind::Pegasus, steps.iter().copied()),
                want,
                "{steps:?}"
            );
        }
        // DRTrack makes a user in one request: its `user` step is the whole row.
        let made: &[(&str, &Step)] = &[(STEP_USER, &done)];
        assert!(!unfinished(VendorKind::Drtrack, made.iter().copied()));
        let open: &[(&str, &Step)] = &[(STEP_USER, &intent)];
        assert!(unfinished(VendorKind::Drtrack, open.iter().copied()));
    }
}
