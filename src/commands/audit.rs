//! `muster audit`: read → map → validate → list each target's users (read-only: a probe
//! and the list, nothing else) → compare (`plan::survey`) → the audit workbook, `--json`
//! lines and a terminal table.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, anyhow};

use crate::audit::Class;
use crate::cli::AuditArgs;
use crate::model::{Field, PlatformUser, Row};
use crate::notify::{self, Notice};
use crate::plan::survey;
use crate::report::audit::{self as audit_report, Line};
use crate::roster;
use crate::settings;
use crate::submit;
use crate::validate::{self, Duplicates};
use crate::{Env, Exit};

pub async fn run(args: AuditArgs, env: &Env) -> anyhow::Result<Exit> {
    let started = chrono::Utc::now();
    let clock = std::time::Instant::now();
    let config = settings::config(args.input.config.as_deref(), "audit")?;
    settings::check_target(&config, args.input.target.as_deref())?;
    let keep: Vec<&std::path::Path> = args.input.files.iter().map(|p| p.as_path()).collect();
    crate::report::output::check_writable(&args.out, &keep)?;
    let mut roster = roster::open((&args.input).into(), &config)?;
    roster.show_columns(!args.quiet && !args.json, !args.quiet);
    let mut rows = roster.read_whole()?;
    let ctx = validate::Context {
        config: &config,
        target_override: args.input.target.as_deref(),
    };
    if let Some(names) = validate::unknown_targets(&rows, &ctx) {
        anyhow::bail!("{names}");
    }
    let defaults = validate::Defaults::default();
    defaults.apply(&mut rows, &ctx);
    let checked = validate::check_rows(&rows, &ctx, &mut Duplicates::default());

    // Valid rows by target, with their identity keys; the rest are counted, not audited.
    let (per_target, skipped) = survey::entries(&rows, &checked);
    let (_, credentials) = settings::connect(
        per_target.iter().map(|(t, _)| t),
        env,
        args.allow_insecure_http,
    )?;
    let listings = submit::list_targets(survey::wants(&per_target), &credentials).await?;
    let (surveys, failed) = survey::survey(&per_target, listings);
    if !failed.is_empty() {
        return Err(anyhow!("{}", failed.join("\n")));
    }

    let by_index: HashMap<usize, &Row> = rows.iter().map(|r| (r.index, r)).collect();
    let mut lines = Vec::new();
    for (name, s) in &surveys {
        // Each platform user by (key, id), built once: a tenant may hold 100,000 users.
        let mut users: HashMap<(&str, &str), &PlatformUser> = HashMap::new();
        for u in s.users.iter().flatten() {
            users.entry((u.key.as_str(), u.id.as_str())).or_insert(u);
        }
        for f in &s.findings {
            let source = f
                .row
                .and_then(|i| by_index.get(&i))
                .map(|r| (r.layout.file.clone(), r.layout.sheet.clone(), r.line));
            let user = f
                .platform_id
                .as_deref()
                .and_then(|id| users.get(&(f.key.as_str(), id)).copied());
            lines.push(Line {
                target: name.clone(),
                vendor: s.target.vendor,
                class: f.class,
                key: f.key.clone(),
                platform_id: f.platform_id.clone(),
                differences: f.differences.clone(),
                source,
                name: user.and_then(|u| u.display_name()),
                email: user.and_then(|u| u.field(Field::Email)).map(str::to_string),
            });
        }
    }
    let mut facts = vec![
        ("audited", chrono::Utc::now().to_rfc3339()),
        ("inputs", settings::display_paths(&args.input.files)),
        (
            "rows not audited (invalid or without target)",
            skipped.to_string(),
        ),
        ("muster", env!("CARGO_PKG_VERSION").to_string()),
    ];
    // Issue 28: relationships the roster carries that a platform cannot list, by target.
    let not_comparable: Vec<(String, Vec<&str>)> = survey::wants(&per_target)
        .filter_map(|(target, want)| {
            let fields = want.not_comparable(target.vendor);
            let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
            if names.is_empty() {
                return None;
            }
            facts.push((
                "not comparable on this platform",
                format!(
                    "target {} ({}): {}",
                    target.name,
                    target.vendor.display_name(),
                    names.join(", ")
                ),
            ));
            Some((target.name.clone(), names))
        })
        .collect();
    audit_report::write(&args.out, &lines, &facts, &roster.columns)
        .with_context(|| format!("writing {}", args.out.display()))?;

    if args.json {
        let mut w = crate::report::stdout::Stdout::new();
        for l in &lines {
            serde_json::to_writer(&mut w, &audit_report::json_line(l))?;
            w.write_all(b"\n")?;
        }
        let mut summary = audit_report::json_summary(&lines, Some(&args.out));
        crate::report::add_columns(&mut summary, &roster.columns, &defaults.notes());
        summary["summary"]["not_comparable"] = not_comparable
            .iter()
            .map(|(t, names)| (t.clone(), serde_json::json!(names)))
            .collect::<serde_json::Map<_, _>>()
            .into();
        serde_json::to_writer(&mut w, &summary)?;
        w.write_all(b"\n")?;
        w.flush()?;
    } else if !args.quiet {
        crate::say_part!("{}", table(&lines, skipped, &not_comparable, &args.out));
    }
    let drift = lines.iter().any(|l| l.class.is_drift());
    if args.fail_on_drift {
        let notice = notice(&lines, &args.out, started, clock.elapsed());
        notify::tell(
            config.notify.as_ref(),
            args.notify_on,
            &notice,
            args.allow_insecure_http,
        )
        .await;
    }
    Ok(if args.fail_on_drift && drift {
        Exit::RowsFailed
    } else {
        Exit::Success
    })
}

/// What the webhook is told after an audit with `--fail-on-drift`: the drift per target and
/// the first users that drifted.
fn notice(
    lines: &[Line],
    out: &Path,
    started: chrono::DateTime<chrono::Utc>,
    elapsed: std::time::Duration,
) -> Notice {
    let drifted: Vec<&Line> = lines.iter().filter(|l| l.class.is_drift()).collect();
    let first_errors = drifted
        .iter()
        .take(crate::report::ending::FIRST)
        .map(|l| format!("{}: {} is {}", l.target, l.key, l.class.key()))
        .collect();
    let summary = audit_report::json_summary(lines, Some(out));
    Notice {
        run_id: format!("audit-{}", started.format("%Y%m%d-%H%M%S")),
        command: "audit".into(),
        failed: !drifted.is_empty(),
        elapsed,
        workbook: std::path::absolute(out)
            .unwrap_or_else(|_| out.to_path_buf())
            .display()
            .to_string(),
        targets: summary["summary"]["targets"].clone(),
        first_errors,
        errors: drifted.len(),
        headline: format!(
            "muster audit: {} users and rows compared, {} drifted, in {:.1} s",
            lines.len(),
            drifted.len(),
            elapsed.as_secs_f64()
        ),
    }
}

/// The terminal summary: one line per target with its counts per class.
fn table(
    lines: &[Line],
    skipped: usize,
    not_comparable: &[(String, Vec<&str>)],
    out: &Path,
) -> String {
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
    for (target, names) in not_comparable {
        s.push_str(&format!(
            "target {target}: {} not comparable on this platform (it does not list them)\n",
            names.join(", ")
        ));
    }
    s.push_str(&format!("audit workbook: {}\n", out.display()));
    s
}
