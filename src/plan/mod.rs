//! The plan stage: what exists on each target (listed before, compared in [`survey`]) +
//! the rows + the mode → what each row does: settled without a request (`exists`, an
//! outcome recorded by an earlier attempt, invalid), updated, created, or removed
//! ([`prune`]). Also what a resumed run finishes ([`resume`]) and the platform state a plan
//! is checked against ([`state`]). Pure once the targets are listed: nothing here sends,
//! prints or writes the journal.

pub mod prune;
pub mod resume;
pub mod state;
pub mod survey;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::audit::{Class, Protected};
use crate::config::Target;
use crate::model::{
    Action, Field, Mode, Outcome, Problem, Row, Status, identity_key, join_problems,
};
use crate::settings::PlanSettings;
use crate::validate;
use crate::vendors::Job;

pub use prune::{PLATFORM_SOURCE, Prune};
pub use state::PlatformState;
pub use survey::Survey;

/// What the plan decided before anything is sent.
#[derive(Debug, Default)]
pub struct Planned {
    /// Rows whose user is already the same on the platform: `exists`, no request.
    pub decided: HashMap<usize, Outcome>,
    /// Rows whose user differs: updated.
    pub actions: HashMap<usize, Action>,
    /// Headers of the rows made from platform users to prune.
    pub headers: Vec<String>,
    pub surveys: BTreeMap<String, Survey>,
    pub state: PlatformState,
    /// The users to prune, per target (already made `delete` rows).
    pub prunes: Vec<Prune>,
    /// Per target, the accounts never updated, deactivated or deleted (from its survey, or
    /// from a probe when it was not listed). A target missing here protects its `protect`
    /// list only.
    pub protected: BTreeMap<String, Protected>,
    /// Targets whose account muster could not be told (the probe failed), with why: their
    /// rows that would change a user are not attempted.
    pub unidentified: BTreeMap<String, String>,
    /// Rows whose user the listing shows absent: nothing there to protect.
    pub absent: HashSet<usize>,
}

impl Planned {
    /// Why `row` (identity `key`, to do `action` on `target`) must not be sent: its account
    /// (by identity key, email or login) is protected and the action may change it (an
    /// update, a delete or deactivation, or an upsert of a user the listing did not show
    /// absent). `Ok(())` when it may go.
    pub fn refusal(
        &self,
        target: &Target,
        key: &str,
        row: &Row,
        action: Action,
    ) -> Result<(), Outcome> {
        let index = row.index;
        let may_change = match action {
            Action::Update | Action::Delete => true,
            Action::Upsert => !self.absent.contains(&index),
            Action::Create => false,
        };
        if !may_change {
            return Ok(());
        }
        let listed_only;
        let protected = match self.protected.get(&target.name) {
            Some(p) => p,
            None => {
                listed_only = Protected::new(None, &target.protect);
                &listed_only
            }
        };
        let why = protected.why(key).or_else(|| {
            [Field::Email, Field::Username]
                .iter()
                .filter_map(|f| row.get(*f))
                .find_map(|v| protected.why(v))
        });
        if let Some(why) = why {
            let mut o = Outcome::new(Status::Failed, action);
            o.error = Some(Protected::refusal(&target.name, why));
            return Err(o);
        }
        if let Some(reason) = self.unidentified.get(&target.name) {
            let mut o = Outcome::new(Status::NotAttempted, action);
            o.error = Some(format!(
                "not attempted: cannot tell which account muster is logged in as on target {}, so it could be this one: {reason}",
                target.name
            ));
            return Err(o);
        }
        Ok(())
    }
}

