//! The `Manual` sheet: users that must be created by hand in AROBS TrackGPS (status `manual`),
//! grouped per target, one user a line with exactly the values to type, and the steps once at
//! the top (vendors/arobs-trackgps.md, "Can users be created through an API?").
//!
//! Rows arrive in input order, mixed across targets; to group them without holding them in
//! memory, each target's users are spooled to an anonymous temporary CSV file and copied into
//! the sheet at the end. No password is ever spooled: AROBS users set their own on activation.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom};

use rust_xlsxwriter::{ColNum, Workbook, Worksheet, XlsxError};

use crate::model::{Field, RowResult, list_items};
use crate::report::counts::NO_TARGET;
use crate::report::sheet::{EXCEL_ROWS, WIDTH_SAMPLE, Widths, put_text};
use crate::report::style::Formats;

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
    /// Where the row came from: `fleet.xlsx, Roster row 7` or `fleet.csv row 7`.
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
            .map(|d| list_items(d).join(", "))
            .unwrap_or_default();
        let layout = &row.layout;
        let source = if layout.is_workbook {
            format!("{}, {} row {}", layout.file, layout.sheet, row.line)
        } else {
            format!("{} row {}", layout.file, row.line)
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
    // One cell a step, in column A: the text runs over the empty cells to its right.
    for (i, step) in STEPS.iter().enumerate() {
        sheet.write_string(1 + i as u32, 0, format!("{}. {step}", i + 1))?;
    }
    Ok(STEPS.len() as u32 + 2)
}

/// Reads one spooled user back: the six values in [`ManualUser`] order.
pub fn read_record(record: &csv::StringRecord) -> [&str; 6] {
    let f = |i| record.get(i).unwrap_or("");
    [f(0), f(1), f(2), f(3), f(4), f(5)]
}

/// Writes the `Manual` sheet (constant memory): the steps, then each target's users.
pub(super) fn write_manual(
    workbook: &mut Workbook,
    f: &Formats,
    spool: Vec<(String, u64, csv::Reader<std::fs::File>)>,
    users: u64,
) -> Result<Worksheet, XlsxError> {
    let mut sheet = workbook.new_worksheet_with_constant_memory()?;
    sheet.set_name("Manual")?;
    for c in 0..MANUAL_COLUMNS.len() {
        sheet.set_column_format(c as ColNum, &f.text)?;
    }
    let header_row = write_steps(&mut sheet, f, users)?;
    for (c, h) in MANUAL_COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(header_row, c as ColNum, *h, &f.header)?;
    }
    let mut widths = Widths {
        chars: MANUAL_COLUMNS.iter().map(|h| h.chars().count()).collect(),
    };
    let mut r = header_row + 1;
    let mut written = 0u64;
    'targets: for (target, _, mut reader) in spool {
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(XlsxError::ParameterError(format!("manual spool: {e}"))),
            }
            if r + 1 >= EXCEL_ROWS {
                // Beyond Excel's limit: say so; Results still lists every row.
                let more = users - written;
                let note = format!("… and {more} more users: filter Results on status manual");
                sheet.write_string_with_format(r, 0, note, &f.label)?;
                r += 1;
                break 'targets;
            }
            written += 1;
            let sample = r - header_row <= WIDTH_SAMPLE;
            put_text(&mut sheet, r, 0, &target, f, &mut widths, sample)?;
            for (i, v) in read_record(&record).iter().enumerate() {
                if !v.is_empty() {
                    put_text(&mut sheet, r, 1 + i as ColNum, v, f, &mut widths, sample)?;
                }
            }
            r += 1;
        }
    }
    widths.apply(&mut sheet)?;
    sheet.autofilter(
        header_row,
        0,
        (r - 1).max(header_row + 1),
        (MANUAL_COLUMNS.len() - 1) as ColNum,
    )?;
    sheet.set_freeze_panes(header_row + 1, 0)?;
    sheet.set_landscape();
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(header_row, header_row)?;
    Ok(sheet)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{Action, Layout, Outcome, Row, Status, VendorKind};

    fn result(headers: &[(&str, Field)], cells: &[&str], workbook: bool) -> RowResult {
        RowResult {
            row: Row {
                index: 0,
                layout: Arc::new(Layout {
                    file: if workbook { "f.xlsx" } else { "f.csv" }.into(),
                    sheet: "Staff".into(),
                    is_workbook: workbook,
                    header_row: 1,
                    headers: headers.iter().map(|(h, _)| h.to_string()).collect(),
                    fields: headers.iter().map(|(_, f)| Some(*f)).collect(),
                    passthrough: vec![],
                }),
                line: 9,
                cells: cells.iter().map(|s| s.to_string()).collect(),
                errors: vec![],
            },
            target: Some("arobs".into()),
            vendor: Some(VendorKind::Arobs),
            outcome: Outcome::new(Status::Manual, Action::Create),
        }
    }

    #[test]
    fn manual_user_values() {
        let cases = [
            (
                result(
                    &[
                        ("Login", Field::Username),
                        ("Vorname", Field::FirstName),
                        ("Nachname", Field::LastName),
                        ("Mail", Field::Email),
                        ("Fahrzeuge", Field::Devices),
                        ("Passwort", Field::Password),
                    ],
                    &["jdoe", "Jane", "Doe", "j@x.eu", "B-1 | B-2|B-3", "Secr3tPw"],
                    true,
                ),
                (
                    "jdoe",
                    "Jane",
                    "Doe",
                    "j@x.eu",
                    "B-1, B-2, B-3",
                    "f.xlsx, Staff row 9",
                ),
            ),
            (
                result(
                    &[("Name", Field::Name), ("User", Field::Username)],
                    &["Anna Maria Huber", "ahuber"],
                    false,
                ),
                ("ahuber", "Anna Maria", "Huber", "", "", "f.csv row 9"),
            ),
            (
                result(&[("Name", Field::Name)], &["Cher"], false),
                ("", "Cher", "", "", "", "f.csv row 9"),
            ),
        ];
        for (r, want) in cases {
            let u = ManualUser::from_result(&r);
            let got = (
                u.username.as_str(),
                u.first_name.as_str(),
                u.last_name.as_str(),
                u.email.as_str(),
                u.vehicles.as_str(),
                u.source.as_str(),
            );
            assert_eq!(got, want);
        }
    }

    #[test]
    fn spool_groups_by_target_and_reads_back() {
        let mut spool = Spool::default();
        let headers = [("Login", Field::Username), ("Mail", Field::Email)];
        for (target, user) in [
            ("a", "u1"),
            ("b", "u2"),
            ("a", "u3,with \"quotes\"\nand a newline"),
        ] {
            let mut r = result(&headers, &[user, "m@x.eu"], true);
            r.target = Some(target.into());
            spool.add(&r).unwrap();
        }
        assert_eq!(spool.len(), 3);
        let drained = spool.drain().unwrap();
        let got: Vec<(String, u64, Vec<String>)> = drained
            .into_iter()
            .map(|(t, n, mut reader)| {
                let users = reader
                    .records()
                    .map(|rec| read_record(&rec.unwrap())[0].to_string())
                    .collect();
                (t, n, users)
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "a".to_string(),
                    2,
                    vec![
                        "u1".to_string(),
                        "u3,with \"quotes\"\nand a newline".to_string()
                    ]
                ),
                ("b".to_string(), 1, vec!["u2".to_string()]),
            ]
        );
    }
}
