//! What the engine keeps of a target's jobs once its connector owns them: whether each row
//! has its outcome yet, and what a row left without one needs (its action, its row, for
//! its identity key and its own password). Kept by the job's place in the target's list,
//! in arrays rather than maps, as a target may have a million rows (issue 30, "Streamed
//! import": maps of row index → place and → password, and a copy of every key, were
//! about 190 bytes a row of the 1M-row dry run; this is about 18).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::model::{Action, Field, Row};
use crate::secret::Secret;
use crate::vendors::Job;

/// The engine's record of one target's jobs.
#[derive(Default)]
pub(super) struct Kept {
    /// By place: the job's row index.
    indices: Vec<usize>,
    /// The places sorted by row index, then place; `None` when `indices` are sorted
    /// already (jobs come in input order).
    order: Option<Vec<usize>>,
    /// By place: whether the row has its outcome.
    finished: Vec<AtomicBool>,
    /// By place: the row's action.
    actions: Vec<Action>,
    /// By place: the row, shared with the pipeline (not copied).
    rows: Vec<Arc<Row>>,
}

impl Kept {
    /// The record of `jobs`, each not finished yet.
    pub(super) fn of(jobs: &[Job]) -> Kept {
        let indices: Vec<usize> = jobs.iter().map(|j| j.index).collect();
        let order = (!indices.is_sorted()).then(|| {
            let mut order: Vec<usize> = (0..jobs.len()).collect();
            order.sort_by_key(|&place| (indices[place], place));
            order
        });
        Kept {
            indices,
            order,
            finished: jobs.iter().map(|_| AtomicBool::new(false)).collect(),
            actions: jobs.iter().map(|j| j.action).collect(),
            rows: jobs.iter().map(|j| Arc::clone(&j.row)).collect(),
        }
    }

    /// The place of row `index` (of a row given twice, its last job's).
    fn place(&self, index: usize) -> Option<usize> {
        let index_at = |place: usize| self.indices.get(place).copied();
        let place = match &self.order {
            None => {
                let end = self.indices.partition_point(|&i| i <= index);
                end.checked_sub(1)?
            }
            Some(order) => {
                let end = order.partition_point(|&p| index_at(p).is_some_and(|i| i <= index));
                *order.get(end.checked_sub(1)?)?
            }
        };
        (index_at(place) == Some(index)).then_some(place)
    }

    /// Whether row `index` has its outcome; `None` for a row that is not a job here.
    pub(super) fn finished(&self, index: usize) -> Option<&AtomicBool> {
        self.finished.get(self.place(index)?)
    }

    /// Row `index`, when it is a job here.
    pub(super) fn row(&self, index: usize) -> Option<&Row> {
        self.rows.get(self.place(index)?).map(|r| &**r)
    }

    /// The password of row `index`, when it has one.
    pub(super) fn password(&self, index: usize) -> Option<Secret> {
        self.row(index)?.get(Field::Password).map(Secret::new)
    }

    /// Every job as (row index, action, row), in the order given.
    pub(super) fn jobs(&self) -> impl Iterator<Item = (usize, Action, &Row)> {
        self.indices
            .iter()
            .zip(&self.actions)
            .zip(&self.rows)
            .map(|((index, action), row)| (*index, *action, &**row))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    fn job(index: usize, key: &str, password: &str) -> Job {
        let mut row = Row::of_pairs(&[("email", key), ("password", password)]);
        row.index = index;
        Job {
            index,
            row: Arc::new(row),
            action: Action::Create,
            key: key.into(),
        }
    }

    #[test]
    fn rows_are_found_by_index_whatever_the_order_of_the_jobs() {
        for jobs in [
            vec![
                job(7, "a@x", "pw-a"),
                job(2, "b@x", ""),
                job(40, "c@x", "pw-c"),
            ],
            vec![
                job(2, "b@x", ""),
                job(7, "a@x", "pw-a"),
                job(40, "c@x", "pw-c"),
            ],
        ] {
            let kept = Kept::of(&jobs);
            assert!(kept.finished(3).is_none());
            assert!(kept.finished(41).is_none());
            assert!(kept.finished(0).is_none());
            assert!(!kept.finished(40).unwrap().swap(true, Ordering::SeqCst));
            assert!(kept.finished(40).unwrap().load(Ordering::SeqCst));
            assert!(!kept.finished(7).unwrap().load(Ordering::SeqCst));
            assert!(!kept.finished(2).unwrap().load(Ordering::SeqCst));
            let pw = kept.password(7).map(|s| s.expose().to_string());
            assert_eq!(pw.as_deref(), Some("pw-a"));
            assert!(kept.password(2).is_none());
            assert!(kept.password(8).is_none());
            let given: Vec<_> = kept.jobs().map(|(i, _, r)| (i, r.index)).collect();
            let expected: Vec<_> = jobs.iter().map(|j| (j.index, j.index)).collect();
            assert_eq!(given, expected);
        }
    }

    #[test]
    fn a_row_given_twice_is_found_at_its_last_job() {
        let kept = Kept::of(&[job(5, "a@x", ""), job(5, "a@x", ""), job(1, "b@x", "")]);
        kept.finished(5).unwrap().store(true, Ordering::SeqCst);
        let flags: Vec<bool> = kept
            .finished
            .iter()
            .map(|f| f.load(Ordering::SeqCst))
            .collect();
        assert_eq!(flags, vec![false, true, false]);
    }
}
