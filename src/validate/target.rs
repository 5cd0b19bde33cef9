//! Which configured target a row goes to: `--target`, else the `target` column, else a
//! sheet named after a target, else the only target of the config (issue 2 "Targets").

use std::collections::HashMap;
use std::sync::Arc;

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
                    format!(
                        "{}{} (known: {})",
                        unknown(ctx),
                        did_you_mean(value, ctx),
                        known(ctx)
                    ),
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

/// Targets already resolved, by what decided them (the override or the target cell, else
/// the sheet), so a million rows naming five targets do not look each up a million times.
#[derive(Debug, Default)]
pub(super) struct Cache {
    /// The last key that resolved, which map it is in, and its target: rows come in runs
    /// of one target, so most rows are decided by comparing their key with this one.
    last: Option<(bool, String, Arc<Target>)>,
    by_name: HashMap<String, Option<Arc<Target>>>,
    /// Rows without a target cell, by sheet (`""` for CSV: only the config decides).
    by_sheet: HashMap<String, Option<Arc<Target>>>,
}

impl Cache {
    /// Entries kept at most per map; a roster naming more distinct targets starts over.
    const MAX: usize = 1024;

    /// The same as `resolve`, remembered; rows share one `Target` (a pointer copy each).
    /// `target_col` is the column of the target field in the row's layout.
    pub(super) fn resolve(
        &mut self,
        row: &Row,
        target_col: Option<usize>,
        ctx: &Context,
    ) -> Result<Arc<Target>, Problem> {
        let (by_name, key) = if let Some(name) = ctx.target_override {
            (true, name)
        } else if let Some(value) = target_col.and_then(|c| row.cell(c)) {
            (true, value)
        } else if row.layout.is_workbook {
            (false, row.layout.sheet.as_str())
        } else {
            (false, "")
        };
        if let Some((b, k, t)) = &self.last {
            if *b == by_name && k == key {
                return Ok(t.clone());
            }
        }
        let map = if by_name {
            &mut self.by_name
        } else {
            &mut self.by_sheet
        };
        let result = match map.get(key) {
            Some(Some(t)) => Ok(t.clone()),
            // A failure is rare and its message names the row's own cell: build it again.
            Some(None) => return resolve(row, ctx).map(Arc::new),
            None => {
                let result = resolve(row, ctx).map(Arc::new);
                if map.len() >= Self::MAX {
                    map.clear();
                }
                map.insert(key.to_string(), result.as_ref().ok().cloned());
                result
            }
        };
        if let Ok(t) = &result {
            self.last = Some((by_name, key.to_string(), t.clone()));
        }
        result
    }
}

