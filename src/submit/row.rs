//! A row made in steps, carried out as its connector planned it ([`Rows`]): the engine
//! settles what an interrupted run left, has what the user shares with other rows made
//! once (a company's group), makes or writes the user exactly once, sends its dependent
//! steps (device links, app access), marks the row complete, and words its outcome.
//! Written once for every such platform, so finishing a partial row is one piece of code.

use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::http::Reply;
use crate::model::{Outcome, SideId, Status};
use crate::vendors::common::SingleFlight;
use crate::vendors::protocol::{
    Aligned, Dependent, Engine, RowError, RowPlan, Rows, Shared, Step, Then, UserStep,
};
use crate::vendors::{Job, STEP_COMPLETE, STEP_USER};

use super::Ctx;
use super::step::{self, Create, Made, Wrote};

/// What a run of rows shares: the first create's gate, and the things rows share, each made
/// once.
struct Run {
    /// Held by the target's first create until one is confirmed
    /// ([`Rows::FIRST_CREATE_ALONE`]).
    alone: tokio::sync::Mutex<()>,
    confirmed: AtomicBool,
    /// Shared things by journal key: their id, or why they could not be had (the status
    /// and the reason), the same for every row that asks.
    shared: SingleFlight<Result<String, (Option<u16>, String)>>,
}

/// A row whose user is there, with what follows it still to do.
struct Rest<W> {
    job: Job,
    out: Outcome,
    user_id: String,
    then: Then<W>,
    /// The row was marked complete with its user.
    complete: bool,
}

/// Where a row stands after its user's step.
enum After<W> {
    Ended(Outcome),
    Rest(Rest<W>),
}

impl Ctx {
    /// Every row of `jobs`, with the target's concurrency ([`Engine::rows`]). With
    /// [`Rows::DEFER_DEPENDENTS`], what follows a row's user waits in a second queue that
    /// runs beside the first.
    pub(super) async fn run_rows<R: Rows>(&self, rows: &R, existing: &R::Existing, jobs: Vec<Job>) {
        let run = Run {
            alone: tokio::sync::Mutex::new(()),
            confirmed: AtomicBool::new(!R::FIRST_CREATE_ALONE),
            shared: SingleFlight::new(),
        };
        let run = &run;
        let (tx, rx) = mpsc::unbounded_channel::<Rest<R::Wanted>>();
        let users = async move {
            let tx = tx;
            self.for_each(jobs, |job| {
                let tx = tx.clone();
                async move {
                    let index = job.index;
                    let result = match self.user_of(rows, existing, job, run).await {
                        Ok(After::Ended(out)) => Ok(Some(out)),
                        Ok(After::Rest(rest)) if R::DEFER_DEPENDENTS => {
                            // The receiver lives until every sender is gone.
                            let _ = tx.send(rest);
                            Ok(None)
                        }
                        Ok(After::Rest(rest)) => {
                            Box::pin(self.rest(rows, existing, rest)).await.map(Some)
                        }
                        Err(e) => Err(e),
                    };
                    step::settle(self, index, result);
                }
            })
            .await;
        };
        let deferred = async move {
            // A loop rather than a stream's `for_each_concurrent`: rustc cannot prove the
            // latter's closure `Send` here, where the connector is still a type parameter.
            let mut rx = rx;
            let mut running = futures_util::stream::FuturesUnordered::new();
            let limit = self.target.concurrency.max(1);
            let mut open = true;
            loop {
                tokio::select! {
                    rest = rx.recv(), if open && running.len() < limit => match rest {
                        Some(rest) => running.push(Box::pin(self.deferred(rows, existing, rest))),
                        None => open = false,
                    },
                    Some(()) = running.next(), if !running.is_empty() => {}
                    else => break,
                }
            }
        };
        tokio::join!(users, deferred);
    }

    /// What follows a row's user, from the second queue.
    async fn deferred<R: Rows>(&self, rows: &R, existing: &R::Existing, rest: Rest<R::Wanted>) {
        // Halted: no outcome, so the row is `not_attempted` and the next run resumes it;
        // the ledger already says its user is made.
        if self.halted() {
            return;
        }
        let index = rest.job.index;
        let result = self.rest(rows, existing, rest).await;
        step::settle(self, index, result.map(Some));
    }

