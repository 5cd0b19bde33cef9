//! Row counts per target and status, kept while rows are written (no second pass), read by
//! the Summary sheet, the terminal table and the JSON summary.

use crate::model::{RowResult, Status, TargetStats, VendorKind};

/// The target name shown for rows whose target could not be resolved.
pub const NO_TARGET: &str = "(no target)";

/// The rows of one target, by status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetCounts {
    /// The configured target name, or [`NO_TARGET`].
    pub target: String,
    pub vendor: Option<VendorKind>,
    /// Rows counted for this target.
    pub rows: u64,
    by_status: [u64; Status::ALL.len()],
}

impl TargetCounts {
    fn new(target: &str, vendor: Option<VendorKind>) -> TargetCounts {
        TargetCounts {
            target: target.to_string(),
            vendor,
            rows: 0,
            by_status: [0; Status::ALL.len()],
        }
    }

    /// Rows of this target with `status`.
    pub fn get(&self, status: Status) -> u64 {
        self.by_status[status_index(status)]
    }
}

/// Counts per target, in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub targets: Vec<TargetCounts>,
    // Index of the target last counted: rows usually come in runs of one target.
    last: usize,
}

impl Counts {
    /// Counts one row.
    pub fn add(&mut self, result: &RowResult) {
        self.add_status(
            result.target.as_deref(),
            result.vendor,
            result.outcome.status,
        );
    }

    /// Counts one row given by its parts (for `muster report`, which reads the journal).
    pub fn add_status(&mut self, target: Option<&str>, vendor: Option<VendorKind>, status: Status) {
        let name = target.unwrap_or(NO_TARGET);
        let i = match self.targets.get(self.last) {
            Some(t) if t.target == name => self.last,
            _ => match self.targets.iter().position(|t| t.target == name) {
                Some(i) => i,
                None => {
                    self.targets.push(TargetCounts::new(name, vendor));
                    self.targets.len() - 1
                }
            },
        };
        self.last = i;
        let t = &mut self.targets[i];
        if t.vendor.is_none() {
            t.vendor = vendor;
        }
        t.rows += 1;
        t.by_status[status_index(status)] += 1;
    }

    /// Rows of every target with `status`.
    pub fn total(&self, status: Status) -> u64 {
        self.targets.iter().map(|t| t.get(status)).sum()
    }

    /// All rows counted.
    pub fn rows(&self) -> u64 {
        self.targets.iter().map(|t| t.rows).sum()
    }

    /// Statuses that occur at least once, in [`Status::ALL`] order.
    pub fn present(&self) -> Vec<Status> {
        Status::ALL
            .into_iter()
            .filter(|s| self.total(*s) > 0)
            .collect()
    }

    /// The statuses a summary shows as columns: `always` plus every status that occurs,
    /// in [`Status::ALL`] order.
    pub fn columns(&self, always: &[Status]) -> Vec<Status> {
        Status::ALL
            .into_iter()
            .filter(|s| always.contains(s) || self.total(*s) > 0)
            .collect()
    }

    /// The targets to show: those with rows, then those that only have stats, each with
    /// its stats when there are any.
    pub fn with_stats<'a>(
        &'a self,
        stats: &'a [TargetStats],
    ) -> Vec<(Option<&'a TargetCounts>, Option<&'a TargetStats>)> {
        let mut out: Vec<_> = self
            .targets
            .iter()
            .map(|t| (Some(t), stats.iter().find(|s| s.target == t.target)))
            .collect();
        for s in stats {
            if !self.targets.iter().any(|t| t.target == s.target) {
                out.push((None, Some(s)));
            }
        }
        out
    }
}

/// The statuses a Summary always shows for `command`: `validate` only knows valid/invalid.
pub fn always_shown(command: &str) -> &'static [Status] {
    if command == "validate" {
        &[Status::Valid, Status::Invalid]
    } else {
        &[
            Status::Created,
            Status::Updated,
            Status::Exists,
            Status::Manual,
            Status::Partial,
            Status::Invalid,
            Status::Failed,
            Status::NotAttempted,
        ]
    }
}

fn status_index(status: Status) -> usize {
    Status::ALL
        .iter()
        .position(|s| *s == status)
        .expect("Status::ALL lists every status")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_target_in_order_of_first_appearance() {
        let mut c = Counts::default();
        c.add_status(Some("b"), Some(VendorKind::Motive), Status::Created);
        c.add_status(Some("a"), Some(VendorKind::Arobs), Status::Manual);
        c.add_status(Some("b"), Some(VendorKind::Motive), Status::Failed);
        c.add_status(None, None, Status::Invalid);
        let names: Vec<_> = c.targets.iter().map(|t| t.target.as_str()).collect();
        assert_eq!(names, ["b", "a", NO_TARGET]);
        assert_eq!(c.targets[0].rows, 2);
        assert_eq!(c.targets[0].get(Status::Failed), 1);
        assert_eq!(c.total(Status::Manual), 1);
        assert_eq!(c.rows(), 4);
        assert_eq!(
            c.present(),
            [
                Status::Created,
                Status::Manual,
                Status::Invalid,
                Status::Failed
            ]
        );
        assert_eq!(
            c.columns(always_shown("validate")),
            [
                Status::Created,
                Status::Manual,
                Status::Valid,
                Status::Invalid,
                Status::Failed
            ]
        );
    }

    #[test]
    fn stats_only_targets_come_last() {
        let mut c = Counts::default();
        c.add_status(Some("a"), None, Status::Valid);
        let stats = [
            TargetStats {
                target: "z".into(),
                ..Default::default()
            },
            TargetStats {
                target: "a".into(),
                requests: 3,
                ..Default::default()
            },
        ];
        let joined = c.with_stats(&stats);
        assert_eq!(joined.len(), 2);
        assert_eq!(joined[0].1.map(|s| s.requests), Some(3));
        assert!(joined[1].0.is_none());
    }
}
