//! Headers → fields: normalised names and aliases (DESIGN "Roster fields"), a mapping
//! file that overrides them, `VENDOR.FIELD` pass-through columns. Knows tables, not vendors'
//! rules.
//!
//! A header matches a field when both normalise to the same key ([`normalise`]): accents
//! stripped, case folded, and everything but letters and digits dropped, so `E-Mail `,
//! `e_mail` and `EMAIL` are all `email`. Per column, in order: the `--mapping` file
//! (`"Header" = "field"`, `""`/`"ignore"` to ignore, `"vendor.field"` for a pass-through),
//! then `VENDOR.FIELD` headers, then the field names and aliases of [`Field`]. Columns
//! that match nothing stay unmapped (`None`) and are echoed by the report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::model::{Field, Layout, VendorKind, column_letters};

mod columns;

pub use columns::{ColumnReport, Evidence, fields_markdown, needs, unmapped};

/// A mapping that cannot be used: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read mapping file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mapping file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{file}: columns {first} and {second} both map to field {field}")]
    TwoColumns {
        /// The file, and for a workbook the sheet: `roster.xlsx, Roster`.
        file: String,
        /// The first column's header and letter: `"E-Mail" (C)`.
        first: String,
        second: String,
        field: Field,
    },
}

/// `--mapping` overrides: normalised header → field (or `None` to ignore a column).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Normalised header → the field its column holds, or `None` to ignore the column.
    pub by_header: HashMap<String, Option<Field>>,
    /// Normalised header → a vendor pass-through field (`"Cycle rule" = "motive.cycle"`).
    pub passthrough: HashMap<String, (VendorKind, String)>,
}

impl Overrides {
    /// Reads a TOML file of `"Header" = "field"` lines. The value is a field name (any
    /// spelling that normalises to it), `""` or `"ignore"` to ignore the column, or
    /// `"vendor.field"` to pass the column through to a vendor.
    pub fn load(path: &Path) -> Result<Overrides, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Overrides::parse(&text).map_err(|message| Error::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses the text of a mapping file; the error is the message for `Error::Invalid`.
    fn parse(text: &str) -> Result<Overrides, String> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| format!("not valid TOML: {}", e.message().trim()))?;
        Overrides::from_table(&table)
    }

    /// The overrides of a TOML table of `"Header" = "field"` lines: a mapping file, or
    /// the `[mapping]` table of muster.toml. The error names the key.
    pub fn from_table(table: &toml::Table) -> Result<Overrides, String> {
        let mut overrides = Overrides::default();
        for (header, value) in table {
            let Some(value) = value.as_str() else {
                return Err(format!(
                    "\"{header}\" must be set to a field name in quotes, \"\" or \"ignore\""
                ));
            };
            let key = normalise(header);
            let value = value.trim();
            if value.is_empty() || value.eq_ignore_ascii_case("ignore") {
                overrides.by_header.insert(key, None);
            } else if let Some(through) = vendor_field(value) {
                overrides.passthrough.insert(key, through);
            } else if let Some(field) = field_named(value) {
                overrides.by_header.insert(key, Some(field));
            } else {
                let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                return Err(format!(
                    "\"{header}\" = \"{value}\": {value} is not a field; use one of {}, \
                     \"vendor.field\", or \"ignore\"",
                    names.join(", ")
                ));
            }
        }
        Ok(overrides)
    }

    /// These overrides with `over`'s laid on top: a header `over` names takes its choice
    /// (`--mapping FILE` wins over the config's `[mapping]`).
    pub fn merged(mut self, over: Overrides) -> Overrides {
        for (key, field) in over.by_header {
            self.passthrough.remove(&key);
            self.by_header.insert(key, field);
        }
        for (key, through) in over.passthrough {
            self.by_header.remove(&key);
            self.passthrough.insert(key, through);
        }
        self
    }

    /// Whether the mapping says to ignore the column under `header`.
    pub fn ignores(&self, header: &str) -> bool {
        matches!(self.by_header.get(&normalise(header)), Some(None))
    }
}

/// A header's matching key: accents stripped (`Prénom` → `prenom`, `ß` → `ss`), lower
/// case, `#` read as `no` (`Employee #` = `employee no`, not `Employee`), only letters and
/// digits kept.
pub fn normalise(header: &str) -> String {
    header
        .replace('#', "no")
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .flat_map(|c| match c {
            'ß' => ['s', 's'].into_iter().take(2),
            c => [c, c].into_iter().take(1),
        })
        .collect()
}

