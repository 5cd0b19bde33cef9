//! What makes a cell safe to write: never a formula, never longer than Excel allows, never a
//! secret. Pure functions on text; the writers in `workbook` and `json` call them.
//!
//! # Formula-looking text
//!
//! Every input value is written with `write_string`, which makes an `inlineStr` cell
//! (`<c t="inlineStr"><is><t>=1+1</t></is></c>`). Excel and LibreOffice show such a cell as the
//! text `=1+1` and never evaluate it on open: a string cell is not a formula cell, whatever it
//! starts with. The danger is later: an operator who edits the cell (F2, Enter) makes Excel parse
//! the text again, and `=HYPERLINK(...)` would then become a live formula. Two things prevent
//! that without changing the value (a literal leading `'` would corrupt phone numbers such as
//! `+49 170` when the Errors sheet is fed back to `muster import`):
//!
//! - every column of input values has the number format `@` (Text), so whatever is typed into
//!   it stays text, which also keeps `00987` and `4366412345678` from becoming numbers;
//! - a value that begins with `=`, `+`, `-`, `@`, tab or CR additionally gets the cell style
//!   `quotePrefix` (Excel's own "leading apostrophe" flag, which Excel and LibreOffice honour
//!   without showing an apostrophe and without putting one in the value).
//!
//! So the value read back by calamine, openpyxl or `muster import` is exactly the input text
//! (tests/it/report.rs checks calamine, tests/check_workbook.py openpyxl's `data_type`; a
//! LibreOffice 7.4 headless export of `Results` to CSV shows `=1+1`, `4366412345678` and
//! `00987` verbatim). No leading apostrophe is added to any value.
//!
//! # Control characters and length
//!
//! rust_xlsxwriter writes control characters as Excel's `_xHHHH_` escapes and escapes literal
//! `_xHHHH_` text, so no input can break the XML. Cells longer than Excel's 32,767 UTF-16
//! units are cut, with [`TRUNCATED`] at the end, instead of failing the whole workbook.
//!
//! # Secrets
//!
//! A column is secret when it maps to the `password` field or its header names a password,
//! secret, token or API key (this also covers pass-through columns like `pegasus.password`).
//! `Results` shows [`MASK`] where such a cell had a value (empty when it was empty), so a reader
//! can see that a password was supplied; `Errors` leaves it empty, because that sheet is meant to
//! be fed back to `muster import`, where `***` would be taken as the password: an empty password
//! there means "generate one" for Traccar and "required" for the vendors that need one, so the
//! operator types it again. `Manual` has no password column at all (AROBS users set theirs on
//! activation). Error texts that quote a secret value of the row have it replaced by [`MASK`].

use std::borrow::Cow;

use crate::model::{Cells, Field, Layout};

/// What a secret cell shows in `Results` and in `--json`.
pub const MASK: &str = "***";

/// Appended to a value cut to Excel's cell limit.
pub const TRUNCATED: &str = " …[truncated by muster]";

/// Excel's limit for the text of one cell, in UTF-16 code units.
pub const MAX_CELL_UTF16: usize = 32_767;

/// Whether Excel would parse `text` as a formula (or DDE payload) if it were typed in.
pub fn looks_like_formula(text: &str) -> bool {
    matches!(
        text.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// `text` cut to Excel's cell limit, with [`TRUNCATED`] at the end when it was cut.
pub fn fit_cell(text: &str) -> Cow<'_, str> {
    // Fast path: a UTF-8 string is never shorter in bytes than in UTF-16 units.
    if text.len() <= MAX_CELL_UTF16 || text.encode_utf16().count() <= MAX_CELL_UTF16 {
        return Cow::Borrowed(text);
    }
    let budget = MAX_CELL_UTF16 - TRUNCATED.encode_utf16().count();
    let mut used = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        if used + c.len_utf16() > budget {
            break;
        }
        used += c.len_utf16();
        end = i + c.len_utf8();
    }
    Cow::Owned(format!("{}{TRUNCATED}", &text[..end]))
}

