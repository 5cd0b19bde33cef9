//! Rows → verdicts. Generic rules (required fields, email, phone, enums, lists), each
//! vendor's own rules, and duplicates inside the input for the same target. Every problem of
//! a row at once; a bad row is data (`Problem`s), never an `Err`.

use crate::config::{Config, Target};
use crate::model::{Action, Problem, Row};

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
    /// The resolved target, when the row names a known one.
    pub target: Option<Target>,
    pub action: Action,
    /// Every problem found; empty means valid.
    pub problems: Vec<Problem>,
}

/// Checks one row on its own (pure; runs in parallel).
pub fn check_row(row: &Row, ctx: &Context) -> Checked {
    let _ = (row, ctx);
    Checked {
        target: None,
        action: Action::Create,
        problems: vec![Problem::row("validation is not implemented yet")],
    }
}

/// Remembers identity keys seen so far, per target, to flag later duplicates.
#[derive(Debug, Default)]
pub struct Duplicates {}

/// Checks a chunk of rows in input order: each row in parallel, then duplicates in order.
pub fn check_rows(rows: &[Row], ctx: &Context, dups: &mut Duplicates) -> Vec<Checked> {
    let _ = dups;
    rows.iter().map(|r| check_row(r, ctx)).collect()
}
