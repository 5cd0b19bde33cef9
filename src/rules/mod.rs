//! The checks a row's rules are made of: required fields, email syntax, phone digits,
//! yes/no values, enums, whole numbers, ISO dates, lists and password policies. `Rules`
//! collects the problems of one row. Each platform's own rules (`vendors::*::rules`) and
//! the validation stage call these checks by field; this module knows no platform.

use std::fmt;
use std::sync::Arc;

use email_address::{EmailAddress, Options};

mod confusable;

use crate::model::{Field, Layout, Problem, Row, parse_bool, split_list};

/// Whether `text` is a plain email address (`name@example.com`: no display name, no
/// domain literal, a dot in the domain).
pub fn is_email(text: &str) -> bool {
    let text = trim(text);
    if plain_ascii_email(text) {
        return true;
    }
    let options = Options::default()
        .without_display_text()
        .without_domain_literal()
        .with_required_tld();
    EmailAddress::parse_with_options(text, options).is_ok()
}

/// A byte `plain_ascii_email` refuses (not `atext`, not a dot).
const OTHER: u8 = 0;
/// An ASCII letter or digit.
const ALNUM: u8 = 1;
/// Any other `atext` of RFC 5322 within ASCII: ``!#$%&'*+-/=?^_`{|}~``.
const SYM: u8 = 2;
/// `.`
const DOT: u8 = 3;

/// The class of each byte for `plain_ascii_email`: [`OTHER`], [`ALNUM`], [`SYM`], [`DOT`].
static CLASS: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        table[c] = if b.is_ascii_alphanumeric() {
            ALNUM
        } else if b == b'.' {
            DOT
        } else if matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        ) {
            SYM
        } else {
            OTHER
        };
        c += 1;
    }
    table
};

/// The local part's automaton, by `state * 4 + class`: state 0 at the start of an atom,
/// 1 inside one, 2 refused (3 unused). Accepted when it ends in state 1.
const LOCAL: [u8; 16] = [
    2, 1, 1, 2, // at an atom's start: a dot here is a leading or a second dot
    2, 1, 1, 0, // inside an atom: a dot ends it
    2, 2, 2, 2, // refused
    2, 2, 2, 2, // unused
];

/// The domain's automaton, by `state * 4 + class`: state 0 at the start of a label, 1
/// after a letter or digit, 2 after other atext, 3 refused. Accepted when it ends in
/// state 1 (a label ends with a letter or digit; none is empty).
const DOMAIN: [u8; 16] = [
    3, 1, 3, 3, // a label starts with a letter or digit
    3, 1, 2, 0, // after a letter or digit, a dot ends the label
    3, 1, 2, 3, // after other atext, a dot would end the label with it
    3, 3, 3, 3, // refused
];

/// The usual address, checked without the parser: ASCII, `local@domain`, the local part
/// dot-separated atoms of at most 64 bytes, the domain at most 254 bytes in two or more
/// labels of at most 63 bytes that start and end with a letter or digit. Each of these is
/// a rule `email_address` applies with the options `is_email` uses, so every text accepted
/// here the parser accepts too; anything else (quotes, `<`, non-ASCII, a bad address) goes
/// to the parser, whose verdict stands. A million rows' emails cost a tenth as much so.
fn plain_ascii_email(text: &str) -> bool {
    // Each byte is looked up once in `CLASS` and moves a small automaton: branches per
    // byte cost more than the table look-ups.
    let bytes = text.as_bytes();
    // Up to the first `@`: a second one is not atext, so the domain refuses it.
    let Some(at) = bytes.iter().position(|c| *c == b'@') else {
        return false;
    };
    let (local, domain) = (&bytes[..at], &bytes[at + 1..]);
    if local.is_empty() || local.len() > 64 || domain.len() > 254 {
        return false;
    }
    let mut state = 0u8;
    for &c in local {
        // `& 3`: indexes provably in bounds, so no check per byte.
        state = LOCAL[usize::from(state & 3) * 4 + usize::from(CLASS[usize::from(c)] & 3)];
    }
    if state != 1 {
        return false;
    }
    let (mut state, mut dots) = (0u8, 0usize);
    for &c in domain {
        let class = CLASS[usize::from(c)];
        dots += usize::from(class == DOT);
        state = DOMAIN[usize::from(state & 3) * 4 + usize::from(class & 3)];
    }
    state == 1
        && dots >= 1
        && (domain.len() <= 63 || domain.split(|c| *c == b'.').all(|l| l.len() <= 63))
}

