//! `muster template VENDOR|all`: an xlsx per vendor with the headers that vendor uses, a
//! note on each header, drop-down lists on enum columns, one example row and a frozen bold
//! header. The example rows use the sandbox's seeded devices, groups, branches and
//! vehicles (`sandbox::seed`), so a filled-in template imports into a fresh sandbox.
//!
//! The files committed under `templates/` are this command's output
//! (`muster template all --out templates`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rust_xlsxwriter::{
    Color, DataValidation, DocProperties, ExcelDateTime, Format, FormatBorder, Note, Workbook,
};

use crate::Exit;
use crate::cli::TemplateArgs;
use crate::model::{Field, VendorKind};
use crate::vendors::motive::rules as motive;

/// Data rows that carry the drop-down lists.
const VALIDATED_ROWS: u32 = 1000;

/// One column of a template.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The header written: the field's name or an alias of it, so it maps back.
    pub header: &'static str,
    pub field: Field,
    /// The note on the header: what goes in the column.
    pub note: &'static str,
    /// The example row's value.
    pub example: &'static str,
    /// The drop-down list, for enum columns.
    pub choices: Option<&'static [&'static str]>,
}

const YES_NO: &[&str] = &["yes", "no"];
const ACTIONS: &[&str] = &["create", "update", "upsert", "delete"];

const fn col(
    header: &'static str,
    field: Field,
    note: &'static str,
    example: &'static str,
) -> Column {
    Column {
        header,
        field,
        note,
        example,
        choices: None,
    }
}

const fn pick(
    header: &'static str,
    field: Field,
    note: &'static str,
    example: &'static str,
    choices: &'static [&'static str],
) -> Column {
    Column {
        header,
        field,
        note,
        example,
        choices: Some(choices),
    }
}

