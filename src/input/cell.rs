//! One cell → its text: trimming, numbers without `.0` or exponent, ISO dates, booleans,
//! spreadsheet errors. Knows calamine's `Data`, nothing of tables or fields.

use std::borrow::Cow;

use calamine::{Data, DataRef, ExcelDateTime};

/// Characters trimmed from both ends of every header and value: Unicode white space
/// (which includes the non-breaking space U+00A0), plus the zero-width space and a stray
/// byte-order mark, which Excel exports and copy-paste from web pages leave behind.
fn is_trimmed(c: char) -> bool {
    c.is_whitespace() || c == '\u{200b}' || c == '\u{feff}'
}

/// `s` without surrounding white space (including non-breaking spaces).
pub(crate) fn trim(s: &str) -> &str {
    let bytes = s.as_bytes();
    // Fast path for the usual cell: starts and ends with a visible ASCII character.
    match (bytes.first(), bytes.last()) {
        (None, _) => s,
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        _ => s.trim_matches(is_trimmed),
    }
}

/// A number as people type it: whole numbers without `.0` or exponent (a phone number
/// `4366412345678` stays `4366412345678`), others with at most 15 significant digits, as
/// Excel shows them (`=0.1+0.2` gives `0.3`, not `0.30000000000000004`).
pub(crate) fn number_text(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x == 0.0 {
        // Also turns -0 into 0.
        return "0".to_string();
    }
    if x.fract() == 0.0 {
        // Rust's `Display` for f64 never uses an exponent and prints whole values without
        // a fraction; every f64 this large is an integer, printed exactly.
        return x.to_string();
    }
    // Round to 15 significant digits, then print the shortest text for that value.
    let rounded: f64 = format!("{x:.14e}").parse().unwrap_or(x);
    rounded.to_string()
}

/// The text of a spreadsheet date or time: `2026-03-01`, `2026-03-01T08:30:00`, or for a
/// time of day alone `08:30:00`. Durations (`[hh]:mm:ss` formats) give `37:30:00`.
pub(crate) fn datetime_text(dt: &ExcelDateTime) -> String {
    let value = dt.as_f64();
    if dt.is_duration() {
        let total = (value * 86_400.0).round() as i64;
        let sign = if total < 0 { "-" } else { "" };
        let total = total.unsigned_abs();
        return format!(
            "{sign}{:02}:{:02}:{:02}",
            total / 3600,
            total / 60 % 60,
            total % 60
        );
    }
    let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
    let time = if ms == 0 {
        format!("{h:02}:{mi:02}:{s:02}")
    } else {
        format!("{h:02}:{mi:02}:{s:02}.{ms:03}")
    };
    if (0.0..1.0).contains(&value) {
        time
    } else if (h, mi, s, ms) == (0, 0, 0, 0) {
        format!("{y:04}-{mo:02}-{d:02}")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{time}")
    }
}

/// A cell's text, or the problem it holds. An error cell gives its literal text (`#N/A`)
/// and the phrase the validator prints after the cell's name.
pub(crate) fn data_text(data: &Data) -> (String, Option<String>) {
    let mut text = match data {
        Data::Empty => String::new(),
        Data::String(s) => trim(s).to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => datetime_text(dt),
        // ODS gives ISO text already; keep `2026-03-01T00:00:00` as the plain date.
        Data::DateTimeIso(s) => {
            let s = trim(s);
            s.strip_suffix("T00:00:00").unwrap_or(s).to_string()
        }
        Data::DurationIso(s) => trim(s).to_string(),
        Data::Error(e) => {
            let literal = e.to_string();
            let problem = format!("holds the spreadsheet error {literal}");
            return (literal, Some(problem));
        }
    };
    let problem = super::limits::cap_cell(&mut text);
    (text, problem)
}

/// [`data_text`] of a cell as calamine's streaming readers give it: a text cell (most of
/// a roster) is borrowed, trimmed, not copied. `is_text` says whether it was a text cell.
pub(crate) fn value_text<'a>(value: &'a DataRef<'_>) -> (Cow<'a, str>, Option<String>, bool) {
    let text = match value {
        DataRef::String(s) => s.as_str(),
        DataRef::SharedString(s) => s,
        DataRef::Empty => return (Cow::Borrowed(""), None, false),
        other => {
            let (text, problem) = data_text(&Data::from(other.clone()));
            return (Cow::Owned(text), problem, false);
        }
    };
    let (text, problem) = super::limits::cap_str(trim(text));
    (Cow::Borrowed(text), problem, true)
}

