//! The `Summary` sheet, built at the end from the counters: per target the rows by status and
//! what submitting cost, a native stacked-bar chart of outcomes, then the run itself (id,
//! times, version, command line, input files with SHA-256, skipped sheets).

use rust_xlsxwriter::{
    Chart, ChartFormat, ChartLegendPosition, ChartSolidFill, ChartType, ColNum, Color, RowNum,
    Worksheet, XlsxError,
};

use super::counts::{Counts, always_shown};
use super::safe;
use super::style::{Formats, status_chart_color};
use crate::model::{RunInfo, Status, TargetStats};

/// Fills the `Summary` sheet: targets table with totals, chart, run facts, input files,
/// skipped sheets.
pub(super) fn write_summary(
    sheet: &mut Worksheet,
    f: &Formats,
    run: &RunInfo,
    counts: &Counts,
    stats: &[TargetStats],
    manual_users: u64,
) -> Result<(), XlsxError> {
    let text = |sheet: &mut Worksheet, r: RowNum, c: ColNum, s: &str| -> Result<(), XlsxError> {
        let s = safe::fit_cell(s);
        if safe::looks_like_formula(&s) {
            sheet.write_string_with_format(r, c, s.as_ref(), &f.quoted)?;
        } else {
            sheet.write_string(r, c, s.as_ref())?;
        }
        Ok(())
    };
    sheet.write_string_with_format(0, 0, "muster: run summary", &f.title)?;
    sheet.set_landscape();
    sheet.set_print_fit_to_pages(1, 0);
    let mut r: RowNum = 2;

    // Targets first: it is what the reader came for.
    let statuses = counts.columns(always_shown(&run.command));
    let joined = counts.with_stats(stats);
    let has_stats = !stats.is_empty();
    let mut header: Vec<&str> = vec!["target", "vendor", "rows"];
    header.extend(statuses.iter().map(|s| s.key()));
    if has_stats {
        header.extend([
            "requests",
            "429s",
            "retries",
            "requests/s",
            "seconds",
            "halted",
        ]);
    }
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(r, c as ColNum, *h, &f.header)?;
    }
    let first_status_col: ColNum = 3;
    let table_header_row = r;
    r += 1;
    let first_target_row = r;
    for (tc, ts) in &joined {
        let name = tc
            .map(|t| t.target.as_str())
            .or(ts.map(|s| s.target.as_str()))
            .unwrap_or("");
        text(sheet, r, 0, name)?;
        if let Some(v) = tc.and_then(|t| t.vendor).or(ts.and_then(|s| s.vendor)) {
            text(sheet, r, 1, v.key())?;
        }
        sheet.write_number_with_format(r, 2, tc.map_or(0, |t| t.rows) as f64, &f.int)?;
        for (i, s) in statuses.iter().enumerate() {
            let n = tc.map_or(0, |t| t.get(*s));
            let c = first_status_col + i as ColNum;
            if n > 0 {
                sheet.write_number_with_format(r, c, n as f64, f.status(*s))?;
            } else {
                sheet.write_number_with_format(r, c, 0, &f.int)?;
            }
        }
        if has_stats {
            let c = first_status_col + statuses.len() as ColNum;
            let s = ts.cloned().unwrap_or_default();
            sheet.write_number_with_format(r, c, s.requests as f64, &f.int)?;
            sheet.write_number_with_format(r, c + 1, s.rate_limited as f64, &f.int)?;
            sheet.write_number_with_format(r, c + 2, s.retries as f64, &f.int)?;
            sheet.write_number_with_format(r, c + 3, s.achieved_rate(), &f.rate)?;
            sheet.write_number_with_format(r, c + 4, s.seconds, &f.seconds)?;
            if let Some(h) = &s.halted {
                text(sheet, r, c + 5, h)?;
            }
        }
        r += 1;
    }
    let last_target_row = r - 1;
    // The total line.
    sheet.write_string_with_format(r, 0, "total", &f.total)?;
    sheet.write_blank(r, 1, &f.total)?;
    sheet.write_number_with_format(r, 2, counts.rows() as f64, &f.total)?;
    for (i, s) in statuses.iter().enumerate() {
        let c = first_status_col + i as ColNum;
        sheet.write_number_with_format(r, c, counts.total(*s) as f64, &f.total)?;
    }
    if has_stats {
        let c = first_status_col + statuses.len() as ColNum;
        let sum = |g: fn(&TargetStats) -> u64| stats.iter().map(g).sum::<u64>() as f64;
        sheet.write_number_with_format(r, c, sum(|s| s.requests), &f.total)?;
        sheet.write_number_with_format(r, c + 1, sum(|s| s.rate_limited), &f.total)?;
        sheet.write_number_with_format(r, c + 2, sum(|s| s.retries), &f.total)?;
        for k in 3..6 {
            sheet.write_blank(r, c + k, &f.total)?;
        }
    }
    r += 2;
    let chart_row = r;

    // The chart: stacked bars of outcomes per target.
    let charted: Vec<(usize, Status)> = statuses
        .iter()
        .enumerate()
        .filter(|(_, s)| counts.total(**s) > 0)
        .map(|(i, s)| (i, *s))
        .collect();
    let has_chart = !joined.is_empty() && !charted.is_empty();
    if has_chart {
        let mut chart = Chart::new(ChartType::BarStacked);
        for (i, s) in &charted {
            let c = first_status_col + *i as ColNum;
            chart
                .add_series()
                .set_name(("Summary", table_header_row, c))
                .set_categories(("Summary", first_target_row, 0, last_target_row, 0))
                .set_values(("Summary", first_target_row, c, last_target_row, c))
                .set_format(ChartFormat::new().set_solid_fill(
                    ChartSolidFill::new().set_color(Color::RGB(status_chart_color(*s))),
                ))
                .set_gap(60);
        }
        chart.title().set_name("Rows per target, by outcome");
        // Bar charts put categories on the vertical axis: reverse it so targets read top
        // to bottom in table order.
        chart.y_axis().set_reverse();
        chart.legend().set_position(ChartLegendPosition::Bottom);
        chart.set_width(640);
        chart.set_height(180 + 36 * joined.len().min(12) as u32);
        sheet.insert_chart(chart_row, 0, &chart)?;
        // Leave room below the chart: about 20 px a row.
        r += (180 + 36 * joined.len().min(12) as u32) / 20 + 2;
    }

    // The run.
    sheet.write_string_with_format(r, 0, "Run", &f.label)?;
    r += 1;
    let duration = run
        .ended
        .map(|e| format_duration((e - run.started).num_milliseconds() as f64 / 1000.0));
    let fmt_time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let facts: Vec<(&str, String)> = vec![
        ("run id", run.run_id.clone()),
        ("command", run.command.clone()),
        ("started", fmt_time(run.started)),
        (
            "ended",
            run.ended
                .map(fmt_time)
                .unwrap_or_else(|| "(not finished)".into()),
        ),
        ("duration", duration.unwrap_or_default()),
        ("muster version", run.version.clone()),
        ("command line", run.command_line.clone()),
        ("dry run", if run.dry_run { "yes" } else { "no" }.into()),
        ("rows", counts.rows().to_string()),
        (
            "manual users",
            if manual_users > 0 {
                format!("{manual_users} waiting: see the Manual sheet")
            } else {
                "none".into()
            },
        ),
    ];
    for (label, value) in facts {
        sheet.write_string_with_format(r, 0, label, &f.label)?;
        text(sheet, r, 1, &value)?;
        r += 1;
    }
    r += 1;

    sheet.write_string_with_format(r, 0, "Input files", &f.label)?;
    r += 1;
    for (c, h) in ["file", "rows", "SHA-256"].iter().enumerate() {
        sheet.write_string_with_format(r, c as ColNum, *h, &f.header)?;
    }
    r += 1;
    for input in &run.inputs {
        text(sheet, r, 0, &input.path)?;
        sheet.write_number_with_format(r, 1, input.rows as f64, &f.int)?;
        text(sheet, r, 2, &input.sha256)?;
        r += 1;
    }
    r += 1;
    sheet.write_string_with_format(r, 0, "Skipped sheets", &f.label)?;
    r += 1;
    if run.skipped_sheets.is_empty() {
        sheet.write_string(r, 0, "none")?;
    }
    for s in &run.skipped_sheets {
        text(sheet, r, 0, s)?;
        r += 1;
    }

    let widest_target = joined
        .iter()
        .map(|(t, s)| {
            t.map(|t| t.target.chars().count())
                .or(s.map(|s| s.target.chars().count()))
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0);
    sheet.set_column_width(0, (widest_target.max(16) + 2).min(40) as f64)?;
    sheet.set_column_width(1, 12)?;
    for (c, h) in header.iter().enumerate().skip(2) {
        sheet.set_column_width(c as ColNum, (h.len() + 3).max(9) as f64)?;
    }
    Ok(())
}

fn format_duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        let s = seconds.round() as u64;
        if s < 3600 {
            format!("{}m {:02}s", s / 60, s % 60)
        } else {
            format!("{}h {:02}m {:02}s", s / 3600, s / 60 % 60, s % 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        for (s, want) in [
            (0.25, "0.2 s"),
            (59.94, "59.9 s"),
            (95.0, "1m 35s"),
            (3600.0, "1h 00m 00s"),
            (3725.4, "1h 02m 05s"),
        ] {
            assert_eq!(format_duration(s), want, "{s}");
        }
    }
}
