//! Shared nouns of the pipeline: vendors, fields, rows and where they came from,
//! problems found in them, and the outcome of each row.
//!
//! Everything here is plain data. No I/O, no HTTP, no spreadsheets.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The five platforms muster knows (DESIGN "The platforms").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VendorKind {
    Traccar,
    Motive,
    Pegasus,
    Drtrack,
    Arobs,
}

impl VendorKind {
    /// Every vendor, in DESIGN's order.
    pub const ALL: [VendorKind; 5] = [
        VendorKind::Traccar,
        VendorKind::Motive,
        VendorKind::Pegasus,
        VendorKind::Drtrack,
        VendorKind::Arobs,
    ];

    /// The vendor key used in configs, the `vendor` column and URLs of the sandbox.
    pub fn key(self) -> &'static str {
        match self {
            VendorKind::Traccar => "traccar",
            VendorKind::Motive => "motive",
            VendorKind::Pegasus => "pegasus",
            VendorKind::Drtrack => "drtrack",
            VendorKind::Arobs => "arobs",
        }
    }

    /// Parses a vendor key, case-insensitively.
    pub fn from_key(key: &str) -> Option<VendorKind> {
        let key = key.trim();
        VendorKind::ALL
            .into_iter()
            .find(|v| v.key().eq_ignore_ascii_case(key))
    }

    /// The platform's name for people.
    pub fn display_name(self) -> &'static str {
        match self {
            VendorKind::Traccar => "PowUnity / Traccar",
            VendorKind::Motive => "Motive",
            VendorKind::Pegasus => "Pegasus Gateway",
            VendorKind::Drtrack => "DRTrack",
            VendorKind::Arobs => "AROBS TrackGPS",
        }
    }

    /// The field that identifies a user on this platform (DESIGN "identity key").
    pub fn identity_field(self) -> Field {
        self.identity_fields()[0]
    }

    /// Whether this platform's connector can tell which account muster is logged in as
    /// (`Vendor::logged_in_as`): not Motive (an API key names no user), not AROBS (never
    /// written, no account-wide login).
    pub fn tells_its_account(self) -> bool {
        !matches!(self, VendorKind::Motive | VendorKind::Arobs)
    }

    /// The fields that may identify a user on this platform, the first filled one winning:
    /// Traccar email; Motive email, else username, else external id; Pegasus username,
    /// else the email (used as the username); DRTrack and AROBS username.
    pub fn identity_fields(self) -> &'static [Field] {
        match self {
            VendorKind::Traccar => &[Field::Email],
            VendorKind::Motive => &[Field::Email, Field::Username, Field::ExternalId],
            VendorKind::Pegasus => &[Field::Username, Field::Email],
            VendorKind::Drtrack | VendorKind::Arobs => &[Field::Username],
        }
    }
}

impl fmt::Display for VendorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

macro_rules! fields {
    ($( $variant:ident = $name:literal [$($alias:literal),*] ),* $(,)?) => {
        /// A roster field muster understands (DESIGN "Roster fields").
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field { $($variant),* }

        impl Field {
            /// Every field, in DESIGN's order.
            pub const ALL: &'static [Field] = &[$(Field::$variant),*];

            /// The canonical snake_case name.
            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name),* }
            }

            /// Extra spellings recognised for this field's header, besides its name.
            pub fn aliases(self) -> &'static [&'static str] {
                match self { $(Field::$variant => &[$($alias),*]),* }
            }
        }
    };
}