/// `s.trim()`, without looking at characters when `s` starts and ends with a visible
/// ASCII character (every cell muster read is trimmed already).
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Whether `text` is a phone number: digits with an optional leading `+`, spaces, dashes,
/// dots and parentheses; 6 to 15 digits (E.164 allows at most 15).
pub fn is_phone(text: &str) -> bool {
    let text = trim(text).as_bytes();
    let body = text.strip_prefix(b"+").unwrap_or(text);
    let mut digits = 0;
    // Bytes, not chars: a byte of a non-ASCII character is refused like the character.
    for &c in body {
        match c {
            b'0'..=b'9' => digits += 1,
            b' ' | b'-' | b'(' | b')' | b'.' => {}
            _ => return false,
        }
    }
    (6..=15).contains(&digits)
}

/// What a password policy asks for.
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    pub min: usize,
    pub max: Option<usize>,
    pub special: bool,
}

impl PasswordPolicy {
    /// What is wrong with `password`, as short phrases; empty when it complies.
    pub fn faults(self, password: &str) -> Vec<String> {
        let mut faults = Vec::new();
        let len = password.chars().count();
        if len < self.min {
            faults.push(format!("shorter than {} characters", self.min));
        }
        if let Some(max) = self.max.filter(|max| len > *max) {
            faults.push(format!("longer than {max} characters"));
        }
        if !password.chars().any(|c| c.is_ascii_digit()) {
            faults.push("no digit".into());
        }
        if !password.chars().any(char::is_lowercase) {
            faults.push("no lower-case letter".into());
        }
        if !password.chars().any(char::is_uppercase) {
            faults.push("no upper-case letter".into());
        }
        if self.special && !password.chars().any(|c| !c.is_alphanumeric()) {
            faults.push("no special character".into());
        }
        faults
    }
}

impl fmt::Display for PasswordPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            Some(max) => write!(f, "{}–{max} characters", self.min)?,
            None => write!(f, "at least {} characters", self.min)?,
        }
        f.write_str(" with a digit, a lower-case and an upper-case letter")?;
        if self.special {
            f.write_str(" and a special character")?;
        }
        Ok(())
    }
}

/// `layout.column_of(f)` for every field `f`, by `f as usize`: the rules look a row's
/// fields up some twenty times, and a table is cheaper than as many searches. Built once
/// per layout (see [`Columns::of`]), not once per row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns([Option<usize>; FIELDS]);

impl Columns {
    /// The table of `layout`.
    pub fn of(layout: &Layout) -> Columns {
        let mut columns = [None; FIELDS];
        // From the right, so the first column of a field wins, as in `column_of`.
        for (col, field) in layout.fields.iter().enumerate().rev() {
            if let Some(slot) = field.and_then(|f| columns.get_mut(f as usize)) {
                *slot = Some(col);
            }
        }
        Columns(columns)
    }

    /// The column of `field`, if the layout has one.
    pub fn get(&self, field: Field) -> Option<usize> {
        self.0.get(field as usize).copied().flatten()
    }
}

/// The column tables of the layouts seen last, by layout (compared by pointer: rows of
/// one table share their `Arc<Layout>`).
#[derive(Debug, Default)]
pub struct ColumnsCache {
    last: Option<(Arc<Layout>, Columns)>,
}

impl ColumnsCache {
    /// The table of `layout`, built when it is not the one asked for last.
    pub fn get(&mut self, layout: &Arc<Layout>) -> &Columns {
        if !matches!(&self.last, Some((l, _)) if Arc::ptr_eq(l, layout)) {
            self.last = Some((layout.clone(), Columns::of(layout)));
        }
        // Never builds: `last` was just set when it did not hold `layout`.
        let (_, columns) = self
            .last
            .get_or_insert_with(|| (layout.clone(), Columns::of(layout)));
        columns
    }
}

