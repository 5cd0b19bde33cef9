//! Motive (`shared/vendors/motive.md`): first and last name are required, and a way to find
//! the user again (email, else username). `role` is driver, fleet_user or admin; the
//! eld_mode × time_tracking_mode pairs the platform accepts; fields the legacy docs list
//! only among "Driver's params" are refused on fleet users and admins; `duty_status` takes
//! the values the list endpoint documents.

use crate::model::Field;

use super::Rules;

/// `role` values (create-user docs).
pub const ROLES: &[&str] = &["driver", "fleet_user", "admin"];
/// `eld_mode` values (the eld × time-tracking table).
pub const ELD_MODES: &[&str] = &["logs", "none", "exempt"];
/// `time_tracking_mode` values (the eld × time-tracking table).
pub const TIME_TRACKING_MODES: &[&str] = &["logs", "timecards", "not_required"];
/// `duty_status` values (legacy `GET /users` parameters).
pub const DUTY_STATUSES: &[&str] = &["off_duty", "on_duty", "sleeper", "driving", "waiting"];

/// time_tracking_mode → the eld_mode values allowed with it.
const PAIRS: &[(&str, &[&str])] = &[
    ("logs", &["logs", "none"]),
    ("timecards", &["exempt"]),
    ("not_required", &["exempt"]),
];

/// Fields only drivers carry (legacy docs, "Driver's params" of `PUT /users/:id`).
const DRIVER_ONLY: &[Field] = &[
    Field::Username,
    Field::EldMode,
    Field::TimeTrackingMode,
    Field::DutyStatus,
    Field::Cycle,
    Field::DriverCompanyId,
    Field::DriversLicenseNumber,
    Field::DriversLicenseState,
];

pub(super) fn check(r: &mut Rules, full: bool) {
    if full {
        r.require(Field::FirstName);
        r.require(Field::LastName);
    }
    // A new user needs a login; an existing one may also be found by its external id.
    if full {
        r.require_one_of(&[Field::Email, Field::Username]);
    } else {
        r.require_one_of(&[Field::Email, Field::Username, Field::ExternalId]);
    }
    let role = r.one_of(Field::Role, ROLES);
    let eld = r.one_of(Field::EldMode, ELD_MODES);
    let ttm = r.one_of(Field::TimeTrackingMode, TIME_TRACKING_MODES);
    if let (Some(eld), Some(ttm)) = (eld, ttm) {
        let allowed = PAIRS
            .iter()
            .find(|(t, _)| *t == ttm)
            .map(|(_, e)| *e)
            .unwrap_or(&[]);
        if !allowed.contains(&eld) {
            r.fail(
                Field::EldMode,
                format!(
                    "does not go with time_tracking_mode \"{ttm}\" (allowed: logs with logs or none; timecards with exempt; not_required with exempt)"
                ),
            );
        }
    }
    r.one_of(Field::DutyStatus, DUTY_STATUSES);
    if let Some(role) = role.filter(|r| *r != "driver") {
        for f in DRIVER_ONLY {
            if r.get(*f).is_some() {
                r.fail(*f, format!("is only for drivers (role is {role})"));
            }
        }
    }
    if let Some(u) = r.get(Field::Username) {
        if u.chars().any(char::is_whitespace) {
            r.fail(Field::Username, "must not contain spaces");
        }
    }
    if let Some(ext) = r.get(Field::PhoneExt) {
        if ext.len() > 10 || !ext.chars().all(|c| c.is_ascii_digit()) {
            r.fail(
                Field::PhoneExt,
                "is not a phone extension (up to 10 digits)",
            );
        }
    }
    if let Some(dot) = r.get(Field::DotId) {
        if !dot.chars().all(|c| c.is_ascii_digit()) {
            r.fail(Field::DotId, "is not a USDOT number (digits only)");
        }
    }
    if let Some(state) = r.get(Field::DriversLicenseState) {
        if state.len() != 2 || !state.chars().all(|c| c.is_ascii_alphabetic()) {
            r.fail(
                Field::DriversLicenseState,
                "is not a two-letter state or province code",
            );
        }
    }
    r.list(Field::Groups);
}

#[cfg(test)]
mod tests {
    use crate::model::{Action, Field, VendorKind};

