//! Sending: one `PUT /users/sync` per batch, `GET /users` after each to see what took
//! effect, a `false` batch split in halves until each failing operation stands alone, an
//! unanswered sync re-sent only for what the list does not show.

use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::wire::{self, Directory, Method};
use super::{Drtrack, Pending, STEP, STEP_DELETE};
use crate::http::retry::Kind;
use crate::http::{Request, SendError};
use crate::model::Status;
use crate::submit::Ctx;
use crate::vendors::VendorError;

/// What `PUT /users/sync` said.
#[derive(Debug, Clone)]
enum Verdict {
    True,
    /// `false`, or a reply that is not `true` (the detail says what it was).
    False(Option<String>),
    /// No answer: it may or may not have taken effect.
    Unknown(String),
    /// Nothing is known to have been done (retries ran out before an answer).
    NotDone(SendError),
}

/// Where a set of operations came from when a `false` set was split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Half {
    Whole,
    First,
    Second,
}

/// Why a batch stopped: the target halted (rows stay `not_attempted`), or the journal failed.
enum Stop {
    Halted,
    Journal(VendorError),
}

impl From<VendorError> for Stop {
    fn from(e: VendorError) -> Stop {
        Stop::Journal(e)
    }
}

impl Drtrack {
    pub(super) async fn run_batch(&self, ctx: &Ctx, batch: Vec<Pending>) {
        if let Err(Stop::Journal(e)) = self.settle(ctx, batch).await {
            ctx.http.halt.halt(format!("journal failed: {e}"));
        }
    }

