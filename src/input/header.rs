//! Finding the header row and naming the columns. A heuristic that knows nothing of
//! muster's fields, so it works for any table:
//!
//! - only the first [`WINDOW`] non-blank rows are looked at;
//! - a row's span runs from its first to its last non-empty cell; `widest` is the largest;
//! - the header is the first row spanning more than half of `widest`, at least half
//!   filled (and with at least `min_cells` cells), whose cells are all labels: text that
//!   does not read as a number, date or phone number. Title rows (`Fleet roster`,
//!   `Exported: 2026-03-01`) above it are too narrow or hold values, so they are skipped;
//! - when no row qualifies, the first row wide enough is taken anyway (a CSV whose header
//!   holds a number is still read), unless fewer than `min_cells` cells are ever filled.
//!
//! Columns beyond the header's last label that hold data are named `column F` (their
//! spreadsheet letter) so nothing is dropped; so are empty header cells inside the table.

use crate::model::column_letters;

/// How many non-blank rows from the top are searched for the header.
pub(crate) const WINDOW: usize = 30;

/// What a cell looks like, for header detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Empty,
    /// Text that could be a column name.
    Label,
    /// A number, date, boolean or text that reads as one.
    Value,
}

impl Kind {
    /// The kind of a trimmed text cell.
    pub(crate) fn of_text(s: &str) -> Kind {
        if s.is_empty() {
            Kind::Empty
        } else if super::cell::looks_like_value(s) {
            Kind::Value
        } else {
            Kind::Label
        }
    }
}

/// The index (into `rows`) of the header row, or `None` when no row has `min_cells`
/// non-empty cells. `rows` are the first non-blank rows of a table.
pub(crate) fn find_header(rows: &[Vec<Kind>], min_cells: usize) -> Option<usize> {
    let filled = |row: &Vec<Kind>| row.iter().filter(|k| **k != Kind::Empty).count();
    // From the first to the last non-empty cell: a header with a gap still spans its table.
    let span = |row: &Vec<Kind>| {
        let first = row.iter().position(|k| *k != Kind::Empty);
        let last = row.iter().rposition(|k| *k != Kind::Empty);
        match (first, last) {
            (Some(first), Some(last)) => last - first + 1,
            _ => 0,
        }
    };
    let rows = &rows[..rows.len().min(WINDOW)];
    if rows.iter().map(filled).max().unwrap_or(0) < min_cells.max(1) {
        return None;
    }
    let widest = rows.iter().map(span).max().unwrap_or(0);
    let need = widest / 2 + 1;
    // Wide enough, and at least half filled (not two notes far apart).
    let wide =
        |row: &Vec<Kind>| span(row) >= need && filled(row) >= span(row).div_ceil(2).max(min_cells);
    rows.iter()
        .position(|row| wide(row) && !row.contains(&Kind::Value))
        .or_else(|| rows.iter().position(wide))
}

/// The number of columns up to the last non-empty cell.
pub(crate) fn used_width<S: AsRef<str>>(cells: &[S]) -> usize {
    cells
        .iter()
        .rposition(|c| !c.as_ref().is_empty())
        .map_or(0, |i| i + 1)
}

/// Header names for `width` columns: the header row's texts, and `column F` for a column
/// whose header cell is empty.
pub(crate) fn header_names(cells: &[String], width: usize) -> Vec<String> {
    (0..width)
        .map(|col| match cells.get(col) {
            Some(text) if !text.is_empty() => text.clone(),
            _ => format!("column {}", column_letters(col)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Kind::{Empty as E, Label as L, Value as V};
    use super::*;

    #[test]
    fn header_is_found_below_title_rows() {
        type Case = (&'static str, Vec<Vec<Kind>>, usize, Option<usize>);
        let cases: Vec<Case> = vec![
            (
                "plain header",
                vec![vec![L, L, L], vec![L, V, L]],
                1,
                Some(0),
            ),
            (
                "title and date above",
                vec![
                    vec![L, E, E, E],
                    vec![L, V, E, E],
                    vec![L, L, L, L],
                    vec![L, L, V, E],
                ],
                2,
                Some(2),
            ),
            (
                "header with a gap",
                vec![vec![L], vec![L, E, L, L], vec![L, L, L, L]],
                2,
                Some(1),
            ),
            (
                "two-cell title of values is skipped",
                vec![vec![L, V], vec![L, L], vec![L, V]],
                2,
                Some(1),
            ),
            (
                "title split by a comma",
                vec![vec![L, L, E, E], vec![L, L, L, L], vec![L, L, L, L]],
                1,
                Some(1),
            ),
            (
                "header with one gap before full data rows",
                vec![vec![L, L, E, L, L], vec![L, L, L, L, L]],
                2,
                Some(0),
            ),
            (
                "header with a gap, a data row wider than it",
                vec![vec![L, E, L], vec![L, L, L, L], vec![L, E, L]],
                1,
                Some(0),
            ),
            (
                "two notes far apart are no header",
                vec![vec![L, E, E, E, E, L], vec![L, L, L, L], vec![L, L, L, L]],
                1,
                Some(1),
            ),
            (
                "table starting further right",
                vec![vec![E, E, L], vec![E, E, L, L], vec![E, E, L, L, L]],
                2,
                Some(1),
            ),
            ("single column csv", vec![vec![L], vec![L]], 1, Some(0)),
            ("notes sheet", vec![vec![L], vec![L], vec![L]], 2, None),
            ("empty", vec![], 1, None),
            (
                "numeric header is taken when nothing else fits",
                vec![vec![V, V, V], vec![V, V, V]],
                1,
                Some(0),
            ),
        ];
        for (name, rows, min, want) in cases {
            assert_eq!(find_header(&rows, min), want, "{name}");
        }
    }

    #[test]
    fn widths_and_names() {
        let cells: Vec<String> = ["Name", "", "Email", "", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(used_width(&cells), 3);
        assert_eq!(
            header_names(&cells, 4),
            ["Name", "column B", "Email", "column D"]
        );
        assert_eq!(used_width::<&str>(&[]), 0);
    }
}
