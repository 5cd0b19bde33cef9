//! Duplicates inside the input: the same identity key for the same target twice makes
//! every later row invalid, naming the first one (issue 2, DESIGN "identity key").
//!
//! Streams: only the key and where it was first seen are kept, never the rows.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use crate::config::Target;
use crate::model::{Cells, Field, Layout, Problem, Row, VendorKind};

use super::generic::{Columns, ColumnsCache};

/// The field and value that identify the row's user on `vendor`, as written.
///
/// Traccar: email. Motive: email, else username, else external id. Pegasus: username,
/// else the email (used as the username). DRTrack and AROBS: username.
pub fn identity(row: &Row, vendor: VendorKind) -> Option<(Field, &str)> {
    identity_in(row, &Columns::of(&row.layout), vendor).map(|(f, _, v)| (f, v))
}

/// [`identity`] with the column table of the row's layout; also gives the key's column.
fn identity_in<'r>(
    row: &'r Row,
    columns: &Columns,
    vendor: VendorKind,
) -> Option<(Field, usize, &'r str)> {
    let order: &[Field] = match vendor {
        VendorKind::Traccar => &[Field::Email],
        VendorKind::Motive => &[Field::Email, Field::Username, Field::ExternalId],
        VendorKind::Pegasus => &[Field::Username, Field::Email],
        VendorKind::Drtrack | VendorKind::Arobs => &[Field::Username],
    };
    order.iter().find_map(|f| {
        let col = columns.get(*f)?;
        let value = row.cell(col)?.trim();
        (!value.is_empty()).then_some((*f, col, value))
    })
}

/// A key seen first: which target and field, where its lower-cased text lies in
/// `Duplicates::keys`, and enough to name the cell it was in.
#[derive(Debug)]
struct Seen {
    start: usize,
    len: usize,
    target: u32,
    layout: u32,
    line: u32,
    col: usize,
    field: Field,
}

/// Remembers identity keys seen so far, per target, to flag later duplicates.
///
/// A million rows pass through here one at a time on one thread, so a key costs no
/// allocation: it is lower-cased into a reused buffer, hashed with foldhash, looked up by
/// comparing the full text (a hash collision never makes two keys equal), and, when new,
/// appended to one string of all keys. Targets and layouts are kept once, by index.
///
/// The hash table holds 8 bytes a key (32 bits of the hash and the key's index in
/// `seen`), so a million keys take 8 MiB and most look-ups stay in the processor's cache;
/// `seen` is only read when those 32 bits match, which for a new key is rare.
#[derive(Debug, Default)]
pub struct Duplicates {
    state: RandomState,
    table: HashTable<(u32, u32)>,
    /// The keys seen first, in input order.
    seen: Vec<Seen>,
    /// Every remembered key's lower-cased text, one after another.
    keys: String,
    /// Target names by index (a roster names a few).
    targets: Vec<String>,
    /// Layouts of the rows that were first, by index (one per table).
    layouts: Vec<Arc<Layout>>,
    /// The key being checked, lower-cased.
    buf: String,
    /// The column table of the layout of the row checked last.
    columns: ColumnsCache,
}

impl Duplicates {
    /// Records `row`'s key for `target`; a problem when an earlier row had the same key.
    /// Rows must come in input order.
    pub fn check(&mut self, row: &Row, target: &Target) -> Option<Problem> {
        let (field, col, value) = identity_in(row, self.columns.get(&row.layout), target.vendor)?;
        // The same key as `value.to_lowercase()`, without allocating for ASCII text.
        self.buf.clear();
        if value.is_ascii() {
            self.buf.push_str(value);
            self.buf.make_ascii_lowercase();
        } else {
            self.buf.push_str(&value.to_lowercase());
        }
        let t = self.target_index(&target.name);
        let hash = {
            let mut h = self.state.build_hasher();
            h.write_u32(t);
            h.write_u8(field as u8);
            h.write(self.buf.as_bytes());
            fold(h.finish())
        };
        let (keys, buf, seen) = (&self.keys, &self.buf, &self.seen);
        let found = self.table.find(spread(hash), |&(h, i)| {
            h == hash
                && seen.get(i as usize).is_some_and(|s| {
                    s.target == t
                        && s.field == field
                        && keys.get(s.start..s.start + s.len) == Some(buf.as_str())
                })
        });
        if let Some(first) = found.and_then(|&(_, i)| self.seen.get(i as usize)) {
            let layout = self
                .layouts
                .get(first.layout as usize)
                .cloned()
                .unwrap_or_else(|| row.layout.clone());
            let place = Row {
                index: 0,
                layout,
                line: first.line,
                cells: Cells::new(),
                errors: Vec::new(),
            }
            .locate(first.col);
            return Some(Problem::cell(
                row,
                col,
                format!(
                    "is a duplicate of row {} ({place}) for target {}",
                    first.line, target.name
                ),
            ));
        }
        let Ok(index) = u32::try_from(self.seen.len()) else {
            // Past 4 billion keys nothing more is remembered (no roster comes near).
            return None;
        };
        let layout = self.layout_index(&row.layout);
        self.seen.push(Seen {
            start: self.keys.len(),
            len: self.buf.len(),
            target: t,
            layout,
            line: row.line,
            col,
            field,
        });
        self.keys.push_str(&self.buf);
        self.table
            .insert_unique(spread(hash), (hash, index), |&(h, _)| spread(h));
        None
    }