/// The problems of one row, and the checks that add to them.
pub struct Rules<'r> {
    pub row: &'r Row,
    pub problems: Vec<Problem>,
    /// The row's layout's column of every field.
    columns: &'r Columns,
}

/// How many fields there are.
const FIELDS: usize = Field::ALL.len();

impl<'r> Rules<'r> {
    /// The rules of `row`, whose layout's table is `columns` (`Columns::of(&row.layout)`).
    pub fn new(row: &'r Row, columns: &'r Columns) -> Rules<'r> {
        debug_assert_eq!(*columns, Columns::of(&row.layout));
        Rules {
            row,
            problems: Vec::new(),
            columns,
        }
    }

    /// The column of `field` in the row's layout, if it has one.
    fn column_of(&self, field: Field) -> Option<usize> {
        self.columns.get(field)
    }

    /// The column of `field`, unless it is absent or holds a spreadsheet error (reported
    /// once already, so no rule looks at it again).
    fn col(&self, field: Field) -> Option<usize> {
        let col = self.column_of(field)?;
        if self.row.errors.iter().any(|e| e.col == col) {
            return None;
        }
        Some(col)
    }

    /// Whether the cell of `field` holds a spreadsheet error.
    fn errored(&self, field: Field) -> bool {
        self.column_of(field)
            .is_some_and(|col| self.row.errors.iter().any(|e| e.col == col))
    }

    /// The trimmed value of `field`; `None` when absent, blank or an error cell.
    pub fn get(&self, field: Field) -> Option<&'r str> {
        let row: &'r Row = self.row;
        let col = self.col(field)?;
        row.cell(col).map(trim).filter(|s| !s.is_empty())
    }

    /// Adds a problem with the value of `field` (or its absence).
    pub fn fail(&mut self, field: Field, rule: impl fmt::Display) {
        self.problems.push(Problem::field(self.row, field, rule));
    }

    /// Adds a problem about `field` that names the cell but never its value (passwords).
    pub fn fail_secret(&mut self, field: Field, rule: impl fmt::Display) {
        let problem = match self.column_of(field) {
            Some(col) => Problem {
                col: Some(col),
                message: format!(
                    "{} ({}): {rule}",
                    self.row.header(col),
                    self.row.cell_name(col)
                ),
            },
            None => Problem::row(format!("{field}: {rule}")),
        };
        self.problems.push(problem);
    }

    /// `field` must have a value.
    pub fn require(&mut self, field: Field) -> Option<&'r str> {
        let value = self.get(field);
        if value.is_none() && !self.errored(field) {
            self.fail(field, "is required");
        }
        value
    }

    /// At least one of `fields` must have a value; the problem is put on the first.
    pub fn require_one_of(&mut self, fields: &[Field]) {
        if fields
            .iter()
            .any(|f| self.get(*f).is_some() || self.errored(*f))
        {
            return;
        }
        let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
        let rule = format!("is required (give {})", names.join(" or "));
        self.fail(fields[0], rule);
    }

    /// Formats every vendor shares: email and phone, when given.
    pub fn formats(&mut self) {
        self.email(Field::Email);
        self.phone(Field::Phone);
    }

    pub fn email(&mut self, field: Field) {
        if let Some(v) = self.get(field) {
            if !is_email(v) {
                self.fail(field, "is not an email address");
            } else if let Some(rule) = confusable::confusable_email(v) {
                self.fail(field, rule);
            }
        }
    }

    pub fn phone(&mut self, field: Field) {
        if let Some(v) = self.get(field) {
            if !is_phone(v) {
                self.fail(
                    field,
                    "is not a phone number (6 to 15 digits, optional leading +, spaces, dashes or parentheses)",
                );
            }
        }
    }

    /// A yes/no cell; `None` when blank or not a yes/no value (then a problem is added).
    pub fn boolean(&mut self, field: Field) -> Option<bool> {
        let v = self.get(field)?;
        let parsed = parse_bool(v);
        if parsed.is_none() {
            self.fail(
                field,
                "is not a yes/no value (use true/false, yes/no, 1/0 or x)",
            );
        }
        parsed
    }

    /// One of `allowed`, compared case-insensitively; returns the canonical spelling.
    pub fn one_of(&mut self, field: Field, allowed: &[&'static str]) -> Option<&'static str> {
        let v = self.get(field)?;
        // Most cells are spelled as allowed: an exact match first is cheaper than folding
        // case (the allowed values differ from each other in more than case).
        let found = allowed
            .iter()
            .find(|a| **a == v)
            .or_else(|| allowed.iter().find(|a| a.eq_ignore_ascii_case(v)))
            .copied();
        if found.is_none() {
            self.fail(field, format!("is not one of {}", allowed.join(", ")));
        }
        found
    }

    /// A whole number in `min..=max`.
    pub fn integer(&mut self, field: Field, min: i64, max: i64) -> Option<i64> {
        let v = self.get(field)?;
        match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            Ok(_) => {
                self.fail(field, format!("is not between {min} and {max}"));
                None
            }
            Err(_) => {
                self.fail(field, "is not a whole number");
                None
            }
        }
    }

    /// At most `max` characters.
    pub fn max_len(&mut self, field: Field, max: usize) {
        if let Some(v) = self.get(field) {
            if v.chars().count() > max {
                self.fail(field, format!("is longer than {max} characters"));
            }
        }
    }

    /// An ISO 8601 date (`2027-12-31`) or date-time (`2027-12-31T23:59:00Z`).
    pub fn iso_date(&mut self, field: Field) {
        let Some(v) = self.get(field) else { return };
        let ok = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()
            || chrono::DateTime::parse_from_rfc3339(v).is_ok()
            || chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S").is_ok()
            || chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S").is_ok();
        if !ok {
            self.fail(
                field,
                "is not an ISO date (2027-12-31 or 2027-12-31T23:59:00Z)",
            );
        }
    }

    /// A list cell; an empty item (`a||b`, a trailing `|`) is a problem.
    pub fn list(&mut self, field: Field) -> Vec<&'r str> {
        let Some(v) = self.get(field) else {
            return Vec::new();
        };
        let items = split_list(v);
        if items.iter().any(|i| i.is_empty()) {
            self.fail(field, "has an empty item (separate items with a single |)");
        }
        items.into_iter().filter(|i| !i.is_empty()).collect()
    }

    /// The password, when given, must follow `policy`; the message never shows it.
    pub fn password(&mut self, policy: PasswordPolicy, consequence: &str) {
        let Some(v) = self.get(Field::Password) else {
            return;
        };
        let faults = policy.faults(v);
        if !faults.is_empty() {
            self.fail_secret(
                Field::Password,
                format!(
                    "is too weak ({}): it must have {policy}{consequence}",
                    faults.join(", ")
                ),
            );
        }
    }
}

