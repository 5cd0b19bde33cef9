//! What each target holds and how the roster's rows stand against it: the start of
//! `muster audit`, of `--mode upsert|sync` and of a plan. Pure: the listings are read
//! before (`submit::list_targets`), and compared here (`audit::compare`).

use std::collections::BTreeMap;

use crate::audit::{self, Entry, Finding, Protected};
use crate::config::Target;
use crate::model::{PlatformUser, Row, identity_key};
use crate::validate;

/// What one target holds and how the roster's rows stand against it.
#[derive(Debug, Clone)]
pub struct Survey {
    pub target: Target,
    /// `None`: the platform cannot be listed (every row `manual`).
    pub users: Option<Vec<PlatformUser>>,
    pub findings: Vec<Finding>,
    /// The accounts muster never changes on this target.
    pub protected: Protected,
}

/// What reading a target found: its users (`None`: it cannot be listed, or was not asked
/// to be) and the account muster is logged in as (`None`: its connector cannot tell).
#[derive(Debug, Clone, Default)]
pub struct Listed {
    pub users: Option<Vec<PlatformUser>>,
    pub logged_in_as: Option<String>,
}

/// Valid rows grouped by target, with their identity keys; and how many rows were left out
/// (invalid, or without a target or key).
pub fn entries<'a>(
    rows: &'a [Row],
    checked: &[validate::Checked],
) -> (Vec<(Target, Vec<Entry<'a>>)>, usize) {
    let mut per_target: BTreeMap<String, (Target, Vec<Entry<'a>>)> = BTreeMap::new();
    let mut skipped = 0usize;
    for (row, c) in rows.iter().zip(checked) {
        let found = c
            .target
            .as_ref()
            .filter(|_| c.problems.is_empty())
            .and_then(|t| Some((t, identity_key(t.vendor, row)?)));
        match found {
            Some((t, key)) => per_target
                .entry(t.name.clone())
                .or_insert_with(|| (Target::clone(t), Vec::new()))
                .1
                .push(Entry { key, row }),
            None => skipped += 1,
        }
    }
    (per_target.into_values().collect(), skipped)
}

/// What each target's listing is to read besides its users: the relationship columns its
/// rows carry (issue 28).
pub fn wants<'a>(
    per_target: &'a [(Target, Vec<Entry<'_>>)],
) -> impl Iterator<Item = (&'a Target, crate::vendors::Want)> {
    per_target
        .iter()
        .map(|(t, entries)| (t, crate::vendors::Want::of(entries.iter().map(|e| e.row))))
}

/// Compares each target's roster entries with its listing (`None`: the platform cannot be
/// listed). `listings` has one answer per target of `per_target`: the users and who muster
/// is logged in as, or why they could not be listed. Returns the surveys, and one line per
/// target that could not be listed (naming it and why).
pub fn survey<L: Into<Listed>, E: std::fmt::Display>(
    per_target: &[(Target, Vec<Entry<'_>>)],
    mut listings: BTreeMap<String, Result<L, E>>,
) -> (BTreeMap<String, Survey>, Vec<String>) {
    let mut out = BTreeMap::new();
    let mut failed = Vec::new();
    for (target, entries) in per_target {
        let name = &target.name;
        let Listed {
            users,
            logged_in_as,
        } = match listings.remove(name) {
            Some(Ok(listed)) => listed.into(),
            Some(Err(e)) => {
                failed.push(format!("target {name}: cannot list its users: {e}"));
                continue;
            }
            None => {
                failed.push(format!("target {name}: cannot list its users: not listed"));
                continue;
            }
        };
        let protected = Protected::new(logged_in_as.as_deref(), &target.protect);
        let findings = audit::compare(target.vendor, entries, users.as_deref(), &protected);
        out.insert(
            name.clone(),
            Survey {
                target: target.clone(),
                users,
                findings,
                protected,
            },
        );
    }
    (out, failed)
}
