//! AROBS TrackGPS (`shared/vendors/arobs-trackgps.md`): no API creates users; the
//! administrator fills Username, First Name, Last Name and Email in the web app and ticks
//! vehicle rights, so those four are required. A password given for verification must
//! meet the activation page's policy: ≥ 8 characters, a lower-case, an upper-case letter
//! and a digit.

use crate::model::Field;

use crate::rules::PasswordPolicy;
use crate::rules::Rules;
use crate::vendors::Platform;

/// TrackGPS users are made by hand (no API): the login is what must not repeat.
pub const PLATFORM: Platform = Platform {
    unique: &[Field::Username],
    made_in_one_request: true,
    taken_from: None,
    without_password: None,
};

/// Password policy of the activation page.
const POLICY: PasswordPolicy = PasswordPolicy {
    min: 8,
    max: None,
    special: false,
};

pub fn check(r: &mut Rules, full: bool) {
    r.require(Field::Username);
    if full {
        r.require(Field::FirstName);
        r.require(Field::LastName);
        r.require(Field::Email);
    }
    if let Some(u) = r.get(Field::Username) {
        if u.chars().any(char::is_whitespace) {
            r.fail(Field::Username, "must not contain spaces");
        }
    }
    r.password(POLICY, "; AROBS would refuse it on the activation page");
    r.list(Field::Devices);
}

#[cfg(test)]
mod tests {
    use crate::model::{Action, Field, VendorKind};

    fn messages(cells: &[(Field, &str)]) -> Vec<String> {
        crate::vendors::testing::messages_for(VendorKind::Arobs, Action::Create, cells)
    }

    #[test]
    fn rules() {
        let cases: &[crate::vendors::testing::Case] = &[
            (
                &[(Field::Username, "api.roe"), (Field::FirstName, "Jane")],
                &[
                    "last_name: is required (no such column)",
                    "email: is required (no such column)",
                ],
            ),
            (
                &[
                    (Field::Username, "api roe"),
                    (Field::FirstName, "Jane"),
                    (Field::LastName, "Roe"),
                    (Field::Email, "jane@example.com"),
                ],
                &["username (A7): \"api roe\" must not contain spaces"],
            ),
            (
                &[
                    (Field::Username, "api.roe"),
                    (Field::FirstName, "Jane"),
                    (Field::LastName, "Roe"),
                    (Field::Email, "jane@example.com"),
                    (Field::Password, "alllowercase"),
                ],
                &[
                    "password (E7): is too weak (no digit, no upper-case letter): it must have at least 8 characters with a digit, a lower-case and an upper-case letter; AROBS would refuse it on the activation page",
                ],
            ),
            (
                &[
                    (Field::Username, "api.roe"),
                    (Field::FirstName, "Jane"),
                    (Field::LastName, "Roe"),
                    (Field::Email, "jane@example.com"),
                    (Field::Devices, "CJ-01-ARB|CJ-02-ARB"),
                    (Field::Password, "Activ8Me"),
                ],
                &[],
            ),
        ];
        for (cells, expected) in cases {
            assert_eq!(messages(cells), *expected, "{cells:?}");
        }
    }
}
