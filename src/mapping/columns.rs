//! The column report (issue 27, DESIGN "Columns, defaults and the config's mapping"):
//! every source column of a table, the field it maps to, or why none, with the closest
//! fields. An ignored column that looks like a field, by its header or by its values,
//! carries [`Evidence`]: an import refuses to start while one does.
//!
//! Knows headers, fields and a sample of each column's values; not vendors' rules.

use serde::Serialize;
use strsim::normalized_damerau_levenshtein;

use super::{Overrides, PLATFORM_MEANINGS, PLATFORM_WORDS, normalise};
use crate::model::{Field, Layout};

/// How close (0..1, Damerau-Levenshtein) a header must be to a field's name or alias to
/// look like that field.
const CLOSE: f64 = 0.8;
/// The share of a column's sampled values that must look alike to say what they are.
const ALIKE: f64 = 0.8;
/// Spellings at least this long found inside a header make it look like their field
/// (`Backup e-mail` holds `email`).
const INSIDE: usize = 5;

/// One source column: where it is, the field it maps to (`email`, `motive.cycle`) or
/// `None` when ignored, and for an ignored column the closest fields and why none was
/// taken.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnReport {
    pub file: String,
    pub sheet: String,
    pub header: String,
    pub field: Option<String>,
    pub suggestion: Option<String>,
    /// Why this ignored column looks like a field; `None` for a mapped column, one the
    /// mapping ignores on purpose, and one that looks like nothing muster knows.
    #[serde(skip)]
    pub likely: Option<Evidence>,
}

/// Why an ignored column looks like a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub field: Field,
    /// `its values are IMEIs (12 of 12)`, `its header is close to "e-mail"`.
    pub why: String,
}

impl ColumnReport {
    /// The columns of `layout` (mapped by `mapping::map_layout`), with `samples[col]` the
    /// first non-empty values of each column.
    pub fn of_table(
        layout: &Layout,
        overrides: &Overrides,
        samples: &[Vec<String>],
    ) -> Vec<ColumnReport> {
        let mut out = Vec::with_capacity(layout.headers.len());
        let platform = super::platform_columns(layout);
        for (col, header) in layout.headers.iter().enumerate() {
            let through = layout
                .passthrough
                .iter()
                .find(|(c, _, _)| *c == col)
                .map(|(_, v, name)| format!("{v}.{name}"));
            let mut field = layout
                .fields
                .get(col)
                .copied()
                .flatten()
                .map(|f| f.name().to_string())
                .or(through);
            let mut likely = None;
            let own = platform
                .iter()
                .find(|(c, _, _)| *c == col)
                .filter(|_| !overrides.ignores(header));
            let suggestion = if let Some((_, vendor, f)) = own {
                let shared = layout
                    .column_of(*f)
                    .filter(|c| *c != col)
                    .map(|c| format!("; \"{}\" for the others", layout.headers[c]))
                    .unwrap_or_default();
                field = Some(f.name().to_string());
                Some(format!("for {vendor} rows only{shared}"))
            } else if field.is_some() {
                None
            } else if overrides.ignores(header) {
                Some("ignored by the mapping".to_string())
            } else {
                let values = samples.get(col).map(Vec::as_slice).unwrap_or(&[]);
                likely = by_values(values, layout).or_else(|| by_header(header));
                Some(match &likely {
                    Some(e) => format!(
                        "looks like {}: {}; map it, or set \"{header}\" = \"ignore\"",
                        e.field, e.why
                    ),
                    None => match closest(header).as_slice() {
                        [] => "no field is close".to_string(),
                        names => format!("closest: {}; none is close", names.join(", ")),
                    },
                })
            };
            out.push(ColumnReport {
                file: layout.file.clone(),
                sheet: layout.sheet.clone(),
                header: header.clone(),
                field,
                suggestion,
                likely,
            });
        }
        out
    }

    /// Marks a column muster wrote in an earlier run's Errors sheet (`status`, `error`,
    /// `source_file`, ...): not the roster's own, so not echoed; `target` and `action`
    /// are still read.
    pub fn earlier_run(&mut self) {
        self.likely = None;
        self.suggestion = Some(match self.field {
            Some(_) => "muster's column from an earlier run (read, not echoed)".into(),
            None => "muster's column from an earlier run (not read)".into(),
        });
    }