/// A cell of a sheet calamine read whole, as its streaming readers give one.
pub(crate) fn as_data_ref(data: &Data) -> DataRef<'_> {
    match data {
        Data::String(s) => DataRef::SharedString(s),
        Data::Int(i) => DataRef::Int(*i),
        Data::Float(f) => DataRef::Float(*f),
        Data::Bool(b) => DataRef::Bool(*b),
        Data::DateTime(dt) => DataRef::DateTime(*dt),
        Data::DateTimeIso(s) => DataRef::DateTimeIso(s.clone()),
        Data::DurationIso(s) => DataRef::DurationIso(s.clone()),
        Data::Error(e) => DataRef::Error(e.clone()),
        Data::Empty => DataRef::Empty,
    }
}

/// Whether a text reads as a value (a number, date, time or phone number) rather than a
/// column label: only digits and `+-./:,` and spaces, with at least one digit.
pub(crate) fn looks_like_value(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b" +-./:,()".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{CellErrorType, ExcelDateTimeType};

    #[test]
    fn trim_removes_white_space_and_non_breaking_spaces() {
        for (raw, want) in [
            ("  Jane ", "Jane"),
            ("\u{a0}E-Mail\u{a0}", "E-Mail"),
            ("\t00987\r\n", "00987"),
            ("\u{feff}email", "email"),
            ("\u{200b}x\u{202f}", "x"),
            ("a b", "a b"),
            ("", ""),
            ("   ", ""),
        ] {
            assert_eq!(trim(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn numbers_print_as_typed() {
        for (x, want) in [
            (4366412345678.0, "4366412345678"),
            (43.0, "43"),
            (-0.0, "0"),
            (0.0, "0"),
            (-12.0, "-12"),
            (9007199254740992.0, "9007199254740992"),
            (1e20, "100000000000000000000"),
            (1.5, "1.5"),
            (0.1 + 0.2, "0.3"),
            (0.000001, "0.000001"),
            (123456.789, "123456.789"),
            (2.0 / 3.0, "0.666666666666667"),
        ] {
            assert_eq!(number_text(x), want, "{x:?}");
        }
    }

    fn date(v: f64) -> ExcelDateTime {
        ExcelDateTime::new(v, ExcelDateTimeType::DateTime, false)
    }

    #[test]
    fn dates_become_iso_8601() {
        // 46082 is 2026-03-01 in Excel's 1900 system.
        assert_eq!(datetime_text(&date(46082.0)), "2026-03-01");
        assert_eq!(
            datetime_text(&date(46082.0 + 8.5 / 24.0)),
            "2026-03-01T08:30:00"
        );
        assert_eq!(datetime_text(&date(8.5 / 24.0)), "08:30:00");
        let d1904 = ExcelDateTime::new(46082.0 - 1462.0, ExcelDateTimeType::DateTime, true);
        assert_eq!(datetime_text(&d1904), "2026-03-01");
        let dur = ExcelDateTime::new(37.5 / 24.0, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(datetime_text(&dur), "37:30:00");
    }

    /// Found by the `cell` fuzz target: a duration of -1e300 days saturates to i64::MIN
    /// seconds, whose `abs()` overflowed (a panic in debug builds).
    #[test]
    fn extreme_durations_do_not_overflow() {
        for value in [-1e300, 1e300, f64::NAN, f64::NEG_INFINITY] {
            let dur = ExcelDateTime::new(value, ExcelDateTimeType::TimeDelta, false);
            assert!(!datetime_text(&dur).is_empty(), "{value}");
        }
    }

    #[test]
    fn data_cells_become_text() {
        let cases: Vec<(Data, &str, Option<&str>)> = vec![
            (Data::Empty, "", None),
            (Data::String(" 00987 ".into()), "00987", None),
            (Data::Int(42), "42", None),
            (Data::Float(4366412345678.0), "4366412345678", None),
            (Data::Bool(true), "true", None),
            (Data::Bool(false), "false", None),
            (Data::DateTime(date(46082.0)), "2026-03-01", None),
            (
                Data::DateTimeIso("2026-03-01T00:00:00".into()),
                "2026-03-01",
                None,
            ),
            (
                Data::DateTimeIso("2026-03-01T08:30:00".into()),
                "2026-03-01T08:30:00",
                None,
            ),
            (
                Data::Error(CellErrorType::NA),
                "#N/A",
                Some("holds the spreadsheet error #N/A"),
            ),
            (
                Data::Error(CellErrorType::Ref),
                "#REF!",
                Some("holds the spreadsheet error #REF!"),
            ),
        ];
        for (data, text, problem) in cases {
            let (got, got_problem) = data_text(&data);
            assert_eq!(got, text, "{data:?}");
            assert_eq!(got_problem.as_deref(), problem, "{data:?}");
        }
    }

    #[test]
    fn values_are_told_from_labels() {
        for (s, want) in [
            ("2026-03-01", true),
            ("+43 664 1234567", true),
            ("12.5", true),
            ("08:30", true),
            ("Email", false),
            ("Phone 2", false),
            ("", false),
            ("--", false),
        ] {
            assert_eq!(looks_like_value(s), want, "{s:?}");
        }
    }
}