fields! {
    Target = "target" ["platform", "system", "account", "tenant", "plattform", "zielsystem"],
    Action = "action" ["operation", "method", "op", "aktion"],
    FirstName = "first_name" ["first name", "firstname", "given name", "forename", "vorname", "prénom", "prenom", "nombre", "voornaam"],
    LastName = "last_name" ["last name", "lastname", "surname", "family name", "nachname", "nom", "familienname", "apellido", "achternaam"],
    Name = "name" ["full name", "display name", "anzeigename", "nom complet"],
    Email = "email" ["e-mail", "email address", "e-mail address", "mail", "e-mail-adresse", "email adresse", "mail address", "work email", "courriel", "correo", "correo electronico"],
    Username = "username" ["user name", "login", "login id", "user id", "userloginid", "user login id", "benutzername", "login name", "anmeldename", "user login", "benutzer"],
    Password = "password" ["pass", "initial password", "userpassword", "user password", "passwort", "pwd", "kennwort", "mot de passe"],
    Phone = "phone" ["phone number", "mobile", "cell", "telephone", "mobile number", "cell phone", "telefon", "handy", "mobile phone", "phone no", "mobil", "mobilnummer", "telefonnummer", "handynummer", "téléphone", "telefono"],
    PhoneExt = "phone_ext" ["extension", "ext", "phone extension", "durchwahl"],
    TimeZone = "time_zone" ["timezone", "tz", "zeitzone"],
    Role = "role" ["user role", "type", "user type", "rolle", "rôle"],
    Groups = "groups" ["group", "group ids", "group names", "gruppe", "gruppen"],
    Company = "company" ["company name", "organisation", "organization", "group name", "customer", "firma", "unternehmen", "société", "empresa"],
    BranchIds = "branch_ids" ["branches", "branch", "branch id", "filiale", "niederlassung"],
    UserGroup = "user_group" ["usergroup", "permission group", "benutzergruppe", "access group"],
    GroupId = "group_id" ["groupid"],
    Devices = "devices" ["device", "vehicles", "vehicle", "imei", "unique id", "uniqueid", "assets", "vehicle rights", "assigned vehicles", "assigned vehicle", "bikes", "bike", "assigned bikes", "trackers", "tracker", "imeis", "fahrzeuge", "fahrzeug", "vehicle ids", "véhicules"],
    ExternalId = "external_id" ["external id", "employee id", "employee number", "driver id", "personnel number", "employee #", "employee no", "staff no", "staff number", "staff id", "personnel no", "personalnummer", "personal nr", "mitarbeiternummer", "payroll id"],
    EldMode = "eld_mode" ["eld mode"],
    TimeTrackingMode = "time_tracking_mode" ["time tracking mode", "time tracking"],
    DutyStatus = "duty_status" ["duty status"],
    Cycle = "cycle" [],
    DotId = "dot_id" ["dot id", "dot number", "usdot"],
    DriverCompanyId = "driver_company_id" ["driver company id"],
    DriversLicenseNumber = "drivers_license_number" ["drivers license number", "driver's license number", "license number", "licence number", "license no", "drivers license no", "führerscheinnummer"],
    DriversLicenseState = "drivers_license_state" ["drivers license state", "driver's license state", "license state", "licence state"],
    Readonly = "readonly" ["read only"],
    DeviceReadonly = "device_readonly" ["device read only"],
    DeviceLimit = "device_limit" [],
    Disabled = "disabled" ["inactive", "deactivated", "deaktiviert"],
    ExpirationTime = "expiration_time" ["expiration", "expires", "expiry", "valid until", "end date", "expiry date", "expiration date", "valid to", "access until", "gültig bis", "ablaufdatum", "enddatum"],
    Scopes = "scopes" ["scope"],
    Apps = "apps" ["app", "applications"],
    SendEmail = "send_email" ["send e-mail", "send welcome email", "welcome mail", "welcome email", "welcome e-mail", "invite", "send invitation", "send invite", "invitation", "einladung", "willkommensmail"],
    Language = "language" ["lang", "locale", "sprache", "langue"],
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The row's identity on `vendor` ([`VendorKind::identity_fields`]: the first one filled),
/// trimmed and lower-cased: the key the journal, the duplicate check and the comparison
/// with a platform's users all use.
pub fn identity_key(vendor: VendorKind, row: &Row) -> Option<String> {
    vendor.identity_fields().iter().find_map(|f| {
        let value = row.get(*f)?;
        (!value.trim().is_empty()).then(|| normalise_key(value))
    })
}

/// An identity as [`identity_key`] compares it: trimmed and lower-cased. Also what a
/// target's `protect` entries and a connector's "logged in as" are normalised with.
pub fn normalise_key(text: &str) -> String {
    text.trim().to_lowercase()
}

/// Splits a list cell on `|`, or on `;` when the cell has no `|` (DESIGN "Roster fields").
/// Items are trimmed; empty items are kept so a rule can refuse `a||b` ([`list_items`]
/// drops them).
pub fn split_list(text: &str) -> Vec<&str> {
    let sep = if text.contains('|') || !text.contains(';') {
        '|'
    } else {
        ';'
    };
    text.split(sep).map(str::trim).collect()
}

/// The items of a list cell ([`split_list`]) without empty ones: what a platform is sent.
pub fn list_items(text: &str) -> Vec<&str> {
    let mut items = split_list(text);
    items.retain(|s| !s.is_empty());
    items
}

/// Parses a yes/no cell: true/false, yes/no, y/n, 1/0, x (ticked), on/off, any case.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "x" | "on" | "wahr" | "ja" => Some(true),
        "false" | "no" | "n" | "0" | "off" | "falsch" | "nein" => Some(false),
        _ => None,
    }
}

/// A user as a platform holds it, in roster terms: what `muster audit` compares with a
/// roster row and what upsert and sync act on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformUser {
    /// The identity the roster row would have on this platform (`identity_key`'s
    /// normalisation: trimmed, lower-case).
    pub key: String,
    /// The platform's own id for the user (what updates and removals address).
    pub id: String,
    /// The roster fields the platform holds, as roster text (a list field such as
    /// `devices` or `groups` joined with `|`). Only fields the platform reports appear.
    pub fields: Vec<(Field, String)>,
    /// False when the platform keeps the user but has it disabled or deactivated.
    pub active: bool,
    /// Other names of the items of a list field the platform holds, lower-case, each with
    /// the item as `fields` writes it (a Traccar device's name → its uniqueId; a Motive
    /// group's id → its name): a roster may name an item either way (issue 28).
    pub aliases: Vec<(String, String)>,
}

impl PlatformUser {
    /// What the platform holds in `field`, if it reports it.
    pub fn field(&self, field: Field) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.as_str())
    }

    /// The user's name as the platform holds it: its `name`, else first and last name.
    pub fn display_name(&self) -> Option<String> {
        if let Some(n) = self.field(Field::Name) {
            return Some(n.to_string());
        }
        let joined = [self.field(Field::FirstName), self.field(Field::LastName)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!joined.is_empty()).then_some(joined)
    }
}

/// The state of one step in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// The request is (about to be) sent; its outcome is not known yet.
    Intent,
    /// The platform confirmed it; `ids` holds what it made.
    Done,
}

/// One step of the ledger (the journal's `Step`): what connectors and the plan read of
/// what muster did before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerStep {
    pub state: StepState,
    /// The id the step made (user id, group id, link id), when done.
    pub id: Option<String>,
    /// The run that last touched it.
    pub run_id: String,
}

/// `--max-failures`: how many rows of a target the platform may refuse before the target
/// stops (the rest `not_attempted: failure budget spent`), as a count or a share of the
/// target's rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FailureBudget {
    Rows(usize),
    /// Percent, from 0 to 100.
    Percent(f64),
}