/// Classifies every row against its target's survey and, for a sync with prune, adds a
/// `delete` row per extra user, within each target's limit (a refusal is an `Err`: nothing
/// is sent). Only rows that ask for the default (create) or upsert are steered by the
/// plan; an explicit `update` or `delete` keeps its own way.
pub fn plan_targets(
    settings: &PlanSettings,
    rows: &mut Vec<Row>,
    checked: &mut Vec<validate::Checked>,
    surveys: BTreeMap<String, Survey>,
) -> Result<Planned, prune::TooMany> {
    let action_of: HashMap<usize, Action> = rows
        .iter()
        .zip(checked.iter())
        .map(|(r, c)| (r.index, c.action))
        .collect();
    let steered = |i: usize| matches!(action_of.get(&i), Some(Action::Create | Action::Upsert));
    let mut planned = Planned::default();
    let mut prunes: Vec<Prune> = Vec::new();
    let mut unlinks_all: Vec<prune::Unlinks> = Vec::new();
    for s in surveys.values() {
        let mut extras = Vec::new();
        for f in &s.findings {
            match (f.class, f.row) {
                (Class::Same, Some(i)) if steered(i) => {
                    let action = action_of.get(&i).copied().unwrap_or_default();
                    let mut o = Outcome::new(Status::Exists, action);
                    o.user_id = f.platform_id.clone();
                    planned.decided.insert(i, o);
                }
                (Class::Different, Some(i)) if steered(i) && settings.mode != Mode::Create => {
                    planned.actions.insert(i, Action::Update);
                }
                (Class::Missing, Some(i)) => {
                    planned.absent.insert(i);
                }
                (Class::Extra, None) => {
                    let user = s
                        .users
                        .iter()
                        .flatten()
                        .find(|u| Some(&u.id) == f.platform_id.as_ref() && u.key == f.key);
                    extras.extend(user.cloned());
                }
                _ => {}
            }
        }
        if settings.mode == Mode::Sync && settings.prune {
            let links = unlinks(s);
            if !links.links.is_empty() {
                unlinks_all.push(links);
            }
        }
        if settings.mode == Mode::Sync && settings.prune && !extras.is_empty() {
            prunes.push(Prune {
                target: s.target.clone(),
                extras,
                total: s.users.as_ref().map_or(0, Vec::len),
            });
        }
    }
    planned.protected = surveys
        .iter()
        .map(|(name, s)| (name.clone(), s.protected.clone()))
        .collect();
    planned.state = PlatformState::of(&surveys);
    prune::check_limits(settings, &prunes)?;
    prune::check_unlinks(settings, &unlinks_all)?;
    planned.headers = prune::synthesize(rows, checked, &prunes);
    planned.surveys = surveys;
    planned.prunes = prunes;
    Ok(planned)
}

/// The list fields whose items a sync with prune removes from a listed user, within
/// `--max-unlink`: Traccar device links, Motive group memberships.
const LINKS: [Field; 2] = [Field::Devices, Field::Groups];

/// The links a sync with prune removes on one surveyed target: each listed user's linked
/// items (devices) its roster row lacks, from the audit's set comparison (issue 28).
fn unlinks(s: &Survey) -> prune::Unlinks {
    let total = s
        .users
        .iter()
        .flatten()
        .flat_map(|u| u.fields.iter())
        .filter(|(f, _)| LINKS.contains(f))
        .map(|(_, v)| crate::model::list_items(v).len())
        .sum();
    let links = s
        .findings
        .iter()
        .filter(|f| f.row.is_some())
        .flat_map(|f| {
            f.differences
                .iter()
                .filter(|d| LINKS.contains(&d.field))
                .flat_map(move |d| d.extra.iter().map(move |x| (f.key.clone(), x.clone())))
        })
        .collect();
    prune::Unlinks {
        target: s.target.name.clone(),
        links,
        total,
    }
}

/// What a run does with each row: the outcomes known without sending, and each target's
/// jobs for the engine.
#[derive(Debug, Default)]
pub struct Work {
    /// Rows settled without a request: invalid, finished by an earlier attempt of the run,
    /// already the same on the platform.
    pub outcomes: HashMap<usize, Outcome>,
    /// Per target, the rows to send, in input order.
    pub jobs: BTreeMap<String, Vec<Job>>,
}

/// What is known of a run before the engine starts.
#[derive(Debug)]
pub struct Known<'a> {
    /// Rows the roster has (rows past it are made from a platform's users to prune).
    pub roster_len: usize,
    /// Outcomes of rows a resumed prune matched to what the interrupted attempt did.
    pub settled: HashMap<usize, Outcome>,
    /// Outcomes an earlier attempt of this run recorded.
    pub previous: &'a HashMap<usize, Outcome>,
    /// Users `(target, key)` muster left unfinished ([`resume::unfinished_users`]).
    pub unfinished: &'a HashSet<(String, String)>,
}

