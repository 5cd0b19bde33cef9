//! Duplicates inside the input: the same identity key for the same target twice makes
//! every later row invalid, naming the first one (issue 2, DESIGN "identity key").
//!
//! Streams: only the key and where it was first seen are kept, never the rows.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, LazyLock};

use foldhash::fast::RandomState;

use crate::config::Target;
use crate::model::{Cells, Field, Layout, Problem, Row, VendorKind};

use crate::rules::Columns;

/// The field and value that identify the row's user on `vendor`, as written (the fields
/// are [`VendorKind::identity_fields`], as for [`crate::model::identity_key`]).
pub fn identity(row: &Row, vendor: VendorKind) -> Option<(Field, &str)> {
    identity_in(row, &Columns::of(&row.layout), vendor).map(|(f, _, v)| (f, v))
}

/// [`identity`] with the column table of the row's layout; also gives the key's column.
fn identity_in<'r>(
    row: &'r Row,
    columns: &Columns,
    vendor: VendorKind,
) -> Option<(Field, usize, &'r str)> {
    vendor.identity_fields().iter().find_map(|f| {
        let col = columns.get(*f)?;
        let value = row.cell(col)?.trim();
        (!value.is_empty()).then_some((*f, col, value))
    })
}

/// A row's identity key as the rules stage finds it (in parallel): which field and
/// column, the hash of its target, field and lower-cased text, and that text itself when
/// it is short (as keys are). The in-order check ([`Duplicates::check_key`]) then does
/// little more than one table look-up a row, and need not read the row, which another
/// core read last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    hash: u64,
    col: usize,
    field: Field,
    /// The lower-cased text's length when it is in `text`, else [`NOT_INLINE`].
    len: u8,
    text: [u8; INLINE],
}

/// Bytes of key text a [`Key`] holds (a `Key` is then 64 bytes).
const INLINE: usize = 46;
const NOT_INLINE: u8 = u8::MAX;

impl Key {
    /// The lower-cased text, when it is held here.
    fn inline(&self) -> Option<&[u8]> {
        self.text.get(..usize::from(self.len))
    }
}

/// The seed of every key's hash in this process: keys are hashed on several threads and
/// compared on one, so they all use the same.
static SEED: LazyLock<RandomState> = LazyLock::new(RandomState::default);

/// `row`'s identity key for `target`, if it has one (see [`identity`]).
pub(crate) fn key(row: &Row, columns: &Columns, target: &Target) -> Option<Key> {
    let (field, col, value) = identity_in(row, columns, target.vendor)?;
    Some(key_of(field, col, value, target))
}

/// `row`'s keys for the fields `target`'s platform holds unique other than `primary`'s.
pub(crate) fn other_keys(row: &Row, target: &Target, primary: Option<&Key>) -> Vec<Key> {
    crate::vendors::platform(target.vendor)
        .unique
        .iter()
        .filter(|f| primary.is_none_or(|k| k.field != **f))
        .filter_map(|f| {
            let col = row.layout.column_of(*f)?;
            let value = row.cell(col)?.trim();
            (!value.is_empty()).then(|| key_of(*f, col, value, target))
        })
        .collect()
}

/// The key of `value`, in `field`'s column `col`, for `target`.
fn key_of(field: Field, col: usize, value: &str, target: &Target) -> Key {
    let mut key = Key {
        hash: 0,
        col,
        field,
        len: NOT_INLINE,
        text: [0; INLINE],
    };
    let mut h = SEED.build_hasher();
    h.write(target.name.as_bytes());
    h.write_u8(field as u8);
    if value.is_ascii() && value.len() <= INLINE {
        let lower = &mut key.text[..value.len()];
        lower.copy_from_slice(value.as_bytes());
        lower.make_ascii_lowercase();
        h.write(lower);
        key.len = value.len() as u8;
    } else {
        // Longer or not ASCII (rare): hashed the same way, the text left in the row.
        let mut lower = String::new();
        lower_into(value, &mut lower);
        h.write(lower.as_bytes());
    }
    key.hash = h.finish();
    key
}