impl FailureBudget {
    /// The most rows of `total` that may fail before the target stops.
    pub fn allowed(self, total: usize) -> usize {
        match self {
            FailureBudget::Rows(n) => n,
            FailureBudget::Percent(p) => (p / 100.0 * total as f64).floor() as usize,
        }
    }
}

impl std::fmt::Display for FailureBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureBudget::Rows(n) => write!(f, "{n}"),
            FailureBudget::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl std::str::FromStr for FailureBudget {
    type Err = String;

    /// `N` (rows) or `P%` (of the target's rows, 0 to 100).
    fn from_str(s: &str) -> Result<FailureBudget, String> {
        let s = s.trim();
        let bad = || format!("\"{s}\" is not a number of rows (10) or a share of them (5%)");
        match s.strip_suffix('%') {
            Some(p) => match p.trim().parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Ok(FailureBudget::Percent(p)),
                _ => Err(bad()),
            },
            None => s
                .parse::<usize>()
                .map(FailureBudget::Rows)
                .map_err(|_| bad()),
        }
    }
}

/// What the roster asks muster to do with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    Create,
    Update,
    Upsert,
    Delete,
}

impl Action {
    pub fn key(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Upsert => "upsert",
            Action::Delete => "delete",
        }
    }

    /// Parses the `action` column; `None` for an unknown word.
    pub fn parse(text: &str) -> Option<Action> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "create" | "add" | "new" => Some(Action::Create),
            "update" | "modify" | "change" => Some(Action::Update),
            "upsert" => Some(Action::Upsert),
            "delete" | "remove" => Some(Action::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// What an import does with rows whose user already exists (DESIGN `--mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Create missing users; existing ones are left alone (`exists`).
    #[default]
    Create,
    /// Create missing users and update those that differ.
    Upsert,
    /// Upsert, and (with prune) remove users the roster does not list.
    Sync,
}

impl Mode {
    /// Every mode, in the order the help lists them.
    pub const ALL: [Mode; 3] = [Mode::Create, Mode::Upsert, Mode::Sync];

    /// The word on the command line and in a plan's info.
    pub fn key(self) -> &'static str {
        match self {
            Mode::Create => "create",
            Mode::Upsert => "upsert",
            Mode::Sync => "sync",
        }
    }

    /// What the mode does, for the help.
    pub fn about(self) -> &'static str {
        match self {
            Mode::Create => "Create missing users; existing ones are left alone (`exists`)",
            Mode::Upsert => "Create missing users and update those that differ",
            Mode::Sync => "Upsert, and (with --prune) remove users the roster does not list",
        }
    }

    /// Parses a mode's word; `None` for an unknown one.
    pub fn parse(text: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.key() == text.trim())
    }

    /// Whether users that differ from their row are updated (upsert and sync).
    pub fn updates(self) -> bool {
        matches!(self, Mode::Upsert | Mode::Sync)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A row's final status (DESIGN "Result workbook").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Created,
    Updated,
    Deleted,
    Exists,
    Manual,
    Verified,
    Valid,
    Planned,
    Invalid,
    Failed,
    Partial,
    NotAttempted,
}

