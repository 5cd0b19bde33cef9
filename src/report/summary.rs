//! The compact summary table printed on the terminal at the end of every run: one line per
//! target, one column per status that occurs, the cost of the run when there was one, and
//! where the workbook is.

use std::path::Path;

use super::counts::Counts;
use crate::model::{Status, TargetStats};

/// Renders the summary table. `stats` may be empty (`muster validate`): the request columns
/// are left out then. The last line names the workbook and the users waiting on `Manual`.
pub fn summary_table(counts: &Counts, stats: &[TargetStats], workbook: Option<&Path>) -> String {
    let statuses = counts.present();
    let joined = counts.with_stats(stats);
    let has_stats = !stats.is_empty();

    let mut header: Vec<String> = vec!["target".into(), "vendor".into(), "rows".into()];
    header.extend(statuses.iter().map(|s| s.key().to_string()));
    if has_stats {
        header.extend(["requests", "429s", "req/s"].map(String::from));
    }
    let mut lines: Vec<Vec<String>> = vec![header];
    for (tc, ts) in &joined {
        let name = tc
            .map(|t| t.target.clone())
            .or(ts.map(|s| s.target.clone()))
            .unwrap_or_default();
        let vendor = tc
            .and_then(|t| t.vendor)
            .or(ts.and_then(|s| s.vendor))
            .map(|v| v.key().to_string())
            .unwrap_or_default();
        let mut line = vec![name, vendor, tc.map_or(0, |t| t.rows).to_string()];
        line.extend(
            statuses
                .iter()
                .map(|s| tc.map_or(0, |t| t.get(*s)).to_string()),
        );
        if has_stats {
            match ts {
                Some(s) => line.extend([
                    s.requests.to_string(),
                    s.rate_limited.to_string(),
                    format!("{:.1}", s.achieved_rate()),
                ]),
                None => line.extend(["0", "0", "-"].map(String::from)),
            }
        }
        lines.push(line);
    }
    if joined.len() > 1 {
        let mut total = vec![
            "total".to_string(),
            String::new(),
            counts.rows().to_string(),
        ];
        total.extend(statuses.iter().map(|s| counts.total(*s).to_string()));
        if has_stats {
            total.push(stats.iter().map(|s| s.requests).sum::<u64>().to_string());
            total.push(
                stats
                    .iter()
                    .map(|s| s.rate_limited)
                    .sum::<u64>()
                    .to_string(),
            );
            total.push(String::new());
        }
        lines.push(total);
    }

    let mut out = if joined.is_empty() {
        String::new()
    } else {
        aligned(&lines, 2)
    };
    for s in stats {
        if let Some(why) = &s.halted {
            out.push_str(&format!("{} halted: {why}\n", s.target));
        }
    }
    let manual = counts.total(Status::Manual);
    let waiting = match manual {
        0 => String::new(),
        1 => "; 1 user waits for manual creation (sheet Manual)".into(),
        n => format!("; {n} users wait for manual creation (sheet Manual)"),
    };
    match workbook {
        Some(p) => out.push_str(&format!("workbook: {}{waiting}\n", p.display())),
        None if manual > 0 => out.push_str(&format!("{}\n", waiting.trim_start_matches("; "))),
        None => {}
    }
    out
}

/// Lines of cells as a terminal table: columns two spaces apart, the first `names` columns
/// left-aligned, the rest (numbers) right-aligned, no trailing spaces.
pub fn aligned(lines: &[Vec<String>], names: usize) -> String {
    let cols = lines.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            lines
                .iter()
                .map(|l| l.get(c).map_or(0, |cell| cell.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        for (c, cell) in line.iter().enumerate() {
            if c > 0 {
                text.push_str("  ");
            }
            let pad = " ".repeat(widths[c] - cell.chars().count());
            if c < names {
                text.push_str(cell);
                text.push_str(&pad);
            } else {
                text.push_str(&pad);
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VendorKind;

    #[test]
    fn table_has_a_column_per_present_status_and_the_workbook_line() {
        let mut c = Counts::default();
        for _ in 0..118 {
            c.add_status(Some("powunity"), Some(VendorKind::Traccar), Status::Created);
        }
        c.add_status(Some("powunity"), Some(VendorKind::Traccar), Status::Failed);
        for _ in 0..12 {
            c.add_status(Some("arobs-ro"), Some(VendorKind::Arobs), Status::Manual);
        }
        let stats = [
            TargetStats {
                target: "powunity".into(),
                vendor: Some(VendorKind::Traccar),
                requests: 245,
                rate_limited: 3,
                retries: 4,
                seconds: 24.5,
                halted: None,
            },
            TargetStats {
                target: "motive".into(),
                vendor: Some(VendorKind::Motive),
                requests: 1,
                seconds: 1.0,
                halted: Some("credentials rejected (401)".into()),
                ..Default::default()
            },
        ];
        let table = summary_table(&c, &stats, Some(Path::new("results.xlsx")));
        let want = "\
target    vendor   rows  created  manual  failed  requests  429s  req/s
powunity  traccar   119      118       0       1       245     3   10.0
arobs-ro  arobs      12        0      12       0         0     0      -
motive    motive      0        0       0       0         1     0    1.0
total               131      118      12       1       246     3
motive halted: credentials rejected (401)
workbook: results.xlsx; 12 users wait for manual creation (sheet Manual)
";
        assert_eq!(table, want);
    }

    #[test]
    fn validate_table_has_no_request_columns() {
        let mut c = Counts::default();
        c.add_status(Some("motive"), Some(VendorKind::Motive), Status::Valid);
        c.add_status(Some("motive"), Some(VendorKind::Motive), Status::Invalid);
        let table = summary_table(&c, &[], Some(Path::new("v.xlsx")));
        assert_eq!(
            table,
            "target  vendor  rows  valid  invalid\nmotive  motive     2      1        1\nworkbook: v.xlsx\n"
        );
    }
}
