//! Rows → verdicts. Generic rules (required fields, email, phone, enums, lists), each
//! vendor's own rules, and duplicates inside the input for the same target. Every problem of
//! a row at once; a bad row is data (`Problem`s), never an `Err`.
//!
//! Knows rows, fields, targets and the vendors' documented rules; knows nothing of files,
//! HTTP or what already exists on a platform (that is `plan`'s job).

mod defaults;
mod duplicates;
mod target;

use std::sync::Arc;

use rayon::prelude::*;

use crate::config::{Config, Target};
use crate::model::{Action, Field, Problem, Row};

pub use crate::rules::{is_email, is_phone};
pub use defaults::Defaults;
pub use duplicates::{Duplicates, Key, identity};
pub use target::unknown_names as unknown_targets;

/// What validation needs besides the row.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub config: &'a Config,
    /// `--target`: every row goes there, whatever its `target` column says.
    pub target_override: Option<&'a str>,
}

/// The verdict on one row.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The resolved target, when the row names a known one (shared by the rows naming it).
    pub target: Option<Arc<Target>>,
    pub action: Action,
    /// Every problem found; empty means valid.
    pub problems: Vec<Problem>,
    /// The row's identity key for its target, found beside the other rules so that the
    /// in-order duplicates check reads little ([`check_duplicates`]).
    pub key: Option<Key>,
}

impl Checked {
    /// Whether the row passed every rule.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A row's verdict once duplicates are checked: [`Checked`] without the identity key it
/// found (64 bytes a row), as a whole roster's verdicts are kept (an import of a million
/// rows, issue 30).
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The resolved target, when the row names a known one.
    pub target: Option<Arc<Target>>,
    pub action: Action,
    /// Every problem found; empty means valid.
    pub problems: Vec<Problem>,
}

impl From<Checked> for Verdict {
    fn from(c: Checked) -> Verdict {
        Verdict {
            target: c.target,
            action: c.action,
            problems: c.problems,
        }
    }
}

/// Checks one row on its own (pure; runs in parallel).
///
/// Order of the problems: target, action, spreadsheet error cells, then field rules
/// (generic formats first, then the vendor's rules).
pub fn check_row(row: &Row, ctx: &Context) -> Checked {
    let columns = crate::rules::Columns::of(&row.layout);
    check_resolved(row, &columns, target::resolve(row, ctx).map(Arc::new))
}

/// `check_row` once the row's target is resolved; `columns` is the table of its layout.
fn check_resolved(
    row: &Row,
    columns: &crate::rules::Columns,
    target: Result<Arc<Target>, Problem>,
) -> Checked {
    let mut rules = crate::rules::Rules::new(row, columns);
    // A spreadsheet error cell is reported once, as itself, not also as a bad value.
    let errored = |col: Option<usize>| col.is_some_and(|c| row.errors.iter().any(|e| e.col == c));
    let target = match target {
        Ok(t) => Some(t),
        Err(p) => {
            if !errored(p.col) {
                rules.problems.push(p);
            }
            None
        }
    };
    let action = match columns.get(Field::Action) {
        Some(col) if errored(Some(col)) => Action::Create,
        Some(col) => match row.cell(col) {
            None => Action::Create,
            Some(text) => Action::parse(text).unwrap_or_else(|| {
                rules.problems.push(Problem::cell(
                    row,
                    col,
                    "is not an action (use create, update, upsert or delete)",
                ));
                Action::Create
            }),
        },
        None => Action::Create,
    };
    for e in &row.errors {
        rules.problems.push(Problem {
            col: Some(e.col),
            message: format!(
                "{} ({}): {}",
                row.header(e.col),
                row.cell_name(e.col),
                e.text
            ),
        });
    }
    rules.formats();
    if let Some(t) = &target {
        crate::vendors::check(t.vendor, &mut rules, action);
    }
    let key = target
        .as_ref()
        .and_then(|t| duplicates::key(row, columns, t));
    Checked {
        target,
        action,
        problems: rules.problems,
        key,
    }
}

/// Checks a chunk of rows in input order: each row in parallel, then duplicates in order.
///
/// `dups` carries the identity keys seen in earlier chunks, so a file can be checked in
/// chunks and still have every later duplicate named.
pub fn check_rows(rows: &[Row], ctx: &Context, dups: &mut Duplicates) -> Vec<Checked> {
    let mut checked = check_rules(rows, ctx);
    check_duplicates(rows, &mut checked, dups);
    checked
}