impl Status {
    /// Every status, in the order reports list them.
    pub const ALL: [Status; 12] = [
        Status::Created,
        Status::Updated,
        Status::Deleted,
        Status::Exists,
        Status::Manual,
        Status::Verified,
        Status::Valid,
        Status::Planned,
        Status::Invalid,
        Status::Failed,
        Status::Partial,
        Status::NotAttempted,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Updated => "updated",
            Status::Deleted => "deleted",
            Status::Exists => "exists",
            Status::Manual => "manual",
            Status::Verified => "verified",
            Status::Valid => "valid",
            Status::Planned => "planned",
            Status::Invalid => "invalid",
            Status::Failed => "failed",
            Status::Partial => "partial",
            Status::NotAttempted => "not_attempted",
        }
    }

    pub fn from_key(key: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.key() == key)
    }

    /// Whether a row with this status counts as a success for the exit code.
    pub fn is_success(self) -> bool {
        !matches!(
            self,
            Status::Invalid | Status::Failed | Status::Partial | Status::NotAttempted
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// One table of one input file: a CSV file, or one sheet of a workbook.
///
/// Shared by all rows of the table; `fields` is filled by `mapping`.
///
/// Aligned to 128 bytes so that, behind an `Arc`, the reference count has a cache line of
/// its own: the reader clones the `Arc` once a row while the rules on other cores read the
/// layout, and on one line the two would stall each other.
#[derive(Debug, Clone, Default)]
#[repr(align(128))]
pub struct Layout {
    /// The file as the user named it (used in messages and the `source_file` column).
    pub file: String,
    /// The sheet name; for CSV the file's stem.
    pub sheet: String,
    /// Whether the file is a workbook (messages then say `Sheet!D7`, else `D7`).
    pub is_workbook: bool,
    /// 1-based row number of the header row.
    pub header_row: u32,
    /// Header texts, trimmed, one per column.
    pub headers: Vec<String>,
    /// The field each column maps to (same length as `headers`).
    pub fields: Vec<Option<Field>>,
    /// `VENDOR.FIELD` pass-through columns: (column, vendor, vendor's field name).
    pub passthrough: Vec<(usize, VendorKind, String)>,
}

impl Layout {
    /// The column that holds `field`, if any.
    pub fn column_of(&self, field: Field) -> Option<usize> {
        self.fields.iter().position(|f| *f == Some(field))
    }
}

/// A cell of the sheet that held an error value (`#N/A`, `#REF!`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    pub col: usize,
    pub text: String,
}

/// One data row of the input, with its position.
#[derive(Debug, Clone)]
pub struct Row {
    /// Position in input order over the whole run (0-based).
    pub index: usize,
    pub layout: Arc<Layout>,
    /// 1-based row number in its sheet or file.
    pub line: u32,
    /// Cell texts, trimmed, aligned with `layout.headers` (shorter rows are padded).
    pub cells: Cells,
    /// Cells that held spreadsheet errors; usually empty.
    pub errors: Vec<CellError>,
}

impl Row {
    /// A row of `roster.csv` line 2 from (header, cell) pairs, for tests: a header that is a
    /// field's name maps to it, `VENDOR.x` is a pass-through column.
    #[cfg(test)]
    pub(crate) fn of_pairs(cells: &[(&str, &str)]) -> Row {
        let mut layout = Layout {
            file: "roster.csv".into(),
            sheet: "roster".into(),
            header_row: 1,
            ..Layout::default()
        };
        for (i, (h, _)) in cells.iter().enumerate() {
            layout.headers.push(h.to_string());
            layout
                .fields
                .push(Field::ALL.iter().copied().find(|f| f.name() == *h));
            if let Some((vendor, name)) = h.split_once('.') {
                if let Some(vendor) = VendorKind::from_key(vendor) {
                    layout.passthrough.push((i, vendor, name.to_string()));
                }
            }
        }
        Row {
            index: 0,
            layout: Arc::new(layout),
            line: 2,
            cells: cells.iter().map(|(_, c)| c.to_string()).collect(),
            errors: vec![],
        }
    }

    /// The trimmed text of `field`, or `None` when the column is absent or the cell blank.
    pub fn get(&self, field: Field) -> Option<&str> {
        let col = self.layout.column_of(field)?;
        self.cell(col)
    }

    /// The trimmed text of column `col`, or `None` when blank.
    pub fn cell(&self, col: usize) -> Option<&str> {
        self.cells.get(col).filter(|s| !s.is_empty())
    }

    /// The spreadsheet name of a cell of this row, e.g. `D7`.
    pub fn cell_name(&self, col: usize) -> String {
        format!("{}{}", column_letters(col), self.line)
    }

    /// Where a cell of this row is, for messages: `roster.xlsx, Roster!D7` or `roster.csv, D7`.
    pub fn locate(&self, col: usize) -> String {
        if self.layout.is_workbook {
            format!(
                "{}, {}!{}",
                self.layout.file,
                self.layout.sheet,
                self.cell_name(col)
            )
        } else {
            format!("{}, {}", self.layout.file, self.cell_name(col))
        }
    }

    /// The header of column `col` as written in the input.
    pub fn header(&self, col: usize) -> &str {
        self.layout
            .headers
            .get(col)
            .map(|s| s.as_str())
            .unwrap_or("")
    }

    /// Vendor pass-through values (`motive.cycle` columns) of this row for `vendor`.
    pub fn passthrough(&self, vendor: VendorKind) -> impl Iterator<Item = (&str, &str)> {
        self.layout
            .passthrough
            .iter()
            .filter(move |(_, v, _)| *v == vendor)
            .filter_map(|(col, _, name)| Some((name.as_str(), self.cell(*col)?)))
    }
}

/// The texts of a row's cells, without an allocation per cell (a million-row file has
/// twelve million cells). A row's own cells are kept in one buffer with the end of each;
/// the rows of a CSV block instead share the block's text ([`SharedText`]), so reading
/// such a row allocates nothing. Built with [`Cells::push`] or collected from strings;
/// read with [`Cells::get`], indexing (`cells[3]` is a `str`) and [`Cells::iter`].
#[derive(Clone, Default)]
pub struct Cells {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Own {
        text: String,
        /// The byte offset in `text` where each cell ends; a cell starts where the one
        /// before it ends.
        ends: Vec<usize>,
    },
    /// Cells `0..count` are a record of `shared`, the rest (up to `len`) are blank.
    Shared {
        shared: Arc<SharedText>,
        /// Where the record's text starts in `shared.text`.
        start: usize,
        /// Its cells' ends (relative to `start`) are `shared.ends[from..from + count]`.
        from: usize,
        count: usize,
        len: usize,
    },
}

impl Default for Repr {
    fn default() -> Repr {
        Repr::Own {
            text: String::new(),
            ends: Vec::new(),
        }
    }
}

/// The text of many records laid end to end and where their cells end (each record's
/// ends relative to its own start), shared by the rows made from them
/// ([`Cells::shared`]).
///
/// Aligned like [`Layout`], so that the `Arc`'s count, which changes as rows are made
/// and dropped, is not on the cache line every cell read goes through.
#[derive(Debug)]
#[repr(align(128))]
pub struct SharedText {
    text: String,
    /// Offsets in 32 bits: half the memory of `usize`, which every row's first cell read
    /// goes through.
    ends: Vec<u32>,
}

impl SharedText {
    /// `None` when `text` is too long for 32-bit offsets (a block never is).
    pub fn new(text: String, ends: &[usize]) -> Option<Arc<SharedText>> {
        u32::try_from(text.len()).ok()?;
        // Each end is at most the text's length when the rows are read from it; one that
        // is not reads as an empty cell, as any range off the text does.
        let ends = ends
            .iter()
            .map(|&e| u32::try_from(e).unwrap_or(u32::MAX))
            .collect();
        Some(Arc::new(SharedText { text, ends }))
    }

    /// Where cell `i` of the text's records ends, relative to its record's start.
    fn end(&self, i: usize) -> usize {
        self.ends.get(i).map_or(0, |&e| e as usize)
    }
}

impl Cells {
    /// No cells.
    pub fn new() -> Cells {
        Cells::default()
    }

    /// No cells, with room for `cells` cells of `bytes` bytes in all.
    pub fn with_capacity(cells: usize, bytes: usize) -> Cells {
        Cells {
            repr: Repr::Own {
                text: String::with_capacity(bytes),
                ends: Vec::with_capacity(cells),
            },
        }
    }

    /// The cells of the record of `shared` that starts at byte `start` of its text and
    /// whose `count` cells end at `shared.ends[from..]`, then blank ones up to `len`; `None`
    /// unless those ends lie in the text. A range that does not fall on character
    /// boundaries or runs backwards reads as an empty cell (the CSV reader only shares
    /// records whose cells begin and end with ASCII characters, so none does).
    pub fn shared(
        shared: &Arc<SharedText>,
        start: usize,
        from: usize,
        count: usize,
        len: usize,
    ) -> Option<Cells> {
        let ends = shared.ends.get(from..from.checked_add(count)?)?;
        let end = start.checked_add(ends.last().map_or(0, |&e| e as usize))?;
        (end <= shared.text.len()).then(|| Cells {
            repr: Repr::Shared {
                shared: shared.clone(),
                start,
                from,
                count,
                len: len.max(count),
            },
        })
    }

    /// The cells as a buffer of their own, to change them.
    fn own(&mut self) -> (&mut String, &mut Vec<usize>) {
        if let Repr::Shared { .. } = self.repr {
            let mut own = Cells::with_capacity(self.len(), self.text_len());
            for cell in self.iter() {
                own.push(cell);
            }
            self.repr = own.repr;
        }
        match &mut self.repr {
            Repr::Own { text, ends } => (text, ends),
            Repr::Shared { .. } => unreachable!("made its own just above"),
        }
    }

    /// Appends a cell.
    pub fn push(&mut self, cell: &str) {
        let (text, ends) = self.own();
        text.push_str(cell);
        ends.push(text.len());
    }

    /// The number of cells.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Own { ends, .. } => ends.len(),
            Repr::Shared { len, .. } => *len,
        }
    }

    /// Whether there are no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of all cells' text together.
    pub fn text_len(&self) -> usize {
        match &self.repr {
            Repr::Own { text, .. } => text.len(),
            Repr::Shared {
                shared,
                from,
                count,
                ..
            } => match count {
                0 => 0,
                _ => shared.end(from + count - 1),
            },
        }
    }

    /// The text of cell `i` (empty for a blank cell), or `None` beyond the last cell.
    pub fn get(&self, i: usize) -> Option<&str> {
        match &self.repr {
            Repr::Own { text, ends } => (i < ends.len()).then(|| &text[span(i, |j| ends[j])]),
            Repr::Shared {
                shared,
                start,
                from,
                count,
                len,
            } => {
                if i >= *count {
                    return (i < *len).then_some("");
                }
                let cell = span(i, |j| shared.end(from + j));
                Some(
                    shared
                        .text
                        .get(start + cell.start..start + cell.end)
                        .unwrap_or(""),
                )
            }
        }
    }

    /// Every cell's text, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + '_ {
        (0..self.len()).map(|i| &self[i])
    }

    /// Replaces the text of cell `i`; does nothing beyond the last cell.
    pub fn set(&mut self, i: usize, cell: &str) {
        if i >= self.len() {
            return;
        }
        let (text, ends) = self.own();
        let span = span(i, |j| ends[j]);
        let grow = cell.len() as isize - span.len() as isize;
        text.replace_range(span, cell);
        for end in &mut ends[i..] {
            *end = end.saturating_add_signed(grow);
        }
    }

    /// Keeps the first `len` cells, adding blank ones when there are fewer.
    pub fn resize(&mut self, len: usize) {
        match &mut self.repr {
            Repr::Own { text, ends } => {
                if len < ends.len() {
                    ends.truncate(len);
                    text.truncate(ends.last().copied().unwrap_or(0));
                } else {
                    let end = text.len();
                    ends.resize(len, end);
                }
            }
            Repr::Shared {
                count, len: have, ..
            } => {
                *count = (*count).min(len);
                *have = len;
            }
        }
    }

    /// The cells as owned strings (for code that stores them).
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }
}