/// A key seen first: which target and field, where its lower-cased text lies in
/// `Duplicates::keys`, and enough to name the cell it was in. 32 bytes: a million of them
/// are memory first touched as the keys come.
#[derive(Debug)]
struct Seen {
    /// The page of `keys` its text is on, and where.
    page: u32,
    start: u32,
    len: u32,
    target: u32,
    layout: u32,
    line: u32,
    col: u32,
    field: Field,
}

const _: () = assert!(std::mem::size_of::<Seen>() == 32);

/// Keys' text is kept on pages of this many bytes, so that remembering more keys never
/// copies those remembered (as one growing string would, twenty times for a million).
const KEY_PAGE: usize = 1 << 20;
/// Keys per page of `Duplicates::seen`, for the same reason.
const SEEN_PAGE: usize = 1 << 16;

/// Remembers identity keys seen so far, per target, to flag later duplicates.
///
/// A million rows pass through here one at a time on one thread, so the work a row is
/// small: its key was hashed beside the other rules ([`key`]), and here it is looked up
/// by that hash. Only when 32 bits of the hash match a key seen before are the two
/// compared, in full (a hash collision never makes two keys equal), and only a new key's
/// text is copied (lower-cased, onto a page of key text). Targets and layouts are kept
/// once, by index.
///
/// The table ([`Slots`]) holds 8 bytes a slot, so a million keys take 16 MiB, more than
/// the processor's cache: a look-up would wait for memory every time, so the places of a
/// few keys ahead are read first ([`Duplicates::warm`]), all at once.
#[derive(Debug, Default)]
pub struct Duplicates {
    table: Slots,
    /// The keys seen first, in input order, on pages of [`SEEN_PAGE`].
    seen: Vec<Vec<Seen>>,
    /// Every remembered key's lower-cased text (UTF-8, compared as bytes), one after
    /// another on pages of [`KEY_PAGE`] bytes (a longer key has a page of its own).
    keys: Vec<Vec<u8>>,
    /// Target names by index (a roster names a few), and the last one looked up.
    targets: Vec<String>,
    last_target: Option<(Arc<Target>, u32)>,
    /// Layouts of the rows that were first, by index (one per table).
    layouts: Vec<Arc<Layout>>,
    /// The key being checked, lower-cased.
    buf: String,
}

impl Duplicates {
    /// Records `row`'s key for `target` (found by [`key`], beside the other rules); a
    /// problem when an earlier row had the same key. Rows must come in input order.
    pub fn check_key(&mut self, row: &Row, target: &Arc<Target>, key: &Key) -> Option<Problem> {
        let t = self.target_index(target);
        let layout = self.layout_index(&row.layout);
        let hash = fold(key.hash);
        let text = match key.inline() {
            Some(text) => text,
            None => {
                lower_into(
                    row.cell(key.col).map(str::trim).unwrap_or(""),
                    &mut self.buf,
                );
                self.buf.as_bytes()
            }
        };
        let (keys, seen) = (&self.keys, &self.seen);
        let found = self.table.find(hash, |i| {
            seen_at(seen, i).is_some_and(|s| {
                s.target == t && s.field == key.field && key_text(keys, s) == Some(text)
            })
        });
        if let Some(first) = found.and_then(|i| seen_at(&self.seen, i)) {
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
            .locate(first.col as usize);
            return Some(Problem::cell(
                row,
                key.col,
                format!(
                    "is a duplicate of row {} ({place}) for target {}",
                    first.line, target.name
                ),
            ));
        }
        let (Some(index), Ok(col)) = (
            u32::try_from(self.table.len())
                .ok()
                .filter(|&i| i < u32::MAX),
            u32::try_from(key.col),
        ) else {
            // Past 4 billion keys (or columns) nothing more is remembered, and no key text
            // is kept for it (no roster comes near).
            return None;
        };
        let page = match self.keys.last_mut() {
            Some(page) if page.capacity() - page.len() >= text.len() => page,
            _ => {
                self.keys.push(Vec::with_capacity(KEY_PAGE.max(text.len())));
                self.keys.last_mut()?
            }
        };
        let start = page.len();
        page.extend_from_slice(text);
        let seen = Seen {
            page: u32::try_from(self.keys.len() - 1).ok()?,
            start: u32::try_from(start).ok()?,
            len: u32::try_from(text.len()).ok()?,
            target: t,
            layout,
            line: row.line,
            col,
            field: key.field,
        };
        match self.seen.last_mut() {
            Some(page) if page.len() < SEEN_PAGE => page.push(seen),
            _ => {
                let mut page = Vec::with_capacity(SEEN_PAGE);
                page.push(seen);
                self.seen.push(page);
            }
        }
        self.table.insert(hash, index);
        None
    }

