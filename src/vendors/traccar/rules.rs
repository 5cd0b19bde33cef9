//! Traccar / PowUnity (`shared/vendors/traccar.md`): `name` (or first + last name) and
//! `email` are NOT NULL, both varchar 128; email is the identity. The server checks no
//! format itself, so muster does. Optional: device links, yes/no flags, `deviceLimit`
//! (-1 unlimited), `expirationTime` (ISO 8601).

use crate::model::Field;

use crate::rules::Rules;
use crate::vendors::Platform;

/// Traccar holds a user's e-mail unique (its identity); one user is made by one
/// request, its device links by more.
pub const PLATFORM: Platform = Platform {
    unique: &[Field::Email],
    made_in_one_request: false,
    taken_from: None,
    without_password: None,
};

/// `tc_users.name` and `tc_users.email` are varchar(128).
const MAX_LEN: usize = 128;

pub fn check(r: &mut Rules, full: bool) {
    if full && r.get(Field::Name).is_none() {
        let first = r.get(Field::FirstName).is_some();
        let last = r.get(Field::LastName).is_some();
        if !(first && last) {
            r.fail(
                Field::Name,
                "is required (or give both first_name and last_name)",
            );
        }
    }
    r.require(Field::Email);
    r.max_len(Field::Name, MAX_LEN);
    r.max_len(Field::Email, MAX_LEN);
    for f in [Field::Readonly, Field::DeviceReadonly, Field::Disabled] {
        r.boolean(f);
    }
    r.integer(Field::DeviceLimit, -1, 1_000_000);
    r.iso_date(Field::ExpirationTime);
    r.list(Field::Devices);
}

#[cfg(test)]
mod tests {
    use crate::model::{Action, Field, VendorKind};

    fn messages(action: Action, cells: &[(Field, &str)]) -> Vec<String> {
        crate::vendors::testing::messages_for(VendorKind::Traccar, action, cells)
    }

    #[test]
    fn rules() {
        let long = "x".repeat(129);
        // A valid address of 146 characters: 60 + @ + 40 + . + 40 + .com
        let long_email = format!(
            "{}@{}.{}.com",
            "a".repeat(60),
            "b".repeat(40),
            "c".repeat(40)
        );
        let long_name_problem = format!("name (A7): \"{long}\" is longer than 128 characters");
        let long_email_problem =
            format!("email (B7): \"{long_email}\" is longer than 128 characters");
        let long_expected = [long_name_problem.as_str(), long_email_problem.as_str()];
        let cases: Vec<(Vec<(Field, &str)>, crate::vendors::testing::Expected)> = vec![
            (
                vec![(Field::Email, "jane@example.com")],
                &["name: is required (or give both first_name and last_name) (no such column)"],
            ),
            (
                vec![
                    (Field::Name, ""),
                    (Field::FirstName, "Jane"),
                    (Field::Email, "jane@example.com"),
                ],
                &["name (A7): is required (or give both first_name and last_name)"],
            ),
            (
                vec![(Field::Name, "Jane Roe"), (Field::Email, "")],
                &["email (B7): is required"],
            ),
            (
                vec![(Field::Name, &long), (Field::Email, &long_email)],
                &long_expected,
            ),
            (
                vec![
                    (Field::Name, "Jane"),
                    (Field::Email, "jane@example.com"),
                    (Field::Readonly, "perhaps"),
                ],
                &[
                    "readonly (C7): \"perhaps\" is not a yes/no value (use true/false, yes/no, 1/0 or x)",
                ],
            ),
            (
                vec![
                    (Field::Name, "Jane"),
                    (Field::Email, "jane@example.com"),
                    (Field::DeviceLimit, "unlimited"),
                ],
                &["device_limit (C7): \"unlimited\" is not a whole number"],
            ),
            (
                vec![
                    (Field::Name, "Jane"),
                    (Field::Email, "jane@example.com"),
                    (Field::ExpirationTime, "next year"),
                ],
                &[
                    "expiration_time (C7): \"next year\" is not an ISO date (2027-12-31 or 2027-12-31T23:59:00Z)",
                ],
            ),
            (
                vec![
                    (Field::Name, "Jane"),
                    (Field::Email, "jane@example.com"),
                    (Field::Devices, "352099000000001|"),
                ],
                &[
                    "devices (C7): \"352099000000001|\" has an empty item (separate items with a single |)",
                ],
            ),
        ];
        for (cells, expected) in cases {
            assert_eq!(messages(Action::Create, &cells), expected, "{cells:?}");
        }
    }

    #[test]
    fn first_and_last_name_stand_in_for_name() {
        let ok = messages(
            Action::Create,
            &[
                (Field::FirstName, "Jane"),
                (Field::LastName, "Roe"),
                (Field::Email, "jane@example.com"),
                (Field::Readonly, "x"),
                (Field::DeviceLimit, "-1"),
                (Field::ExpirationTime, "2027-12-31"),
                (Field::Devices, "Bike 01|352099000000002"),
            ],
        );
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn delete_needs_only_the_email() {
        assert!(messages(Action::Delete, &[(Field::Email, "jane@example.com")]).is_empty());
    }
}