/// Whether a column with this header holds secrets, judged by its name alone
/// (`Password`, `Initial password`, `pegasus.password`, `API token`, `Passwort`).
pub fn is_secret_header(header: &str) -> bool {
    let norm: String = header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    const WORDS: [&str; 7] = [
        "password", "passwort", "passwd", "secret", "token", "apikey", "pwd",
    ];
    norm == "pass" || norm.ends_with("pass") || WORDS.iter().any(|w| norm.contains(w))
}

/// Per column of `layout`: whether it holds secrets (the `password` field, a secret-sounding
/// header, or a secret-sounding `VENDOR.FIELD` pass-through name).
pub fn secret_columns(layout: &Layout) -> Vec<bool> {
    (0..layout.headers.len())
        .map(|i| {
            layout.fields.get(i).copied().flatten() == Some(Field::Password)
                || is_secret_header(&layout.headers[i])
                || layout
                    .passthrough
                    .iter()
                    .any(|(c, _, name)| *c == i && is_secret_header(name))
        })
        .collect()
}

/// The non-empty values of `row`'s secret columns, for [`redact`].
pub fn row_secrets<'a>(cells: &'a Cells, secret: &[bool]) -> Vec<&'a str> {
    cells
        .iter()
        .zip(secret)
        .filter(|(c, s)| **s && !c.is_empty())
        .map(|(c, _)| c)
        .collect()
}

/// `text` with every occurrence of the row's secret values replaced by [`MASK`].
///
/// A quoted occurrence (`"value"`, as validation messages quote values) is always replaced;
/// a bare one only when the secret has at least 4 characters, so a one-letter password does
/// not turn every `a` of a message into `***`.
pub fn redact<'a>(text: &'a str, secrets: &[&str]) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let quoted = format!("\"{secret}\"");
        if out.contains(&quoted) {
            out = Cow::Owned(out.replace(&quoted, &format!("\"{MASK}\"")));
        }
        if secret.chars().count() >= 4 && out.contains(*secret) {
            out = Cow::Owned(out.replace(*secret, MASK));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_prefixes() {
        for (text, want) in [
            ("=1+1", true),
            ("+49 170", true),
            ("-5", true),
            ("@SUM(A1)", true),
            ("\tx", true),
            ("\rx", true),
            ("", false),
            ("a=b", false),
            ("4366412345678", false),
            (" =1", false),
        ] {
            assert_eq!(looks_like_formula(text), want, "{text:?}");
        }
    }

    #[test]
    fn fit_cell_keeps_short_and_cuts_long_with_marker() {
        assert!(matches!(fit_cell("short"), Cow::Borrowed("short")));
        let exact = "x".repeat(MAX_CELL_UTF16);
        assert_eq!(fit_cell(&exact).len(), MAX_CELL_UTF16);
        let long = "é".repeat(40_000);
        let cut = fit_cell(&long);
        assert!(cut.ends_with(TRUNCATED));
        assert_eq!(cut.encode_utf16().count(), MAX_CELL_UTF16);
        // Astral characters count twice in UTF-16 and are never split.
        let emoji = "🚚".repeat(20_000);
        let cut = fit_cell(&emoji);
        assert!(cut.encode_utf16().count() <= MAX_CELL_UTF16);
        assert!(cut.ends_with(TRUNCATED));
    }

    #[test]
    fn secret_headers() {
        for (h, want) in [
            ("password", true),
            ("Initial Password", true),
            ("userPassword", true),
            ("pegasus.password", true),
            ("Passwort", true),
            ("pass", true),
            ("API token", true),
            ("api_key", true),
            ("client secret", true),
            ("pwd", true),
            ("email", false),
            ("passenger seats", false),
            ("username", false),
            ("phone", false),
        ] {
            assert_eq!(is_secret_header(h), want, "{h}");
        }
    }

    #[test]
    fn redact_quoted_and_bare() {
        let msg = r#"Password (F7): "abc" is shorter than 8 characters"#;
        assert_eq!(
            redact(msg, &["abc"]),
            r#"Password (F7): "***" is shorter than 8 characters"#
        );
        assert_eq!(
            redact("login as Secr3tPw failed", &["Secr3tPw"]),
            "login as *** failed"
        );
        // A short secret is only replaced where it is quoted.
        assert_eq!(redact("a bad day", &["a"]), "a bad day");
        assert_eq!(redact("nothing", &[""]), "nothing");
    }
}
