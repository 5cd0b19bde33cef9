//! Values a row carries before its rules are checked, given by its target rather than by
//! its own cells (issue 27): the config's `[target.NAME.defaults]` and value tables, and
//! the per-platform meaning of shared columns: DRTrack's `user_group` from `role` where the
//! roster has no `user_group` column, and a Pegasus row without a password and without
//! `send_email` gets the platform's login e-mail (`send_email = yes`).
//!
//! A value the row has no column for goes into a column muster adds to the row's layout
//! (`user_group (from Role)`), so the connectors read it through the row's field accessors
//! as if the roster had it; those columns are not echoed among the roster's own. A
//! default for a blank cell and a value table's translation are written into the cell.
//! Every rule applied is noted once, for the Summary.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::config::Target;
use crate::model::{Field, Layout, Row};

use super::Context;
use super::target::Cache;

/// Where the value of a column muster adds comes from.
#[derive(Debug, Clone)]
enum Source {
    /// The same row's cell in this column, else the default (DRTrack's role).
    Copy(usize, Option<String>),
    /// This value (a config default).
    Value(String),
    /// `yes` (or the config's default) when the row has no password (Pegasus).
    WithoutPassword(String),
}

/// What a table's rows of one target get.
#[derive(Debug, Default)]
struct Plan {
    /// The layout with the added columns, or `None` when nothing is added.
    layout: Option<Arc<Layout>>,
    added: Vec<Source>,
    /// (column, default) for blank cells of columns the roster has.
    blanks: Vec<(usize, String)>,
    /// (column, from column) for blank cells filled from another of the row's cells
    /// (DRTrack's user_group from role).
    copies: Vec<(usize, usize)>,
    /// (column, value) for blank cells of rows without a password (Pegasus' send_email).
    blanks_without_password: Vec<(usize, String)>,
    /// (column, value table) of the target's fields.
    tables: Vec<(usize, Vec<(String, String)>)>,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.layout.is_none()
            && self.added.is_empty()
            && self.blanks.is_empty()
            && self.copies.is_empty()
            && self.blanks_without_password.is_empty()
            && self.tables.is_empty()
    }
}

/// Applies targets' defaults to rows; shared by the threads that check rules, so plans
/// are made once per table and target.
#[derive(Debug, Default)]
pub struct Defaults {
    /// (the layout's address, target name) → what its rows get.
    plans: Mutex<HashMap<(usize, String), Arc<Plan>>>,
    /// One line a rule applied, for the Summary.
    notes: Mutex<BTreeSet<String>>,
}

impl Defaults {
    /// Gives each row the values its target adds (see the module's text). Rows whose
    /// target cannot be resolved are left as they are (their rules say why).
    pub fn apply(&self, rows: &mut [Row], ctx: &Context) {
        let mut targets = Cache::default();
        // Rows come in runs of one table and target: their plan is looked up once a run.
        let mut last: Option<(Arc<Layout>, Arc<Target>, Arc<Plan>)> = None;
        for row in rows {
            let target_col = row.layout.column_of(Field::Target);
            let Ok(target) = targets.resolve(row, target_col, ctx) else {
                continue;
            };
            let plan = match &last {
                Some((l, t, p)) if Arc::ptr_eq(l, &row.layout) && Arc::ptr_eq(t, &target) => {
                    p.clone()
                }
                _ => {
                    let p = self.plan(&row.layout, &target);
                    last = Some((row.layout.clone(), target.clone(), p.clone()));
                    p
                }
            };
            if plan.is_empty() {
                continue;
            }
            apply_plan(row, &plan);
        }
    }

    /// The notes on every rule applied so far, sorted.
    pub fn notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn plan(&self, layout: &Arc<Layout>, target: &Target) -> Arc<Plan> {
        let key = (Arc::as_ptr(layout) as usize, target.name.clone());
        // A poisoned lock only means another thread panicked; the map is still whole.
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = plans.get(&key) {
            return p.clone();
        }
        let (plan, notes) = make_plan(layout, target);
        if let Ok(mut n) = self.notes.lock() {
            n.extend(notes);
        }
        let plan = Arc::new(plan);
        plans.insert(key, plan.clone());
        plan
    }
}

