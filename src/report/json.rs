//! `--json`: one object per row (the `Results` columns plus `fields`) and one summary object
//! at the end, both with the same masking as the workbook.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::counts::Counts;
use super::safe::{self, MASK};
use crate::model::{RowResult, RunInfo, Status, TargetStats};

/// One row as the JSON object `--json` prints: the `Results` columns plus `fields`, an object
/// of the row's own columns under their original headers (secret columns show `***` when
/// they had a value).
pub fn json_row(result: &RowResult) -> Value {
    let row = &result.row;
    let layout = &row.layout;
    let outcome = &result.outcome;
    let secret = safe::secret_columns(layout);
    let mut fields = Map::new();
    for (i, header) in layout.headers.iter().enumerate() {
        let value = row.cells.get(i).unwrap_or("");
        let value = if secret[i] && !value.is_empty() {
            MASK
        } else {
            value
        };
        // Two columns with one header: the first non-empty value wins.
        match fields.get(header) {
            Some(Value::String(old)) if !old.is_empty() => {}
            _ => {
                fields.insert(header.clone(), Value::String(value.to_string()));
            }
        }
    }
    let secrets = safe::row_secrets(&row.cells, &secret);
    let error = outcome
        .error
        .as_deref()
        .map(|e| safe::redact(e, &secrets).into_owned());
    json!({
        "source_file": layout.file,
        "sheet": layout.sheet,
        "row": row.line,
        "target": result.target,
        "vendor": result.vendor.map(|v| v.key()),
        "action": outcome.action.key(),
        "status": outcome.status.key(),
        "user_id": outcome.user_id,
        "other_ids": outcome.other_ids_text(),
        "http_status": outcome.http_status,
        "error": error,
        "attempts": outcome.attempts,
        "fields": fields,
    })
}

fn statuses(get: impl Fn(Status) -> u64) -> Map<String, Value> {
    Status::ALL
        .into_iter()
        .filter_map(|s| {
            let n = get(s);
            (n > 0).then(|| (s.key().to_string(), Value::from(n)))
        })
        .collect()
}

/// The rows of each target by status, with its requests when it sent any: the `targets`
/// of the JSON summary and of the webhook's notice.
pub fn targets_json(counts: &Counts, stats: &[TargetStats]) -> Value {
    let targets: Vec<Value> = counts
        .with_stats(stats)
        .into_iter()
        .map(|(tc, ts)| {
            let name = tc
                .map(|t| t.target.clone())
                .or(ts.map(|s| s.target.clone()))
                .unwrap_or_default();
            let vendor = tc.and_then(|t| t.vendor).or(ts.and_then(|s| s.vendor));
            let mut o = json!({
                "target": name,
                "vendor": vendor.map(|v| v.key()),
                "rows": tc.map_or(0, |t| t.rows),
                "statuses": statuses(|s| tc.map_or(0, |t| t.get(s))),
            });
            if let (Some(s), Some(map)) = (ts, o.as_object_mut()) {
                map.insert("requests".into(), s.requests.into());
                map.insert("rate_limited".into(), s.rate_limited.into());
                map.insert("retries".into(), s.retries.into());
                map.insert("seconds".into(), s.seconds.into());
                map.insert("requests_per_second".into(), s.achieved_rate().into());
                map.insert("halted".into(), s.halted.clone().into());
            }
            o
        })
        .collect();
    Value::Array(targets)
}

/// The run's summary as one JSON object, `{"summary": {...}}`, printed after the rows.
/// Status maps list only statuses that occur.
pub fn summary_json(
    run: &RunInfo,
    counts: &Counts,
    stats: &[TargetStats],
    workbook: Option<&Path>,
) -> Value {
    let targets = targets_json(counts, stats);
    json!({
        "summary": {
            "run_id": run.run_id,
            "command": run.command,
            "command_line": run.command_line,
            "started": run.started,
            "ended": run.ended,
            "dry_run": run.dry_run,
            "version": run.version,
            "inputs": run.inputs,
            "skipped_sheets": run.skipped_sheets,
            "workbook": workbook.map(|p| p.display().to_string()),
            "rows": counts.rows(),
            "statuses": statuses(|s| counts.total(s)),
            "manual_waiting": counts.total(Status::Manual),
            "targets": targets,
        }
    })
}