/// The columns of `vendor`'s template, in order.
pub fn columns(vendor: VendorKind) -> Vec<Column> {
    let target = col(
        "Target",
        Field::Target,
        "Which target gets the row: a [target.NAME] of muster.toml, or without a config the vendor key written here.",
        vendor.key(),
    );
    let action = pick(
        "Action",
        Field::Action,
        "create (default when empty), update, upsert or delete.",
        "create",
        ACTIONS,
    );
    let mut cols = vec![target, action];
    cols.extend(match vendor {
        VendorKind::Traccar => vec![
            col("Name", Field::Name, "Required: the user's display name (at most 128 characters). Or leave it empty and add First name and Last name columns.", "Lena Huber"),
            col("E-mail", Field::Email, "Required and unique on the server: the user's login (at most 128 characters).", "lena.huber@example.com"),
            col("Password", Field::Password, "Optional: leave empty and muster generates one (written only to the passwords file you ask for).", ""),
            col("Phone", Field::Phone, "Optional: 6 to 15 digits, a leading + and spaces or dashes allowed.", "+43 664 1234567"),
            col("Devices", Field::Devices, "Optional: devices to link, by name or IMEI (uniqueId), separated by |.", "352099000000001|352099000000002"),
            pick("Read only", Field::Readonly, "Optional: yes = the user cannot change anything.", "no", YES_NO),
            pick("Device read only", Field::DeviceReadonly, "Optional: yes = the user cannot edit devices.", "no", YES_NO),
            pick("Disabled", Field::Disabled, "Optional: yes = the account exists but cannot log in.", "no", YES_NO),
            col("Device limit", Field::DeviceLimit, "Optional, administrators only: how many devices the user may add (-1 unlimited). Leave empty with a manager account, or the server refuses the user.", ""),
            col("Expiration time", Field::ExpirationTime, "Optional: ISO date (2027-12-31) or date-time after which the account expires.", "2027-12-31"),
        ],
        VendorKind::Motive => vec![
            col("First name", Field::FirstName, "Required.", "Marcus"),
            col("Last name", Field::LastName, "Required.", "Bell"),
            col("E-mail", Field::Email, "Required unless Username is given; identifies the user.", "marcus.bell@example.com"),
            col("Username", Field::Username, "Drivers only: the driver's login for the app.", "mbell"),
            col("Password", Field::Password, "The initial password.", "Haul-2027-mb"),
            col("Phone", Field::Phone, "Optional: 6 to 15 digits, a leading + and spaces or dashes allowed.", "+1 555 201 4410"),
            col("Phone ext", Field::PhoneExt, "Optional: digits only.", ""),
            col("Time zone", Field::TimeZone, "Optional: Motive's zone name, e.g. Central Time (US & Canada).", "Central Time (US & Canada)"),
            pick("Role", Field::Role, "driver, fleet_user or admin.", "driver", motive::ROLES),
            col("Groups", Field::Groups, "Optional: group names or ids separated by |. Drivers join them; fleet users are limited to them.", "North|Yard"),
            col("External id", Field::ExternalId, "Optional: your employee id; muster uses it to find the user again.", "EMP-1042"),
            pick("ELD mode", Field::EldMode, "Drivers only: logs, none or exempt. With time tracking logs: logs or none; with timecards or not_required: exempt.", "logs", motive::ELD_MODES),
            pick("Time tracking mode", Field::TimeTrackingMode, "Drivers only: logs, timecards or not_required (see ELD mode for the allowed pairs).", "logs", motive::TIME_TRACKING_MODES),
            pick("Duty status", Field::DutyStatus, "Drivers only: off_duty, on_duty, sleeper, driving or waiting.", "off_duty", motive::DUTY_STATUSES),
            col("Cycle", Field::Cycle, "Drivers only: the hours-of-service cycle, e.g. 70_8 or 60_7.", "70_8"),
            col("DOT id", Field::DotId, "Optional: the carrier's USDOT number (digits).", ""),
            col("Driver company id", Field::DriverCompanyId, "Drivers only: the driver's id inside your company.", "D-1042"),
            col("Drivers license number", Field::DriversLicenseNumber, "Drivers only.", "D1234567"),
            col("Drivers license state", Field::DriversLicenseState, "Drivers only: two-letter state or province code.", "TX"),
        ],
        VendorKind::Pegasus => vec![
            col("Username", Field::Username, "The login; when empty the e-mail is used (as Pegasus does). Letters, digits and @ . + - _ only.", "sofia.ramirez@example.com"),
            col("E-mail", Field::Email, "Required.", "sofia.ramirez@example.com"),
            col("First name", Field::FirstName, "Optional.", "Sofia"),
            col("Last name", Field::LastName, "Optional.", "Ramirez"),
            col("Password", Field::Password, "Required unless Send email is yes: at least 8 characters with an upper-case, a lower-case letter and a digit.", ""),
            pick("Send email", Field::SendEmail, "yes = Pegasus e-mails the user a link to set the password.", "yes", YES_NO),
            col("Phone", Field::Phone, "Optional: 6 to 15 digits, a leading + and spaces or dashes allowed.", "+57 310 555 0142"),
            col("Company", Field::Company, "Required: the user's organisation. muster makes one Pegasus group per company and reuses it.", "Transportes Andinos"),
            col("Role", Field::Role, "Optional: the access level, e.g. basic.", "basic"),
            col("Scopes", Field::Scopes, "Optional: resource=r or resource=w, separated by |.", "assets=r|vehicles=w|geofences=w|vehicles:device=r"),
            col("Apps", Field::Apps, "Optional: pegasus2.0 modules separated by | (tracking, alerts, reports, automation, applications, geofences, organization, trips, documentation). Empty = all.", "tracking|alerts|reports"),
            col("Language", Field::Language, "Optional: two-letter language of the welcome e-mail and the interface (en, es, pt).", "es"),
        ],
        VendorKind::Drtrack => vec![
            col("Username", Field::Username, "Required: the login id (userLoginId), no spaces.", "dwalker"),
            col("First name", Field::FirstName, "Required.", "David"),
            col("Last name", Field::LastName, "Required.", "Walker"),
            col("E-mail", Field::Email, "Required and unique in DRTrack.", "david.walker@example.com"),
            col("Password", Field::Password, "Optional: 8-40 characters with a digit, a lower-case, an upper-case letter and a special character. DRTrack would silently replace a weaker one, so muster refuses it.", "Dispatch-2027!"),
            col("User group", Field::UserGroup, "Required: an existing DRTrack user group, e.g. Admin, Dispatcher, Driver, Viewer.", "Dispatcher"),
            col("Branch ids", Field::BranchIds, "Optional: branch ids separated by | (not commas), or ALL; at most 255 characters.", "101|102"),
        ],
        VendorKind::Arobs => vec![
            col("Username", Field::Username, "Required: the API user's login, no spaces. AROBS users are made by hand in the web app; muster writes the steps.", "api.popescu"),
            col("First name", Field::FirstName, "Required.", "Andrei"),
            col("Last name", Field::LastName, "Required.", "Popescu"),
            col("E-mail", Field::Email, "Required: the activation e-mail goes here.", "andrei.popescu@example.com"),
            col("Vehicles", Field::Devices, "Optional: registration numbers the user may see, separated by |.", "CJ-01-ARB|CJ-02-ARB"),
            col("Password", Field::Password, "Optional, for muster verify after activation: at least 8 characters with an upper-case, a lower-case letter and a digit.", ""),
        ],
    });
    cols
}