    /// Whether this column stops an import until it is mapped or ignored on purpose.
    pub fn blocks(&self) -> bool {
        self.likely.is_some()
    }

    /// One line for a refusal or a warning: `roster.xlsx, Roster: column "Kit" looks
    /// like devices (its values are IMEIs (3 of 3))`.
    pub fn finding(&self) -> Option<String> {
        let e = self.likely.as_ref()?;
        Some(format!(
            "{}, {}: column \"{}\" is ignored but looks like {} ({}); map it in [mapping] or --mapping (\"{}\" = \"{}\"), or ignore it (\"{}\" = \"ignore\")",
            self.file, self.sheet, self.header, e.field, e.why, self.header, e.field, self.header
        ))
    }
}

/// Why an import must not start: one line per ignored column that looks like a field, or
/// `None` when there is none.
pub fn unmapped(columns: &[ColumnReport]) -> Option<String> {
    let lines: Vec<String> = columns.iter().filter_map(ColumnReport::finding).collect();
    (!lines.is_empty()).then(|| {
        format!(
            "{} column(s) look like fields but are ignored; nothing was sent (--allow-unmapped runs anyway):\n{}",
            lines.len(),
            lines.join("\n")
        )
    })
}

/// What the values of a column look like, when most of them look alike. A column of
/// dates looks like `expiration_time` only when the table has none (a start date beside
/// `Valid until` is no field of muster's).
fn by_values(values: &[String], layout: &Layout) -> Option<Evidence> {
    if values.is_empty() {
        return None;
    }
    type Likeness = (&'static str, Field, fn(&str) -> bool);
    let kinds: [Likeness; 4] = [
        ("IMEIs", Field::Devices, is_imei),
        ("e-mail addresses", Field::Email, is_email_like),
        ("phone numbers", Field::Phone, is_phone_like),
        ("dates", Field::ExpirationTime, is_date_like),
    ];
    kinds.into_iter().find_map(|(name, field, test)| {
        if field == Field::ExpirationTime && layout.column_of(field).is_some() {
            return None;
        }
        let n = values.iter().filter(|v| test(v)).count();
        (n as f64 >= ALIKE * values.len() as f64).then(|| Evidence {
            field,
            why: format!("its values are {name} ({n} of {})", values.len()),
        })
    })
}

/// The field a header is close to, or holds a long spelling of.
fn by_header(header: &str) -> Option<Evidence> {
    let key = normalise(header);
    if key.chars().count() < 4 {
        return None;
    }
    let (score, spelling, field) = scores(&key).into_iter().next()?;
    if score >= CLOSE {
        return Some(Evidence {
            field,
            why: format!("its header is close to \"{spelling}\""),
        });
    }
    spellings()
        .filter(|(s, _)| normalise(s).chars().count() >= INSIDE)
        .find(|(s, _)| key.contains(&normalise(s)))
        .map(|(s, field)| Evidence {
            field,
            why: format!("its header holds \"{s}\""),
        })
}

/// The two fields closest to a header, best first.
fn closest(header: &str) -> Vec<&'static str> {
    let key = normalise(header);
    let mut names: Vec<&'static str> = Vec::new();
    for (score, _, field) in scores(&key) {
        if names.len() == 2 || score < 0.3 {
            break;
        }
        if !names.contains(&field.name()) {
            names.push(field.name());
        }
    }
    names
}

/// Every field name and alias.
fn spellings() -> impl Iterator<Item = (&'static str, Field)> {
    Field::ALL.iter().flat_map(|f| {
        std::iter::once(f.name())
            .chain(f.aliases().iter().copied())
            .map(move |s| (s, *f))
    })
}

