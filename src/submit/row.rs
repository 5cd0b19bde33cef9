//! A row made in steps, carried out as its connector planned it ([`Rows`]): the engine
//! settles what an interrupted run left, makes or writes the user exactly once, sends its
//! dependent steps (device links), marks the row complete, and words its outcome. Written
//! once for every such platform, so finishing a partial row is one piece of code.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::http::Reply;
use crate::model::{Outcome, Status};
use crate::vendors::protocol::{
    Aligned, Create, Dependent, Engine, Made, RowError, RowPlan, Rows, Step, Then, UserStep, Wrote,
};
use crate::vendors::{Job, STEP_COMPLETE, STEP_USER, common};

use super::Ctx;

/// The target's first create, alone until one is confirmed ([`Rows::FIRST_CREATE_ALONE`]).
struct FirstCreate {
    alone: tokio::sync::Mutex<()>,
    confirmed: AtomicBool,
}

impl Ctx {
    /// Every row of `jobs`, with the target's concurrency ([`Engine::rows`]).
    pub(super) async fn run_rows<R: Rows>(&self, rows: &R, existing: &R::Existing, jobs: Vec<Job>) {
        let first = FirstCreate {
            alone: tokio::sync::Mutex::new(()),
            confirmed: AtomicBool::new(!R::FIRST_CREATE_ALONE),
        };
        let first = &first;
        self.for_each(jobs, |job| async move {
            let result = async {
                let (extra, attempts) = rows.recheck(self, existing, &job).await?;
                let mut plan = rows.plan(self, existing, &job, extra);
                plan.out.attempts += attempts;
                self.run_row(rows, existing, &job, plan, first).await
            };
            common::settle(self, job.index, result.await.map(Some));
        })
        .await;
    }

    /// One row, as planned: its settlements, its user's write, then what follows.
    async fn run_row<R: Rows>(
        &self,
        rows: &R,
        existing: &R::Existing,
        job: &Job,
        plan: RowPlan<R::Wanted>,
        first: &FirstCreate,
    ) -> Result<Outcome, RowError> {
        let key = job.key.as_str();
        let RowPlan {
            mut out,
            settle,
            user,
            then,
        } = plan;
        for (name, took) in &settle {
            self.settle_from_listing(Step::of(key, name), took.as_deref())
                .await?;
        }
        let complete_with_user = match user {
            UserStep::Nothing => false,
            UserStep::Create {
                request,
                generated,
                complete,
            } => {
                if let Some(pw) = &generated {
                    if !self.keep_generated_password(key, pw)? {
                        self.log(
                            tracing::Level::DEBUG,
                            &format!(
                                "row {}: generated password not kept: no --secrets-out",
                                job.index
                            ),
                        );
                    }
                }
                let also: &[(&str, Option<&str>)] = if complete {
                    &[(STEP_COMPLETE, None)]
                } else {
                    &[]
                };
                let create = Create {
                    step: Step {
                        also_done: also,
                        ..Step::of(key, STEP_USER)
                    },
                    request,
                    maybe_ours: false,
                };
                // Until a create of the target is confirmed, creates go one at a time where
                // the platform asks for it (`Rows::FIRST_CREATE_ALONE`).
                let _alone = match first.confirmed.load(Ordering::SeqCst) {
                    true => None,
                    false => Some(first.alone.lock().await),
                };
                if _alone.is_some() && self.halted() {
                    return Err(RowError::Halted);
                }
                let made = self
                    .create_once(
                        create,
                        |req| self.http.send(req),
                        |r| rows.classify(self, job, r),
                        || rows.lookup(self, job),
                        &mut out,
                    )
                    .await?;
                match made {
                    Made::Ours { id, status } => {
                        first.confirmed.store(true, Ordering::SeqCst);
                        out.status = Status::Created;
                        out.http_status = status.or(out.http_status);
                        out.user_id = Some(id);
                        out.error = None;
                    }
                    Made::Theirs { id, status, reason } => {
                        rows.theirs(&mut out, id, status, reason);
                        return Ok(out);
                    }
                    Made::Failed { status, reason } => {
                        out.status = Status::Failed;
                        out.http_status = status.or(out.http_status);
                        out.error = Some(reason);
                        return Ok(out);
                    }
                }
                complete
            }
            UserStep::Write {
                name,
                request,
                keep,
                id,
                done,
            } => {
                let wrote = self
                    .write_once(
                        Step::of(key, &name),
                        request,
                        keep,
                        |req| self.http.send(req),
                        |_| id,
                        &mut out,
                    )
                    .await?;
                out = common::written(out, wrote, done, |r| rows.reason(job, r));
                if out.status == Status::Failed {
                    return Ok(out);
                }
                false
            }
        };
        let user_id = out.user_id.clone().unwrap_or_default();
        match then {
            Then::Nothing => Ok(out),
            Then::Finish => {
                self.commit_done_with(Step::of(key, STEP_COMPLETE), &user_id)
                    .await?;
                out.status = Status::Created;
                Ok(out)
            }
            Then::Make(wanted) => {
                // A user just made has no relationships yet: each is made without a read.
                let steps = rows.make(job, &user_id, &wanted);
                let (_, errors) = self.dependents(rows, job, steps, &mut out).await?;
                if errors.is_empty() {
                    if !complete_with_user {
                        self.commit_done_with(Step::of(key, STEP_COMPLETE), &user_id)
                            .await?;
                    }
                    out.status = Status::Created;
                } else {
                    out.status = Status::Partial;
                    out.error = Some(unfinished::<R>(&user_id, &errors.join("; ")));
                }
                Ok(out)
            }
            Then::Align { wanted, finish } => {
                let mut out = self
                    .align(rows, existing, job, &user_id, &wanted, out)
                    .await?;
                if !finish {
                    return Ok(out);
                }
                // A user muster made whose row was unfinished: complete once all is done.
                if out.status == Status::Failed || out.status == Status::Partial {
                    out.status = Status::Partial;
                    out.error = Some(unfinished::<R>(
                        &user_id,
                        out.error.as_deref().unwrap_or(""),
                    ));
                    return Ok(out);
                }
                self.commit_done_with(Step::of(key, STEP_COMPLETE), &user_id)
                    .await?;
                out.status = Status::Created;
                Ok(out)
            }
        }
    }

