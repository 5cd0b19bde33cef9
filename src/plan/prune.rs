//! Pruning (`--mode sync --prune`): the users a target holds and the roster lacks become
//! `delete` rows, within a limit per target; a resumed prune keeps one row per user.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::config::{Config, Target};
use crate::model::{Action, Field, Layout, Outcome, PlatformUser, Row, Status, identity_key};
use crate::settings::PlanSettings;
use crate::validate;

/// The users of one target to prune.
#[derive(Debug, Clone)]
pub struct Prune {
    pub target: Target,
    /// The users the target holds and the roster lacks.
    pub extras: Vec<PlatformUser>,
    /// How many users the target holds.
    pub total: usize,
}

/// A prune over its target's limit (`--max-prune`, default 10% of its users): nothing is
/// sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooMany {
    pub target: String,
    pub count: usize,
    pub total: usize,
    pub limit: usize,
    /// The limit is the default one (10% of the target's users).
    pub default: bool,
    /// The identity keys of the users it would have removed, in the platform's order (for
    /// links: `key: device` of each link).
    pub users: Vec<String>,
    /// Device links to remove (`--max-unlink`, issue 28), not users.
    pub links: bool,
}

/// How many users a refused prune names before `and N more`.
pub const NAMED: usize = 20;

impl fmt::Display for TooMany {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (verb, noun, flag) = if self.links {
            ("unlink", "links", "--max-unlink")
        } else {
            ("prune", "users", "--max-prune")
        };
        write!(
            f,
            "target {}: refusing to {verb} {} of its {} {noun}: more than {flag} {}{}; nothing was sent. It would have removed: {}",
            self.target,
            self.count,
            self.total,
            self.limit,
            if self.default {
                format!(" (10% of its {noun})")
            } else {
                String::new()
            },
            self.users
                .iter()
                .take(NAMED)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        if self.users.len() > NAMED {
            write!(f, " and {} more", self.users.len() - NAMED)?;
        }
        Ok(())
    }
}

impl std::error::Error for TooMany {}

/// Every prune must stay within its target's limit: `--max-prune`, else 10% of the
/// target's users, rounded up.
pub fn check_limits(settings: &PlanSettings, prunes: &[Prune]) -> Result<(), TooMany> {
    for p in prunes {
        let removed = p.extras.iter().map(|u| u.key.clone()).collect();
        within(&p.target.name, settings.max_prune, p.total, removed, false)?;
    }
    Ok(())
}

/// Refuses `removed` (of `total` on `target`) past `max`, else past 10% of `total`,
/// rounded up.
fn within(
    target: &str,
    max: Option<usize>,
    total: usize,
    removed: Vec<String>,
    links: bool,
) -> Result<(), TooMany> {
    let limit = max.unwrap_or_else(|| (total as f64 * 0.1).ceil() as usize);
    if removed.len() <= limit {
        return Ok(());
    }
    Err(TooMany {
        target: target.to_string(),
        count: removed.len(),
        total,
        limit,
        default: max.is_none(),
        users: removed,
        links,
    })
}

/// The links of one target that `--mode sync --prune` would remove (issue 28): each
/// listed user's links the roster row lacks.
#[derive(Debug, Clone)]
pub struct Unlinks {
    pub target: String,
    /// `(identity key, linked item)` of each link to remove.
    pub links: Vec<(String, String)>,
    /// How many links the target's listed users hold.
    pub total: usize,
}

/// Every unlink must stay within its target's limit: `--max-unlink`, else 10% of the
/// links the target's users hold, rounded up (as `--max-prune` is of its users).
pub fn check_unlinks(settings: &PlanSettings, unlinks: &[Unlinks]) -> Result<(), TooMany> {
    for u in unlinks {
        let removed = u.links.iter().map(|(k, d)| format!("{k}: {d}")).collect();
        within(&u.target, settings.max_unlink, u.total, removed, true)?;
    }
    Ok(())
}

