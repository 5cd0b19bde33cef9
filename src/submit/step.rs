//! The exactly-once protocol, written once: every write goes through here, a row's as its
//! connector planned it (`row.rs`) and a batch's (`batch.rs`). The intent is committed
//! before the request is sent and the outcome after; a create whose outcome is unknown (no
//! answer, or a 2xx without an id) is looked up before anything is sent again, and is never
//! sent again once it was answered 2xx.
//!
//! A connector supplies the request, how its reply reads ([`Verdict`]) and how to look
//! the user up ([`Lookup`]); it never sends a write or writes the journal itself.

use std::future::Future;

use crate::http::{Reply, Request, SendError};
use crate::journal::{StepState, StepWrite};
use crate::model::{Outcome, Status};
use crate::vendors::common::counted;
use crate::vendors::protocol::RowError;
use crate::vendors::protocol::{Engine, KeepIntent, Lookup, Step, Verdict};

use super::Ctx;

/// A create for the engine to carry out.
#[derive(Debug, Clone)]
pub(super) struct Create<'a> {
    pub(super) step: Step<'a>,
    pub(super) request: crate::http::Request,
    /// An earlier create of it may have taken effect (an intent an earlier run left): a
    /// taken identity with nothing to tell whose it is then counts as muster's.
    pub(super) maybe_ours: bool,
}

/// What the engine's create came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Made {
    /// Made by muster (now, or by a create whose answer was lost); journaled done.
    Ours { id: String, status: Option<u16> },
    /// Someone else's: the identity is taken by a user muster did not make.
    Theirs {
        id: String,
        status: Option<u16>,
        reason: String,
    },
    /// Not made, or not known to be: `reason` says which. The intent stays in the journal
    /// when the outcome is unknown, so the next run looks before it sends.
    Failed { status: Option<u16>, reason: String },
}

/// What the engine's repeatable write came to.
#[derive(Debug, Clone)]
pub(super) enum Wrote {
    /// A 2xx: journaled done.
    Done(crate::http::Reply),
    /// The platform refused it (the reply, for the connector's reason); nothing was done.
    Refused(crate::http::Reply),
    /// No readable answer.
    Failed(crate::http::SendError),
}

/// Ends a row's work: its outcome is recorded; a halted row is left to the engine
/// (`not_attempted`); a journal failure halts the target, since going on could create twice.
pub(super) fn settle(ctx: &impl Engine, index: usize, result: Result<Option<Outcome>, RowError>) {
    match result {
        Ok(Some(outcome)) => ctx.finish(index, outcome),
        Ok(None) | Err(RowError::Halted) => {}
        Err(RowError::Journal(e)) => ctx.http().halt.halt(format!("journal failed: {e}")),
    }
}

/// Marks `out` failed by a call that ended without a readable reply.
fn fail_send(mut out: Outcome, e: SendError) -> Outcome {
    out.status = Status::Failed;
    out.http_status = e.status();
    out.error = Some(e.to_string());
    out
}

/// The outcome of a repeatable write (update, deactivation): `done`, with the reply's
/// status; failed with the platform's reason (`reason` reads a refusal); or failed
/// without a readable answer.
pub(super) fn written(
    mut out: Outcome,
    wrote: Wrote,
    done: Status,
    reason: impl FnOnce(&Reply) -> String,
) -> Outcome {
    match wrote {
        Wrote::Done(r) => {
            out.status = done;
            out.http_status = Some(r.status);
        }
        Wrote::Refused(r) => {
            out.status = Status::Failed;
            out.http_status = Some(r.status);
            out.error = Some(reason(&r));
        }
        Wrote::Failed(e) => out = fail_send(out, e),
    }
    out
}