/// What rows of `layout` get for `target`, and the notes saying so.
fn make_plan(layout: &Layout, target: &Target) -> (Plan, Vec<String>) {
    let mut plan = Plan::default();
    let mut notes = Vec::new();
    // Columns that name a platform: this target's take their field from the shared
    // column; other platforms' are not read.
    let mut derived = layout.clone();
    for (col, vendor, field) in crate::mapping::platform_columns(layout) {
        if vendor == target.vendor {
            for f in derived.fields.iter_mut().filter(|f| **f == Some(field)) {
                *f = None;
            }
            derived.fields[col] = Some(field);
        } else if derived.fields[col] == Some(field) {
            derived.fields[col] = None;
        }
    }
    let remapped = derived.fields != layout.fields;
    let layout = &derived;
    let mut added: Vec<(Field, String, Source)> = Vec::new();
    let name = &target.name;
    let where_ = format!("{}, {}", layout.file, layout.sheet);
    let default = |f: Field| target.defaults.get(&f).cloned();

    let platform = crate::vendors::platform(target.vendor);
    // A field the platform takes from another column (DRTrack: user_group from role)
    // when the roster has none, or where its cell is blank.
    if let Some((field, from)) = platform.taken_from
        && let Some(source) = layout.column_of(from)
    {
        let header = &layout.headers[source];
        match layout.column_of(field) {
            None => {
                added.push((
                    field,
                    format!("{field} (from {header})"),
                    Source::Copy(source, default(field)),
                ));
                notes.push(format!(
                    "target {name}: {field} is taken from the column \"{header}\" ({where_} has no {field} column)"
                ));
            }
            Some(col) => {
                plan.copies.push((col, source));
                notes.push(format!(
                    "target {name}: where \"{}\" is blank, {field} is taken from the column \"{header}\" ({where_})",
                    layout.headers[col]
                ));
            }
        }
    }
    // A value for rows without a password (Pegasus: send_email, so the platform e-mails
    // the login).
    if let Some((field, value, why)) = platform.without_password {
        let value = default(field).unwrap_or_else(|| value.into());
        notes.push(format!(
            "target {name}: {field} = {value} for rows without a password and without {field} ({why}; [target.{name}.defaults] {field} changes it)"
        ));
        match layout.column_of(field) {
            Some(col) => plan.blanks_without_password.push((col, value)),
            None => added.push((
                field,
                format!("{field} (default)"),
                Source::WithoutPassword(value),
            )),
        }
    }
    for (field, value) in &target.defaults {
        let without_password = platform
            .without_password
            .is_some_and(|(f, _, _)| f == *field);
        if without_password || added.iter().any(|(f, _, _)| f == field) {
            continue;
        }
        match layout.column_of(*field) {
            Some(col) => {
                plan.blanks.push((col, value.clone()));
                notes.push(format!(
                    "target {name}: {field} = \"{value}\" where the column \"{}\" is blank (config default)",
                    layout.headers[col]
                ));
            }
            None => {
                added.push((
                    *field,
                    format!("{field} (default)"),
                    Source::Value(value.clone()),
                ));
                notes.push(format!(
                    "target {name}: {field} = \"{value}\" (config default)"
                ));
            }
        }
    }
    let mut derived = layout.clone();
    if remapped || !added.is_empty() {
        // Cells are padded to the headers' width, so added columns follow them.
        for (field, header, source) in added {
            derived.headers.push(header);
            derived.fields.push(Some(field));
            plan.added.push(source);
        }
        plan.layout = Some(Arc::new(derived));
    }
    let fields = plan.layout.as_deref().unwrap_or(layout);
    for (field, table) in &target.values {
        if let Some(col) = fields.column_of(*field) {
            plan.tables.push((col, table.clone()));
            notes.push(format!(
                "target {name}: {field} values translated by [target.{name}.values.{field}]"
            ));
        }
    }
    (plan, notes)
}