/// Target names the rows' `target` cells give that the config (given) does not have: an
/// import or an audit cannot run them, so this is said once for the whole roster, each
/// name with its cells and the closest target (DESIGN "Ending a run", issue 29). `None`
/// when every name is known, with `--target` (it decides instead), or without a config.
pub fn unknown_names(rows: &[Row], ctx: &Context) -> Option<String> {
    let path = ctx.config.path.as_ref()?;
    if ctx.target_override.is_some() {
        return None;
    }
    // Name → (cells shown, cells in all), in the order met.
    let mut names: Vec<(String, Vec<String>, usize)> = Vec::new();
    for row in rows {
        let Some(col) = row.layout.column_of(Field::Target) else {
            continue;
        };
        let Some(value) = row.cell(col) else { continue };
        if ctx.config.target(value).is_some() {
            continue;
        }
        let i = match names.iter().position(|(n, ..)| n == value) {
            Some(i) => i,
            None => {
                names.push((value.to_string(), Vec::new(), 0));
                names.len() - 1
            }
        };
        let entry = &mut names[i];
        entry.2 += 1;
        if entry.1.len() < CELLS_SHOWN {
            entry.1.push(row.locate(col));
        }
    }
    if names.is_empty() {
        return None;
    }
    let mut text = format!(
        "the roster names targets that are not in {} (known: {}); nothing was sent:",
        path.display(),
        known(ctx)
    );
    for (name, cells, all) in &names {
        let more = match all - cells.len() {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        text.push_str(&format!(
            "\n  \"{name}\" in {}{more}{}",
            cells.join("; "),
            did_you_mean(name, ctx)
        ));
    }
    Some(text)
}

/// How many cells of one unknown target name are listed.
const CELLS_SHOWN: usize = 5;

/// `"; did you mean NAME?"` with the config's target closest to `name`.
fn did_you_mean(name: &str, ctx: &Context) -> String {
    if ctx.config.path.is_some() {
        crate::suggest::did_you_mean(name, ctx.config.targets.keys().map(String::as_str))
    } else {
        crate::suggest::did_you_mean(name, VendorKind::ALL.iter().map(|v| v.key()))
    }
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::rules::testing::row;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("muster.toml")).unwrap()
    }

    const TWO: &str = "[target.powunity]\nvendor = \"traccar\"\nurl = \"https://iot.powunity.com/api\"\n\
                       [target.fleet]\nvendor = \"motive\"\nurl = \"https://api.gomotive.com/v1\"\n";

    fn resolve_with(cfg: &Config, over: Option<&str>, r: &Row) -> Result<String, String> {
        let ctx = Context {
            config: cfg,
            target_override: over,
        };
        resolve(r, &ctx).map(|t| t.name).map_err(|p| p.message)
    }

    fn in_sheet(mut r: Row, sheet: &str) -> Row {
        let mut layout = (*r.layout).clone();
        layout.is_workbook = true;
        layout.sheet = sheet.into();
        r.layout = Arc::new(layout);
        r
    }

    #[test]
    fn resolution_order_and_messages() {
        let two = config(TWO);
        let one =
            config("[target.only]\nvendor = \"arobs\"\nurl = \"https://api.trackgps.ro/api\"\n");
        let none = Config::default();
        let column = row(&[(Field::Target, "PowUnity")]);
        let blank = row(&[(Field::Target, "")]);
        let no_column = row(&[(Field::Email, "a@example.com")]);
        type Case<'a> = (&'a Config, Option<&'a str>, Row, Result<&'a str, &'a str>);
        let cases: Vec<Case> = vec![
            (&two, Some("fleet"), column.clone(), Ok("fleet")),
            (&two, None, column.clone(), Ok("powunity")),
            (&two, None, in_sheet(blank.clone(), "Fleet"), Ok("fleet")),
            (&one, None, no_column.clone(), Ok("only")),
            (&none, None, row(&[(Field::Target, "Motive")]), Ok("motive")),
            (
                &two,
                Some("samsara"),
                column.clone(),
                Err("--target samsara: is not a target of the config (known: fleet, powunity)"),
            ),
            (
                &two,
                None,
                row(&[(Field::Target, "samsara")]),
                Err(
                    "target (A7): \"samsara\" is not a target of the config (known: fleet, powunity)",
                ),
            ),
            (
                &two,
                None,
                row(&[(Field::Target, "powunty")]),
                Err(
                    "target (A7): \"powunty\" is not a target of the config; did you mean powunity? (known: fleet, powunity)",
                ),
            ),
            (
                &none,
                None,
                row(&[(Field::Target, "samsara")]),
                Err(
                    "target (A7): \"samsara\" is not a target: without --config, use a vendor key (known: traccar, motive, pegasus, drtrack, arobs)",
                ),
            ),
            (
                &two,
                None,
                blank.clone(),
                Err(
                    "target (A7): no target for this row: fill in a target column (one of fleet, powunity), pass --target NAME, or name the sheet after a target",
                ),
            ),
            (
                &two,
                None,
                in_sheet(no_column.clone(), "Roster"),
                Err(
                    "target: no target for this row: add a target column (one of fleet, powunity), pass --target NAME, or name the sheet after a target",
                ),
            ),
        ];
        for (cfg, over, r, expected) in cases {
            let got = resolve_with(cfg, over, &r);
            assert_eq!(
                got,
                expected.map(String::from).map_err(String::from),
                "{over:?} {:?}",
                r.cells
            );
        }
    }

    #[test]
    fn unknown_names_are_said_once_with_their_cells_and_the_closest_target() {
        let two = config(TWO);
        let ctx = |over| Context {
            config: &two,
            target_override: over,
        };
        let rows = [
            row(&[(Field::Target, "powunty")]),
            row(&[(Field::Target, "fleet")]),
            row(&[(Field::Target, "samsara")]),
            row(&[(Field::Target, "")]),
        ];
        let text = unknown_names(&rows, &ctx(None)).unwrap();
        assert!(
            text.starts_with(
                "the roster names targets that are not in muster.toml (known: fleet, powunity); nothing was sent:\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("\"powunty\" in roster.csv, A7; did you mean powunity?"),
            "{text}"
        );
        assert!(
            text.contains("\"samsara\" in roster.csv, A7\n")
                || text.ends_with("\"samsara\" in roster.csv, A7"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 3, "{text}");
        assert_eq!(unknown_names(&rows, &ctx(Some("fleet"))), None);
        assert_eq!(unknown_names(&rows[1..2], &ctx(None)), None);
        let none = Config::default();
        let no_config = Context {
            config: &none,
            target_override: None,
        };
        assert_eq!(unknown_names(&rows, &no_config), None);
    }

    #[test]
    fn the_cache_resolves_like_resolve() {
        let two = config(TWO);
        let rows = [
            row(&[(Field::Target, "fleet")]),
            row(&[(Field::Target, "samsara")]),
            row(&[(Field::Target, "")]),
            in_sheet(row(&[(Field::Target, "")]), "powunity"),
            in_sheet(row(&[(Field::Target, "")]), "Roster"),
            row(&[(Field::Target, "fleet")]),
            row(&[(Field::Target, "samsara")]),
            in_sheet(row(&[(Field::Target, "")]), "powunity"),
        ];
        for over in [None, Some("fleet"), Some("nope")] {
            let ctx = Context {
                config: &two,
                target_override: over,
            };
            let mut cache = Cache::default();
            for r in &rows {
                let plain = resolve(r, &ctx).map(|t| t.name).map_err(|p| p.message);
                let cached = cache
                    .resolve(r, r.layout.column_of(Field::Target), &ctx)
                    .map(|t| t.name.clone())
                    .map_err(|p| p.message);
                assert_eq!(plain, cached, "{over:?} {:?} {}", r.cells, r.layout.sheet);
            }
        }
    }

    #[test]
    fn a_csv_named_after_a_target_is_not_a_sheet() {
        let mut r = row(&[(Field::Email, "a@example.com")]);
        let mut layout = (*r.layout).clone();
        layout.sheet = "motive".into();
        r.layout = Arc::new(layout);
        assert!(resolve_with(&Config::default(), None, &r).is_err());
    }
}
