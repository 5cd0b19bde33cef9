//! Which configured target a row goes to: `--target`, else the `target` column, else a
//! sheet named after a target, else the only target of the config (issue 2 "Targets").

use crate::config::Target;
use crate::model::{Field, Problem, Row, VendorKind};

use super::Context;

/// Resolves the row's target, or says how to give it one.
pub(super) fn resolve(row: &Row, ctx: &Context) -> Result<Target, Problem> {
    let config = ctx.config;
    if let Some(name) = ctx.target_override {
        return config.target(name).ok_or_else(|| {
            Problem::row(format!(
                "--target {name}: {} (known: {})",
                unknown(ctx),
                known(ctx)
            ))
        });
    }
    let col = row.layout.column_of(Field::Target);
    if let Some(col) = col {
        if let Some(value) = row.cell(col) {
            return config.target(value).ok_or_else(|| {
                Problem::cell(
                    row,
                    col,
                    format!("{} (known: {})", unknown(ctx), known(ctx)),
                )
            });
        }
    }
    // A sheet of a workbook named after a target; a CSV's stem is not a sheet name.
    if row.layout.is_workbook {
        if let Some(t) = config.target(&row.layout.sheet) {
            return Ok(t);
        }
    }
    if config.targets.len() == 1 {
        if let Some(t) = config.targets.values().next() {
            return Ok(t.clone());
        }
    }
    let how = format!(
        "no target for this row: {} a target column (one of {}), pass --target NAME, or name the sheet after a target",
        if col.is_some() { "fill in" } else { "add" },
        known(ctx)
    );
    Err(match col {
        Some(_) => Problem::field(row, Field::Target, how),
        None => Problem::row(format!("target: {how}")),
    })
}

fn unknown(ctx: &Context) -> &'static str {
    if ctx.config.path.is_some() {
        "is not a target of the config"
    } else {
        "is not a target: without --config, use a vendor key"
    }
}

/// The names a row may use: the config's targets, or the vendor keys without a config.
fn known(ctx: &Context) -> String {
    if ctx.config.path.is_some() {
        let names: Vec<&str> = ctx.config.targets.keys().map(|s| s.as_str()).collect();
        if names.is_empty() {
            "the config has no targets".into()
        } else {
            names.join(", ")
        }
    } else {
        VendorKind::ALL.map(|v| v.key()).join(", ")
    }
}
