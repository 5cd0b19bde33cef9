//! DRTrack's rules that muster checks before sending, because the platform would not say
//! (`shared/vendors/drtrack.md`, "Sync semantics"): a weak password is silently replaced
//! by a random one, branch ids past 255 characters are silently cut, and a new user needs
//! a user group. Pure functions of a row; the validation stage may call [`check`] too.

use crate::model::{Action, Field, Problem, Row};

/// Longest `branchIds` DRTrack keeps whole.
pub const MAX_BRANCH_TEXT: usize = 255;

/// Every DRTrack rule a row breaks, for a row that would be sent as `action`.
pub fn check(row: &Row, action: Action) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Some(text) = row.get(Field::BranchIds) {
        if let Err(rule) = branch_ids(text) {
            problems.push(Problem::field(row, Field::BranchIds, rule));
        }
    }
    if let Some(text) = row.get(Field::GroupId) {
        if text.trim().parse::<i64>().is_err() {
            problems.push(Problem::field(
                row,
                Field::GroupId,
                "is not a whole number (DRTrack's groupId is the user group's number)",
            ));
        }
    }
    if matches!(action, Action::Create | Action::Upsert) {
        if let Some(pw) = row.get(Field::Password) {
            if let Err(rule) = password(pw) {
                // Never echo the password itself.
                problems.push(Problem::row(format!(
                    "{}: {rule}; DRTrack would silently replace it with a random one",
                    password_place(row)
                )));
            }
        }
        if action == Action::Create
            && row.get(Field::UserGroup).is_none()
            && row.get(Field::GroupId).is_none()
        {
            problems.push(Problem::field(
                row,
                Field::UserGroup,
                "is required for a new DRTrack user (user_group or group_id)",
            ));
        }
    }
    problems
}

/// Where the password cell is, without its value: `Password (E7)`.
fn password_place(row: &Row) -> String {
    match row.layout.column_of(Field::Password) {
        Some(col) => format!("{} ({})", row.header(col), row.cell_name(col)),
        None => "password".into(),
    }
}

/// Branch ids as DRTrack's API takes them: `101|102`, or `ALL`. Returns the normalised text.
pub fn branch_ids(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("all") {
        return Ok("ALL".into());
    }
    if t.contains(',') || t.contains(';') {
        let hint = t
            .split([',', ';', '|'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("|");
        return Err(format!(
            "separates branch ids with something other than |; DRTrack's API takes \"{hint}\""
        ));
    }
    let ids: Vec<&str> = t.split('|').map(str::trim).collect();
    if ids
        .iter()
        .any(|id| id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(
            "is not a list of numeric branch ids joined by | (e.g. 101|102), or ALL".into(),
        );
    }
    let joined = ids.join("|");
    if joined.len() > MAX_BRANCH_TEXT {
        return Err(format!(
            "is {} characters long; DRTrack keeps only the first {MAX_BRANCH_TEXT} and drops the rest",
            joined.len()
        ));
    }
    Ok(joined)
}

/// DRTrack's password policy for new users: 8–40 characters with a digit, a lower-case
/// letter, an upper-case letter and a special character.
pub fn password(pw: &str) -> Result<(), String> {
    let n = pw.chars().count();
    let mut missing = Vec::new();
    if !pw.chars().any(|c| c.is_ascii_digit()) {
        missing.push("a digit");
    }
    if !pw.chars().any(char::is_lowercase) {
        missing.push("a lower-case letter");
    }
    if !pw.chars().any(char::is_uppercase) {
        missing.push("an upper-case letter");
    }
    if !pw
        .chars()
        .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
    {
        missing.push("a special character");
    }
    if (8..=40).contains(&n) && missing.is_empty() {
        return Ok(());
    }
    let mut why = Vec::new();
    if !(8..=40).contains(&n) {
        why.push(format!("has {n} characters (8 to 40 needed)"));
    }
    if !missing.is_empty() {
        why.push(format!("lacks {}", missing.join(", ")));
    }
    Err(format!("the password {}", why.join(" and ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_id_table() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("101", Ok("101")),
            ("101|102", Ok("101|102")),
            (" 101 | 102 ", Ok("101|102")),
            ("all", Ok("ALL")),
            ("101,102", Err("DRTrack's API takes \"101|102\"")),
            ("101;102", Err("takes \"101|102\"")),
            ("101||102", Err("numeric branch ids")),
            ("North", Err("numeric branch ids")),
        ];
        for (input, want) in cases {
            let got = branch_ids(input);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{input}"),
                (Err(w), Err(g)) => assert!(g.contains(w), "{input}: {g}"),
                _ => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
        let long = vec!["1234567"; 40].join("|");
        assert!(branch_ids(&long).unwrap_err().contains("first 255"));
    }

    #[test]
    fn password_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Sandbox-Pass-1!", None),
            ("Aa1!aaaa", None),
            ("Aa1!aaa", Some("has 7 characters")),
            (
                "password",
                Some("lacks a digit, an upper-case letter, a special character"),
            ),
            ("PASSWORD1!", Some("lacks a lower-case letter")),
            ("Password1", Some("lacks a special character")),
        ];
        for (pw, want) in cases {
            match (want, password(pw)) {
                (None, Ok(())) => {}
                (Some(w), Err(e)) => assert!(e.contains(w), "{pw}: {e}"),
                (w, got) => panic!("{pw}: got {got:?}, want {w:?}"),
            }
        }
        let long = format!("Aa1!{}", "x".repeat(40));
        assert!(password(&long).unwrap_err().contains("44 characters"));
    }
}