impl Ctx {
    /// Creates what `create.step` makes, exactly once: up to the target's retries + 1
    /// attempts, each journaled, an unknown outcome looked up (`find`, which returns what
    /// it found and the attempts it took) before the next. Attempts are counted in `out`.
    pub(super) async fn create_once<S, SF, C, F, FF>(
        &self,
        create: Create<'_>,
        send: S,
        classify: C,
        find: F,
        out: &mut Outcome,
    ) -> Result<Made, RowError>
    where
        S: Fn(Request) -> SF,
        SF: Future<Output = Result<Reply, SendError>>,
        C: Fn(&Reply) -> Verdict,
        F: Fn() -> FF,
        FF: Future<Output = Result<(Lookup, u32), RowError>>,
    {
        let Create {
            step,
            request,
            mut maybe_ours,
        } = create;
        let look = async |out: &mut Outcome| -> Result<Lookup, RowError> {
            let (found, attempts) = find().await?;
            out.attempts += attempts;
            Ok(found)
        };
        // An earlier run's create of it was left unsettled (an intent), or was answered 2xx
        // and not found: look before sending anything.
        let answered = answered_step(step.name);
        let answered_before = self.ledger(step.key, &answered).is_some();
        let intent_before = self
            .ledger(step.key, step.name)
            .is_some_and(|s| s.state == StepState::Intent);
        if answered_before || intent_before {
            maybe_ours = true;
            match look(out).await? {
                Lookup::Found { id, ours } if ours != Some(false) => {
                    return self.made(step, id, None).await;
                }
                Lookup::Found { id, .. } => return self.theirs(step, id).await,
                Lookup::Absent if answered_before => {
                    return Ok(Made::Failed {
                        status: None,
                        reason: format!(
                            "the platform answered 2xx to an earlier create of this {} but does not list it; not sent again: check on the platform before running again",
                            step.noun
                        ),
                    });
                }
                // The earlier create did not take effect.
                Lookup::Absent => {}
                Lookup::CannotTell(why) => {
                    return Ok(Made::Failed {
                        status: None,
                        reason: format!(
                            "an earlier create of this {} may have taken effect, and the look-up that would tell failed ({why}); not sent: a re-run looks again",
                            step.noun
                        ),
                    });
                }
            }
        }
        let tries = self.target.retries + 1;
        for _ in 0..tries {
            self.commit_intent(step.key, step.name).await?;
            match counted(send(request.clone()).await, out)? {
                Ok(reply) => {
                    let status = Some(reply.status);
                    match classify(&reply) {
                        Verdict::Made(Some(id)) => return self.made(step, id, status).await,
                        Verdict::Made(None) => {
                            // Answered 2xx: never sent again, whatever the look-up says. A
                            // list that lags is waited for (`settle_wait`); the journal
                            // keeps the intent and notes the answer, so no later run sends
                            // it again either before it is found.
                            return match self.look_patiently(step, &find, out).await? {
                                Lookup::Found { id, ours } if ours != Some(false) => {
                                    self.made(step, id, status).await
                                }
                                _ => {
                                    self.commit(vec![StepWrite::Done {
                                        key: step.key.to_string(),
                                        step: answered.clone(),
                                        id: None,
                                    }])
                                    .await?;
                                    Ok(Made::Failed {
                                        status,
                                        reason: format!(
                                            "HTTP {} to the create, but the reply has no id and the {} cannot be found yet; not sent again: the platform answered 2xx but does not list the {} after {} s; check before running again (a re-run looks again before it creates)",
                                            reply.status,
                                            step.noun,
                                            step.noun,
                                            self.target.settle_wait.as_secs_f64()
                                        ),
                                    })
                                }
                            };
                        }
                        Verdict::Unconfirmed { reason, halt } => {
                            let found = look(out).await?;
                            return match found {
                                Lookup::Found { id, ours } if ours != Some(false) => {
                                    self.made(step, id, status).await
                                }
                                other => {
                                    if !matches!(other, Lookup::CannotTell(_)) {
                                        self.commit_clear(step.key, step.name).await?;
                                    }
                                    self.http.halt.halt(halt);
                                    Ok(Made::Failed { status, reason })
                                }
                            };
                        }
                        Verdict::Taken { reason, if_absent } => {
                            return match look(out).await? {
                                Lookup::Found { id, ours }
                                    if ours == Some(true) || (ours.is_none() && maybe_ours) =>
                                {
                                    self.made(step, id, status).await
                                }
                                Lookup::Found { id, .. } => {
                                    self.commit_clear(step.key, step.name).await?;
                                    Ok(Made::Theirs { id, status, reason })
                                }
                                Lookup::Absent => {
                                    self.commit_clear(step.key, step.name).await?;
                                    Ok(Made::Failed {
                                        status,
                                        reason: if_absent,
                                    })
                                }
                                // Whose it is stays unknown: the intent stays, so the next
                                // run looks again before it sends.
                                Lookup::CannotTell(why) => Ok(Made::Failed {
                                    status,
                                    reason: format!(
                                        "{reason}; and the look-up that would tell whose it is failed ({why})"
                                    ),
                                }),
                            };
                        }
                        Verdict::Refused { reason } => {
                            self.commit_clear(step.key, step.name).await?;
                            return Ok(Made::Failed { status, reason });
                        }
                    }
                }
                Err(SendError::Unknown { detail, .. }) => {
                    // Never sent again blindly: look first.
                    maybe_ours = true;
                    match look(out).await? {
                        Lookup::Found {
                            id,
                            ours: Some(false),
                        } => return self.theirs(step, id).await,
                        Lookup::Found { id, .. } => return self.made(step, id, None).await,
                        Lookup::Absent => self.commit_clear(step.key, step.name).await?,
                        Lookup::CannotTell(why) => {
                            return Ok(Made::Failed {
                                status: None,
                                reason: format!(
                                    "no answer to the create ({detail}), and the look-up that would tell whether it happened failed ({why}); not sent again: a re-run looks again before creating"
                                ),
                            });
                        }
                    }
                }
                Err(e) => {
                    self.commit_clear(step.key, step.name).await?;
                    return Ok(Made::Failed {
                        status: e.status(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(Made::Failed {
            status: None,
            reason: format!(
                "no answer to {tries} creates, and the {} is not on the platform; giving up",
                step.noun
            ),
        })
    }

    /// Looks for what a create answered 2xx without an id made, again and again with growing
    /// pauses (half a second, doubling, at most 8 s) until it is found or the target's
    /// `settle_wait` has passed: a platform's list may lag behind its writes. What the last
    /// look found is returned.
    async fn look_patiently<F, FF>(
        &self,
        step: Step<'_>,
        find: &F,
        out: &mut Outcome,
    ) -> Result<Lookup, RowError>
    where
        F: Fn() -> FF,
        FF: Future<Output = Result<(Lookup, u32), RowError>>,
    {
        let started = tokio::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(500);
        loop {
            let (found, attempts) = find().await?;
            out.attempts += attempts;
            let left = self.target.settle_wait.saturating_sub(started.elapsed());
            if matches!(found, Lookup::Found { .. }) || left.is_zero() || self.halted() {
                return Ok(found);
            }
            self.note(&format!(
                "a {} answered 2xx is not listed yet; looking again for up to {} s",
                step.noun,
                left.as_secs()
            ));
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(8));
        }
    }

    /// A look-up after an unsettled create found the identity held by a user muster did not
    /// make: the intent is cleared (nothing of ours was made) and the user is theirs.
    async fn theirs(&self, step: Step<'_>, id: String) -> Result<Made, RowError> {
        self.commit_clear(step.key, step.name).await?;
        Ok(Made::Theirs {
            id,
            status: None,
            reason: format!("the {} is another's, not one muster made", step.noun),
        })
    }

    /// Commits `step` done with `id` (and the steps done with it, in the same commit).
    async fn made(
        &self,
        step: Step<'_>,
        id: String,
        status: Option<u16>,
    ) -> Result<Made, RowError> {
        self.commit_done_with(step, &id).await?;
        Ok(Made::Ours { id, status })
    }

    /// Commits `step` done with `id`, and its `also_done` steps, in one commit.
    pub(super) async fn commit_done_with(&self, step: Step<'_>, id: &str) -> Result<(), RowError> {
        let mut writes = vec![StepWrite::Done {
            key: step.key.to_string(),
            step: step.name.to_string(),
            id: Some(id.to_string()),
        }];
        for (name, other) in step.also_done {
            writes.push(StepWrite::Done {
                key: step.key.to_string(),
                step: name.to_string(),
                id: Some(other.unwrap_or(id).to_string()),
            });
        }
        Ok(self.commit(writes).await?)
    }

    /// A write that is safe to repeat (update, delete, link, app access): intent, send,
    /// then done (with `done_id` of a 2xx reply) or cleared (refused). Without a readable
    /// answer the intent stays as `keep` says. Attempts are counted in `out`.
    pub(super) async fn write_once<S, SF, D>(
        &self,
        step: Step<'_>,
        request: Request,
        keep: KeepIntent,
        send: S,
        done_id: D,
        out: &mut Outcome,
    ) -> Result<Wrote, RowError>
    where
        S: FnOnce(Request) -> SF,
        SF: Future<Output = Result<Reply, SendError>>,
        D: FnOnce(&Reply) -> String,
    {
        self.commit_intent(step.key, step.name).await?;
        match counted(send(request).await, out)? {
            Ok(reply) if reply.ok() => {
                self.commit_done_with(step, &done_id(&reply)).await?;
                Ok(Wrote::Done(reply))
            }
            Ok(reply) => {
                self.commit_clear(step.key, step.name).await?;
                Ok(Wrote::Refused(reply))
            }
            Err(e) => {
                let kept = match keep {
                    KeepIntent::Always => true,
                    KeepIntent::OnUnknown => matches!(e, SendError::Unknown { .. }),
                    KeepIntent::Never => false,
                };
                if !kept {
                    self.commit_clear(step.key, step.name).await?;
                }
                Ok(Wrote::Failed(e))
            }
        }
    }
}

impl Ctx {
    /// See [`crate::vendors::protocol::Engine::settle_listed`].
    pub(super) async fn settle_from_listing(
        &self,
        step: Step<'_>,
        listed: Option<&str>,
    ) -> Result<bool, RowError> {
        let intent = self
            .ledger(step.key, step.name)
            .is_some_and(|s| s.state == StepState::Intent);
        if !intent || self.dry_run {
            return Ok(false);
        }
        match listed {
            Some(id) => {
                self.commit_done_with(step, id).await?;
                Ok(true)
            }
            None => {
                self.commit_clear(step.key, step.name).await?;
                Ok(false)
            }
        }
    }
}

/// The ledger step that notes a create of `step` was answered 2xx and its user not found.
fn answered_step(step: &str) -> String {
    format!("{step}:answered")
}