/// The file name of `vendor`'s template.
pub fn file_name(vendor: VendorKind) -> String {
    format!("muster-template-{}.xlsx", vendor.key())
}

/// Writes `vendor`'s template into `dir` and returns its path.
pub fn write_template(vendor: VendorKind, dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join(file_name(vendor));
    let columns = columns(vendor);
    let mut workbook = Workbook::new();
    // A fixed creation time, so regenerating gives the same file.
    let created = ExcelDateTime::from_ymd(2026, 1, 1)?;
    workbook.set_properties(
        &DocProperties::new()
            .set_title(format!("muster roster template: {}", vendor.display_name()))
            .set_author("muster")
            .set_creation_datetime(&created),
    );
    let header = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xDDEBF7))
        .set_border_bottom(FormatBorder::Thin);
    let text = Format::new().set_num_format("@");
    let sheet = workbook.add_worksheet();
    sheet.set_name(vendor.key())?;
    for (i, c) in columns.iter().enumerate() {
        let i = u16::try_from(i).context("too many template columns")?;
        sheet.write_string_with_format(0, i, c.header, &header)?;
        sheet.insert_note(
            0,
            i,
            &Note::new(c.note)
                .add_author_prefix(false)
                .set_width(320)
                .set_height(110),
        )?;
        // Text format, so phone numbers and ids typed in later stay text.
        sheet.set_column_format(i, &text)?;
        sheet.write_string_with_format(1, i, c.example, &text)?;
        let width = c.header.len().max(c.example.len()).clamp(10, 40) + 2;
        sheet.set_column_width(i, width as f64)?;
        if let Some(choices) = c.choices {
            let dv = DataValidation::new()
                .allow_list_strings(choices)?
                .set_error_title(c.header)?
                .set_error_message(format!("Choose one of: {}", choices.join(", ")))?;
            sheet.add_data_validation(1, i, VALIDATED_ROWS, i, &dv)?;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    workbook
        .save(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

pub fn run(args: TemplateArgs) -> anyhow::Result<Exit> {
    let vendors: Vec<VendorKind> = if args.vendor.eq_ignore_ascii_case("all") {
        VendorKind::ALL.to_vec()
    } else {
        match VendorKind::from_key(&args.vendor) {
            Some(v) => vec![v],
            None => anyhow::bail!(
                "unknown vendor \"{}\" (use one of traccar, motive, pegasus, drtrack, arobs, or all)",
                args.vendor
            ),
        }
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    for v in vendors {
        let path = write_template(v, &args.out)?;
        crate::say!("wrote {}", path.display());
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_starts_with_target_and_action_and_names_each_field_once() {
        for v in VendorKind::ALL {
            let cols = columns(v);
            assert_eq!(cols[0].field, Field::Target);
            assert_eq!(cols[0].example, v.key());
            assert_eq!(cols[1].field, Field::Action);
            let mut fields: Vec<Field> = cols.iter().map(|c| c.field).collect();
            fields.sort();
            fields.dedup();
            assert_eq!(fields.len(), cols.len(), "{v}: a field twice");
        }
    }

    #[test]
    fn unknown_vendor_is_an_error_naming_it() {
        let err = run(TemplateArgs {
            vendor: "samsara".into(),
            out: PathBuf::from("."),
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown vendor \"samsara\" (use one of traccar, motive, pegasus, drtrack, arobs, or all)"
        );
    }
}