#[cfg(test)]
/// Rows for rule tests.
pub(crate) mod testing {
    use std::sync::Arc;

    use crate::model::{Field, Layout, Row};

    pub fn row(cells: &[(Field, &str)]) -> Row {
        Row {
            index: 0,
            layout: Arc::new(Layout {
                file: "roster.csv".into(),
                sheet: "roster".into(),
                is_workbook: false,
                header_row: 1,
                headers: cells.iter().map(|(f, _)| f.name().to_string()).collect(),
                fields: cells.iter().map(|(f, _)| Some(*f)).collect(),
                passthrough: vec![],
            }),
            line: 7,
            cells: cells.iter().map(|(_, v)| v.to_string()).collect(),
            errors: vec![],
        }
    }

    /// The messages of `problems`.
    pub fn messages(problems: &[crate::model::Problem]) -> Vec<String> {
        problems.iter().map(|p| p.message.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{messages, row};

    #[test]
    fn emails() {
        for (text, ok) in [
            ("jane@example.com", true),
            ("jane.roe+fleet@sub.example.co.uk", true),
            ("JANE@EXAMPLE.COM", true),
            ("not-an-email", false),
            ("jane@", false),
            ("jane@localhost", false),
            ("Jane <jane@example.com>", false),
            ("jane@[127.0.0.1]", false),
            ("jane roe@example.com", false),
        ] {
            assert_eq!(is_email(text), ok, "{text}");
        }
    }

    #[test]
    fn the_plain_email_path_accepts_only_what_the_parser_accepts() {
        let options = Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_required_tld();
        let parser = |t: &str| EmailAddress::parse_with_options(t.trim(), options).is_ok();
        let fixed = [
            "jane@example.com",
            "a.b-c_d+e@x-y.example.org",
            "jane..roe@example.com",
            ".jane@example.com",
            "jane.@example.com",
            "jane@-example.com",
            "jane@example-.com",
            "jane@example..com",
            "jane@example.com.",
            "jane@@example.com",
            "a@b@example.com",
            "\"jane\"@example.com",
            "jane@[1.2.3.4]",
            "jane@exa_mple.com",
            "j!#$%&'*+/=?^_`{|}~@example.com",
            "jane@ex!ample.com",
            "x@1.2",
            "jürgen@example.com",
            "jane@exämple.com",
            " jane@example.com ",
            "jane <jane@example.com>",
        ];
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_label = format!("jane@{}.com", "a".repeat(64));
        let long_domain = format!("jane@{}com", "abcdefghi.".repeat(25));
        let mut texts: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
        texts.extend([long_local, long_label, long_domain]);
        // Every short string over an alphabet of the characters that matter.
        let alphabet = ['a', 'Z', '0', '.', '@', '-', '_', '"', '[', ' ', '<', 'é'];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 9) as usize + 3;
            let t: String = (0..len)
                .map(|i| alphabet[((seed >> (i * 5)) % alphabet.len() as u64) as usize])
                .collect();
            texts.push(t);
        }
        for t in &texts {
            if plain_ascii_email(t) {
                assert!(parser(t), "fast path accepted {t:?}, the parser does not");
            }
            assert_eq!(is_email(t), parser(t), "{t:?}");
        }
        assert!(plain_ascii_email("jane@example.com"));
        assert!(!plain_ascii_email("jane@localhost"));
    }