/// Decides each row: an outcome without a request, or a job for its target.
pub fn work(
    rows: &[Arc<Row>],
    checked: &[validate::Verdict],
    mut known: Known<'_>,
    planned: &Planned,
) -> Work {
    let mut work = Work::default();
    let outcomes = &mut work.outcomes;
    for (row, c) in rows.iter().zip(checked) {
        if let Some(o) = known.settled.remove(&row.index) {
            outcomes.insert(row.index, o);
            continue;
        }
        // Rows made from a platform's users (prune) are always planned afresh.
        if let Some(o) = known
            .previous
            .get(&row.index)
            .filter(|o| o.status != Status::NotAttempted && row.index < known.roster_len)
        {
            outcomes.insert(row.index, o.clone());
            continue;
        }
        if !c.problems.is_empty() {
            outcomes.insert(row.index, Outcome::invalid(c.action, &c.problems));
            continue;
        }
        // A user muster left unfinished is its connector's to finish, even when the listing
        // shows it as the roster has it: a later step (Pegasus' app access, Traccar's device
        // links) may be missing, and no listing shows it.
        let unfinished = || {
            !known.unfinished.is_empty()
                && c.target.as_ref().is_some_and(|t| {
                    identity_key(t.vendor, row)
                        .is_some_and(|key| known.unfinished.contains(&(t.name.clone(), key)))
                })
        };
        if let Some(o) = planned.decided.get(&row.index).filter(|_| !unfinished()) {
            outcomes.insert(row.index, o.clone());
            continue;
        }
        let Some(target) = &c.target else {
            outcomes.insert(
                row.index,
                Outcome::invalid(c.action, &[Problem::row("no target")]),
            );
            continue;
        };
        let Some(key) = identity_key(target.vendor, row) else {
            let field = target.vendor.identity_field();
            outcomes.insert(
                row.index,
                Outcome::invalid(
                    c.action,
                    &[Problem::field(
                        row,
                        field,
                        "is required to identify the user",
                    )],
                ),
            );
            continue;
        };
        let action = planned.actions.get(&row.index).copied().unwrap_or(c.action);
        if let Err(o) = planned.refusal(target, &key, row, action) {
            outcomes.insert(row.index, o);
            continue;
        }
        work.jobs.entry(target.name.clone()).or_default().push(Job {
            index: row.index,
            row: Arc::clone(row),
            action,
            key,
        });
    }
    work
}

/// One row of the plan.
#[derive(Debug, Clone)]
pub struct PlanLine {
    pub target: String,
    pub vendor: String,
    pub key: String,
    /// `create`, `update`, `none (same)`, `none (protected)`, `delete (prune)`, `manual`,
    /// `invalid`, ...
    pub action: String,
    pub platform_id: Option<String>,
    pub differences: Vec<crate::audit::Difference>,
    /// (file, sheet, row).
    pub source: (String, String, u32),
    pub error: Option<String>,
    /// The platform user's name and email, when the platform holds the user (issue 28).
    pub name: Option<String>,
    pub email: Option<String>,
}