    /// Brings a listed user's relationships in line with the row: reads them
    /// ([`Rows::align`]), settles what an interrupted run left unanswered from that read,
    /// and sends what is missing. `out` is the row so far (`exists` or `updated`).
    async fn align<R: Rows>(
        &self,
        rows: &R,
        existing: &R::Existing,
        job: &Job,
        user_id: &str,
        wanted: &R::Wanted,
        mut out: Outcome,
    ) -> Result<Outcome, RowError> {
        let aligned = rows
            .align(self, existing, job, user_id, wanted, &mut out)
            .await?;
        let Aligned {
            settle,
            kept,
            steps,
        } = match aligned {
            Ok(aligned) => aligned,
            Err(why) => {
                out.status = Status::Failed;
                out.error = Some(format!("cannot read the user's {why}"));
                return Ok(out);
            }
        };
        for (name, took) in &settle {
            self.settle_from_listing(Step::of(&job.key, name), took.as_deref())
                .await?;
        }
        out.other_ids.extend(kept);
        if steps.is_empty() {
            return Ok(out);
        }
        if self.dry_run {
            out.status = Status::Planned;
            return Ok(out);
        }
        let updated = out.status == Status::Updated;
        let (done, errors) = self.dependents(rows, job, steps, &mut out).await?;
        out.status = match (errors.is_empty(), updated || done > 0) {
            (true, _) => Status::Updated,
            (false, true) => Status::Partial,
            (false, false) => Status::Failed,
        };
        if !errors.is_empty() {
            out.error = Some(format!("{} failed: {}", R::WHAT, errors.join("; ")));
        }
        Ok(out)
    }

    /// Sends a row's dependent steps in order, each its own journaled write: how many took
    /// effect, and why each other one failed.
    async fn dependents<R: Rows>(
        &self,
        rows: &R,
        job: &Job,
        steps: Vec<Dependent>,
        out: &mut Outcome,
    ) -> Result<(usize, Vec<String>), RowError> {
        let mut done = 0;
        let mut errors = Vec::new();
        for d in steps {
            let Dependent {
                name,
                request,
                keep,
                id,
                side,
                what,
            } = d;
            let wrote = self
                .write_once(
                    Step::of(&job.key, &name),
                    request,
                    keep,
                    |req| self.http.send(req),
                    |_: &Reply| id,
                    out,
                )
                .await?;
            match wrote {
                Wrote::Done(_) => {
                    done += 1;
                    out.other_ids.extend(side);
                }
                Wrote::Refused(r) => {
                    out.http_status = Some(r.status);
                    errors.push(format!("{what}: {}", rows.reason(job, &r)));
                }
                Wrote::Failed(e) => {
                    out.http_status = e.status().or(out.http_status);
                    errors.push(format!("{what}: {e}"));
                }
            }
        }
        Ok((done, errors))
    }
}

/// The message of a row whose user is there but whose dependent steps are not all done.
fn unfinished<R: Rows>(user_id: &str, why: &str) -> String {
    format!(
        "user {user_id} created, but {} failed: {why}; {}",
        R::WHAT,
        R::RERUN
    )
}