    /// Reads the table where `keys` will be looked up, so that the memory they need is
    /// fetched all at once (the reads do not wait for each other) and is in the cache when
    /// [`Duplicates::check_key`] looks them up in turn.
    pub fn warm<'k>(&self, keys: impl Iterator<Item = &'k Key>) {
        let seen = keys.fold(0, |acc, key| acc ^ self.table.peek(fold(key.hash)));
        std::hint::black_box(seen);
    }

    /// The index of `target` (by name), added when new.
    fn target_index(&mut self, target: &Arc<Target>) -> u32 {
        if let Some((last, i)) = &self.last_target
            && (Arc::ptr_eq(last, target) || last.name == target.name)
        {
            return *i;
        }
        let i = match self.targets.iter().rposition(|t| *t == target.name) {
            Some(i) => i,
            None => {
                self.targets.push(target.name.clone());
                self.targets.len() - 1
            }
        };
        let i = u32::try_from(i).expect("a roster names fewer than 4 billion targets");
        self.last_target = Some((target.clone(), i));
        i
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

/// The key seen first with index `i`.
fn seen_at(seen: &[Vec<Seen>], i: u32) -> Option<&Seen> {
    let i = i as usize;
    seen.get(i / SEEN_PAGE)?.get(i % SEEN_PAGE)
}

/// The lower-cased text of a key seen first.
fn key_text<'k>(keys: &'k [Vec<u8>], s: &Seen) -> Option<&'k [u8]> {
    let start = s.start as usize;
    keys.get(s.page as usize)?
        .get(start..start + s.len as usize)
}

/// `value` lower-cased into `buf` (as `value.to_lowercase()`, without allocating for
/// ASCII text).
fn lower_into(value: &str, buf: &mut String) {
    buf.clear();
    if value.is_ascii() {
        buf.push_str(value);
        buf.make_ascii_lowercase();
    } else {
        buf.push_str(&value.to_lowercase());
    }
}

/// 32 bits of a 64-bit hash (all of its bits count).
fn fold(hash: u64) -> u32 {
    (hash ^ (hash >> 32)) as u32
}

/// The keys seen first, by 32 bits of their hash: an open-addressing table (linear
/// probing, at most half full) whose slot holds the hash and the key's index in
/// `Duplicates::seen` in one word, so a look-up reads one cache line. hashbrown keeps
/// them in two (control bytes and buckets) and offers no way to read ahead
/// ([`Duplicates::warm`]).
#[derive(Debug, Default)]
struct Slots {
    /// 0 when empty, else the hash in the high 32 bits and the index plus one below.
    slots: Vec<u64>,
    len: usize,
}

impl Slots {
    /// Slots in a new table.
    const FIRST: usize = 1 << 10;

    /// Where `hash` starts probing: the top bits of its Fibonacci product.
    fn home(&self, hash: u32) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    /// The word in `hash`'s first slot (0 in an empty table), only to fetch its memory.
    fn peek(&self, hash: u32) -> u64 {
        match self.slots.is_empty() {
            true => 0,
            false => self.slots[self.home(hash)],
        }
    }