/// The field whose name or alias normalises like `text`.
pub fn field_named(text: &str) -> Option<Field> {
    let key = normalise(text);
    Field::ALL
        .iter()
        .copied()
        .find(|f| normalise(f.name()) == key || f.aliases().iter().any(|a| normalise(a) == key))
}

/// `motive.cycle` → (Motive, `cycle`): a vendor key, a dot, and a field name.
fn vendor_field(header: &str) -> Option<(VendorKind, String)> {
    let (vendor, field) = header.split_once('.')?;
    let vendor = VendorKind::from_key(vendor)?;
    let field = field.trim();
    (!field.is_empty()).then(|| (vendor, field.to_string()))
}

/// Fills `layout.fields` and `layout.passthrough` from its headers.
pub fn map_layout(layout: &mut Layout, overrides: &Overrides) -> Result<(), Error> {
    let aliases = alias_table();
    layout.fields = Vec::with_capacity(layout.headers.len());
    layout.passthrough.clear();
    // Columns whose header names a platform and a field: they take the field unless a
    // column names it for every platform (then they count for their platform's rows only,
    // see `platform_columns`).
    let mut deferred = Vec::new();
    for (col, header) in layout.headers.iter().enumerate() {
        let key = normalise(header);
        let field = if let Some(choice) = overrides.by_header.get(&key) {
            *choice
        } else if let Some((vendor, name)) = overrides
            .passthrough
            .get(&key)
            .cloned()
            .or_else(|| vendor_field(header))
        {
            layout.passthrough.push((col, vendor, name));
            None
        } else if let Some(field) = aliases.get(key.as_str()) {
            Some(*field)
        } else {
            if let Some((_, field)) = qualified(&key) {
                deferred.push((col, field));
            }
            None
        };
        if let Some(field) = field {
            if let Some(first) = layout.column_of(field) {
                let file = if layout.is_workbook {
                    format!("{}, {}", layout.file, layout.sheet)
                } else {
                    layout.file.clone()
                };
                let name = |c: usize| format!("\"{}\" ({})", layout.headers[c], column_letters(c));
                return Err(Error::TwoColumns {
                    file,
                    first: name(first),
                    second: name(col),
                    field,
                });
            }
        }
        layout.fields.push(field);
    }
    for (col, field) in deferred {
        if layout.column_of(field).is_none() {
            layout.fields[col] = Some(field);
        }
    }
    Ok(())
}

/// The columns of `layout` whose header names a platform and a field (`Motive role`):
/// (column, platform, field). A row of that platform reads the field there, whatever
/// column holds it for the others; a row of another platform does not read it.
pub fn platform_columns(layout: &Layout) -> Vec<(usize, VendorKind, Field)> {
    let aliases = alias_table();
    layout
        .headers
        .iter()
        .enumerate()
        .filter(|(col, _)| !layout.passthrough.iter().any(|(c, _, _)| c == col))
        .filter_map(|(col, header)| {
            let key = normalise(header);
            if aliases.contains_key(key.as_str()) {
                return None;
            }
            let (vendor, field) = qualified(&key)?;
            // A column the mapping ignores or maps elsewhere is not the platform's.
            let mapped = layout.fields.get(col).copied().flatten();
            (mapped.is_none() || mapped == Some(field)).then_some((col, vendor, field))
        })
        .collect()
}

/// Words that name a platform at the start of a header (`DRTrack group`, `Motive role`),
/// normalised, with the vendor they name.
const PLATFORM_WORDS: &[(&str, VendorKind)] = &[
    ("traccar", VendorKind::Traccar),
    ("powunity", VendorKind::Traccar),
    ("biketrax", VendorKind::Traccar),
    ("motive", VendorKind::Motive),
    ("keeptruckin", VendorKind::Motive),
    ("pegasus", VendorKind::Pegasus),
    ("drtrack", VendorKind::Drtrack),
    ("arobs", VendorKind::Arobs),
    ("trackgps", VendorKind::Arobs),
];

/// What words after a platform's name mean on that platform, where they differ from the
/// shared aliases: DRTrack's "group" is its permission group (`user_group`), Pegasus'
/// "group" is made from the company.
pub const PLATFORM_MEANINGS: &[(VendorKind, &str, Field)] = &[
    (VendorKind::Drtrack, "group", Field::UserGroup),
    (VendorKind::Drtrack, "groups", Field::UserGroup),
    (VendorKind::Drtrack, "role", Field::UserGroup),
    (VendorKind::Drtrack, "group id", Field::GroupId),
    (VendorKind::Pegasus, "group", Field::Company),
    (VendorKind::Pegasus, "groups", Field::Company),
    (VendorKind::Pegasus, "access", Field::Role),
    (VendorKind::Motive, "id", Field::ExternalId),
];