/// The first half of [`check_rows`]: every rule but duplicates, each row in parallel.
/// Pure, so the rules of one chunk can run while the duplicates of the one before are
/// checked.
pub fn check_rules(rows: &[Row], ctx: &Context) -> Vec<Checked> {
    // Each worker remembers the targets it resolved (most rows name one of a few) and the
    // column table of the layout it saw last (rows come table by table).
    rows.par_iter()
        .map_init(
            || {
                (
                    target::Cache::default(),
                    crate::rules::ColumnsCache::default(),
                )
            },
            |(targets, columns), r| {
                let columns = columns.get(&r.layout);
                let target = targets.resolve(r, columns.get(Field::Target), ctx);
                check_resolved(r, columns, target)
            },
        )
        .collect()
}

/// Rows whose keys' places in the duplicates table are fetched together.
const WARM: usize = 16;

/// The second half of [`check_rows`]: adds the duplicate problem to each row of `checked`
/// (the verdicts of `rows`, same order) whose key an earlier row had. Chunks must come in
/// input order.
pub fn check_duplicates(rows: &[Row], checked: &mut [Checked], dups: &mut Duplicates) {
    // A few rows at a time: their keys' places in the table are fetched together first.
    for (rows, checked) in rows.chunks(WARM).zip(checked.chunks_mut(WARM)) {
        dups.warm(checked.iter().filter_map(|c| c.key.as_ref()));
        for (row, c) in rows.iter().zip(checked.iter_mut()) {
            if let (Some(t), Some(key)) = (&c.target, &c.key)
                && let Some(p) = dups.check_key(row, t, key)
            {
                c.problems.push(p);
            }
            // The other fields the platform holds unique (e-mail and login): only rows
            // that have them (never a Traccar row) pay for these keys.
            if let Some(t) = &c.target {
                for key in duplicates::other_keys(row, t, c.key.as_ref()) {
                    if let Some(p) = dups.check_key(row, t, &key) {
                        c.problems.push(p);
                    }
                }
            }
        }
    }
}