fn apply_plan(row: &mut Row, plan: &Plan) {
    if let Some(layout) = &plan.layout {
        let width = row.layout.headers.len();
        let password = row.get(Field::Password).is_some();
        let values: Vec<String> = plan
            .added
            .iter()
            .map(|s| match s {
                Source::Copy(col, default) => row
                    .cell(*col)
                    .map(str::to_string)
                    .or_else(|| default.clone())
                    .unwrap_or_default(),
                Source::Value(v) => v.clone(),
                Source::WithoutPassword(v) if !password => v.clone(),
                Source::WithoutPassword(_) => String::new(),
            })
            .collect();
        row.cells.resize(width);
        for v in &values {
            row.cells.push(v);
        }
        row.layout = layout.clone();
    }
    for (col, from) in &plan.copies {
        if row.cell(*col).is_none()
            && let Some(value) = row.cell(*from).map(str::to_string)
        {
            row.cells.set(*col, &value);
        }
    }
    for (col, value) in &plan.blanks {
        if row.cell(*col).is_none() {
            row.cells.set(*col, value);
        }
    }
    if row.get(Field::Password).is_none() {
        for (col, value) in &plan.blanks_without_password {
            if row.cell(*col).is_none() {
                row.cells.set(*col, value);
            }
        }
    }
    for (col, table) in &plan.tables {
        let Some(cell) = row.cell(*col) else { continue };
        let cell = cell.trim();
        if let Some((_, to)) = table
            .iter()
            .find(|(from, _)| from.trim().eq_ignore_ascii_case(cell))
        {
            let to = to.clone();
            row.cells.set(*col, &to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::rules::testing::row;

    fn ctx(config: &Config) -> Context<'_> {
        Context {
            config,
            target_override: None,
        }
    }

    #[test]
    fn drtrack_takes_user_group_from_role_and_pegasus_sends_the_login_mail() {
        let config = Config::default();
        let d = Defaults::default();
        let mut rows = vec![
            row(&[(Field::Target, "drtrack"), (Field::Role, "Dispatcher")]),
            row(&[(Field::Target, "pegasus"), (Field::Password, "")]),
            row(&[(Field::Target, "pegasus"), (Field::Password, "S3cret!x")]),
        ];
        d.apply(&mut rows, &ctx(&config));
        assert_eq!(rows[0].get(Field::UserGroup), Some("Dispatcher"));
        assert_eq!(rows[1].get(Field::SendEmail), Some("yes"));
        assert_eq!(rows[2].get(Field::SendEmail), None);
        let notes = d.notes();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].starts_with("target drtrack: user_group is taken from the column \"role\"")
        );
    }

    #[test]
    fn a_column_naming_a_platform_counts_for_its_rows_only() {
        let config = Config::default();
        let mut layout = Layout {
            file: "roster.csv".into(),
            sheet: "roster".into(),
            headers: ["Platform", "Role", "Motive role", "Email"]
                .map(String::from)
                .to_vec(),
            ..Layout::default()
        };
        crate::mapping::map_layout(&mut layout, &crate::mapping::Overrides::default()).unwrap();
        let layout = Arc::new(layout);
        let make = |target: &str| Row {
            index: 0,
            layout: layout.clone(),
            line: 2,
            cells: [target, "viewer", "fleet_user", "a@x.test"]
                .map(String::from)
                .to_vec()
                .into(),
            errors: vec![],
        };
        let mut rows = vec![make("motive"), make("pegasus")];
        Defaults::default().apply(&mut rows, &ctx(&config));
        assert_eq!(rows[0].get(Field::Role), Some("fleet_user"));
        assert_eq!(rows[1].get(Field::Role), Some("viewer"));
    }

    #[test]
    fn a_config_default_changes_pegasus_send_email() {
        let config = Config::parse(
            "[target.peg]\nvendor = \"pegasus\"\nurl = \"https://p.example\"\n\
             [target.peg.defaults]\nsend_email = \"no\"\n",
            std::path::Path::new("muster.toml"),
        )
        .unwrap();
        let mut rows = vec![row(&[(Field::Target, "peg"), (Field::SendEmail, "")])];
        let d = Defaults::default();
        d.apply(&mut rows, &ctx(&config));
        assert_eq!(rows[0].get(Field::SendEmail), Some("no"));
        assert!(
            d.notes()[0].starts_with("target peg: send_email = no for rows without a password")
        );
    }

    #[test]
    fn config_defaults_and_value_tables() {
        let config = Config::parse(
            r#"
            [target.dr]
            vendor = "drtrack"
            url = "https://dr.example"
            [target.dr.defaults]
            user_group = "Driver"
            branch_ids = "101"
            [target.dr.values.user_group]
            "Dispatch" = "Dispatcher"
            "#,
            std::path::Path::new("muster.toml"),
        )
        .unwrap();
        let d = Defaults::default();
        let mut rows = vec![
            row(&[
                (Field::Target, "dr"),
                (Field::Role, "dispatch"),
                (Field::BranchIds, ""),
            ]),
            row(&[
                (Field::Target, "dr"),
                (Field::Role, ""),
                (Field::BranchIds, "102"),
            ]),
        ];
        d.apply(&mut rows, &ctx(&config));
        assert_eq!(rows[0].get(Field::UserGroup), Some("Dispatcher"));
        assert_eq!(rows[0].get(Field::BranchIds), Some("101"));
        assert_eq!(rows[1].get(Field::UserGroup), Some("Driver"));
        assert_eq!(rows[1].get(Field::BranchIds), Some("102"));
        // The roster's own role cell is left as written.
        assert_eq!(rows[0].get(Field::Role), Some("dispatch"));
    }
}
