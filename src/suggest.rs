//! "Did you mean": the name closest to a word that was typed, when one is close enough to
//! be worth saying (a config key, a target name).

/// The closest of `names` to `word` (case ignored), if any is close.
pub fn closest<'a>(word: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.trim().to_lowercase();
    names
        .into_iter()
        .map(|n| {
            let score = strsim::normalized_damerau_levenshtein(&word, &n.to_lowercase());
            (score, n)
        })
        .filter(|(score, _)| *score >= 0.5)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

/// `"; did you mean NAME?"` when one of `names` is close to `word`, else nothing.
pub fn did_you_mean<'a>(word: &str, names: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, names)
        .map(|n| format!("; did you mean {n}?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_name_is_suggested_and_a_far_one_is_not() {
        let names = ["powunity", "motive", "pegasus"];
        assert_eq!(closest("powunty", names), Some("powunity"));
        assert_eq!(closest("Motiv", names), Some("motive"));
        assert_eq!(closest("samsara", names), None);
        assert_eq!(
            did_you_mean("concurency", ["concurrency", "burst"]),
            "; did you mean concurrency?"
        );
        assert_eq!(did_you_mean("zzz", ["concurrency"]), "");
    }
}