    fn messages(action: Action, extra: &[(Field, &str)]) -> Vec<String> {
        let mut cells = vec![
            (Field::FirstName, "Jane"),
            (Field::LastName, "Roe"),
            (Field::Email, "jane@example.com"),
        ];
        cells.extend_from_slice(extra);
        super::super::messages_for(VendorKind::Motive, action, &cells)
    }

    #[test]
    fn rules() {
        let cases: &[super::super::Case] = &[
            (
                &[(Field::Role, "manager")],
                &["role (D7): \"manager\" is not one of driver, fleet_user, admin"],
            ),
            (
                &[(Field::EldMode, "paper")],
                &["eld_mode (D7): \"paper\" is not one of logs, none, exempt"],
            ),
            (
                &[(Field::TimeTrackingMode, "hours")],
                &["time_tracking_mode (D7): \"hours\" is not one of logs, timecards, not_required"],
            ),
            (
                &[
                    (Field::EldMode, "exempt"),
                    (Field::TimeTrackingMode, "logs"),
                ],
                &[
                    "eld_mode (D7): \"exempt\" does not go with time_tracking_mode \"logs\" (allowed: logs with logs or none; timecards with exempt; not_required with exempt)",
                ],
            ),
            (
                &[
                    (Field::EldMode, "Logs"),
                    (Field::TimeTrackingMode, "Timecards"),
                ],
                &[
                    "eld_mode (D7): \"Logs\" does not go with time_tracking_mode \"timecards\" (allowed: logs with logs or none; timecards with exempt; not_required with exempt)",
                ],
            ),
            (
                &[(Field::DutyStatus, "resting")],
                &[
                    "duty_status (D7): \"resting\" is not one of off_duty, on_duty, sleeper, driving, waiting",
                ],
            ),
            (
                &[
                    (Field::Role, "fleet_user"),
                    (Field::EldMode, "logs"),
                    (Field::Cycle, "70_8"),
                ],
                &[
                    "eld_mode (E7): \"logs\" is only for drivers (role is fleet_user)",
                    "cycle (F7): \"70_8\" is only for drivers (role is fleet_user)",
                ],
            ),
            (
                &[(Field::Role, "driver"), (Field::Username, "jane roe")],
                &["username (E7): \"jane roe\" must not contain spaces"],
            ),
            (
                &[(Field::PhoneExt, "12a")],
                &["phone_ext (D7): \"12a\" is not a phone extension (up to 10 digits)"],
            ),
            (
                &[(Field::DotId, "US-123")],
                &["dot_id (D7): \"US-123\" is not a USDOT number (digits only)"],
            ),
            (
                &[(Field::DriversLicenseState, "Calif")],
                &[
                    "drivers_license_state (D7): \"Calif\" is not a two-letter state or province code",
                ],
            ),
            (
                &[(Field::Groups, "North||South")],
                &[
                    "groups (D7): \"North||South\" has an empty item (separate items with a single |)",
                ],
            ),
        ];
        for (extra, expected) in cases {
            assert_eq!(messages(Action::Create, extra), *expected, "{extra:?}");
        }
    }

    #[test]
    fn names_and_a_login_are_required() {
        let got = super::super::messages_for(
            VendorKind::Motive,
            Action::Create,
            &[(Field::FirstName, ""), (Field::Email, "")],
        );
        assert_eq!(
            got,
            [
                "first_name (A7): is required",
                "last_name: is required (no such column)",
                "email (B7): is required (give email or username)",
            ]
        );
    }

    #[test]
    fn allowed_pairs_and_roles_pass() {
        for (eld, ttm) in [
            ("logs", "logs"),
            ("none", "LOGS"),
            ("Exempt", "timecards"),
            ("exempt", "not_required"),
        ] {
            let got = messages(
                Action::Create,
                &[
                    (Field::Role, "Driver"),
                    (Field::EldMode, eld),
                    (Field::TimeTrackingMode, ttm),
                    (Field::DutyStatus, "off_duty"),
                    (Field::Groups, "North|South"),
                    (Field::DriversLicenseState, "CA"),
                ],
            );
            assert!(got.is_empty(), "{eld} {ttm}: {got:?}");
        }
        assert!(messages(Action::Create, &[(Field::Role, "admin")]).is_empty());
    }

    #[test]
    fn update_finds_the_user_by_external_id() {
        let got = super::super::messages_for(
            VendorKind::Motive,
            Action::Update,
            &[(Field::ExternalId, "E-17")],
        );
        assert!(got.is_empty(), "{got:?}");
    }
}