/// What each row would do, as the plan workbook shows it, and the rows per target and
/// status (`planned`, or `invalid`).
#[allow(clippy::type_complexity)]
pub fn preview(
    rows: &[Row],
    checked: &[validate::Checked],
    planned: &Planned,
) -> (Vec<PlanLine>, BTreeMap<(String, Status), usize>) {
    let findings: HashMap<usize, &crate::audit::Finding> = planned
        .surveys
        .values()
        .flat_map(|s| s.findings.iter())
        .filter_map(|f| Some((f.row?, f)))
        .collect();
    // Each target's listed users by identity key, for their names (the first one listed).
    let mut listed: HashMap<(&str, &str), &crate::model::PlatformUser> = HashMap::new();
    for (name, s) in &planned.surveys {
        for u in s.users.iter().flatten() {
            listed.entry((name.as_str(), u.key.as_str())).or_insert(u);
        }
    }
    let mut lines = Vec::new();
    let mut counts: BTreeMap<(String, Status), usize> = BTreeMap::new();
    for (row, c) in rows.iter().zip(checked) {
        let finding = findings.get(&row.index);
        let target = c.target.as_ref();
        let refused = target.and_then(|t| {
            let key = identity_key(t.vendor, row)?;
            let action = planned.actions.get(&row.index).copied().unwrap_or(c.action);
            planned.refusal(t, &key, row, action).err()
        });
        let action = if !c.problems.is_empty() || target.is_none() {
            "invalid".to_string()
        } else if planned.decided.contains_key(&row.index) {
            "none (same)".to_string()
        } else if refused.is_some() {
            "none (protected)".to_string()
        } else if let Some(a) = planned.actions.get(&row.index) {
            a.key().to_string()
        } else if finding.is_some_and(|f| f.class == Class::Manual) {
            "manual".to_string()
        } else if c.action == Action::Delete && row.layout.file == PLATFORM_SOURCE {
            "delete (prune)".to_string()
        } else if finding.is_some_and(|f| f.class == Class::Missing) {
            "create".to_string()
        } else if finding.is_some_and(|f| f.class == Class::Different) {
            "none (differs; --mode upsert updates)".to_string()
        } else {
            c.action.key().to_string()
        };
        let status = if action == "invalid" {
            Status::Invalid
        } else {
            Status::Planned
        };
        *counts
            .entry((target.map(|t| t.name.clone()).unwrap_or_default(), status))
            .or_default() += 1;
        let key = finding
            .map(|f| f.key.clone())
            .or_else(|| target.and_then(|t| identity_key(t.vendor, row)))
            .unwrap_or_default();
        let user = target.and_then(|t| listed.get(&(t.name.as_str(), key.as_str())));
        lines.push(PlanLine {
            name: user.and_then(|u| u.display_name()),
            email: user.and_then(|u| u.field(Field::Email)).map(str::to_string),
            target: target.map(|t| t.name.clone()).unwrap_or_default(),
            vendor: target
                .map(|t| t.vendor.key())
                .unwrap_or_default()
                .to_string(),
            key,
            action,
            platform_id: finding.and_then(|f| f.platform_id.clone()),
            differences: finding.map(|f| f.differences.clone()).unwrap_or_default(),
            source: (row.layout.file.clone(), row.layout.sheet.clone(), row.line),
            error: (!c.problems.is_empty())
                .then(|| join_problems(&c.problems))
                .or_else(|| refused.and_then(|o| o.error)),
        });
    }
    (lines, counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Layout, VendorKind};

    fn row(index: usize, email: &str, username: &str) -> Row {
        let layout = Arc::new(Layout {
            file: "r.csv".into(),
            sheet: "r".into(),
            headers: vec!["email".into(), "username".into()],
            fields: vec![Some(Field::Email), Some(Field::Username)],
            ..Layout::default()
        });
        Row {
            index,
            layout,
            line: index as u32 + 2,
            cells: vec![email.to_string(), username.to_string()].into(),
            errors: vec![],
        }
    }

    #[test]
    fn writes_to_a_protected_account_are_refused_in_the_plan() {
        let mut t = Target::with_defaults("fleet", VendorKind::Motive, "https://m.test/v1");
        t.protect = vec!["ops-bot".into()];
        let mut planned = Planned::default();
        // Keyed by email; protected by its login.
        let bot = row(0, "ops@x.test", "Ops-Bot");
        let err = planned
            .refusal(&t, "ops@x.test", &bot, Action::Update)
            .unwrap_err();
        assert_eq!(err.status, Status::Failed);
        assert_eq!(
            err.error.as_deref(),
            Some(
                "protected account: the target's protect lists this account (target fleet); muster never updates, deactivates or deletes it"
            )
        );
        assert!(
            planned
                .refusal(&t, "ops@x.test", &bot, Action::Delete)
                .is_err()
        );
        // A create changes no existing account; an upsert of a user the listing showed
        // absent neither.
        assert!(
            planned
                .refusal(&t, "ops@x.test", &bot, Action::Create)
                .is_ok()
        );
        assert!(
            planned
                .refusal(&t, "ops@x.test", &bot, Action::Upsert)
                .is_err()
        );
        planned.absent.insert(0);
        assert!(
            planned
                .refusal(&t, "ops@x.test", &bot, Action::Upsert)
                .is_ok()
        );
        // The logged-in account, from the survey or a probe.
        planned.protected.insert(
            "fleet".into(),
            Protected::new(Some("Me@X.test"), &t.protect),
        );
        let me = row(1, "me@x.test", "");
        assert!(
            planned
                .refusal(&t, "me@x.test", &me, Action::Update)
                .is_err()
        );
        let other = row(2, "other@x.test", "");
        assert!(
            planned
                .refusal(&t, "other@x.test", &other, Action::Update)
                .is_ok()
        );
        // A target whose account could not be told: its changing rows are not attempted.
        planned
            .unidentified
            .insert("fleet".into(), "HTTP 503".into());
        let err = planned
            .refusal(&t, "other@x.test", &other, Action::Delete)
            .unwrap_err();
        assert_eq!(err.status, Status::NotAttempted);
        assert_eq!(
            err.error.as_deref(),
            Some(
                "not attempted: cannot tell which account muster is logged in as on target fleet, so it could be this one: HTTP 503"
            )
        );
    }
}