    /// A row up to its user: planned (after any read the plan needs), its settlements, what
    /// it shares with other rows, and its user's create or write.
    async fn user_of<R: Rows>(
        &self,
        rows: &R,
        existing: &R::Existing,
        job: Job,
        run: &Run,
    ) -> Result<After<R::Wanted>, RowError> {
        let (extra, attempts) = rows.recheck(self, existing, &job).await?;
        let RowPlan {
            mut out,
            settle,
            shared,
            mut user,
            then,
        } = rows.plan(self, existing, &job, extra);
        out.attempts += attempts;
        let key = job.key.as_str();
        self.settle_all(key, &settle).await?;
        if let Some(shared) = shared {
            match Box::pin(self.shared(rows, &shared, run, &mut out)).await? {
                Ok(id) => {
                    if let Some(kind) = shared.side {
                        out.other_ids.push(SideId::new(kind, &id));
                    }
                    match &mut user {
                        UserStep::Create { request, .. } | UserStep::Write { request, .. } => {
                            rows.use_shared(request, &id)
                        }
                        UserStep::Nothing => {}
                    }
                }
                Err((status, reason)) => {
                    out.status = Status::Failed;
                    out.http_status = status;
                    out.error = Some(format!("{} could not be had: {reason}", shared.what));
                    return Ok(After::Ended(out));
                }
            }
        }
        let complete = match user {
            UserStep::Nothing => false,
            UserStep::Create {
                request,
                generated,
                complete,
                maybe_ours,
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
                    maybe_ours,
                };
                // Until a create of the target is confirmed, creates go one at a time where
                // the platform asks for it (`Rows::FIRST_CREATE_ALONE`).
                let alone = match run.confirmed.load(Ordering::SeqCst) {
                    true => None,
                    false => Some(run.alone.lock().await),
                };
                if alone.is_some() && self.halted() {
                    return Err(RowError::Halted);
                }
                // Boxed, as the other sends below: a row's future stays small while it
                // waits (what it holds across the sends is on the heap only while sending).
                let made = Box::pin(self.create_once(
                    create,
                    |req| rows.send(self, req),
                    |r| rows.classify(self, &job, r),
                    || rows.lookup(self, &job),
                    &mut out,
                ))
                .await?;
                drop(alone);
                match made {
                    Made::Ours { id, status } => {
                        run.confirmed.store(true, Ordering::SeqCst);
                        out.status = Status::Created;
                        out.http_status = status.or(out.http_status);
                        out.user_id = Some(id);
                        out.error = None;
                    }
                    Made::Theirs { id, status, reason } => {
                        rows.theirs(&mut out, id, status, reason);
                        return Ok(After::Ended(out));
                    }
                    Made::Failed { status, reason } => {
                        out.status = Status::Failed;
                        out.http_status = status.or(out.http_status);
                        out.error = Some(reason);
                        return Ok(After::Ended(out));
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
                let wrote = Box::pin(self.write_once(
                    Step::of(key, &name),
                    request,
                    keep,
                    |req| rows.send(self, req),
                    |_| id,
                    &mut out,
                ))
                .await?;
                out = step::written(out, wrote, done, |r| rows.reason(&job, r));
                if out.status == Status::Failed {
                    return Ok(After::Ended(out));
                }
                false
            }
        };
        if matches!(then, Then::Nothing) {
            return Ok(After::Ended(out));
        }
        let user_id = out.user_id.clone().unwrap_or_default();
        Ok(After::Rest(Rest {
            job,
            out,
            user_id,
            then,
            complete,
        }))
    }

    /// What follows a row's user: its dependent steps (made, or aligned after a read), then
    /// the mark that the row is complete.
    async fn rest<R: Rows>(
        &self,
        rows: &R,
        existing: &R::Existing,
        rest: Rest<R::Wanted>,
    ) -> Result<Outcome, RowError> {
        let Rest {
            job,
            mut out,
            user_id,
            then,
            complete,
        } = rest;
        let key = job.key.as_str();
        match then {
            Then::Nothing => Ok(out),
            Then::Finish => {
                self.complete(key, &user_id, &mut out).await?;
                Ok(out)
            }
            Then::Make(wanted) => {
                // A user just made has no relationships yet: each is made without a read.
                let steps = rows.make(existing, &job, &user_id, &wanted);
                let (_, errors) = self
                    .dependents(rows, existing, &job, steps, &mut out)
                    .await?;
                if errors.is_empty() && complete {
                    out.status = Status::Created;
                } else if errors.is_empty() {
                    self.complete(key, &user_id, &mut out).await?;
                } else {
                    out.status = Status::Partial;
                    out.error = Some(unfinished::<R>(&user_id, &errors.join("; ")));
                }
                Ok(out)
            }
            Then::Align { wanted, finish } => {
                let mut out = self
                    .align(rows, existing, &job, &user_id, &wanted, finish, out)
                    .await?;
                if !finish {
                    return Ok(out);
                }
                // A user muster made whose row was unfinished: complete once all is done.
                if out.status == Status::Failed || out.status == Status::Partial {
                    out.status = Status::Partial;
                    return Ok(out);
                }
                self.complete(key, &user_id, &mut out).await?;
                Ok(out)
            }
        }
    }

    /// The id of what the row's user shares with other rows: known, or made once for
    /// every row through the engine's create. `Ok(Err)`: it could not be had, with the
    /// status and the reason (the same for every row that asks in this run).
    async fn shared<R: Rows>(
        &self,
        rows: &R,
        shared: &Shared,
        run: &Run,
        out: &mut Outcome,
    ) -> Result<Result<String, (Option<u16>, String)>, RowError> {
        if let Some(id) = &shared.known {
            return Ok(Ok(id.clone()));
        }
        run.shared
            .get_or_try(&shared.key, || async {
                let request = match &shared.create {
                    Ok(request) => request.clone(),
                    Err(why) => return Ok(Err((None, why.clone()))),
                };
                let create = Create {
                    step: Step {
                        noun: shared.noun,
                        ..Step::of(&shared.key, shared.step)
                    },
                    request,
                    maybe_ours: false,
                };
                let made = self
                    .create_once(
                        create,
                        |req| rows.send(self, req),
                        |r| rows.classify_shared(r),
                        || async { Ok((rows.lookup_shared(self, shared).await?, 0)) },
                        out,
                    )
                    .await?;
                Ok(match made {
                    // What holds its identity is the shared thing, whoever made it.
                    Made::Ours { id, .. } | Made::Theirs { id, .. } => Ok(id),
                    Made::Failed { status, reason } => Err((status, reason)),
                })
            })
            .await
    }

    /// Steps an interrupted run left without an outcome, journaled as the listing shows
    /// them (a plan's or an alignment's `settle`).
    async fn settle_all(
        &self,
        key: &str,
        settle: &[(String, Option<String>)],
    ) -> Result<(), RowError> {
        for (name, took) in settle {
            self.settle_from_listing(Step::of(key, name), took.as_deref())
                .await?;
        }
        Ok(())
    }

    /// Marks the row of `key` complete, with its user's id: `created`.
    async fn complete(&self, key: &str, user_id: &str, out: &mut Outcome) -> Result<(), RowError> {
        self.commit_done_with(Step::of(key, STEP_COMPLETE), user_id)
            .await?;
        out.status = Status::Created;
        Ok(())
    }

    /// Brings a listed user's relationships in line with the row: reads them
    /// ([`Rows::align`]), settles what an interrupted run left unanswered from that read,
    /// and sends what is missing. `out` is the row so far (`exists` or `updated`).
    /// `finish`: the user is one muster made for an unfinished row, so a failure is worded
    /// as what is left of it ("user 7 created, but linking failed: …").
    #[allow(clippy::too_many_arguments)]
    async fn align<R: Rows>(
        &self,
        rows: &R,
        existing: &R::Existing,
        job: &Job,
        user_id: &str,
        wanted: &R::Wanted,
        finish: bool,
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
                let why = format!("cannot read the user's {why}");
                out.status = Status::Failed;
                out.error = Some(match finish {
                    true => unfinished::<R>(user_id, &why),
                    false => why,
                });
                return Ok(out);
            }
        };
        self.settle_all(&job.key, &settle).await?;
        out.other_ids.extend(kept);
        if steps.is_empty() {
            return Ok(out);
        }
        if self.dry_run {
            out.status = Status::Planned;
            return Ok(out);
        }
        let updated = out.status == Status::Updated;
        let (done, errors) = self
            .dependents(rows, existing, job, steps, &mut out)
            .await?;
        out.status = match (errors.is_empty(), updated || done > 0) {
            (true, _) => Status::Updated,
            (false, true) => Status::Partial,
            (false, false) => Status::Failed,
        };
        if !errors.is_empty() {
            let why = errors.join("; ");
            out.error = Some(match finish {
                true => unfinished::<R>(user_id, &why),
                false => format!("{} failed: {why}", R::WHAT),
            });
        }
        Ok(out)
    }

    /// Sends a row's dependent steps in order, each its own journaled write: how many took
    /// effect, and why each other one failed.
    async fn dependents<R: Rows>(
        &self,
        rows: &R,
        existing: &R::Existing,
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
                side: kind,
                what,
            } = d;
            rows.before_dependent(self, existing).await;
            let mut journaled = None;
            let wrote = self
                .write_once(
                    Step::of(&job.key, &name),
                    request,
                    keep,
                    |req| rows.send(self, req),
                    |r: &Reply| {
                        let id = rows.done_id(&id, r);
                        journaled = Some(id.clone());
                        id
                    },
                    out,
                )
                .await;
            let retries = match &wrote {
                Ok(Wrote::Done(r) | Wrote::Refused(r)) => r.attempts.saturating_sub(1),
                Ok(Wrote::Failed(e)) => e.attempts().saturating_sub(1),
                Err(_) => 0,
            };
            if retries > 0 {
                rows.after_dependent(existing, retries).await;
            }
            let named = |why: String| match what.is_empty() {
                true => why,
                false => format!("{what}: {why}"),
            };
            match wrote? {
                Wrote::Done(_) => {
                    done += 1;
                    if let (Some(kind), Some(id)) = (kind, journaled) {
                        out.other_ids.push(SideId::new(kind, &id));
                    }
                }
                Wrote::Refused(r) => {
                    out.http_status = Some(r.status);
                    errors.push(named(rows.reason(job, &r)));
                }
                Wrote::Failed(e) => {
                    out.http_status = e.status().or(out.http_status);
                    errors.push(named(e.to_string()));
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
