//! DRTrack's rules (`shared/vendors/drtrack.md`): `PUT /users/sync` takes `userLoginId`,
//! `firstName`, `lastName`, `email`, `userGroup` and `branchIds`, and answers only
//! true/false, so muster refuses here what the platform would refuse or silently change:
//! branch ids are digits joined by `|` (or `ALL`), at most 255 characters (longer lists
//! are truncated by the platform); a password must be 8–40 characters with a digit, a
//! lower-case, an upper-case and a special character, or the platform replaces it with a
//! random one without saying so; a new user needs a user group. The validation stage runs
//! [`check`], and the connector again before it plans a row (`vendors::problems`).

use crate::model::{Field, split_list};
use crate::rules::{PasswordPolicy, Rules};
use crate::vendors::Platform;

/// Password policy for new users (import/export guide).
pub const POLICY: PasswordPolicy = PasswordPolicy {
    min: 8,
    max: Some(40),
    special: true,
};

/// `branchIds` is cut at 255 characters by the platform.
pub const MAX_BRANCH_TEXT: usize = 255;

/// DRTrack holds logins and e-mails unique and makes a user in one operation of a sync
/// batch; its user group is often the roster's role.
pub const PLATFORM: Platform = Platform {
    unique: &[Field::Username, Field::Email],
    made_in_one_request: true,
    taken_from: Some((Field::UserGroup, Field::Role)),
    without_password: None,
};

/// Every DRTrack rule the row breaks; `full` for a row that makes a user (create,
/// upsert), which needs every field a new user needs.
pub fn check(r: &mut Rules, full: bool) {
    r.require(Field::Username);
    if full {
        r.require(Field::FirstName);
        r.require(Field::LastName);
        r.require(Field::Email);
        if r.get(Field::GroupId).is_none() {
            r.require(Field::UserGroup);
        }
    }
    if let Some(u) = r.get(Field::Username) {
        if u.chars().any(char::is_whitespace) {
            r.fail(Field::Username, "must not contain spaces");
        }
    }
    if let Some(text) = r.get(Field::BranchIds) {
        if let Err(rule) = branch_ids(text) {
            r.fail(Field::BranchIds, rule);
        }
    }
    r.integer(Field::GroupId, 0, i64::from(i32::MAX));
    r.password(
        POLICY,
        "; DRTrack would silently replace it with a random password",
    );
}

/// Branch ids as DRTrack's API takes them, `101|102` or `ALL`, from a cell that lists them
/// with `|` (or `;`, as every list cell may). `Err` holds the rule the cell breaks.
pub fn branch_ids(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("all") {
        return Ok("ALL".into());
    }
    if t.contains(',') {
        return Err(format!(
            "uses commas: use | between branch ids ({})",
            t.split(',').map(str::trim).collect::<Vec<_>>().join("|")
        ));
    }
    let items = split_list(t);
    if items.iter().any(|i| i.is_empty()) {
        return Err("has an empty item (separate items with a single |)".into());
    }
    if let Some(bad) = items
        .iter()
        .find(|i| !i.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "has \"{bad}\", not a branch id (digits, joined by |, or ALL)"
        ));
    }
    let joined = items.join("|");
    if joined.len() > MAX_BRANCH_TEXT {
        return Err(format!(
            "is {} characters long; DRTrack keeps only {MAX_BRANCH_TEXT} (use ALL or split the branches)",
            joined.len()
        ));
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::branch_ids;
    use crate::model::{Action, Field, VendorKind};

    /// A complete new user with `extra` appended, or replacing a field given twice.
    fn messages(extra: &[(Field, &str)]) -> Vec<String> {
        let mut cells = vec![
            (Field::Username, "jroe"),
            (Field::FirstName, "Jane"),
            (Field::LastName, "Roe"),
            (Field::Email, "jane@example.com"),
            (Field::UserGroup, "Dispatcher"),
        ];
        for (f, v) in extra {
            match cells.iter_mut().find(|(g, _)| g == f) {
                Some(cell) => cell.1 = v,
                None => cells.push((*f, v)),
            }
        }
        crate::vendors::testing::messages_for(VendorKind::Drtrack, Action::Create, &cells)
    }

    #[test]
    fn rules() {
        let cases: &[crate::vendors::testing::Case] = &[
            (
                &[(Field::BranchIds, "101,102")],
                &["branch_ids (F7): \"101,102\" uses commas: use | between branch ids (101|102)"],
            ),
            (
                &[(Field::BranchIds, "101|North")],
                &[
                    "branch_ids (F7): \"101|North\" has \"North\", not a branch id (digits, joined by |, or ALL)",
                ],
            ),
            (
                &[(Field::Password, "Password1")],
                &[
                    "password (F7): is too weak (no special character): it must have 8–40 characters with a digit, a lower-case and an upper-case letter and a special character; DRTrack would silently replace it with a random password",
                ],
            ),
            (
                &[(Field::Password, "Sh0rt!")],
                &[
                    "password (F7): is too weak (shorter than 8 characters): it must have 8–40 characters with a digit, a lower-case and an upper-case letter and a special character; DRTrack would silently replace it with a random password",
                ],
            ),
            (
                &[(Field::GroupId, "admins")],
                &["group_id (F7): \"admins\" is not a whole number"],
            ),
            (
                &[(Field::Username, "j roe")],
                &["username (A7): \"j roe\" must not contain spaces"],
            ),
            (&[(Field::UserGroup, "")], &["user_group (E7): is required"]),
        ];
        for (extra, expected) in cases {
            assert_eq!(messages(extra), *expected, "{extra:?}");
        }
    }

    #[test]
    fn branch_lists_longer_than_255_characters_are_refused() {
        // 60 four-digit ids joined by | are 299 characters.
        let long = (0..60)
            .map(|n| (1000 + n).to_string())
            .collect::<Vec<_>>()
            .join("|");
        assert_eq!(
            messages(&[(Field::BranchIds, &long)]),
            [format!(
                "branch_ids (F7): \"{long}\" is 299 characters long; DRTrack keeps only 255 (use ALL or split the branches)"
            )]
        );
    }

    #[test]
    fn valid_users_pass() {
        for extra in [
            vec![(Field::BranchIds, "101|102")],
            vec![(Field::BranchIds, "ALL")],
            vec![
                (Field::BranchIds, "101;103"),
                (Field::Password, "Fleet-2027!x"),
            ],
            vec![(Field::UserGroup, ""), (Field::GroupId, "4")],
        ] {
            let got = messages(&extra);
            assert!(got.is_empty(), "{extra:?}: {got:?}");
        }
    }

    #[test]
    fn delete_needs_only_the_login() {
        let got = crate::vendors::testing::messages_for(
            VendorKind::Drtrack,
            Action::Delete,
            &[(Field::Username, "")],
        );
        assert_eq!(got, ["username (A7): is required"]);
    }

    #[test]
    fn branch_ids_are_sent_joined_by_bars() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("101", Ok("101")),
            ("101|102", Ok("101|102")),
            (" 101 | 102 ", Ok("101|102")),
            ("101;102", Ok("101|102")),
            ("all", Ok("ALL")),
            (
                "101,102",
                Err("uses commas: use | between branch ids (101|102)"),
            ),
            ("101||102", Err("has an empty item")),
            ("North", Err("not a branch id")),
        ];
        for (input, want) in cases {
            let got = branch_ids(input);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{input}"),
                (Err(w), Err(g)) => assert!(g.contains(w), "{input}: {g}"),
                _ => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }
}