    #[test]
    fn the_column_table_agrees_with_column_of() {
        let mut r = row(&[
            (Field::Email, "a@example.com"),
            (Field::Phone, "+43 664 1234567"),
            (Field::Email, "second@example.com"),
        ]);
        let layout = std::sync::Arc::make_mut(&mut r.layout);
        layout.fields.push(None);
        layout.headers.push("notes".into());
        let columns = Columns::of(&r.layout);
        let rules = Rules::new(&r, &columns);
        for f in Field::ALL {
            assert_eq!(rules.column_of(*f), r.layout.column_of(*f), "{f}");
        }
        assert_eq!(rules.get(Field::Email), Some("a@example.com"));
    }

    #[test]
    fn phones() {
        for (text, ok) in [
            ("+43 664 1234567", true),
            ("4366412345678", true),
            ("(555) 123-4567", true),
            ("+1-555-123-4567", true),
            ("12345", false),
            ("1234567890123456", false),
            ("555-CALL-NOW", false),
            ("++43 664 1234567", false),
            ("", false),
        ] {
            assert_eq!(is_phone(text), ok, "{text}");
        }
    }

    #[test]
    fn booleans() {
        for (text, b) in [
            ("true", Some(true)),
            ("YES", Some(true)),
            ("x", Some(true)),
            ("1", Some(true)),
            ("False", Some(false)),
            ("no", Some(false)),
            ("0", Some(false)),
            ("maybe", None),
        ] {
            assert_eq!(parse_bool(text), b, "{text}");
        }
    }