/// Each spelling's closeness to `key`, best first.
fn scores(key: &str) -> Vec<(f64, &'static str, Field)> {
    let mut all: Vec<(f64, &'static str, Field)> = spellings()
        .map(|(s, f)| (normalized_damerau_levenshtein(key, &normalise(s)), s, f))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    all
}

/// 15 digits: an IMEI.
fn is_imei(v: &str) -> bool {
    v.len() == 15 && v.bytes().all(|b| b.is_ascii_digit())
}

/// `local@domain.tld` without spaces (a likeness, not validation).
fn is_email_like(v: &str) -> bool {
    match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

/// 7 to 15 digits with a leading `+` or `0`, or written with separators: a plain number
/// (an employee or bike number) is not taken for a phone, nor is a date.
fn is_phone_like(v: &str) -> bool {
    let digits = v.bytes().filter(u8::is_ascii_digit).count();
    let allowed = v
        .chars()
        .all(|c| c.is_ascii_digit() || " +-()./".contains(c));
    let marked =
        v.starts_with('+') || v.starts_with('0') || v.contains([' ', '-', '(', '/'].as_slice());
    allowed && marked && (7..=15).contains(&digits) && !is_date_like(v)
}

/// `2026-03-01` (as workbook dates are read), `01.03.2026`, `1/3/26`.
fn is_date_like(v: &str) -> bool {
    let parts: Vec<&str> = v
        .split([' ', 'T'])
        .next()
        .unwrap_or("")
        .split(['-', '.', '/'])
        .collect();
    let numbers = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()));
    numbers && (parts[0].len() == 4 || parts[2].len() >= 2)
}

/// Why a sheet is not read as a roster, or `None` when its header row maps what a row
/// needs: an identity (email, username or external id) and a target (a column, or
/// `has_target`: from `--target`, the sheet's name or the only target of the config).
pub fn needs(layout: &Layout, has_target: bool) -> Option<String> {
    let identity = [Field::Email, Field::Username, Field::ExternalId]
        .iter()
        .any(|f| layout.column_of(*f).is_some());
    let target = has_target || layout.column_of(Field::Target).is_some();
    match (identity, target) {
        (true, true) => None,
        (false, true) => {
            Some("no column maps to an identity (email, username or external_id)".into())
        }
        (true, false) => Some(
            "no target column, and the sheet's name is no target (--target or --sheet reads it)"
                .into(),
        ),
        (false, false) => Some("no column maps to an identity or a target".into()),
    }
}