/// Rows for unit tests: one column per given field, headers equal to the field names,
/// data on line 7 of `roster.csv`.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CellError;
    use crate::rules::testing::{messages, row};

    fn check(cells: &[(Field, &str)]) -> Checked {
        let config = Config::default();
        let ctx = Context {
            config: &config,
            target_override: None,
        };
        check_row(&row(cells), &ctx)
    }

    /// Issue 27: two Motive drivers with one login and two e-mails; the platform refuses
    /// the second ("Username has already been taken"), so validation names both rows.
    #[test]
    fn a_login_twice_for_one_target_is_a_duplicate_whatever_the_emails() {
        let config = Config::default();
        let ctx = Context {
            config: &config,
            target_override: None,
        };
        let cells = |email| {
            [
                (Field::Target, "motive"),
                (Field::Email, email),
                (Field::Username, "jroe"),
            ]
        };
        let mut second = row(&cells("j2@example.com"));
        second.line = 9;
        let rows = [row(&cells("j1@example.com")), second];
        let checked = check_rows(&rows, &ctx, &mut Duplicates::default());
        let problems: Vec<String> = checked[1]
            .problems
            .iter()
            .map(|p| p.message.clone())
            .filter(|m| m.contains("duplicate"))
            .collect();
        assert_eq!(
            problems,
            ["username (C9): \"jroe\" is a duplicate of row 7 (roster.csv, C7) for target motive"]
        );
        assert!(
            checked[0]
                .problems
                .iter()
                .all(|p| !p.message.contains("duplicate"))
        );
    }

    #[test]
    fn a_complete_row_is_valid() {
        let c = check(&[
            (Field::Target, "traccar"),
            (Field::Name, "Jane Roe"),
            (Field::Email, "jane@example.com"),
        ]);
        assert_eq!(messages(&c.problems), Vec::<String>::new());
        assert_eq!(
            c.target.map(|t| t.name.clone()),
            Some("traccar".to_string())
        );
        assert_eq!(c.action, Action::Create);
    }

    #[test]
    fn every_problem_of_a_row_is_reported_at_once() {
        let c = check(&[
            (Field::Target, "motive"),
            (Field::Action, "launch"),
            (Field::FirstName, ""),
            (Field::LastName, "Roe"),
            (Field::Email, "not-an-email"),
            (Field::Phone, "12"),
        ]);
        assert_eq!(
            messages(&c.problems),
            [
                "action (B7): \"launch\" is not an action (use create, update, upsert or delete)",
                "email (E7): \"not-an-email\" is not an email address",
                "phone (F7): \"12\" is not a phone number (6 to 15 digits, optional leading +, spaces, dashes or parentheses)",
                "first_name (C7): is required",
            ]
        );
    }

    #[test]
    fn spreadsheet_error_cells_are_problems_and_not_reported_twice() {
        let mut r = row(&[
            (Field::Target, "traccar"),
            (Field::Name, "Jane"),
            (Field::Email, "#N/A"),
        ]);
        r.errors.push(CellError {
            col: 2,
            text: "the cell holds the error #N/A".into(),
        });
        let config = Config::default();
        let ctx = Context {
            config: &config,
            target_override: None,
        };
        let c = check_row(&r, &ctx);
        assert_eq!(
            messages(&c.problems),
            ["email (C7): the cell holds the error #N/A"]
        );
    }

    #[test]
    fn error_cells_in_target_and_action_are_reported_once() {
        let mut r = row(&[
            (Field::Target, "#REF!"),
            (Field::Action, "#N/A"),
            (Field::Email, "jane@example.com"),
        ]);
        for col in [0, 1] {
            r.errors.push(CellError {
                col,
                text: format!("the cell holds the error {}", &r.cells[col]),
            });
        }
        let config = Config::default();
        let ctx = Context {
            config: &config,
            target_override: None,
        };
        assert_eq!(
            messages(&check_row(&r, &ctx).problems),
            [
                "target (A7): the cell holds the error #REF!",
                "action (B7): the cell holds the error #N/A",
            ]
        );
    }

    #[test]
    fn no_target_still_checks_formats() {
        let c = check(&[(Field::Email, "x@")]);
        assert_eq!(
            messages(&c.problems),
            [
                "target: no target for this row: add a target column (one of traccar, motive, pegasus, drtrack, arobs), pass --target NAME, or name the sheet after a target",
                "email (A7): \"x@\" is not an email address",
            ]
        );
        assert!(c.target.is_none());
    }

    #[test]
    fn duplicates_are_flagged_across_chunks() {
        let config = Config::default();
        let ctx = Context {
            config: &config,
            target_override: None,
        };
        let mut a = row(&[
            (Field::Target, "traccar"),
            (Field::Name, "Jane"),
            (Field::Email, "jane@example.com"),
        ]);
        a.line = 2;
        let mut b = a.clone();
        b.line = 3;
        b.cells.set(2, "JANE@Example.com");
        let mut dups = Duplicates::default();
        let first = check_rows(std::slice::from_ref(&a), &ctx, &mut dups);
        assert!(first[0].is_valid());
        let second = check_rows(&[b], &ctx, &mut dups);
        assert_eq!(
            messages(&second[0].problems),
            [
                "email (C3): \"JANE@Example.com\" is a duplicate of row 2 (roster.csv, C2) for target traccar"
            ]
        );
    }

    #[test]
    fn no_input_makes_it_panic() {
        let nasty = [
            "",
            " ",
            "\u{0}",
            "\u{a0}x\u{a0}",
            "=cmd|' /C calc'!A0",
            "ALL",
            "|",
            ";;;",
            ",",
            "a=b=c|=|x=",
            "@",
            "@@",
            "+",
            "()",
            "-1",
            "99999999999999999999999",
            "1e400",
            "Ünïcödé@bücher.example",
            "日本語|中文",
            "🚚🚚🚚",
            "x\r\ny",
            "\u{202e}evil",
        ];
        let long = "é|".repeat(600);
        let config = Config::default();
        for (i, value) in nasty.iter().copied().chain([long.as_str()]).enumerate() {
            for vendor in crate::model::VendorKind::ALL {
                for action in ["create", "delete", "update", value] {
                    let mut cells: Vec<(Field, &str)> = Field::ALL
                        .iter()
                        .filter(|f| !matches!(f, Field::Target | Field::Action))
                        .map(|f| (*f, value))
                        .collect();
                    cells.push((Field::Target, vendor.key()));
                    cells.push((Field::Action, action));
                    let mut r = row(&cells);
                    r.errors.push(CellError {
                        col: i * 7,
                        text: value.to_string(),
                    });
                    let ctx = Context {
                        config: &config,
                        target_override: if i % 3 == 0 { Some(value) } else { None },
                    };
                    let _ = check_rows(&[r.clone(), r], &ctx, &mut Duplicates::default());
                }
            }
        }
    }
}