    /// Sends one batch and settles every operation in it: confirmed by `GET /users` after
    /// each sync, a `false` batch split in halves until each failing operation stands alone.
    async fn settle(&self, ctx: &Ctx, batch: Vec<Pending>) -> Result<(), Stop> {
        for p in &batch {
            match p.method {
                Method::Add => ctx.commit_intent(&p.job.key, STEP).await?,
                Method::Delete => ctx.commit_intent(&p.job.key, STEP_DELETE).await?,
                Method::Modify => {}
            }
        }
        // (operations, syncs of them that went unanswered, which half of a `false` set)
        let mut stack: Vec<(Vec<Pending>, u32, Half)> = vec![(batch, 0, Half::Whole)];
        // Whether the item just settled was a first half that came back `true`: then its
        // sibling, next on the stack, holds what made their parent `false`.
        let mut first_half_was_clean = false;
        while let Some((mut ops, unanswered, half)) = stack.pop() {
            let sibling_clean = std::mem::take(&mut first_half_was_clean);
            if ops.is_empty() {
                continue;
            }
            if ctx.halted() {
                return Err(Stop::Halted);
            }
            if half == Half::Second && sibling_clean && ops.len() > 1 {
                // Known to be `false` as a whole: split it without sending it.
                let second = ops.split_off(ops.len() / 2);
                stack.push((second, 0, Half::Second));
                stack.push((ops, 0, Half::First));
                continue;
            }
            let sent_alone = ops.len() == 1;
            let verdict = self.sync(ctx, &mut ops).await?;
            // A list read that began after this sync ended, shared with other batches.
            let read = self
                .confirmations
                .read(|| async {
                    self.directory(ctx)
                        .await
                        .map(Arc::new)
                        .map_err(|e| e.halt_reason())
                })
                .await;
            let dir = match read {
                Ok(d) => d,
                Err(reason) => {
                    // Without the list nothing can be confirmed: the intents stay, and a
                    // re-run settles them.
                    ctx.http.halt.halt(reason);
                    return Err(Stop::Halted);
                }
            };
            let mut remaining = Vec::new();
            for mut p in ops {
                let listed = dir.login(&p.job.key);
                match (p.method, listed) {
                    (Method::Add, Some(user)) => {
                        ctx.commit_done(&p.job.key, STEP, Some(&user.key)).await?;
                        p.out.user_id = Some(user.key.clone());
                        self.succeed(ctx, p, Status::Created);
                    }
                    (Method::Delete, None) => {
                        ctx.commit_done(&p.job.key, STEP_DELETE, p.out.user_id.as_deref())
                            .await?;
                        self.succeed(ctx, p, Status::Deleted)
                    }
                    (Method::Modify, Some(_)) if matches!(verdict, Verdict::True) => {
                        self.succeed(ctx, p, Status::Updated)
                    }
                    _ => remaining.push(p),
                }
            }
            match verdict {
                Verdict::True => {
                    first_half_was_clean = half == Half::First;
                    for p in remaining {
                        let why = match p.method {
                            Method::Delete => format!(
                                "DRTrack answered true, but login {} is still listed",
                                p.login
                            ),
                            _ => format!(
                                "DRTrack answered true, but login {} is not listed afterwards",
                                p.login
                            ),
                        };
                        self.fail(ctx, p, why)?;
                    }
                }
                Verdict::False(detail) => {
                    if remaining.len() == 1 && sent_alone {
                        let p = remaining.remove(0);
                        let why = self.lone_reason(&p, detail.as_deref(), &dir);
                        self.fail(ctx, p, why)?;
                    } else if remaining.len() > 1 {
                        let second = remaining.split_off(remaining.len() / 2);
                        stack.push((second, 0, Half::Second));
                        stack.push((remaining, 0, Half::First));
                    } else {
                        stack.push((remaining, 0, Half::Whole));
                    }
                }
                Verdict::Unknown(detail) if unanswered < ctx.target.retries => {
                    // Whatever is not listed now did not happen: send only that again.
                    tracing::info!(
                        target_name = %ctx.target.name,
                        %detail,
                        still_missing = remaining.len(),
                        "DRTrack sync unanswered; re-sending what GET /users does not list"
                    );
                    stack.push((remaining, unanswered + 1, Half::Whole));
                }
                Verdict::Unknown(detail) => {
                    for p in remaining {
                        let why = format!(
                            "no answer from DRTrack to {} syncs ({detail}), and login {} shows no effect; giving up",
                            unanswered + 1,
                            p.login
                        );
                        self.fail(ctx, p, why)?;
                    }
                }
                Verdict::NotDone(e) => {
                    for mut p in remaining {
                        p.out.http_status = e.status().or(p.out.http_status);
                        self.fail(ctx, p, e.to_string())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// One `PUT /users/sync` of `ops`.
    async fn sync(&self, ctx: &Ctx, ops: &mut [Pending]) -> Result<Verdict, Stop> {
        let body = Value::Array(ops.iter().map(|p| p.body.clone()).collect());
        let n = self.sync_calls.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(target_name = %ctx.target.name, call = n, operations = ops.len(), "PUT /users/sync");
        let req = Request::new(reqwest::Method::PUT, "/users/sync", Kind::Create).json(body);
        match self.send(ctx, req).await {
            Ok(r) => {
                for p in ops.iter_mut() {
                    p.out.attempts += r.attempts;
                    p.out.http_status = Some(r.status);
                }
                if matches!(r.status, 401 | 403) {
                    let reason = format!(
                        "credentials rejected: HTTP {} on PUT /users/sync after logging in again",
                        r.status
                    );
                    ctx.http.halt.halt(reason);
                    return Err(Stop::Halted);
                }
                Ok(match (r.ok(), wire::parse_verdict(&r.body)) {
                    (true, Some(true)) => Verdict::True,
                    (true, Some(false)) => Verdict::False(None),
                    (true, None) => Verdict::False(Some(format!(
                        "HTTP {}, answer \"{}\" instead of true/false",
                        r.status,
                        r.excerpt()
                    ))),
                    (false, _) => {
                        Verdict::False(Some(format!("HTTP {}: {}", r.status, r.excerpt())))
                    }
                })
            }
            Err(SendError::Halted(_)) => Err(Stop::Halted),
            Err(e) => {
                for p in ops.iter_mut() {
                    p.out.attempts += e.attempts();
                }
                Ok(match e {
                    SendError::Unknown { detail, .. } => Verdict::Unknown(detail),
                    other => Verdict::NotDone(other),
                })
            }
        }
    }

    /// What muster can tell about an operation DRTrack refused on its own.
    fn lone_reason(&self, p: &Pending, detail: Option<&str>, dir: &Directory) -> String {
        let mut text = match detail {
            Some(d) => format!("sync rejected by DRTrack ({d})"),
            None => "sync rejected by DRTrack (no detail given)".to_string(),
        };
        let mut hints = Vec::new();
        if p.method != Method::Add && dir.login(&p.job.key).is_none() {
            hints.push(format!("login {} is not on DRTrack", p.login));
        }
        if let Some(e) = &p.email {
            if let Some(owner) = dir.email_owner(e).filter(|o| **o != p.job.key) {
                let owner = dir.login(owner).map_or(owner, |u| u.login.as_str());
                hints.push(format!("email {e} is already used by login {owner}"));
            }
        }
        if let Some(g) = &p.group {
            let known = self
                .accepted_groups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&g.to_lowercase());
            if !known {
                hints.push(format!(
                    "user group \"{g}\" was not accepted for any user in this run; it may not exist on DRTrack"
                ));
            }
        }
        if hints.is_empty() && p.method == Method::Add {
            hints.push(
                "DRTrack refuses a new user whose login or email is taken, whose email is malformed or whose user group does not exist".into(),
            );
        }
        for h in hints {
            text.push_str("; ");
            text.push_str(&h);
        }
        text
    }

    fn succeed(&self, ctx: &Ctx, mut p: Pending, status: Status) {
        if let Some(g) = &p.group {
            self.accepted_groups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(g.to_lowercase());
        }
        if let (Some(b), Method::Add | Method::Modify) = (&p.branches, p.method) {
            p.notes.push(format!(
                "branches {b} cannot be confirmed: DRTrack's API does not return branches"
            ));
        }
        p.out.status = status;
        if !p.notes.is_empty() {
            p.out.error = Some(format!("{status}; {}", p.notes.join("; ")));
        }
        ctx.finish(p.job.index, p.out);
    }

    fn fail(&self, ctx: &Ctx, mut p: Pending, why: String) -> Result<(), VendorError> {
        match p.method {
            // Confirmed absent by the list read after the sync.
            Method::Add => ctx.clear(&p.job.key, STEP)?,
            // Confirmed still there.
            Method::Delete => ctx.clear(&p.job.key, STEP_DELETE)?,
            Method::Modify => {}
        }
        p.out.status = Status::Failed;
        p.out.error = Some(why);
        ctx.finish(p.job.index, p.out);
        Ok(())
    }
}
