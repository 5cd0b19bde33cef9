//! `muster audit`: read → map → validate → list each target's users (read-only: a probe
//! and the list, nothing else) → compare (`audit`) → the audit workbook, `--json` lines and
//! a terminal table. Also the survey the import's `--mode upsert|sync` and plans start
//! from ([`survey`]).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};

use crate::audit::{self, Class, Entry, Finding};
use crate::cli::AuditArgs;
use crate::commands::{import, inputs};
use crate::config::{Credentials, Target};
use crate::journal::Journal;
use crate::model::Row;
use crate::report::audit::{self as audit_report, Line};
use crate::submit;
use crate::validate::{self, Duplicates};
use crate::vendors::{self, PlatformUser};
use crate::{Env, Exit};

/// What one target holds and how the roster's rows stand against it.
#[derive(Debug, Clone)]
pub struct Survey {
    pub target: Target,
    /// `None`: the platform cannot be listed (every row `manual`).
    pub users: Option<Vec<PlatformUser>>,
    pub findings: Vec<Finding>,
}

/// Lists every target of `per_target` (each with its roster rows and their identity keys)
/// and compares. Read-only. Returns the surveys, and one line per target that could not
/// be listed (naming it and why).
pub async fn survey(
    per_target: &[(Target, Vec<Entry<'_>>)],
    credentials: &HashMap<String, Credentials>,
    journal: Arc<Journal>,
) -> (BTreeMap<String, Survey>, Vec<String>) {
    let mut out = BTreeMap::new();
    let mut failed = Vec::new();
    for (target, entries) in per_target {
        let name = &target.name;
        let creds = credentials.get(name).cloned().unwrap_or_default();
        let listing = match submit::list_users(target, creds, journal.clone()).await {
            Ok(l) => l,
            Err(e) => {
                failed.push(format!("target {name}: cannot list its users: {e}"));
                continue;
            }
        };
        let findings = audit::compare(target.vendor, entries, listing.users.as_deref());
        out.insert(
            name.clone(),
            Survey {
                target: target.clone(),
                users: listing.users,
                findings,
            },
        );
    }
    (out, failed)
}

/// Valid rows grouped by target, with their identity keys; and how many rows were left out
/// (invalid, or without a target or key).
pub fn entries<'a>(
    rows: &'a [Row],
    checked: &[validate::Checked],
) -> (Vec<(Target, Vec<Entry<'a>>)>, usize) {
    let mut per_target: BTreeMap<String, (Target, Vec<Entry<'a>>)> = BTreeMap::new();
    let mut skipped = 0usize;
    for (row, c) in rows.iter().zip(checked) {
        let found = c
            .target
            .as_ref()
            .filter(|_| c.problems.is_empty())
            .and_then(|t| Some((t, vendors::identity_key(t.vendor, row)?)));
        match found {
            Some((t, key)) => per_target
                .entry(t.name.clone())
                .or_insert_with(|| (Target::clone(t), Vec::new()))
                .1
                .push(Entry { key, row }),
            None => skipped += 1,
        }
    }
    (per_target.into_values().collect(), skipped)
}

pub async fn run(args: AuditArgs, env: &Env) -> anyhow::Result<Exit> {
    let config = import::load_config(args.input.config.as_deref(), "audit")?;
    import::check_writable(&args.out)?;
    let mut roster = inputs::open(&args.input, &config)?;
    roster.show_columns(!args.quiet && !args.json, !args.quiet);
    let mut rows = roster.read_all()?;
    // After the rows: a text file is hashed as it is read.
    roster.hashes()?;
    if rows.is_empty() {
        bail!("no data rows in {}", import::list_paths(&args.input.files));
    }
    let ctx = validate::Context {
        config: &config,
        target_override: args.input.target.as_deref(),
    };
    let defaults = validate::Defaults::default();
    defaults.apply(&mut rows, &ctx);
    let checked = validate::check_rows(&rows, &ctx, &mut Duplicates::default());

    // Valid rows by target, with their identity keys; the rest are counted, not audited.
    let (per_target, skipped) = entries(&rows, &checked);
    let mut credentials = HashMap::new();
    for (target, _) in &per_target {
        import::check_url(target, args.allow_insecure_http)?;
        credentials.insert(target.name.clone(), target.credentials(env)?);
    }
    // Nothing is journaled by a read: an in-memory journal serves as the connectors' context.
    let journal = Arc::new(Journal::open(Path::new(":memory:"))?);
    let (surveys, failed) = survey(&per_target, &credentials, journal).await;
    if !failed.is_empty() {
        return Err(anyhow!("{}", failed.join("\n")));
    }

    let by_index: HashMap<usize, &Row> = rows.iter().map(|r| (r.index, r)).collect();
    let mut lines = Vec::new();
    for (name, s) in &surveys {
        for f in &s.findings {
            let source = f
                .row
                .and_then(|i| by_index.get(&i))
                .map(|r| (r.layout.file.clone(), r.layout.sheet.clone(), r.line));
            lines.push(Line {
                target: name.clone(),
                vendor: s.target.vendor,
                class: f.class,
                key: f.key.clone(),
                platform_id: f.platform_id.clone(),
                differences: f.differences.clone(),
                source,
            });
        }
    }
    let facts = [
        ("audited", chrono::Utc::now().to_rfc3339()),
        ("inputs", import::list_paths(&args.input.files)),
        (
            "rows not audited (invalid or without target)",
            skipped.to_string(),
        ),
        ("muster", env!("CARGO_PKG_VERSION").to_string()),
    ];
    audit_report::write(&args.out, &lines, &facts, &roster.columns)
        .with_context(|| format!("writing {}", args.out.display()))?;

    if args.json {
        let mut w = super::stdout::Stdout::new();
        for l in &lines {
            serde_json::to_writer(&mut w, &audit_report::json_line(l))?;
            w.write_all(b"\n")?;
        }
        let mut summary = audit_report::json_summary(&lines, Some(&args.out));
        crate::report::add_columns(&mut summary, &roster.columns, &defaults.notes());
        serde_json::to_writer(&mut w, &summary)?;
        w.write_all(b"\n")?;
        w.flush()?;
    } else if !args.quiet {
        crate::say_part!("{}", table(&lines, skipped, &args.out));
    }
    let drift = lines.iter().any(|l| l.class.is_drift());
    Ok(if args.fail_on_drift && drift {
        Exit::RowsFailed
    } else {
        Exit::Success
    })
}

/// The terminal summary: one line per target with its counts per class.
fn table(lines: &[Line], skipped: usize, out: &Path) -> String {
    let mut s = format!("{:<16}", "target");
    for c in Class::ALL {
        s.push_str(&format!("{:>10}", c.key()));
    }
    s.push('\n');
    for (target, by) in audit_report::counts(lines) {
        s.push_str(&format!("{target:<16}"));
        for c in Class::ALL {
            s.push_str(&format!("{:>10}", by.get(&c).copied().unwrap_or(0)));
        }
        s.push('\n');
    }
    if skipped > 0 {
        s.push_str(&format!(
            "{skipped} rows not audited (invalid or without a target; `muster validate` says why)\n"
        ));
    }
    s.push_str(&format!("audit workbook: {}\n", out.display()));
    s
}
