//! The `Manual` sheet: users that must be created by hand in AROBS TrackGPS (status `manual`),
//! grouped per target, one user a line with exactly the values to type, and the steps once at
//! the top (vendors/arobs-trackgps.md, "Can users be created through an API?").
//!
//! Rows arrive in input order, mixed across targets; to group them without holding them in
//! memory, each target's users are spooled to an anonymous temporary CSV file and copied into
//! the sheet at the end. No password is ever spooled: AROBS users set their own on activation.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom};

use rust_xlsxwriter::Worksheet;

use crate::model::{Field, RowResult};
use crate::report::counts::NO_TARGET;

/// The columns of the user table, in the order the AROBS form asks for them.
pub const MANUAL_COLUMNS: [&str; 8] = [
    "target",
    "Username",
    "First Name",
    "Last Name",
    "Email",
    "Vehicle Rights",
    "source",
    "done",
];

/// The steps, numbered, written once above the table.
pub const STEPS: [&str; 9] = [
    "Log in to AROBS TrackGPS as the customer's administrator.",
    "Administration → Email Addresses → Add Email: add the user's Email (skip if it is already listed).",
    "Administration → Users → Add.",
    "Tick \"API User\".",
    "Type Username, First Name, Last Name and Email exactly as in the user's line below.",
    "Vehicle Rights: tick every vehicle listed in the user's line.",
    "Save. TrackGPS sends the user an activation e-mail.",
    "The user opens the activation link and sets a password: at least 8 characters, with an upper-case letter, a lower-case letter and a digit.",
    "When the users are active, run `muster verify` with the same roster to check each one can log in and sees its vehicles.",
];

/// One spool per target, in order of first appearance.
#[derive(Default)]
pub struct Spool {
    targets: Vec<(String, csv::Writer<BufWriter<File>>, u64)>,
}

/// The values of one user, as typed into the AROBS form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualUser {
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// Vehicles, `, `-separated (the roster separates them with `|` or `;`).
    pub vehicles: String,
    /// Where the row came from: `fleet.xlsx, Roster!7`.
    pub source: String,
}

impl ManualUser {
    /// The values to type for `result`'s row. A roster with only a full `name` is split at
    /// its last space into first and last name.
    pub fn from_result(result: &RowResult) -> ManualUser {
        let row = &result.row;
        let get = |f: Field| row.get(f).unwrap_or("").to_string();
        let (mut first_name, mut last_name) = (get(Field::FirstName), get(Field::LastName));
        if first_name.is_empty() && last_name.is_empty() {
            if let Some(name) = row.get(Field::Name) {
                match name.rsplit_once(' ') {
                    Some((f, l)) => (first_name, last_name) = (f.trim().into(), l.trim().into()),
                    None => first_name = name.into(),
                }
            }
        }
        let vehicles = row
            .get(Field::Devices)
            .map(|d| {
                d.split(['|', ';'])
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let layout = &row.layout;
        let source = if layout.is_workbook {
            format!("{}, {}!{}", layout.file, layout.sheet, row.line)
        } else {
            format!("{}, row {}", layout.file, row.line)
        };
        ManualUser {
            username: get(Field::Username),
            first_name,
            last_name,
            email: get(Field::Email),
            vehicles,
            source,
        }
    }
}

impl Spool {
    /// Adds a `manual` row to its target's spool.
    pub fn add(&mut self, result: &RowResult) -> std::io::Result<()> {
        let target = result.target.as_deref().unwrap_or(NO_TARGET);
        let i = match self.targets.iter().position(|(t, _, _)| t == target) {
            Some(i) => i,
            None => {
                let file = tempfile::tempfile()?;
                let writer = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(BufWriter::new(file));
                self.targets.push((target.to_string(), writer, 0));
                self.targets.len() - 1
            }
        };
        let u = ManualUser::from_result(result);
        let (_, writer, n) = &mut self.targets[i];
        writer
            .write_record([
                &u.username,
                &u.first_name,
                &u.last_name,
                &u.email,
                &u.vehicles,
                &u.source,
            ])
            .map_err(csv_io)?;
        *n += 1;
        Ok(())
    }

    /// Users spooled, over all targets.
    pub fn len(&self) -> u64 {
        self.targets.iter().map(|(_, _, n)| n).sum()
    }

    /// Whether no user was spooled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every target with its users, in spool order.
    pub fn drain(self) -> std::io::Result<Vec<(String, u64, csv::Reader<File>)>> {
        let mut out = Vec::new();
        for (target, writer, n) in self.targets {
            let buf = writer.into_inner().map_err(|e| e.into_error())?;
            let mut file = buf.into_inner().map_err(|e| e.into_error())?;
            file.seek(SeekFrom::Start(0))?;
            let reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(file);
            out.push((target, n, reader));
        }
        Ok(out)
    }
}

fn csv_io(e: csv::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Writes the steps at the top of `sheet`; returns the row of the table's header.
pub fn write_steps(
    sheet: &mut Worksheet,
    formats: &crate::report::style::Formats,
    users: u64,
) -> Result<u32, rust_xlsxwriter::XlsxError> {
    let title = format!(
        "AROBS TrackGPS has no API to create users: create these {users} user{} by hand",
        if users == 1 { "" } else { "s" }
    );
    sheet.write_string_with_format(0, 0, title, &formats.title)?;
    for (i, step) in STEPS.iter().enumerate() {
        let r = 1 + i as u32;
        sheet.write_string_with_format(r, 0, format!("{}.", i + 1), &formats.label)?;
        sheet.write_string(r, 1, *step)?;
    }
    Ok(STEPS.len() as u32 + 2)
}

/// Reads one spooled user back: the six values in [`ManualUser`] order.
pub fn read_record(record: &csv::StringRecord) -> [&str; 6] {
    let f = |i| record.get(i).unwrap_or("");
    [f(0), f(1), f(2), f(3), f(4), f(5)]
}
