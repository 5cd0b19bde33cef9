//! Audit: a target's validated roster rows against the users its platform holds, matched by
//! identity key, each ending in one class (`same`, `different`, `missing`, `extra`,
//! `protected`, `manual`). Pure: no HTTP, no sheets. `muster audit` reports the findings; `--mode
//! upsert|sync` and plans act on them.
//!
//! Comparison is field by field on what both sides have, after [`normalise`] — the one
//! place that says when a roster value and a platform value are "the same": trimmed, inner
//! spaces collapsed; emails and enumerations case-insensitive; phones as digits; yes/no as
//! booleans; lists (`|`-separated) as sets; a date-time at midnight as its date. Passwords
//! are never compared (no platform shows them) and never appear in a finding.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::model::{Field, Row, VendorKind};
use crate::model::{PlatformUser, list_items, parse_bool, split_list};

/// Where a roster row and a platform user stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// On both sides, every shared field equal.
    Same,
    /// On both sides, some shared field differs.
    Different,
    /// On the roster, not on the platform.
    Missing,
    /// On the platform (and active), not on the roster.
    Extra,
    /// On the platform, not on the roster, and protected ([`Protected`]): the account
    /// muster is logged in as, or one the target's `protect` lists. Never pruned.
    Protected,
    /// The platform cannot be listed (AROBS): only `muster verify` can tell.
    Manual,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 6] = [
        Class::Same,
        Class::Different,
        Class::Missing,
        Class::Extra,
        Class::Protected,
        Class::Manual,
    ];

    /// The class as written in reports (`same`, ...).
    pub fn key(self) -> &'static str {
        match self {
            Class::Same => "same",
            Class::Different => "different",
            Class::Missing => "missing",
            Class::Extra => "extra",
            Class::Protected => "protected",
            Class::Manual => "manual",
        }
    }

    /// The sheet name of the class (`Same`, ...).
    pub fn sheet(self) -> &'static str {
        match self {
            Class::Same => "Same",
            Class::Different => "Different",
            Class::Missing => "Missing",
            Class::Extra => "Extra",
            Class::Protected => "Protected",
            Class::Manual => "Manual",
        }
    }

    /// Whether the class is drift for `--fail-on-drift`. `manual` is not: muster cannot
    /// see those platforms, and `muster verify` is their check; nor is `protected`: those
    /// accounts are meant to be there.
    pub fn is_drift(self) -> bool {
        matches!(self, Class::Different | Class::Missing | Class::Extra)
    }
}

/// The accounts of a target muster never updates, deactivates or deletes: the one it is
/// logged in as (as its connector learned at probe) and those its `protect` lists. Keys are
/// normalised as identity keys are ([`crate::model::normalise_key`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protected {
    /// The account muster is logged in as, when its connector can tell.
    pub me: Option<String>,
    /// The target's `protect` entries.
    pub listed: Vec<String>,
}

impl Protected {
    /// The protection of a target logged in as `me` (any case), with `protect` entries.
    pub fn new(me: Option<&str>, listed: &[String]) -> Protected {
        Protected {
            me: me
                .map(crate::model::normalise_key)
                .filter(|k| !k.is_empty()),
            listed: listed
                .iter()
                .map(|k| crate::model::normalise_key(k))
                .collect(),
        }
    }

    /// Why the account with identity `key` is protected, or `None` when it is not.
    pub fn why(&self, key: &str) -> Option<&'static str> {
        let key = crate::model::normalise_key(key);
        if self.me.as_deref() == Some(key.as_str()) {
            Some("muster is logged in as this account")
        } else if self.listed.contains(&key) {
            Some("the target's protect lists this account")
        } else {
            None
        }
    }

    /// Why a platform user is protected: its identity key, or its email or login (a
    /// `protect` entry may name either, whichever the platform keys users by).
    pub fn why_user(&self, user: &PlatformUser) -> Option<&'static str> {
        self.why(&user.key).or_else(|| {
            user.fields
                .iter()
                .filter(|(f, _)| matches!(f, Field::Email | Field::Username))
                .find_map(|(_, v)| self.why(v))
        })
    }

    /// The text of a row refused because its account is protected (`why` from
    /// [`Protected::why`]).
    pub fn refusal(target: &str, why: &str) -> String {
        format!(
            "protected account: {why} (target {target}); muster never updates, deactivates or deletes it"
        )
    }
}