/// The byte range of cell `i` from where each cell ends (`end(j)` for cell `j`): a cell
/// starts where the one before it ends.
fn span(i: usize, end: impl Fn(usize) -> usize) -> std::ops::Range<usize> {
    let start = match i {
        0 => 0,
        _ => end(i - 1),
    };
    start..end(i)
}

impl std::ops::Index<usize> for Cells {
    type Output = str;

    /// The text of cell `i`; panics beyond the last cell, as a slice does.
    fn index(&self, i: usize) -> &str {
        match self.get(i) {
            Some(text) => text,
            None => panic!("cell {i} of a row with {} cells", self.len()),
        }
    }
}

impl PartialEq for Cells {
    fn eq(&self, other: &Cells) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Cells {}

impl std::hash::Hash for Cells {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for cell in self.iter() {
            cell.hash(state);
        }
    }
}

impl fmt::Debug for Cells {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> FromIterator<S> for Cells {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Cells {
        let mut cells = Cells::new();
        for s in iter {
            cells.push(s.as_ref());
        }
        cells
    }
}

impl From<Vec<String>> for Cells {
    fn from(v: Vec<String>) -> Cells {
        v.into_iter().collect()
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for Cells {
    fn eq(&self, other: &[S; N]) -> bool {
        self.len() == N && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for Cells {
    fn eq(&self, other: &Vec<S>) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

/// Spreadsheet column letters for a 0-based column: 0 → `A`, 27 → `AB`.
pub fn column_letters(col: usize) -> String {
    let mut n = col + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).expect("column letters are ASCII")
}

/// One thing wrong with a row. A bad row is data, never an `Err`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The column it is about, when it is about one cell.
    pub col: Option<usize>,
    /// The whole message, naming the cell, the value and the rule.
    pub message: String,
}

impl Problem {
    /// A problem with one cell's value: `E-Mail (D7): "x" is not an email address`.
    pub fn cell(row: &Row, col: usize, rule: impl fmt::Display) -> Problem {
        let value = row.cells.get(col).unwrap_or("");
        Problem {
            col: Some(col),
            message: format!(
                "{} ({}): \"{}\" {}",
                row.header(col),
                row.cell_name(col),
                value,
                rule
            ),
        }
    }

    /// A problem with a field: names the cell when the column exists,
    /// otherwise says the field is missing: `email is required (no column)`.
    pub fn field(row: &Row, field: Field, rule: impl fmt::Display) -> Problem {
        match row.layout.column_of(field) {
            Some(col) if row.cell(col).is_some() => Problem::cell(row, col, rule),
            Some(col) => Problem {
                col: Some(col),
                message: format!("{} ({}): {}", row.header(col), row.cell_name(col), rule),
            },
            None => Problem {
                col: None,
                message: format!("{field}: {rule} (no such column)"),
            },
        }
    }

    /// A problem with the row as a whole.
    pub fn row(message: impl Into<String>) -> Problem {
        Problem {
            col: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A side id made while provisioning a row: `group=3705`, `devices=12,15`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideId {
    pub kind: String,
    pub id: String,
}

impl SideId {
    /// The side id `kind=id`.
    pub fn new(kind: &str, id: impl ToString) -> SideId {
        SideId {
            kind: kind.to_string(),
            id: id.to_string(),
        }
    }
}

/// What happened to one row. Written to the journal and the workbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    pub action: Action,
    /// The user's id on the platform, when known.
    pub user_id: Option<String>,
    /// Ids of side steps, in the order they were made.
    pub other_ids: Vec<SideId>,
    /// The HTTP status of the last reply that decided the outcome.
    pub http_status: Option<u16>,
    /// Every problem or the platform's reason, `; `-separated; empty on success.
    pub error: Option<String>,
    /// Requests sent for this row (all steps, all retries).
    pub attempts: u32,
}

impl Outcome {
    /// An outcome with only a status.
    pub fn new(status: Status, action: Action) -> Outcome {
        Outcome {
            status,
            action,
            user_id: None,
            other_ids: Vec::new(),
            http_status: None,
            error: None,
            attempts: 0,
        }
    }

    /// The `invalid` outcome of a row with problems.
    pub fn invalid(action: Action, problems: &[Problem]) -> Outcome {
        let mut out = Outcome::new(Status::Invalid, action);
        out.error = Some(join_problems(problems));
        out
    }

    /// `other_ids` as the workbook writes it: `group=3705; app=4891; devices=12,15`.
    pub fn other_ids_text(&self) -> String {
        let mut parts: Vec<(String, Vec<&str>)> = Vec::new();
        for side in &self.other_ids {
            match parts.iter_mut().find(|(k, _)| *k == side.kind) {
                Some((_, ids)) => ids.push(&side.id),
                None => parts.push((side.kind.clone(), vec![&side.id])),
            }
        }
        parts
            .iter()
            .map(|(k, ids)| format!("{k}={}", ids.join(",")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Outcomes by row index, compact for a million rows (issue 30, "Streamed import"): an
/// outcome that is only a status, an action and a count of attempts (every row of a dry
/// run) takes 16 bytes, any other a box of its own; a row without one 16 bytes too. A
/// `HashMap<usize, Outcome>` takes some 200 bytes a row, and half as much again while it
/// grows: the largest holder of the 1M-row dry run.
#[derive(Debug, Default)]
pub struct Outcomes {
    slots: Vec<Option<Compact>>,
    len: usize,
}

/// One outcome as [`Outcomes`] keeps it: 16 bytes when it is only a status, an action and
/// attempts. Also what the engine's targets hand its journal writer, which may lag far
/// behind a dry run's million rows.
#[derive(Debug, Clone)]
pub struct Compact(CompactRepr);

#[derive(Debug, Clone)]
enum CompactRepr {
    Plain {
        status: Status,
        action: Action,
        attempts: u32,
    },
    Full(Box<Outcome>),
}

impl From<Outcome> for Compact {
    fn from(outcome: Outcome) -> Compact {
        let plain = outcome.user_id.is_none()
            && outcome.other_ids.is_empty()
            && outcome.http_status.is_none()
            && outcome.error.is_none();
        Compact(if plain {
            CompactRepr::Plain {
                status: outcome.status,
                action: outcome.action,
                attempts: outcome.attempts,
            }
        } else {
            CompactRepr::Full(Box::new(outcome))
        })
    }
}

impl From<Compact> for Outcome {
    fn from(compact: Compact) -> Outcome {
        match compact.0 {
            CompactRepr::Plain {
                status,
                action,
                attempts,
            } => {
                let mut o = Outcome::new(status, action);
                o.attempts = attempts;
                o
            }
            CompactRepr::Full(o) => *o,
        }
    }
}

impl Compact {
    /// The outcome, copied out.
    pub fn outcome(&self) -> Outcome {
        Outcome::from(self.clone())
    }
}

impl Outcomes {
    /// No outcome yet.
    pub fn new() -> Outcomes {
        Outcomes::default()
    }

    /// Sets the outcome of row `index`; returns the one it replaces.
    pub fn insert(&mut self, index: usize, outcome: impl Into<Compact>) -> Option<Outcome> {
        if index >= self.slots.len() {
            self.slots.resize_with(index + 1, || None);
        }
        let old = self.slots[index].replace(outcome.into());
        if old.is_none() {
            self.len += 1;
        }
        old.map(Outcome::from)
    }

    /// Takes the outcome of row `index` out, if it has one.
    pub fn take(&mut self, index: usize) -> Option<Outcome> {
        let old = self.slots.get_mut(index)?.take()?;
        self.len -= 1;
        Some(old.into())
    }

    /// Rows with an outcome.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no row has an outcome.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every (row index, outcome), by index.
    pub fn into_entries(self) -> impl Iterator<Item = (usize, Outcome)> {
        self.slots
            .into_iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s?.into())))
    }
}

impl<C: Into<Compact>> Extend<(usize, C)> for Outcomes {
    fn extend<I: IntoIterator<Item = (usize, C)>>(&mut self, iter: I) {
        for (index, outcome) in iter {
            self.insert(index, outcome);
        }
    }
}

/// Joins problems into the row's `error` text.
pub fn join_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| p.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A row with its resolved target and outcome: what reports are made of.
#[derive(Debug, Clone)]
pub struct RowResult {
    pub row: Row,
    /// The configured target name, when one was resolved.
    pub target: Option<String>,
    pub vendor: Option<VendorKind>,
    pub outcome: Outcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_kept_by_row_index_whether_plain_or_not() {
        let mut all = Outcomes::new();
        assert!(all.is_empty());
        let mut plain = Outcome::new(Status::Planned, Action::Create);
        plain.attempts = 2;
        let mut full = Outcome::new(Status::Created, Action::Upsert);
        full.user_id = Some("17".into());
        full.other_ids.push(SideId {
            kind: "group".into(),
            id: "3".into(),
        });
        full.http_status = Some(201);
        full.error = Some("note".into());
        assert_eq!(all.insert(5, plain.clone()), None);
        assert_eq!(all.insert(2, full.clone()), None);
        assert_eq!(all.len(), 2);
        assert_eq!(all.insert(5, full.clone()), Some(plain.clone()));
        assert_eq!(all.len(), 2);
        assert_eq!(all.take(3), None);
        assert_eq!(all.take(99), None);
        assert_eq!(all.take(5), Some(full.clone()));
        assert_eq!(all.take(5), None);
        assert_eq!(all.len(), 1);
        all.extend([(0, plain.clone())]);
        assert_eq!(Compact::from(full.clone()).outcome(), full);
        assert_eq!(std::mem::size_of::<Option<Compact>>(), 16);
        let entries: Vec<_> = all.into_entries().collect();
        assert_eq!(entries, vec![(0, plain), (2, full)]);
    }

    #[test]
    fn a_failure_budget_is_rows_or_a_share_of_them() {
        assert_eq!("10".parse(), Ok(FailureBudget::Rows(10)));
        assert_eq!(" 5% ".parse(), Ok(FailureBudget::Percent(5.0)));
        assert_eq!(FailureBudget::Percent(5.0).allowed(1000), 50);
        assert_eq!(FailureBudget::Percent(20.0).allowed(9), 1);
        assert_eq!(FailureBudget::Rows(3).allowed(1), 3);
        for bad in ["", "-1", "ten", "101%", "NaN%", "5 %%"] {
            let err = bad.parse::<FailureBudget>().unwrap_err();
            assert!(err.contains("is not a number of rows"), "{bad}: {err}");
        }
    }

    #[test]
    fn column_letters_cover_two_letter_columns() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    fn row_with(headers: &[&str], fields: &[Option<Field>], cells: &[&str]) -> Row {
        Row {
            index: 0,
            layout: Arc::new(Layout {
                file: "roster.xlsx".into(),
                sheet: "Roster".into(),
                is_workbook: true,
                header_row: 1,
                headers: headers.iter().map(|s| s.to_string()).collect(),
                fields: fields.to_vec(),
                passthrough: vec![],
            }),
            line: 7,
            cells: cells.iter().map(|s| s.to_string()).collect(),
            errors: vec![],
        }
    }

    #[test]
    fn problem_names_header_cell_value_and_rule() {
        let row = row_with(
            &["Name", "x", "y", "E-Mail"],
            &[Some(Field::Name), None, None, Some(Field::Email)],
            &["Jane", "", "", "not-an-email"],
        );
        let p = Problem::field(&row, Field::Email, "is not an email address");
        assert_eq!(
            p.to_string(),
            "E-Mail (D7): \"not-an-email\" is not an email address"
        );
        assert_eq!(row.locate(3), "roster.xlsx, Roster!D7");
        let missing = Problem::field(&row, Field::Username, "is required");
        assert_eq!(
            missing.to_string(),
            "username: is required (no such column)"
        );
    }

    #[test]
    fn shared_cells_read_their_record_and_become_their_own_when_changed() {
        // "a", "", "bc" from 0; "Jü", "rgen" from 3; then ends off character boundaries
        // and running backwards.
        let shared =
            SharedText::new("abcJürgen".into(), &[1, 1, 3, 3, 7, 2, 7, 5, 4]).expect("short");
        // (start, from, count, len, the cells, or None when refused)
        type Case = (usize, usize, usize, usize, Option<&'static [&'static str]>);
        let cases: &[Case] = &[
            (0, 0, 3, 3, Some(&["a", "", "bc"])),
            (0, 0, 3, 5, Some(&["a", "", "bc", "", ""])),
            (0, 0, 0, 2, Some(&["", ""])),
            (3, 3, 2, 2, Some(&["Jü", "rgen"])),
            (3, 5, 2, 2, Some(&["", ""])),
            (3, 7, 2, 2, Some(&["Jürg", ""])),
            (4, 3, 2, 2, None),
            (3, 8, 2, 2, None),
        ];
        for &(start, from, count, len, want) in cases {
            let cells = Cells::shared(&shared, start, from, count, len);
            let got: Option<Vec<&str>> = cells.as_ref().map(|c| c.iter().collect());
            assert_eq!(got.as_deref(), want, "{start} {from} {count} {len}");
        }
        let row = Cells::shared(&shared, 0, 0, 3, 4).expect("in range");
        assert_eq!(row, ["a", "", "bc", ""]);
        assert_eq!(row, ["a", "", "bc", ""].into_iter().collect::<Cells>());
        assert_eq!((row.len(), row.text_len(), row.get(4)), (4, 3, None));
        let mut set = row.clone();
        set.set(1, "x");
        assert_eq!(set, ["a", "x", "bc", ""]);
        let mut pushed = row.clone();
        pushed.push("d");
        assert_eq!(pushed, ["a", "", "bc", "", "d"]);
        let mut shorter = row.clone();
        shorter.resize(2);
        assert_eq!((shorter.len(), shorter.text_len()), (2, 1));
        assert_eq!(shorter, ["a", ""]);
        shorter.resize(3);
        assert_eq!(shorter, ["a", "", ""]);
        assert_eq!(row, ["a", "", "bc", ""], "the shared text is unchanged");
    }

    #[test]
    fn cells_keep_each_text_apart() {
        // (cells pushed, then set (index, text), then resize, expected texts)
        type Case = (
            &'static [&'static str],
            Option<(usize, &'static str)>,
            Option<usize>,
            &'static [&'static str],
        );
        let cases: &[Case] = &[
            (&[], None, None, &[]),
            (&["a", "", "ccc"], None, None, &["a", "", "ccc"]),
            (&["", "", ""], None, None, &["", "", ""]),
            (&["Jürgen", "x"], Some((0, "Jo")), None, &["Jo", "x"]),
            (
                &["a", "b", "c"],
                Some((1, "longer")),
                None,
                &["a", "longer", "c"],
            ),
            (&["a", "b", "c"], Some((1, "")), None, &["a", "", "c"]),
            (&["a", "b"], Some((5, "ignored")), None, &["a", "b"]),
            (&["a", "b"], None, Some(4), &["a", "b", "", ""]),
            (&["a", "bb", "c"], None, Some(1), &["a"]),
            (&["a", "bb", "c"], Some((2, "z")), Some(2), &["a", "bb"]),
        ];
        for (pushed, set, resize, want) in cases {
            let mut cells = Cells::with_capacity(4, 8);
            for p in *pushed {
                cells.push(p);
            }
            if let Some((i, text)) = set {
                cells.set(*i, text);
            }
            if let Some(n) = resize {
                cells.resize(*n);
            }
            let got: Vec<&str> = cells.iter().collect();
            assert_eq!(got, *want, "{pushed:?} {set:?} {resize:?}");
            assert_eq!(cells.len(), want.len());
            assert_eq!(cells.get(want.len()), None);
            for (i, w) in want.iter().enumerate() {
                assert_eq!(&cells[i], *w);
                assert_eq!(cells.get(i), Some(*w));
            }
            assert_eq!(cells, want.iter().collect::<Cells>());
            assert_eq!(cells.to_vec(), *want);
        }
    }

    #[test]
    fn a_blank_cell_is_no_value() {
        let row = row_with(
            &["a", "b", "c"],
            &[Some(Field::Name), Some(Field::Email), None],
            &["Jane", "", "x"],
        );
        assert_eq!(row.get(Field::Name), Some("Jane"));
        assert_eq!(row.get(Field::Email), None);
        assert_eq!(row.cell(2), Some("x"));
        assert_eq!(row.cell(3), None);
        assert_eq!(format!("{:?}", row.cells), r#"["Jane", "", "x"]"#);
    }

    #[test]
    fn other_ids_group_by_kind() {
        let mut o = Outcome::new(Status::Created, Action::Create);
        for (k, id) in [
            ("group", "3705"),
            ("app", "4891"),
            ("devices", "12"),
            ("devices", "15"),
        ] {
            o.other_ids.push(SideId {
                kind: k.into(),
                id: id.into(),
            });
        }
        assert_eq!(o.other_ids_text(), "group=3705; app=4891; devices=12,15");
    }
}

/// One input file of a run, for the Summary sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    pub path: String,
    pub sha256: String,
    pub rows: usize,
}

/// Facts about one run, for the Summary sheet, the journal and `--json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    /// `import`, `validate`, `verify`.
    pub command: String,
    /// The command line, with no secret in it.
    pub command_line: String,
    pub started: chrono::DateTime<chrono::Utc>,
    pub ended: Option<chrono::DateTime<chrono::Utc>>,
    pub dry_run: bool,
    pub version: String,
    pub inputs: Vec<InputFile>,
    /// Sheets that were skipped, with why (`fleet.xlsx, Hidden: hidden sheet`).
    pub skipped_sheets: Vec<String>,
}

/// What submitting to one target cost, for the Summary sheet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetStats {
    pub target: String,
    pub vendor: Option<VendorKind>,
    pub requests: u64,
    pub rate_limited: u64,
    pub retries: u64,
    pub seconds: f64,
    /// Why the target stopped early, if it did.
    pub halted: Option<String>,
}

impl TargetStats {
    /// Requests per second achieved over the target's duration.
    pub fn achieved_rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }
}