/// What the operator must agree to before the prunes are sent (`target a: 3 users, ...`),
/// or `None` when nothing is to be asked: no prune, `--yes`, or nothing will be sent.
pub fn consent_needed(settings: &PlanSettings, prunes: &[Prune]) -> Option<String> {
    if prunes.is_empty() || settings.yes || settings.plan_only || settings.dry_run {
        return None;
    }
    Some(
        prunes
            .iter()
            .map(|p| format!("target {}: {} users", p.target.name, p.extras.len()))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// A row the interrupted attempt of a run recorded (from the journal), with its target.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub row: Row,
    pub outcome: Option<Outcome>,
    pub target: Option<String>,
}

/// Adds one `delete` row per user to prune: file `(platform)`, sheet the target's name,
/// the user's fields as columns, each under the roster's own header for that field when
/// the roster has one (issue 28: `E-Mail`, not a new `email` column). Returns the headers
/// those rows use.
pub fn synthesize(
    rows: &mut Vec<Row>,
    checked: &mut Vec<validate::Checked>,
    prunes: &[Prune],
) -> Vec<String> {
    let mut next = rows.iter().map(|r| r.index + 1).max().unwrap_or(0);
    let own = roster_headers(rows);
    let mut all_headers = Vec::new();
    for Prune { target, extras, .. } in prunes {
        let identity = target.vendor.identity_field();
        let fields: Vec<Field> = Field::ALL
            .iter()
            .copied()
            .filter(|f| {
                *f == identity || extras.iter().any(|u| u.fields.iter().any(|(g, _)| g == f))
            })
            .collect();
        let headers: Vec<String> = fields
            .iter()
            .map(|f| own.get(f).cloned().unwrap_or_else(|| f.name().to_string()))
            .collect();
        for h in &headers {
            if !all_headers.contains(h) {
                all_headers.push(h.clone());
            }
        }
        let layout = Arc::new(Layout {
            file: PLATFORM_SOURCE.into(),
            sheet: target.name.clone(),
            is_workbook: false,
            header_row: 0,
            headers,
            fields: fields.iter().map(|f| Some(*f)).collect(),
            passthrough: Vec::new(),
        });
        for (n, user) in extras.iter().enumerate() {
            let cells = fields
                .iter()
                .map(|f| {
                    user.fields
                        .iter()
                        .find(|(g, _)| g == f)
                        .map(|(_, v)| v.clone())
                        .or_else(|| (*f == identity).then(|| user.key.clone()))
                        .unwrap_or_default()
                })
                .collect();
            rows.push(Row {
                index: next,
                layout: layout.clone(),
                line: n as u32 + 1,
                cells,
                errors: Vec::new(),
            });
            checked.push(validate::Checked {
                target: Some(Arc::new(target.clone())),
                action: Action::Delete,
                problems: Vec::new(),
                key: None,
            });
            next += 1;
        }
    }
    all_headers
}

/// The roster's own header of each field it maps (the first table's that maps it).
fn roster_headers(rows: &[Row]) -> HashMap<Field, String> {
    let mut seen = std::collections::HashSet::new();
    let mut own = HashMap::new();
    for row in rows {
        if !seen.insert(Arc::as_ptr(&row.layout)) {
            continue;
        }
        for f in Field::ALL {
            let header = row
                .layout
                .column_of(*f)
                .and_then(|c| row.layout.headers.get(c));
            if let Some(h) = header {
                own.entry(*f).or_insert_with(|| h.clone());
            }
        }
    }
    own
}

/// What a resumed prune says of a user the interrupted attempt was to remove and that the
/// platform no longer holds (or no longer holds active).
pub const GONE_ON_RESUME: &str =
    "no longer on the platform when the run resumed: removed before the run was interrupted";

/// Matches the rows of users to prune, made afresh from a new listing when a sync with
/// `--prune` resumes, to the rows the interrupted attempt recorded (`recorded`), by target
/// and identity key, so that each user keeps one row in the run:
/// - a user still to prune takes its recorded row's index;
/// - a user new to prune gets an index past every recorded row;
/// - a recorded user the listing no longer shows was removed before the interruption: its
///   row comes back with its recorded outcome, or `deleted` when none was recorded (the
///   request was sent, the answer never recorded).
///
/// Returns those rows' outcomes and the headers they use. The rows after `roster_len` end
/// in index order.
pub fn match_prune_rows(
    recorded: Vec<Recorded>,
    roster_len: usize,
    rows: &mut Vec<Row>,
    checked: &mut Vec<validate::Checked>,
    config: &Config,
) -> (HashMap<usize, Outcome>, Vec<String>) {
    let mut next = roster_len;
    let mut by_key: HashMap<(String, String), (Row, Option<Outcome>, &Target)> = HashMap::new();
    for Recorded {
        row,
        outcome,
        target,
    } in recorded
    {
        next = next.max(row.index + 1);
        let Some(target) = target.as_ref().and_then(|t| config.targets.get(t)) else {
            continue;
        };
        if let Some(key) = identity_key(target.vendor, &row) {
            by_key.insert((target.name.clone(), key), (row, outcome, target));
        }
    }
    for (row, c) in rows[roster_len..].iter_mut().zip(&checked[roster_len..]) {
        let key = c.target.as_ref().and_then(|t| {
            let key = identity_key(t.vendor, row)?;
            Some((t.name.clone(), key))
        });
        match key.and_then(|k| by_key.remove(&k)) {
            Some((recorded, _, _)) => row.index = recorded.index,
            None => {
                row.index = next;
                next += 1;
            }
        }
    }
    let mut settled = HashMap::new();
    let mut headers = Vec::new();
    for (row, outcome, target) in by_key.into_values() {
        let outcome = outcome
            .filter(|o| o.status != Status::NotAttempted)
            .unwrap_or_else(|| {
                let mut o = Outcome::new(Status::Deleted, Action::Delete);
                o.error = Some(GONE_ON_RESUME.into());
                o
            });
        for h in &row.layout.headers {
            if !headers.contains(h) {
                headers.push(h.clone());
            }
        }
        settled.insert(row.index, outcome);
        rows.push(row);
        checked.push(validate::Checked {
            target: Some(Arc::new(target.clone())),
            action: Action::Delete,
            problems: Vec::new(),
            key: None,
        });
    }
    let mut prunes: Vec<(Row, validate::Checked)> = rows
        .drain(roster_len..)
        .zip(checked.drain(roster_len..))
        .collect();
    prunes.sort_by_key(|(r, _)| r.index);
    for (row, c) in prunes {
        rows.push(row);
        checked.push(c);
    }
    (settled, headers)
}

/// The `source_file` of rows made from a platform's users (prune).
pub const PLATFORM_SOURCE: &str = "(platform)";

#[cfg(test)]
mod tests {
    use super::*;

    fn extras(n: usize) -> Vec<PlatformUser> {
        (0..n)
            .map(|i| PlatformUser {
                key: format!("u{i}@x.test"),
                id: i.to_string(),
                fields: vec![(Field::Email, format!("u{i}@x.test"))],
                active: true,
                aliases: Vec::new(),
            })
            .collect()
    }

    fn prune(t: &Target, extras_: usize, total: usize) -> Prune {
        Prune {
            target: t.clone(),
            extras: extras(extras_),
            total,
        }
    }

    #[test]
    fn prunes_over_the_limit_are_refused_by_target() {
        let t = Target::with_defaults(
            "fleet",
            crate::model::VendorKind::Traccar,
            "http://127.0.0.1/api",
        );
        let yes = |max: Option<usize>| PlanSettings {
            yes: true,
            max_prune: max,
            ..PlanSettings::default()
        };
        // Default: 10% of 30 users = 3.
        assert!(check_limits(&yes(None), &[prune(&t, 3, 30)]).is_ok());
        let err = check_limits(&yes(None), &[prune(&t, 4, 30)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "target fleet: refusing to prune 4 of its 30 users: more than --max-prune 3 (10% of its users); nothing was sent. It would have removed: u0@x.test, u1@x.test, u2@x.test, u3@x.test"
        );
        assert!(check_limits(&yes(Some(4)), &[prune(&t, 4, 30)]).is_ok());
        assert!(check_limits(&yes(Some(1)), &[prune(&t, 2, 30)]).is_err());
        // Past 20 users, the rest are counted.
        let err = check_limits(&yes(Some(0)), &[prune(&t, 23, 30)]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.ends_with("u18@x.test, u19@x.test and 3 more"),
            "{text}"
        );
        assert!(!text.contains("u20@x.test"), "{text}");
    }

    #[test]
    fn pruned_users_become_delete_rows_from_the_platform() {
        let t = Target::with_defaults(
            "fleet",
            crate::model::VendorKind::Traccar,
            "http://127.0.0.1/api",
        );
        let mut rows = Vec::new();
        let mut checked = Vec::new();
        let headers = synthesize(&mut rows, &mut checked, &[prune(&t, 2, 10)]);
        assert_eq!(headers, ["email"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].layout.file, PLATFORM_SOURCE);
        assert_eq!(rows[1].get(Field::Email), Some("u1@x.test"));
        assert_eq!(rows[1].index, 1);
        assert_eq!(checked[0].action, Action::Delete);
    }

    #[test]
    fn a_resumed_prune_keeps_one_row_per_user_across_the_attempts() {
        let t = Target::with_defaults(
            "fleet",
            crate::model::VendorKind::Traccar,
            "http://127.0.0.1/api",
        );
        let config = Config {
            path: None,
            targets: [("fleet".to_string(), t.clone())].into(),
            ..Config::default()
        };
        let user = |i: usize| PlatformUser {
            key: format!("u{i}@x.test"),
            id: i.to_string(),
            fields: vec![(Field::Email, format!("u{i}@x.test"))],
            active: true,
            aliases: Vec::new(),
        };
        // The interrupted attempt recorded u0 deleted, and u1 and u2 without an outcome.
        let recorded: Vec<Recorded> = (0..3)
            .map(|i| {
                let layout = Arc::new(Layout {
                    file: PLATFORM_SOURCE.into(),
                    sheet: "fleet".into(),
                    headers: vec!["email".into()],
                    fields: vec![Some(Field::Email)],
                    ..Layout::default()
                });
                Recorded {
                    row: Row {
                        index: 10 + i,
                        layout,
                        line: i as u32 + 1,
                        cells: vec![format!("U{i}@x.test")].into(),
                        errors: vec![],
                    },
                    outcome: (i == 0).then(|| Outcome::new(Status::Deleted, Action::Delete)),
                    target: Some("fleet".into()),
                }
            })
            .collect();
        // The listing on resume: u2 is still there, u5 is new to prune.
        let mut rows = Vec::new();
        let mut checked = Vec::new();
        synthesize(
            &mut rows,
            &mut checked,
            &[Prune {
                target: t,
                extras: vec![user(2), user(5)],
                total: 10,
            }],
        );
        let roster_len = 0;
        let (settled, headers) =
            match_prune_rows(recorded, roster_len, &mut rows, &mut checked, &config);
        assert_eq!(headers, ["email"]);
        let seen: Vec<(usize, &str)> = rows
            .iter()
            .map(|r| (r.index, r.get(Field::Email).unwrap_or_default()))
            .collect();
        assert_eq!(
            seen,
            [
                (10, "U0@x.test"),
                (11, "U1@x.test"),
                (12, "u2@x.test"),
                (13, "u5@x.test")
            ]
        );
        assert!(checked.iter().all(|c| c.action == Action::Delete));
        // u0 keeps its outcome; u1, gone since, was removed by the interrupted attempt;
        // u2 and u5 are left to be removed now.
        assert_eq!(settled.len(), 2);
        assert_eq!(settled[&10], Outcome::new(Status::Deleted, Action::Delete));
        assert_eq!(settled[&11].status, Status::Deleted);
        assert_eq!(settled[&11].error.as_deref(), Some(GONE_ON_RESUME));
    }
}
