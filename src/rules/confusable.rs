//! Emails that look like another address (issue 25, item 11): compatibility forms
//! (fullwidth `ｊａｎｅ`), a mix of scripts (a Cyrillic `а` among Latin letters), or a
//! UTS 39 skeleton that is plain ASCII while the address is not. Such an address would
//! become a second user beside the one it imitates, so the row is `invalid`. The UTS 39
//! data comes from `unicode-security` (skeletons, resolved script sets) and
//! `unicode-normalization`. Pure; an ASCII address costs one scan of its bytes.

use unicode_normalization::UnicodeNormalization;
use unicode_security::MixedScript;
use unicode_security::mixed_script::AugmentedScriptSet;

/// Why the email `text` looks like another address (the rule, for the row's problem), or
/// `None` when it does not. Plain ASCII never does; nor does an address in one script that
/// does not imitate an ASCII one (`müller@example.de`, `иван@пример.рф`).
pub fn confusable_email(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_ascii() {
        return None;
    }
    let composed: String = text.nfc().collect();
    let compatible: String = text.nfkc().collect();
    if compatible != composed {
        return Some(format!(
            "uses fullwidth or other compatibility characters: it reads as \"{compatible}\" (UTS 39 confusable)"
        ));
    }
    if !composed.as_str().is_single_script() {
        return Some(format!(
            "mixes scripts ({}): it can pass for another address (UTS 39 mixed-script)",
            scripts(&composed).join(", ")
        ));
    }
    let skeleton: String = unicode_security::skeleton(&composed).collect();
    if skeleton.is_ascii() {
        return Some(format!(
            "is confusable with the ASCII address \"{skeleton}\" (UTS 39 skeleton)"
        ));
    }
    None
}

/// The scripts of `text`'s letters, in order of first use (`@`, `.` and digits belong to
/// every script and are left out).
fn scripts(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in text.chars() {
        let set = AugmentedScriptSet::for_char(c);
        if set.is_all() || set.is_empty() {
            continue;
        }
        let name = set.to_string();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_emails_are_named_with_their_rule() {
        let cases = [
            // Fullwidth letters: NFKC makes them ASCII.
            (
                "ｊａｎｅ@example.com",
                Some(
                    "uses fullwidth or other compatibility characters: it reads as \"jane@example.com\" (UTS 39 confusable)",
                ),
            ),
            // A Cyrillic `а` (U+0430) among Latin letters.
            (
                "j\u{430}ne@example.com",
                Some(
                    "mixes scripts (Latin, Cyrillic): it can pass for another address (UTS 39 mixed-script)",
                ),
            ),
            // Cyrillic only, and every letter imitates a Latin one.
            (
                "\u{440}\u{430}\u{443}@\u{435}\u{445}\u{430}\u{441}.\u{441}\u{43e}",
                Some("is confusable with the ASCII address \"pay@exac.co\" (UTS 39 skeleton)"),
            ),
        ];
        for (email, want) in cases {
            assert_eq!(confusable_email(email).as_deref(), want, "{email}");
        }
    }

    #[test]
    fn ascii_and_single_script_addresses_pass() {
        for email in [
            "jane@example.com",
            "  Jane.Doe+fleet@Example.COM ",
            "o'brien@example.ie",
            "müller@example.de",
            // The same, decomposed (u + combining diaeresis): only NFC differs.
            "mu\u{308}ller@example.de",
            "josé@exämple.com",
            "иван@пример.рф",
            "",
        ] {
            assert_eq!(confusable_email(email), None, "{email}");
        }
    }
}