    /// The slots `hash` probes, in order, with their words, from its home on (none in an
    /// empty table; the table is never full, so an empty slot ends every probe).
    fn probe(&self, hash: u32) -> impl Iterator<Item = (usize, u64)> + '_ {
        let (mask, home) = match self.slots.len() {
            0 => (0, 0),
            n => (n - 1, self.home(hash)),
        };
        (0..self.slots.len()).map(move |k| {
            let at = (home + k) & mask;
            (at, self.slots[at])
        })
    }

    /// The index of the first key with `hash` for which `same` holds.
    fn find(&self, hash: u32, mut same: impl FnMut(u32) -> bool) -> Option<u32> {
        self.probe(hash)
            .map(|(_, slot)| slot)
            .take_while(|&slot| slot != 0)
            .filter(|&slot| (slot >> 32) as u32 == hash)
            .map(|slot| (slot as u32).wrapping_sub(1))
            .find(|&index| same(index))
    }

    /// Adds a key not in the table (`index` below `u32::MAX`).
    fn insert(&mut self, hash: u32, index: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.place(u64::from(hash) << 32 | u64::from(index + 1));
        self.len += 1;
    }

    /// Puts `slot` in the first empty slot from its home.
    fn place(&mut self, slot: u64) {
        let empty = self.probe((slot >> 32) as u32).find(|&(_, s)| s == 0);
        if let Some((at, _)) = empty {
            self.slots[at] = slot;
        }
    }

    /// Doubles the slots (or makes the first ones) and places every key again.
    ///
    /// The new slots are written, not only allocated zeroed: memory the system hands out
    /// zeroed is first mapped to a shared page of zeros, so a look-up's read followed by an
    /// insert's write would fault twice on each page, the second time stopping the other
    /// cores to flush their address caches. Writing the zeros faults each page once.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(Slots::FIRST);
        let mut slots = Vec::with_capacity(size);
        // `black_box`: a known zero would let the allocation become a zeroed one again.
        slots.resize(size, std::hint::black_box(0));
        let old = std::mem::replace(&mut self.slots, slots);
        for slot in old.into_iter().filter(|&s| s != 0) {
            self.place(slot);
        }
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{messages, row};

    #[test]
    fn the_table_finds_each_key_it_was_given_and_no_other() {
        // Hashes that collide a lot (the same 32 bits for many keys) across several
        // growths; a key is told apart by its index.
        for spread in [1u32, 7, 1 << 20, u32::MAX] {
            let mut table = Slots::default();
            let hash = |i: u32| i.wrapping_mul(spread) % 5_003;
            for i in 0..20_000u32 {
                assert_eq!(
                    table.find(hash(i), |k| k == i),
                    None,
                    "{i} before it is added"
                );
                table.insert(hash(i), i);
            }
            assert_eq!(table.len(), 20_000);
            assert!(table.slots.len() >= 40_000, "at most half full");
            for i in 0..20_000u32 {
                assert_eq!(table.find(hash(i), |k| k == i), Some(i));
                assert_eq!(table.find(hash(i) ^ 1 << 31, |k| k == i), None);
            }
        }
        assert_eq!(Slots::default().find(3, |_| true), None);
        assert_eq!(Slots::default().peek(3), 0);
    }

    fn target(name: &str, vendor: VendorKind) -> Arc<Target> {
        Arc::new(Target::with_defaults(name, vendor, ""))
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

    impl Duplicates {
        /// [`Duplicates::check_key`] with the key found here.
        fn check(&mut self, row: &Row, target: &Arc<Target>) -> Option<Problem> {
            let key = key(row, &Columns::of(&row.layout), target)?;
            self.check_key(row, target, &key)
        }
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
            // The Kelvin sign lower-cases to an ASCII `k`: one key is held in its `Key`,
            // the other read from its row.
            ("\u{212A}ATE@example.com", "kate@example.com", true),
        ];
        // Keys held in the `Key` (up to 46 bytes) and keys read from the row again.
        let long: Vec<(String, String, bool)> = [45, 46, 47, 80]
            .into_iter()
            .flat_map(|n| {
                let key = format!("{}@x.at", "J".repeat(n - 5));
                let other = format!("{}@x.au", "j".repeat(n - 5));
                [
                    (key.clone(), key.to_lowercase(), true),
                    (key.clone(), other, false),
                    (format!("É{key}"), format!("é{}", key.to_lowercase()), true),
                ]
            })
            .collect();
        let long: Vec<(&str, &str, bool)> = long
            .iter()
            .map(|(a, b, same)| (a.as_str(), b.as_str(), *same))
            .collect();
        let cases = [cases, long.as_slice()].concat();
        for (a, b, same) in &cases {
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