/// "How columns are matched": the fields with their aliases, headers that name a
/// platform, and the mapping's syntax, as Markdown. The README carries this text (a test
/// checks it) and `muster fields` prints it.
pub fn fields_markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "Headers are matched after normalising: accents stripped, case folded, `#` read as \
         `no`, everything but letters and digits dropped (`E-Mail ` = `email`, `Employee #` = \
         `employee no`).\n\n\
         | field | aliases |\n|---|---|\n",
    );
    for f in Field::ALL {
        out.push_str(&format!(
            "| `{}` | {} |\n",
            f.name(),
            f.aliases().join(", ")
        ));
    }
    out.push_str(
        "\nA header that names a platform and then a field maps to that field (`Motive role` → \
         `role`). Words that mean something else on one platform:\n\n",
    );
    let words: Vec<String> = PLATFORM_WORDS
        .iter()
        .map(|(w, _)| format!("`{w}`"))
        .collect();
    for (vendor, word, field) in PLATFORM_MEANINGS {
        out.push_str(&format!("- {vendor}: `{vendor} {word}` → `{field}`\n"));
    }
    out.push_str(&format!("\nPlatform words: {}.\n", words.join(", ")));
    out.push_str(
        "\nA column `VENDOR.FIELD` (`motive.cycle`) passes a field to that platform as it is. \
         The mapping, in muster.toml's `[mapping]` or a `--mapping FILE` (which wins), says \
         `\"Header\" = \"field\"`, `\"Header\" = \"vendor.field\"` or `\"Header\" = \"ignore\"`.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{map_layout, qualified};

    #[test]
    fn the_readme_lists_the_fields_as_the_code_has_them() {
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&format!(
                "<!-- fields:start -->\n{}<!-- fields:end -->",
                fields_markdown()
            )),
            "README's \"How columns are matched\" differs from `muster fields`: paste its output between the fields markers"
        );
    }

    fn report(headers: &[&str], values: &[&[&str]], overrides: &Overrides) -> Vec<ColumnReport> {
        let mut layout = crate::mapping::tests::layout(headers);
        map_layout(&mut layout, overrides).unwrap();
        let samples: Vec<Vec<String>> = (0..headers.len())
            .map(|c| {
                values
                    .iter()
                    .filter_map(|r| r.get(c))
                    .filter(|v| !v.is_empty())
                    .map(|v| v.to_string())
                    .collect()
            })
            .collect();
        ColumnReport::of_table(&layout, overrides, &samples)
    }

    #[test]
    fn columns_that_look_like_fields_block_and_others_do_not() {
        let r = report(
            &[
                "E-mail address",
                "Valid until",
                "Start date",
                "Kit",
                "Private contact",
                "Notes",
                "Emial",
                "motive.cycle",
            ],
            &[
                &[
                    "a@x.test",
                    "2027-01-01",
                    "2026-01-01",
                    "356938035643809",
                    "a@home.test",
                    "new hire",
                    "",
                    "USA 70",
                ],
                &[
                    "b@x.test",
                    "",
                    "2026-02-01",
                    "356938035643810",
                    "b@home.test",
                    "",
                    "",
                    "",
                ],
            ],
            &Overrides::default(),
        );
        let got: Vec<(&str, Option<&str>, Option<Field>)> = r
            .iter()
            .map(|c| {
                (
                    c.header.as_str(),
                    c.field.as_deref(),
                    c.likely.as_ref().map(|e| e.field),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("E-mail address", Some("email"), None),
                ("Valid until", Some("expiration_time"), None),
                ("Start date", None, None),
                ("Kit", None, Some(Field::Devices)),
                ("Private contact", None, Some(Field::Email)),
                ("Notes", None, None),
                ("Emial", None, Some(Field::Email)),
                ("motive.cycle", Some("motive.cycle"), None),
            ]
        );
        assert_eq!(
            r[3].finding().unwrap(),
            "roster.xlsx, Roster: column \"Kit\" is ignored but looks like devices (its values are IMEIs (2 of 2)); map it in [mapping] or --mapping (\"Kit\" = \"devices\"), or ignore it (\"Kit\" = \"ignore\")"
        );
        assert!(r[5].suggestion.as_deref().unwrap().starts_with("closest: "));
    }

    #[test]
    fn the_mapping_ignores_on_purpose() {
        let overrides = Overrides::parse("\"Kit\" = \"ignore\"").unwrap();
        let r = report(
            &["Email", "Kit"],
            &[&["a@x.test", "356938035643809"]],
            &overrides,
        );
        assert!(!r[1].blocks());
        assert_eq!(r[1].suggestion.as_deref(), Some("ignored by the mapping"));
    }

    #[test]
    fn value_likenesses() {
        for v in ["+49 170 1234567", "0170-1234567", "(030) 123 4567"] {
            assert!(is_phone_like(v), "{v}");
        }
        for v in ["1234567", "10234", "2026-01-01", "+12"] {
            assert!(!is_phone_like(v), "{v}");
        }
        for v in ["2026-03-01", "01.03.2026", "1/3/26", "2026-03-01T00:00:00"] {
            assert!(is_date_like(v), "{v}");
        }
        for v in ["1.5", "12345", "v1.2.3"] {
            assert!(!is_date_like(v), "{v}");
        }
    }

    #[test]
    fn sheets_need_an_identity_and_a_target() {
        let mut layout = Layout {
            headers: vec!["Platform".into(), "Login".into()],
            ..Layout::default()
        };
        map_layout(&mut layout, &Overrides::default()).unwrap();
        assert_eq!(needs(&layout, false), None);
        let mut lists = Layout {
            headers: vec!["Roles".into(), "Companies".into()],
            ..Layout::default()
        };
        map_layout(&mut lists, &Overrides::default()).unwrap();
        assert_eq!(
            needs(&lists, true).as_deref(),
            Some("no column maps to an identity (email, username or external_id)")
        );
    }

    #[test]
    fn platform_headers_map_to_the_platforms_field() {
        for (header, field) in [
            ("DRTrack group", Field::UserGroup),
            ("Motive role", Field::Role),
            ("Pegasus group", Field::Company),
            ("PowUnity bikes", Field::Devices),
        ] {
            assert_eq!(
                qualified(&normalise(header)).map(|(_, f)| f),
                Some(field),
                "{header}"
            );
        }
    }
}
