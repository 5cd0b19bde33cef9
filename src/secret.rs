//! Values that must never be shown: tokens, passwords. `Debug` and `Display` print a
//! placeholder; the value is reached only through [`Secret::expose`], at the moment it is
//! put on the wire.

use std::fmt;

/// A credential or password. Never printed, logged or serialised.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the request that needs it. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `text` with the password of a `postgres://` URL in it (a `--journal` argument, maybe
/// `--journal=URL`) replaced by `***`: for the command line muster records and shows.
pub fn redact_url_password(text: &str) -> String {
    let Some(at) = text
        .find("postgres://")
        .or_else(|| text.find("postgresql://"))
    else {
        return text.to_string();
    };
    match url::Url::parse(&text[at..]) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            format!("{}{url}", &text[..at])
        }
        Ok(_) => text.to_string(),
        // Unreadable: show nothing after the scheme rather than a password.
        Err(_) => format!("{}postgres://…", &text[..at]),
    }
}

/// Every secret muster holds for one target (its credentials, the rows' passwords, the
/// passwords it generated), and the forms a platform may echo them in: as they are,
/// JSON-escaped, percent-encoded, and the password inside a Basic token. [`Scrubber::scrub`]
/// replaces each with `***` in a text that came from a platform, before the text becomes
/// a message, a cell of the workbook, a journal record or a log line.
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    /// The values to hide, longest first (so a value containing another goes whole).
    values: Vec<String>,
}

/// Shorter values are not hidden: they would blank ordinary words.
const SHORTEST: usize = 4;

impl Scrubber {
    /// A scrubber of `secrets`.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Scrubber {
        let mut s = Scrubber::default();
        for secret in secrets {
            s.add(secret);
        }
        s
    }

    /// Hides `secret` too (and its echoed forms).
    pub fn add(&mut self, secret: &Secret) {
        let value = secret.expose();
        let mut plain = vec![value.to_string()];
        // A Basic token, `base64(login:password)`: the password alone may be echoed.
        plain.extend(basic_password(value));
        for v in plain {
            let json = serde_json::to_string(&v).map(|j| j.trim_matches('"').to_string());
            let url: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
            for form in [Some(v.clone()), json.ok(), Some(url)]
                .into_iter()
                .flatten()
            {
                if form.chars().count() >= SHORTEST && !self.values.contains(&form) {
                    self.values.push(form);
                }
            }
        }
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Whether it hides nothing.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every secret replaced by `***`.
    pub fn scrub<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let mut out = std::borrow::Cow::Borrowed(text);
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(v.as_str(), "***"));
            }
        }
        out
    }
}

/// The password of a Basic token (`base64(login:password)`), if it is one.
fn basic_password(token: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_urls_password_is_never_shown() {
        assert_eq!(
            redact_url_password("--journal=postgres://ops:s3cret@db.example:5432/muster"),
            "--journal=postgres://ops:***@db.example:5432/muster"
        );
        assert_eq!(
            redact_url_password("postgresql://ops:p%40ss@db/m?sslmode=require"),
            "postgresql://ops:***@db/m?sslmode=require"
        );
        assert_eq!(
            redact_url_password("postgres://ops@db/m"),
            "postgres://ops@db/m"
        );
        assert_eq!(redact_url_password("roster.xlsx"), "roster.xlsx");
    }

    #[test]
    fn secret_is_never_formatted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn every_echoed_form_of_a_secret_is_hidden() {
        // base64("admin@x.test:pa\"ss word")
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode("admin@x.test:pa\"ss word");
        let s = Scrubber::new([&Secret::new(token.clone()), &Secret::new("k3y-Value")]);
        let echoed = format!(
            "401: bad token {token} (password pa\"ss word), body {{\"pw\":\"pa\\\"ss word\"}}, form pw=pa%22ss+word, key k3y-Value"
        );
        let clean = s.scrub(&echoed);
        for secret in [
            token.as_str(),
            "pa\"ss word",
            "pa\\\"ss word",
            "pa%22ss+word",
            "k3y-Value",
        ] {
            assert!(!clean.contains(secret), "{secret} in {clean}");
        }
        assert!(
            clean.starts_with("401: bad token *** (password ***)"),
            "{clean}"
        );
        // Short values would blank ordinary words: not hidden.
        assert_eq!(Scrubber::new([&Secret::new("ab")]).scrub("abc"), "abc");
    }
}