    #[test]
    fn lists_split_on_pipe_or_semicolon() {
        assert_eq!(split_list("a | b|c"), ["a", "b", "c"]);
        assert_eq!(split_list("a;b"), ["a", "b"]);
        assert_eq!(split_list("a;b|c"), ["a;b", "c"]);
        assert_eq!(split_list("a, b"), ["a, b"]);
        assert_eq!(split_list("a||b"), ["a", "", "b"]);
    }

    #[test]
    fn rule_messages() {
        type Check = fn(&mut Rules);
        let cases: &[(Field, &str, Check, &str)] = &[
            (
                Field::Email,
                "x",
                |r| r.email(Field::Email),
                "email (A7): \"x\" is not an email address",
            ),
            (
                Field::Disabled,
                "maybe",
                |r| {
                    r.boolean(Field::Disabled);
                },
                "disabled (A7): \"maybe\" is not a yes/no value (use true/false, yes/no, 1/0 or x)",
            ),
            (
                Field::Role,
                "boss",
                |r| {
                    r.one_of(Field::Role, &["driver", "admin"]);
                },
                "role (A7): \"boss\" is not one of driver, admin",
            ),
            (
                Field::DeviceLimit,
                "ten",
                |r| {
                    r.integer(Field::DeviceLimit, -1, 10);
                },
                "device_limit (A7): \"ten\" is not a whole number",
            ),
            (
                Field::DeviceLimit,
                "-5",
                |r| {
                    r.integer(Field::DeviceLimit, -1, 10);
                },
                "device_limit (A7): \"-5\" is not between -1 and 10",
            ),
            (
                Field::ExpirationTime,
                "31.12.2027",
                |r| r.iso_date(Field::ExpirationTime),
                "expiration_time (A7): \"31.12.2027\" is not an ISO date (2027-12-31 or 2027-12-31T23:59:00Z)",
            ),
            (
                Field::Devices,
                "a||b",
                |r| {
                    r.list(Field::Devices);
                },
                "devices (A7): \"a||b\" has an empty item (separate items with a single |)",
            ),
            (
                Field::Email,
                "",
                |r| {
                    r.require(Field::Email);
                },
                "email (A7): is required",
            ),
            (
                Field::Password,
                "weak",
                |r| {
                    r.password(
                        PasswordPolicy {
                            min: 8,
                            max: None,
                            special: false,
                        },
                        "",
                    )
                },
                "password (A7): is too weak (shorter than 8 characters, no digit, no upper-case letter): it must have at least 8 characters with a digit, a lower-case and an upper-case letter",
            ),
        ];
        for (field, value, check, expected) in cases {
            let row = row(&[(*field, value)]);
            let columns = Columns::of(&row.layout);
            let mut rules = Rules::new(&row, &columns);
            check(&mut rules);
            assert_eq!(messages(&rules.problems), [*expected]);
        }
    }

    #[test]
    fn valid_values_pass_every_rule() {
        let row = row(&[
            (Field::Email, "jane@example.com"),
            (Field::Disabled, "no"),
            (Field::DeviceLimit, "-1"),
            (Field::ExpirationTime, "2027-12-31T23:59:00Z"),
            (Field::Devices, "Bike 01|Bike 02"),
            (Field::Password, "Str0ngPass"),
        ]);
        let columns = Columns::of(&row.layout);
        let mut r = Rules::new(&row, &columns);
        r.email(Field::Email);
        r.boolean(Field::Disabled);
        r.integer(Field::DeviceLimit, -1, 1000);
        r.iso_date(Field::ExpirationTime);
        assert_eq!(r.list(Field::Devices), ["Bike 01", "Bike 02"]);
        r.password(
            PasswordPolicy {
                min: 8,
                max: None,
                special: false,
            },
            "",
        );
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn missing_column_is_named_by_field() {
        let row = row(&[(Field::Name, "Jane")]);
        let columns = Columns::of(&row.layout);
        let mut r = Rules::new(&row, &columns);
        r.require(Field::Email);
        r.require_one_of(&[Field::Email, Field::Username]);
        assert_eq!(
            messages(&r.problems),
            [
                "email: is required (no such column)",
                "email: is required (give email or username) (no such column)"
            ]
        );
    }
}