/// One field that differs, as both sides hold it (original text, not normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub field: Field,
    pub roster: String,
    pub platform: String,
    /// For a list field (devices, groups, …), compared as sets: the roster's items the
    /// platform lacks, as the roster writes them.
    pub missing: Vec<String>,
    /// For a list field: the platform's items the roster lacks, as the platform writes them.
    pub extra: Vec<String>,
}

impl Difference {
    /// How two sets differ (`missing on platform: a, b; extra on platform: c`), or `None`
    /// for a field that is not a list.
    pub fn detail(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing on platform: {}", self.missing.join(", ")));
        }
        if !self.extra.is_empty() {
            parts.push(format!("extra on platform: {}", self.extra.join(", ")));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// A roster row of the target, with its identity key (`vendors::identity_key`).
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub key: String,
    pub row: &'a Row,
}

/// The class of one roster row or one platform user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub class: Class,
    /// The identity key.
    pub key: String,
    /// The roster row's position (`Row::index`); `None` for an extra user.
    pub row: Option<usize>,
    /// The platform's id, when the user is on the platform.
    pub platform_id: Option<String>,
    /// For `different`: each differing field.
    pub differences: Vec<Difference>,
}

/// Compares a target's roster rows with its platform's users (`None`: the platform cannot
/// be listed, every row is `manual`). Findings come in roster order, then the extra users in
/// the platform's order. A row whose key repeats an earlier row's is compared too (the
/// duplicate check names it elsewhere). Inactive users not on the roster are not `extra`:
/// they hold no access, which is what pruning would achieve. A user not on the roster that
/// `protected` covers is `protected`, active or not, never `extra`.
pub fn compare(
    vendor: VendorKind,
    entries: &[Entry<'_>],
    users: Option<&[PlatformUser]>,
    protected: &Protected,
) -> Vec<Finding> {
    let Some(users) = users else {
        return entries
            .iter()
            .map(|e| Finding {
                class: Class::Manual,
                key: e.key.clone(),
                row: Some(e.row.index),
                platform_id: None,
                differences: Vec::new(),
            })
            .collect();
    };
    let mut by_key: HashMap<&str, &PlatformUser> = HashMap::new();
    for u in users {
        by_key.entry(u.key.as_str()).or_insert(u);
    }
    let mut findings = Vec::with_capacity(entries.len());
    let mut listed: HashSet<&str> = HashSet::new();
    for e in entries {
        listed.insert(e.key.as_str());
        let finding = match by_key.get(e.key.as_str()) {
            None => Finding {
                class: Class::Missing,
                key: e.key.clone(),
                row: Some(e.row.index),
                platform_id: None,
                differences: Vec::new(),
            },
            Some(user) => {
                let differences = differences(vendor, e.row, user);
                Finding {
                    class: if differences.is_empty() {
                        Class::Same
                    } else {
                        Class::Different
                    },
                    key: e.key.clone(),
                    row: Some(e.row.index),
                    platform_id: Some(user.id.clone()),
                    differences,
                }
            }
        };
        findings.push(finding);
    }
    let mut extra_seen: HashSet<&str> = HashSet::new();
    for u in users {
        if listed.contains(u.key.as_str()) {
            continue;
        }
        let class = if protected.why_user(u).is_some() {
            Class::Protected
        } else if u.active {
            Class::Extra
        } else {
            continue;
        };
        if extra_seen.insert(u.key.as_str()) {
            findings.push(Finding {
                class,
                key: u.key.clone(),
                row: None,
                platform_id: Some(u.id.clone()),
                differences: Vec::new(),
            });
        }
    }
    findings
}

/// The fields of `row` that `user` holds differently (only fields both sides have).
///
/// A user the platform holds inactive (Motive `deactivated`, Pegasus `is_active: false`)
/// that the roster lists, and does not mark `disabled`, differs in `disabled` (platform
/// `yes`, roster `no`): the roster wants the person to have access, so an upsert or sync
/// reactivates the user. Traccar lists `disabled` as a field of its own, compared as such.
pub fn differences(vendor: VendorKind, row: &Row, user: &PlatformUser) -> Vec<Difference> {
    let mut found: Vec<Difference> = user
        .fields
        .iter()
        .filter(|(field, _)| comparable(*field))
        .filter_map(|(field, platform)| {
            let roster = roster_value(vendor, row, *field)?;
            if is_list(*field) {
                return set_difference(*field, roster, platform, &user.aliases);
            }
            (normalise(*field, &roster) != normalise(*field, platform)).then(|| Difference {
                field: *field,
                roster,
                platform: platform.clone(),
                missing: vec![],
                extra: vec![],
            })
        })
        .collect();
    let listed_disabled = user.fields.iter().any(|(f, _)| *f == Field::Disabled);
    if !user.active && !listed_disabled && !roster_disabled(row) {
        found.push(Difference {
            field: Field::Disabled,
            roster: "no".into(),
            platform: "yes".into(),
            missing: vec![],
            extra: vec![],
        });
    }
    found
}

/// How a list field differs, compared as sets (issue 28): each roster item is read
/// through `aliases` (another name of an item the platform holds), case and spaces aside.
/// `None` when both hold the same items.
fn set_difference(
    field: Field,
    roster: String,
    platform: &str,
    aliases: &[(String, String)],
) -> Option<Difference> {
    let canonical = |item: &str| {
        let lower = normalise(Field::Name, item).to_lowercase();
        aliases
            .iter()
            .find(|(alias, _)| *alias == lower)
            .map(|(_, item)| normalise(Field::Name, item).to_lowercase())
            .unwrap_or(lower)
    };
    let roster_items: Vec<&str> = list_items(&roster);
    let platform_items: Vec<&str> = list_items(platform);
    let held: HashSet<String> = platform_items
        .iter()
        .map(|i| normalise(Field::Name, i).to_lowercase())
        .collect();
    let wanted: HashSet<String> = roster_items.iter().map(|i| canonical(i)).collect();
    let mut missing: Vec<String> = Vec::new();
    for item in &roster_items {
        if !held.contains(&canonical(item)) && !missing.iter().any(|m| m == item.trim()) {
            missing.push(item.trim().to_string());
        }
    }
    let mut extra: Vec<String> = Vec::new();
    for item in &platform_items {
        let key = normalise(Field::Name, item).to_lowercase();
        if !wanted.contains(&key) && !extra.iter().any(|m| m == item.trim()) {
            extra.push(item.trim().to_string());
        }
    }
    (!missing.is_empty() || !extra.is_empty()).then(|| Difference {
        field,
        roster,
        platform: platform.to_string(),
        missing,
        extra,
    })
}

/// Whether the row asks for its user to be disabled (`disabled` yes/true/1).
pub fn roster_disabled(row: &Row) -> bool {
    row.get(Field::Disabled)
        .is_some_and(|v| normalise(Field::Disabled, v) == "true")
}

/// Fields an audit never compares: routing columns and secrets.
fn comparable(field: Field) -> bool {
    !matches!(field, Field::Target | Field::Action | Field::Password)
}

/// What the roster says of `field` for `vendor`, as the importer would send it: Traccar's
/// `name` falls back to first and last name, as its create does.
pub fn roster_value(vendor: VendorKind, row: &Row, field: Field) -> Option<String> {
    if let Some(v) = row.get(field) {
        return Some(v.to_string());
    }
    if vendor == VendorKind::Traccar && field == Field::Name {
        let joined = [row.get(Field::FirstName), row.get(Field::LastName)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        return (!joined.is_empty()).then_some(joined);
    }
    None
}

/// Fields holding a `|`-separated list, compared as sets.
fn is_list(field: Field) -> bool {
    matches!(
        field,
        Field::Devices | Field::Groups | Field::BranchIds | Field::Scopes | Field::Apps
    )
}

/// Fields holding a yes/no value.
fn is_bool(field: Field) -> bool {
    matches!(
        field,
        Field::Readonly | Field::DeviceReadonly | Field::Disabled | Field::SendEmail
    )
}

/// Fields holding a word from a list or an id, compared case-insensitively (`Driver` =
/// `driver`, `fleet user` = `fleet_user`).
fn is_word(field: Field) -> bool {
    matches!(
        field,
        Field::Email
            | Field::Username
            | Field::Role
            | Field::UserGroup
            | Field::EldMode
            | Field::TimeTrackingMode
            | Field::DutyStatus
            | Field::Cycle
            | Field::Language
            | Field::TimeZone
            | Field::DriversLicenseState
    )
}

/// Whether two texts are the same value of `field`: what the audit and the connectors'
/// updates both ask, so an update sends exactly what the audit calls different.
pub fn same(field: Field, a: &str, b: &str) -> bool {
    normalise(field, a) == normalise(field, b)
}

/// The comparable form of `text` as a value of `field` (see the module docs).
pub fn normalise(field: Field, text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if is_list(field) {
        let mut items: Vec<String> = split_list(&collapsed)
            .into_iter()
            .map(|s| s.to_lowercase())
            .collect();
        items.sort();
        items.dedup();
        return items.join("|");
    }
    if is_bool(field) {
        return match parse_bool(&collapsed) {
            Some(b) => b.to_string(),
            None => collapsed.to_lowercase(),
        };
    }
    match field {
        Field::Phone => collapsed.chars().filter(char::is_ascii_digit).collect(),
        Field::ExpirationTime => date_of_midnight(&collapsed).unwrap_or(collapsed),
        Field::Role | Field::EldMode | Field::TimeTrackingMode | Field::DutyStatus => {
            collapsed.to_lowercase().replace([' ', '-'], "_")
        }
        f if is_word(f) => collapsed.to_lowercase(),
        _ => collapsed,
    }
}

/// `2027-01-31T00:00:00Z` (or `.000+00:00`) → `2027-01-31`; anything else unchanged.
fn date_of_midnight(text: &str) -> Option<String> {
    let (date, time) = text.split_once(['T', ' '])?;
    if date.len() != 10 {
        return None;
    }
    let midnight = time
        .trim_end_matches('Z')
        .trim_end_matches("+00:00")
        .trim_end_matches("+0000")
        .chars()
        .all(|c| matches!(c, '0' | ':' | '.'));
    midnight.then(|| date.to_string())
}

/// Counts of findings by class.
pub fn counts(findings: &[Finding]) -> HashMap<Class, usize> {
    let mut counts = HashMap::new();
    for f in findings {
        *counts.entry(f.class).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Layout;
    use std::sync::Arc;

    fn row(index: usize, cells: &[(Field, &str)]) -> Row {
        Row {
            index,
            layout: Arc::new(Layout {
                file: "roster.csv".into(),
                sheet: "roster".into(),
                header_row: 1,
                headers: cells.iter().map(|(f, _)| f.name().to_string()).collect(),
                fields: cells.iter().map(|(f, _)| Some(*f)).collect(),
                ..Layout::default()
            }),
            line: index as u32 + 2,
            cells: cells.iter().map(|(_, v)| v.to_string()).collect(),
            errors: vec![],
        }
    }

    fn user(key: &str, id: &str, fields: &[(Field, &str)], active: bool) -> PlatformUser {
        PlatformUser {
            key: key.into(),
            id: id.into(),
            fields: fields.iter().map(|(f, v)| (*f, v.to_string())).collect(),
            active,
            aliases: Vec::new(),
        }
    }

    #[test]
    fn normalise_follows_the_importers_rules() {
        let cases = [
            (Field::Email, " Ana@X.Test ", "ana@x.test"),
            (Field::Phone, "+43 (664) 123-45", "4366412345"),
            (Field::Devices, "B | a|b", "a|b"),
            (Field::Groups, "North;south", "north|south"),
            (Field::Readonly, "Yes", "true"),
            (Field::Disabled, "0", "false"),
            (Field::Role, "Fleet User", "fleet_user"),
            (Field::Name, "  Ana   Berg ", "Ana Berg"),
            (
                Field::ExpirationTime,
                "2027-01-31T00:00:00.000+00:00",
                "2027-01-31",
            ),
            (
                Field::ExpirationTime,
                "2027-01-31T10:00:00Z",
                "2027-01-31T10:00:00Z",
            ),
            (Field::LastName, "berg", "berg"),
        ];
        for (field, text, want) in cases {
            assert_eq!(normalise(field, text), want, "{field} {text:?}");
        }
    }

    #[test]
    fn rows_and_users_end_in_exactly_one_class() {
        let rows = [
            row(0, &[(Field::Email, "same@x.test"), (Field::Phone, "+43 1")]),
            row(
                1,
                &[(Field::Email, "diff@x.test"), (Field::Name, "New Name")],
            ),
            row(2, &[(Field::Email, "gone@x.test")]),
        ];
        let entries = [
            Entry {
                key: "same@x.test".into(),
                row: &rows[0],
            },
            Entry {
                key: "diff@x.test".into(),
                row: &rows[1],
            },
            Entry {
                key: "gone@x.test".into(),
                row: &rows[2],
            },
        ];
        let users = [
            user(
                "same@x.test",
                "1",
                &[(Field::Phone, "431"), (Field::Name, "X")],
                true,
            ),
            user("diff@x.test", "2", &[(Field::Name, "Old Name")], true),
            user("extra@x.test", "3", &[], true),
            user("off@x.test", "4", &[], false),
        ];
        let found = compare(
            VendorKind::Traccar,
            &entries,
            Some(&users),
            &Protected::default(),
        );
        let classes: Vec<(Class, &str)> = found.iter().map(|f| (f.class, f.key.as_str())).collect();
        assert_eq!(
            classes,
            [
                (Class::Same, "same@x.test"),
                (Class::Different, "diff@x.test"),
                (Class::Missing, "gone@x.test"),
                (Class::Extra, "extra@x.test"),
            ]
        );
        assert_eq!(
            found[1].differences,
            [Difference {
                field: Field::Name,
                roster: "New Name".into(),
                platform: "Old Name".into(),
                missing: vec![],
                extra: vec![],
            }]
        );
        assert_eq!(found[3].platform_id.as_deref(), Some("3"));
        assert_eq!(found[0].row, Some(0));
    }

    #[test]
    fn an_inactive_user_the_roster_lists_differs_in_disabled() {
        let listed = row(0, &[(Field::Email, "a@x.test")]);
        let off = row(1, &[(Field::Email, "a@x.test"), (Field::Disabled, "yes")]);
        let inactive = user("a@x.test", "1", &[(Field::Email, "a@x.test")], false);
        let want = vec![Difference {
            field: Field::Disabled,
            roster: "no".into(),
            platform: "yes".into(),
            missing: vec![],
            extra: vec![],
        }];
        assert_eq!(differences(VendorKind::Motive, &listed, &inactive), want);
        // The roster asks for it disabled: nothing differs.
        assert!(differences(VendorKind::Motive, &off, &inactive).is_empty());
        // Active: nothing differs.
        let active = user("a@x.test", "1", &[(Field::Email, "a@x.test")], true);
        assert!(differences(VendorKind::Pegasus, &listed, &active).is_empty());
        // Traccar lists `disabled` itself; it is compared as the field it is, once.
        let traccar = user(
            "a@x.test",
            "1",
            &[(Field::Email, "a@x.test"), (Field::Disabled, "true")],
            false,
        );
        assert!(differences(VendorKind::Traccar, &listed, &traccar).is_empty());
        assert_eq!(differences(VendorKind::Traccar, &off, &traccar), vec![]);
    }

    #[test]
    fn lists_compare_as_sets_through_the_platforms_aliases() {
        let r = row(0, &[(Field::Devices, "3551 | Bike 7|9999")]);
        let mut u = user("a", "1", &[(Field::Devices, "3551|3557|4000")], true);
        u.aliases = vec![("bike 7".into(), "3557".into())];
        let d = differences(VendorKind::Traccar, &r, &u);
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].missing.clone(), d[0].extra.clone()),
            (vec!["9999".to_string()], vec!["4000".to_string()])
        );
        assert_eq!(
            d[0].detail().as_deref(),
            Some("missing on platform: 9999; extra on platform: 4000")
        );
        // The same items, named either way and in any order: nothing differs.
        let same = row(0, &[(Field::Devices, "bike 7|3551|4000")]);
        assert!(differences(VendorKind::Traccar, &same, &u).is_empty());
        // No links on the platform, none on the roster: the same; the roster's only.
        let none = user("a", "1", &[(Field::Devices, "")], true);
        assert!(
            differences(VendorKind::Traccar, &row(0, &[(Field::Devices, "")]), &none).is_empty()
        );
        let d = differences(VendorKind::Traccar, &r, &none);
        assert_eq!(
            d[0].detail().as_deref(),
            Some("missing on platform: 3551, Bike 7, 9999")
        );
    }

    #[test]
    fn traccar_name_falls_back_to_first_and_last() {
        let r = row(0, &[(Field::FirstName, "Ana"), (Field::LastName, "Berg")]);
        let u = user("a", "1", &[(Field::Name, "Ana Berg")], true);
        assert!(differences(VendorKind::Traccar, &r, &u).is_empty());
        // Motive has its own first/last fields: `name` is not the roster's there.
        assert!(differences(VendorKind::Motive, &r, &u).is_empty());
        let other = user("a", "1", &[(Field::Name, "Anna Berg")], true);
        assert_eq!(differences(VendorKind::Traccar, &r, &other).len(), 1);
    }

    #[test]
    fn passwords_are_never_compared_and_unlisted_platforms_are_manual() {
        let r = row(
            0,
            &[(Field::Username, "ana"), (Field::Password, "secret-1")],
        );
        let u = user("ana", "1", &[(Field::Password, "other")], true);
        assert!(differences(VendorKind::Pegasus, &r, &u).is_empty());
        let found = compare(
            VendorKind::Arobs,
            &[Entry {
                key: "ana".into(),
                row: &r,
            }],
            None,
            &Protected::default(),
        );
        assert_eq!(found[0].class, Class::Manual);
        assert!(!Class::Manual.is_drift() && Class::Extra.is_drift());
    }

    #[test]
    fn protected_users_off_the_roster_are_protected_not_extra() {
        let rows = [row(0, &[(Field::Email, "boss@x.test")])];
        let entries = [Entry {
            key: "boss@x.test".into(),
            row: &rows[0],
        }];
        let users = [
            user("boss@x.test", "1", &[], true),
            user("me@x.test", "2", &[], true),
            // Keyed by email, protected by its login.
            user("svc@x.test", "3", &[(Field::Username, "Ops-Bot")], true),
            user("off@x.test", "4", &[], false),
            user("extra@x.test", "5", &[], true),
        ];
        let protected = Protected::new(
            Some(" Me@X.test "),
            &[
                "ops-bot".to_string(),
                "off@x.test".into(),
                "boss@x.test".into(),
            ],
        );
        let found = compare(VendorKind::Traccar, &entries, Some(&users), &protected);
        let classes: Vec<(Class, &str)> = found.iter().map(|f| (f.class, f.key.as_str())).collect();
        assert_eq!(
            classes,
            [
                // On the roster: compared as any other row.
                (Class::Same, "boss@x.test"),
                (Class::Protected, "me@x.test"),
                (Class::Protected, "svc@x.test"),
                (Class::Protected, "off@x.test"),
                (Class::Extra, "extra@x.test"),
            ]
        );
        assert!(!Class::Protected.is_drift());
        assert_eq!(
            protected.why("ME@x.test"),
            Some("muster is logged in as this account")
        );
        assert_eq!(
            protected.why("ops-bot"),
            Some("the target's protect lists this account")
        );
        assert_eq!(protected.why("extra@x.test"), None);
        assert_eq!(
            Protected::refusal("fleet", "muster is logged in as this account"),
            "protected account: muster is logged in as this account (target fleet); muster never updates, deactivates or deletes it"
        );
    }
}
