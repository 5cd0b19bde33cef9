//! Pegasus Gateway (`shared/vendors/pegasus.md`): a user needs a username (the sample uses
//! the email, so the email stands in), an email, a company (its group) and either a
//! password or `send_email`. Password policy since 6.11.1: ≥ 8 characters, an upper-case,
//! a lower-case letter and a digit. `scopes` are `resource=r|w` pairs; `apps` are the
//! pegasus2.0 web-app modules; `role` is the `access` level.

use crate::model::Field;

use crate::model::split_list;
use crate::rules::PasswordPolicy;
use crate::rules::Rules;
use crate::vendors::Platform;

/// Password policy (release 6.11.1).
const POLICY: PasswordPolicy = PasswordPolicy {
    min: 8,
    max: None,
    special: false,
};

/// The pegasus2.0 app modules granted by `PUT /apps/pegasus2.0`.
pub const APPS: &[&str] = &[
    "tracking",
    "alerts",
    "reports",
    "automation",
    "applications",
    "geofences",
    "organization",
    "trips",
    "documentation",
];

/// Usernames follow Django's rule (the platform is Django-based: `is_staff`,
/// `is_superuser`): letters, digits and `@ . + - _`, at most 150 characters.
fn is_username(text: &str) -> bool {
    text.chars().count() <= 150
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_'))
}

/// Pegasus holds logins and e-mails unique; a user is made after its group and before its
/// app access. A user without a password gets the platform's login e-mail.
pub const PLATFORM: Platform = Platform {
    unique: &[Field::Username, Field::Email],
    made_in_one_request: false,
    taken_from: None,
    without_password: Some((Field::SendEmail, "yes", "the platform e-mails the login")),
};

/// A scope resource: lower-case words joined by `_`, `.` or `:` (`vehicles:device`).
fn is_resource(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | ':'))
}

