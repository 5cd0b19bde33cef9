//! Duplicates inside the input: the same identity key for the same target twice makes
//! every later row invalid, naming the first one (issue 2, DESIGN "identity key").
//!
//! Streams: only the key and where it was first seen are kept, never the rows.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::Target;
use crate::model::{Cells, Field, Layout, Problem, Row, VendorKind};

/// The field and value that identify the row's user on `vendor`, as written.
///
/// Traccar: email. Motive: email, else username, else external id. Pegasus: username,
/// else the email (used as the username). DRTrack and AROBS: username.
pub fn identity(row: &Row, vendor: VendorKind) -> Option<(Field, &str)> {
    let order: &[Field] = match vendor {
        VendorKind::Traccar => &[Field::Email],
        VendorKind::Motive => &[Field::Email, Field::Username, Field::ExternalId],
        VendorKind::Pegasus => &[Field::Username, Field::Email],
        VendorKind::Drtrack | VendorKind::Arobs => &[Field::Username],
    };
    order
        .iter()
        .find_map(|f| Some((*f, row.get(*f).map(str::trim).filter(|v| !v.is_empty())?)))
}

/// Where a key was first seen: enough to name the cell, nothing more.
#[derive(Debug)]
struct FirstSeen {
    layout: Arc<Layout>,
    line: u32,
    col: usize,
}

/// Remembers identity keys seen so far, per target, to flag later duplicates.
#[derive(Debug, Default)]
pub struct Duplicates {
    /// target name → (field, trimmed lower-case value) → first row.
    seen: HashMap<String, HashMap<(Field, String), FirstSeen>>,
}

impl Duplicates {
    /// Records `row`'s key for `target`; a problem when an earlier row had the same key.
    /// Rows must come in input order.
    pub fn check(&mut self, row: &Row, target: &Target) -> Option<Problem> {
        let (field, value) = identity(row, target.vendor)?;
        let col = row.layout.column_of(field)?;
        let key = (field, value.to_lowercase());
        let per_target = match self.seen.get_mut(&target.name) {
            Some(m) => m,
            None => self.seen.entry(target.name.clone()).or_default(),
        };
        match per_target.get(&key) {
            Some(first) => {
                let place = Row {
                    index: 0,
                    layout: first.layout.clone(),
                    line: first.line,
                    cells: Cells::new(),
                    errors: Vec::new(),
                }
                .locate(first.col);
                Some(Problem::cell(
                    row,
                    col,
                    format!(
                        "is a duplicate of row {} ({place}) for target {}",
                        first.line, target.name
                    ),
                ))
            }
            None => {
                per_target.insert(
                    key,
                    FirstSeen {
                        layout: row.layout.clone(),
                        line: row.line,
                        col,
                    },
                );
                None
            }
        }
    }

    /// How many distinct keys are remembered (all targets).
    pub fn len(&self) -> usize {
        self.seen.values().map(HashMap::len).sum()
    }

    /// Whether no key is remembered yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::testing::{messages, row};

    fn target(name: &str, vendor: VendorKind) -> Target {
        Target::with_defaults(name, vendor, "")
    }

    #[test]
    fn identity_per_vendor() {
        let r = row(&[
            (Field::Email, "Jane@Example.com"),
            (Field::Username, "jroe"),
            (Field::ExternalId, "E-1"),
        ]);
        let cases = [
            (
                VendorKind::Traccar,
                Some((Field::Email, "Jane@Example.com")),
            ),
            (VendorKind::Motive, Some((Field::Email, "Jane@Example.com"))),
            (VendorKind::Pegasus, Some((Field::Username, "jroe"))),
            (VendorKind::Drtrack, Some((Field::Username, "jroe"))),
            (VendorKind::Arobs, Some((Field::Username, "jroe"))),
        ];
        for (vendor, expected) in cases {
            assert_eq!(identity(&r, vendor), expected, "{vendor}");
        }
        let only_ext = row(&[(Field::Email, ""), (Field::ExternalId, "E-1")]);
        assert_eq!(
            identity(&only_ext, VendorKind::Motive),
            Some((Field::ExternalId, "E-1"))
        );
        let only_email = row(&[(Field::Email, "p@example.com")]);
        assert_eq!(
            identity(&only_email, VendorKind::Pegasus),
            Some((Field::Email, "p@example.com"))
        );
        assert_eq!(identity(&only_email, VendorKind::Drtrack), None);
    }

    #[test]
    fn later_rows_name_the_first_and_keys_are_per_target() {
        let mut dups = Duplicates::default();
        let motive = target("motive", VendorKind::Motive);
        let other = target("motive-eu", VendorKind::Motive);
        let mut first = row(&[(Field::Email, "jane@example.com")]);
        first.line = 2;
        let mut again = row(&[(Field::Email, "JANE@example.com")]);
        again.line = 5;
        let mut third = again.clone();
        third.line = 9;
        assert_eq!(dups.check(&first, &motive), None);
        assert_eq!(dups.check(&again, &other), None, "another target");
        let p = dups
            .check(&again, &motive)
            .map(|p| vec![p])
            .unwrap_or_default();
        assert_eq!(
            messages(&p),
            [
                "email (A5): \"JANE@example.com\" is a duplicate of row 2 (roster.csv, A2) for target motive"
            ]
        );
        let p = dups
            .check(&third, &motive)
            .map(|p| p.message)
            .unwrap_or_default();
        assert!(p.contains("duplicate of row 2 "), "{p}");
        assert_eq!(dups.len(), 2);
    }

    #[test]
    fn usernames_compare_case_insensitively_and_blank_keys_never_collide() {
        let mut dups = Duplicates::default();
        let t = target("drtrack", VendorKind::Drtrack);
        let a = row(&[(Field::Username, "JRoe")]);
        let b = row(&[(Field::Username, "jroe")]);
        let blank = row(&[(Field::Username, "")]);
        assert!(dups.check(&a, &t).is_none());
        assert!(dups.check(&b, &t).is_some());
        assert!(dups.check(&blank, &t).is_none());
        assert!(dups.check(&blank, &t).is_none());
    }
}