    /// The index of the target named `name`, added when new.
    fn target_index(&mut self, name: &str) -> u32 {
        let i = match self.targets.iter().rposition(|t| t == name) {
            Some(i) => i,
            None => {
                self.targets.push(name.to_string());
                self.targets.len() - 1
            }
        };
        u32::try_from(i).expect("a roster names fewer than 4 billion targets")
    }

    /// The index of `layout` (the same table), added when new.
    fn layout_index(&mut self, layout: &Arc<Layout>) -> u32 {
        let i = match self.layouts.iter().rposition(|l| Arc::ptr_eq(l, layout)) {
            Some(i) => i,
            None => {
                self.layouts.push(layout.clone());
                self.layouts.len() - 1
            }
        };
        u32::try_from(i).expect("a roster has fewer than 4 billion tables")
    }

    /// How many distinct keys are remembered (all targets).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no key is remembered yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// 32 bits of a 64-bit hash (all of its bits count).
fn fold(hash: u64) -> u32 {
    (hash ^ (hash >> 32)) as u32
}

/// The table's 64-bit hash of a folded one: the table takes a slot from the low bits and
/// a tag from the top seven, so both come from the 32.
fn spread(hash: u32) -> u64 {
    u64::from(hash) | u64::from(hash) << 32
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
    fn keys_fold_case_like_to_lowercase_and_stay_per_field() {
        let cases: &[(&str, &str, bool)] = &[
            ("ÉMILE@example.com", "émile@example.com", true),
            ("Straße@example.com", "STRASSE@example.com", false),
            ("ΣΊΣΥΦΟΣ@example.com", "σίσυφος@example.com", true),
            ("jane@example.com", "jane@example.co", false),
            ("jane@example.com", "jane@example.comm", false),
        ];
        for (a, b, same) in cases {
            let mut dups = Duplicates::default();
            let t = target("traccar", VendorKind::Traccar);
            assert!(dups.check(&row(&[(Field::Email, a)]), &t).is_none());
            let second = dups.check(&row(&[(Field::Email, b)]), &t);
            let expected = a.to_lowercase() == b.to_lowercase();
            assert_eq!(expected, *same, "{a} / {b}: the table itself is wrong");
            assert_eq!(second.is_some(), *same, "{a} / {b}");
        }
        // Motive: an email and a username with the same text are different keys.
        let mut dups = Duplicates::default();
        let t = target("motive", VendorKind::Motive);
        assert!(dups.check(&row(&[(Field::Email, "jroe")]), &t).is_none());
        assert!(
            dups.check(&row(&[(Field::Email, ""), (Field::Username, "jroe")]), &t)
                .is_none()
        );
        assert_eq!(dups.len(), 2);
    }

    #[test]
    fn many_keys_each_found_again() {
        let mut dups = Duplicates::default();
        let t = target("drtrack", VendorKind::Drtrack);
        for i in 0..5000 {
            let mut r = row(&[(Field::Username, &format!("User{i}"))]);
            r.line = i + 2;
            assert!(dups.check(&r, &t).is_none(), "{i}");
        }
        for i in (0..5000).step_by(7) {
            let r = row(&[(Field::Username, &format!("user{i}"))]);
            let p = dups.check(&r, &t).map(|p| p.message).unwrap_or_default();
            assert!(p.contains(&format!("duplicate of row {} ", i + 2)), "{p}");
        }
        assert_eq!(dups.len(), 5000);
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