/// A normalised header that names a platform, then a field: `drtrackgroup` → (DRTrack,
/// `user_group`), `motiverole` → (Motive, `role`).
pub fn qualified(key: &str) -> Option<(VendorKind, Field)> {
    PLATFORM_WORDS.iter().find_map(|(word, vendor)| {
        let rest = key.strip_prefix(word)?;
        let field = PLATFORM_MEANINGS
            .iter()
            .find(|(v, word, _)| v == vendor && normalise(word) == rest)
            .map(|(_, _, f)| *f)
            .or_else(|| field_named(rest))?;
        Some((*vendor, field))
    })
}

/// Normalised field names and aliases → field.
fn alias_table() -> HashMap<String, Field> {
    let mut table = HashMap::new();
    for field in Field::ALL {
        for spelling in std::iter::once(&field.name()).chain(field.aliases()) {
            table.entry(normalise(spelling)).or_insert(*field);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_normalise() {
        for (header, key) in [
            ("E-Mail ", "email"),
            ("e_mail", "email"),
            ("EMAIL", "email"),
            ("First Name", "firstname"),
            ("first_name", "firstname"),
            ("Prénom", "prenom"),
            ("Straße", "strasse"),
            ("Driver's License #", "driverslicenseno"),
            ("Employee #", "employeeno"),
            ("Phone (mobile)", "phonemobile"),
            ("\u{a0}Login ID\u{a0}", "loginid"),
            ("", ""),
        ] {
            assert_eq!(normalise(header), key, "{header:?}");
        }
    }

    #[test]
    fn no_spelling_names_two_fields() {
        let mut seen: HashMap<String, Field> = HashMap::new();
        for field in Field::ALL {
            for spelling in std::iter::once(&field.name()).chain(field.aliases()) {
                if let Some(other) = seen.insert(normalise(spelling), *field) {
                    assert_eq!(other, *field, "{spelling:?} names {other} and {field}");
                }
            }
        }
    }

    /// DESIGN "Roster fields": every alias the table lists, as a user might write it.
    const DESIGN: &[(&str, &[&str])] = &[
        ("target", &["platform", "system", "account", "tenant"]),
        ("action", &["operation", "method", "op"]),
        (
            "first_name",
            &[
                "first name",
                "firstname",
                "given name",
                "forename",
                "vorname",
            ],
        ),
        (
            "last_name",
            &[
                "last name",
                "lastname",
                "surname",
                "family name",
                "nachname",
            ],
        ),
        ("name", &["full name", "display name"]),
        ("email", &["e-mail", "email address", "mail", "E-Mail "]),
        (
            "username",
            &["user name", "login", "login id", "user id", "userloginid"],
        ),
        ("password", &["pass", "initial password", "userpassword"]),
        ("phone", &["phone number", "mobile", "cell", "telephone"]),
        ("phone_ext", &["extension", "ext"]),
        ("time_zone", &["timezone", "tz"]),
        ("role", &["user role", "type"]),
        ("groups", &["group", "group ids", "group names"]),
        (
            "company",
            &[
                "company name",
                "organisation",
                "organization",
                "group name",
                "customer",
            ],
        ),
        ("branch_ids", &["branches", "branch", "branch id"]),
        ("user_group", &["usergroup", "permission group"]),
        ("group_id", &["groupid"]),
        (
            "devices",
            &[
                "device",
                "vehicles",
                "vehicle",
                "imei",
                "unique id",
                "assets",
            ],
        ),
        (
            "external_id",
            &["external id", "employee id", "employee number", "driver id"],
        ),
        ("eld_mode", &["eld mode"]),
        (
            "time_tracking_mode",
            &["time tracking mode", "time tracking"],
        ),
        ("duty_status", &["duty status"]),
        ("cycle", &[]),
        ("dot_id", &["dot id"]),
        ("driver_company_id", &["driver company id"]),
        ("drivers_license_number", &["drivers license number"]),
        ("drivers_license_state", &["drivers license state"]),
        ("readonly", &["read only"]),
        ("device_readonly", &["device readonly", "device read only"]),
        ("device_limit", &["device limit"]),
        ("disabled", &[]),
        ("expiration_time", &["expiration time"]),
        ("scopes", &[]),
        ("apps", &[]),
        ("send_email", &["send email"]),
        ("language", &[]),
    ];

    pub(super) fn layout(headers: &[&str]) -> Layout {
        Layout {
            file: "roster.xlsx".into(),
            sheet: "Roster".into(),
            is_workbook: true,
            header_row: 1,
            headers: headers.iter().map(|h| h.to_string()).collect(),
            ..Layout::default()
        }
    }

    #[test]
    fn every_design_alias_maps_to_its_field() {
        assert_eq!(
            DESIGN.len(),
            Field::ALL.len(),
            "every field is in the table"
        );
        for (name, aliases) in DESIGN {
            let field = *Field::ALL
                .iter()
                .find(|f| f.name() == *name)
                .unwrap_or_else(|| panic!("{name} is a field"));
            let upper = name.to_uppercase();
            for header in aliases.iter().copied().chain([*name, upper.as_str()]) {
                let mut l = layout(&[header]);
                map_layout(&mut l, &Overrides::default()).unwrap();
                assert_eq!(l.fields, [Some(field)], "{header:?}");
            }
        }
    }

    #[test]
    fn a_number_sign_reads_as_no() {
        let mut l = layout(&["Employee #", "Employee", "Driver's License #"]);
        map_layout(&mut l, &Overrides::default()).unwrap();
        assert_eq!(
            l.fields,
            [
                Some(Field::ExternalId),
                None,
                Some(Field::DriversLicenseNumber)
            ]
        );
    }

    #[test]
    fn unknown_and_passthrough_columns() {
        let mut l = layout(&[
            "E-Mail",
            "Notes",
            "motive.cycle",
            "Motive.Duty Status",
            "x.y",
        ]);
        map_layout(&mut l, &Overrides::default()).unwrap();
        assert_eq!(l.fields, [Some(Field::Email), None, None, None, None]);
        assert_eq!(
            l.passthrough,
            [
                (2, VendorKind::Motive, "cycle".to_string()),
                (3, VendorKind::Motive, "Duty Status".to_string())
            ]
        );
    }

    #[test]
    fn two_columns_for_one_field_name_both() {
        let mut l = layout(&["Name", "E-Mail", "Mail"]);
        let err = map_layout(&mut l, &Overrides::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "roster.xlsx, Roster: columns \"E-Mail\" (B) and \"Mail\" (C) both map to field email"
        );
        let mut csv = layout(&["email", "E_MAIL"]);
        csv.is_workbook = false;
        csv.file = "roster.csv".into();
        let err = map_layout(&mut csv, &Overrides::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "roster.csv: columns \"email\" (A) and \"E_MAIL\" (B) both map to field email"
        );
    }

    #[test]
    fn mapping_file_overrides() {
        let overrides = Overrides::parse(
            r#"
            "Kontakt" = "email"
            "E-Mail" = "ignore"
            "Notes" = ""
            "Fahrer Nr." = "External ID"
            "Zyklus" = "motive.cycle"
            "#,
        )
        .unwrap();
        let mut l = layout(&["Kontakt", "E-Mail", "Notes", "fahrer nr", "Zyklus", "Phone"]);
        map_layout(&mut l, &overrides).unwrap();
        assert_eq!(
            l.fields,
            [
                Some(Field::Email),
                None,
                None,
                Some(Field::ExternalId),
                None,
                Some(Field::Phone)
            ]
        );
        assert_eq!(
            l.passthrough,
            [(4, VendorKind::Motive, "cycle".to_string())]
        );
    }

    #[test]
    fn bad_mapping_files_are_errors_naming_the_key() {
        for (text, message) in [
            (
                r#""Kontakt" = "emial""#,
                "\"Kontakt\" = \"emial\": emial is not a field; use one of target, action",
            ),
            (
                r#""Kontakt" = 3"#,
                "\"Kontakt\" must be set to a field name in quotes, \"\" or \"ignore\"",
            ),
            ("Kontakt = ", "not valid TOML"),
        ] {
            let err = Overrides::parse(text).unwrap_err();
            assert!(err.starts_with(message), "{text:?}: {err}");
        }
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mapping.toml");
        std::fs::write(&path, "\"A\" = \"nope\"").unwrap();
        let err = Overrides::load(&path).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "mapping file {}: \"A\" = \"nope\"",
                path.display()
            )),
            "{err}"
        );
        let missing = Overrides::load(&dir.path().join("missing.toml")).unwrap_err();
        assert!(missing.to_string().starts_with("cannot read mapping file"));
    }
}