pub fn check(r: &mut Rules, full: bool) {
    // The email stands in for a missing username, so a new user needs only the email.
    if full {
        r.require(Field::Email);
    } else if r.get(Field::Username).is_none() {
        r.require_one_of(&[Field::Username, Field::Email]);
    }
    if let Some(u) = r.get(Field::Username) {
        if !is_username(u) {
            r.fail(
                Field::Username,
                "is not a Pegasus username (letters, digits and @ . + - _ only, at most 150 characters)",
            );
        }
    }
    let send_email = r.boolean(Field::SendEmail).unwrap_or(false);
    if full {
        r.require(Field::Company);
        if !send_email && r.get(Field::Password).is_none() {
            r.fail_secret(
                Field::Password,
                "is required unless send_email is yes (the user then sets it from the e-mail)",
            );
        }
    }
    r.password(POLICY, "");
    if let Some(access) = r.get(Field::Role) {
        if !access
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            r.fail(
                Field::Role,
                "is not a Pegasus access level (one word, e.g. basic)",
            );
        }
    }
    if let Some(scopes) = r.get(Field::Scopes) {
        let mut seen: Vec<&str> = Vec::new();
        for item in split_list(scopes) {
            let ok = item.split_once('=').is_some_and(|(res, level)| {
                is_resource(res.trim()) && matches!(level.trim(), "r" | "w")
            });
            if !ok {
                r.fail(
                    Field::Scopes,
                    format!(
                        "has \"{item}\", not resource=r or resource=w (e.g. assets=r|vehicles=w)"
                    ),
                );
                continue;
            }
            let res = item
                .split_once('=')
                .map(|(res, _)| res.trim())
                .unwrap_or("");
            if seen.contains(&res) {
                r.fail(Field::Scopes, format!("names {res} twice"));
            }
            seen.push(res);
        }
    }
    for app in r.list(Field::Apps) {
        if !APPS.iter().any(|a| a.eq_ignore_ascii_case(app)) {
            r.fail(
                Field::Apps,
                format!("has \"{app}\", not one of {}", APPS.join(", ")),
            );
        }
    }
    if let Some(lang) = r.get(Field::Language) {
        let ok = lang.len() == 2 && lang.chars().all(|c| c.is_ascii_alphabetic());
        if !ok {
            r.fail(
                Field::Language,
                "is not a two-letter language code (en, es, pt)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Action, Field, VendorKind};

    fn messages(extra: &[(Field, &str)]) -> Vec<String> {
        let mut cells = vec![
            (Field::Username, "jane@example.com"),
            (Field::Email, "jane@example.com"),
            (Field::Company, "Acme Logistics"),
            (Field::Password, "Str0ngPass"),
        ];
        cells.extend_from_slice(extra);
        crate::vendors::testing::messages_for(VendorKind::Pegasus, Action::Create, &cells)
    }

    #[test]
    fn rules() {
        let cases: &[crate::vendors::testing::Case] = &[
            (
                &[(Field::Scopes, "assets=rw|vehicles=w")],
                &[
                    "scopes (E7): \"assets=rw|vehicles=w\" has \"assets=rw\", not resource=r or resource=w (e.g. assets=r|vehicles=w)",
                ],
            ),
            (
                &[(Field::Scopes, "assets=r|assets=w")],
                &["scopes (E7): \"assets=r|assets=w\" names assets twice"],
            ),
            (
                &[(Field::Apps, "tracking|billing")],
                &[
                    "apps (E7): \"tracking|billing\" has \"billing\", not one of tracking, alerts, reports, automation, applications, geofences, organization, trips, documentation",
                ],
            ),
            (
                &[(Field::Language, "spanish")],
                &["language (E7): \"spanish\" is not a two-letter language code (en, es, pt)"],
            ),
            (
                &[(Field::Role, "super user")],
                &["role (E7): \"super user\" is not a Pegasus access level (one word, e.g. basic)"],
            ),
            (
                &[(Field::SendEmail, "sometimes")],
                &[
                    "send_email (E7): \"sometimes\" is not a yes/no value (use true/false, yes/no, 1/0 or x)",
                ],
            ),
        ];
        for (extra, expected) in cases {
            assert_eq!(messages(extra), *expected, "{extra:?}");
        }
    }

    #[test]
    fn username_and_password_rules() {
        let got = crate::vendors::testing::messages_for(
            VendorKind::Pegasus,
            Action::Create,
            &[
                (Field::Username, "jane roe"),
                (Field::Email, "jane@example.com"),
                (Field::Company, "Acme"),
                (Field::Password, "password1"),
            ],
        );
        assert_eq!(
            got,
            [
                "username (A7): \"jane roe\" is not a Pegasus username (letters, digits and @ . + - _ only, at most 150 characters)",
                "password (D7): is too weak (no upper-case letter): it must have at least 8 characters with a digit, a lower-case and an upper-case letter",
            ]
        );
    }

    #[test]
    fn password_or_send_email_and_company_are_required() {
        let got = crate::vendors::testing::messages_for(
            VendorKind::Pegasus,
            Action::Create,
            &[(Field::Email, "jane@example.com"), (Field::Password, "")],
        );
        assert_eq!(
            got,
            [
                "company: is required (no such column)",
                "password (B7): is required unless send_email is yes (the user then sets it from the e-mail)",
            ]
        );
        let got = crate::vendors::testing::messages_for(
            VendorKind::Pegasus,
            Action::Create,
            &[
                (Field::Email, "jane@example.com"),
                (Field::Company, "Acme"),
                (Field::SendEmail, "yes"),
                (Field::Scopes, "assets=r|vehicles=w|vehicles:device=r"),
                (Field::Apps, "tracking|Reports"),
                (Field::Language, "es"),
                (Field::Role, "basic"),
            ],
        );
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn a_username_or_email_is_needed_even_to_delete() {
        let got = crate::vendors::testing::messages_for(VendorKind::Pegasus, Action::Delete, &[]);
        assert_eq!(
            got,
            ["username: is required (give username or email) (no such column)"]
        );
    }
}
