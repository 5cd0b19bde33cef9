//! Batches, written once: a platform that takes operations in batches (DRTrack's
//! `PUT /users/sync`) answers for the batch as a whole, so the engine confirms each
//! operation by a read after the send, splits a rejected batch in halves until each
//! failing operation stands alone, and sends an unanswered batch again only for what the
//! read does not show. Intents are journaled before the first send; an operation the read
//! shows is journaled done, one confirmed not to have happened is cleared; a halt leaves
//! the intents for the next run to settle.

use crate::journal::StepWrite;
use crate::vendors::protocol::{Batch, BatchFailure, BatchReply, Engine};

use super::Ctx;

/// Which half of a rejected set a set of operations is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Half {
    Whole,
    First,
    Second,
}

impl Ctx {
    /// Carries out `ops` as batches of `batch` (see the module's doc).
    pub(super) async fn run_batch<B: Batch>(&self, batch: &B, ops: Vec<B::Op>) {
        // A journal failure halts the target: going on could create twice.
        if let Err(Some(e)) = self.settle_batch(batch, ops).await {
            self.http.halt.halt(format!("journal failed: {e}"));
        }
    }

    async fn journal(&self, write: StepWrite) -> Result<(), Option<String>> {
        self.commit(vec![write])
            .await
            .map_err(|e| Some(e.to_string()))
    }

    /// `Err(None)`: halted; `Err(Some(reason))`: the journal failed.
    async fn settle_batch<B: Batch>(
        &self,
        batch: &B,
        ops: Vec<B::Op>,
    ) -> Result<(), Option<String>> {
        let intents: Vec<StepWrite> = ops
            .iter()
            .filter_map(|op| batch.journal_step(op))
            .map(|(key, step)| StepWrite::Intent {
                key: key.to_string(),
                step: step.to_string(),
            })
            .collect();
        if !intents.is_empty() {
            self.commit(intents)
                .await
                .map_err(|e| Some(e.to_string()))?;
        }
        // (operations, sends of them that went unanswered, which half of a rejected set)
        let mut stack: Vec<(Vec<B::Op>, u32, Half)> = vec![(ops, 0, Half::Whole)];
        // Whether the set just settled was a first half that was accepted: then its
        // sibling, next on the stack, holds what made their parent rejected.
        let mut first_half_was_clean = false;
        while let Some((mut ops, unanswered, half)) = stack.pop() {
            let sibling_clean = std::mem::take(&mut first_half_was_clean);
            if ops.is_empty() {
                continue;
            }
            if self.halted() {
                return Err(None);
            }
            if half == Half::Second && sibling_clean && ops.len() > 1 {
                // Known to be rejected as a whole: split it without sending it.
                let second = ops.split_off(ops.len() / 2);
                stack.push((second, 0, Half::Second));
                stack.push((ops, 0, Half::First));
                continue;
            }
            let sent_alone = ops.len() == 1;
            let reply = batch.send(self, &mut ops).await;
            if matches!(reply, BatchReply::Halted) {
                return Err(None);
            }
            let seen = match batch.read_after(self).await {
                Ok(seen) => seen,
                Err(reason) => {
                    // Without the read nothing can be confirmed: the intents stay, and a
                    // re-run settles them.
                    self.http.halt.halt(reason);
                    return Err(None);
                }
            };
            let accepted = matches!(reply, BatchReply::Accepted);
            let mut remaining = Vec::new();
            for op in ops {
                match batch.took_effect(&seen, &op, accepted) {
                    Some((status, id)) => {
                        if let Some((key, step)) = batch.journal_step(&op) {
                            self.journal(StepWrite::Done {
                                key: key.to_string(),
                                step: step.to_string(),
                                id: id.clone(),
                            })
                            .await?;
                        }
                        let (index, outcome) = batch.succeeded(op, status, id);
                        self.finish(index, outcome);
                    }
                    None => remaining.push(op),
                }
            }
            match reply {
                BatchReply::Accepted => {
                    first_half_was_clean = half == Half::First;
                    for op in remaining {
                        self.fail_op(batch, op, BatchFailure::Unconfirmed).await?;
                    }
                }
                BatchReply::Rejected(detail) => {
                    if remaining.len() == 1 && sent_alone {
                        let op = remaining.remove(0);
                        let why = BatchFailure::Rejected {
                            detail: detail.as_deref(),
                            seen: &*seen,
                        };
                        self.fail_op(batch, op, why).await?;
                    } else if remaining.len() > 1 {
                        let second = remaining.split_off(remaining.len() / 2);
                        stack.push((second, 0, Half::Second));
                        stack.push((remaining, 0, Half::First));
                    } else {
                        stack.push((remaining, 0, Half::Whole));
                    }
                }
                BatchReply::Unknown(detail) if unanswered < self.target.retries => {
                    // Whatever the read does not show did not happen: send only that again.
                    tracing::info!(
                        target_name = %self.target.name,
                        %detail,
                        still_missing = remaining.len(),
                        "batch unanswered; sending again what the read does not show"
                    );
                    stack.push((remaining, unanswered + 1, Half::Whole));
                }
                BatchReply::Unknown(detail) => {
                    for op in remaining {
                        let why = BatchFailure::NoAnswer {
                            sends: unanswered + 1,
                            detail: &detail,
                        };
                        self.fail_op(batch, op, why).await?;
                    }
                }
                BatchReply::NotDone(e) => {
                    for op in remaining {
                        self.fail_op(batch, op, BatchFailure::NotDone(&e)).await?;
                    }
                }
                BatchReply::Halted => return Err(None),
            }
        }
        Ok(())
    }

    /// Ends `op` failed: the read after its send shows it did not happen, so its intent is
    /// cleared.
    async fn fail_op<B: Batch>(
        &self,
        batch: &B,
        op: B::Op,
        why: BatchFailure<'_, B::Seen>,
    ) -> Result<(), Option<String>> {
        if let Some((key, step)) = batch.journal_step(&op) {
            self.journal(StepWrite::Clear {
                key: key.to_string(),
                step: step.to_string(),
            })
            .await?;
        }
        let (index, outcome) = batch.failed(op, why);
        self.finish(index, outcome);
        Ok(())
    }
}
