//! Sending: DRTrack's batch step as the engine's [`Batch`]: one `PUT /users/sync` per
//! batch and `GET /users` after each to see what took effect. The engine splits a `false`
//! batch in halves until each failing operation stands alone and sends an unanswered sync
//! again only for what the list does not show.

use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::wire::{self, Directory, Method};
use super::{Drtrack, Pending, STEP, STEP_DELETE};
use crate::http::retry::Kind;
use crate::http::{Request, SendError};
use crate::model::{Outcome, Status};
use crate::vendors::protocol::{Batch, BatchFailure, BatchReply, Engine};

/// DRTrack's batch step: one `PUT /users/sync` of many operations, answered `true` or
/// `false` for the whole; `GET /users` after it shows which took effect. The engine
/// carries it out ([`Engine::batch`]): journaling, splitting a `false` batch, sending an
/// unanswered one again.
pub(super) struct SyncBatch<'a> {
    pub drtrack: &'a Drtrack,
}

impl Batch for SyncBatch<'_> {
    type Op = Pending;
    type Seen = Directory;

    fn journal_step<'o>(&self, p: &'o Pending) -> Option<(&'o str, &'o str)> {
        match p.method {
            Method::Add => Some((&p.job.key, STEP)),
            Method::Delete => Some((&p.job.key, STEP_DELETE)),
            Method::Modify => None,
        }
    }

    /// One `PUT /users/sync` of `ops`.
    async fn send(&self, ctx: &impl Engine, ops: &mut [Pending]) -> BatchReply {
        let d = self.drtrack;
        let body = Value::Array(ops.iter().map(|p| p.body.clone()).collect());
        let n = d.sync_calls.fetch_add(1, Ordering::Relaxed) + 1;
        ctx.log(
            tracing::Level::DEBUG,
            &format!("PUT /users/sync: call {n}, {} operations", ops.len()),
        );
        let req = Request::new(reqwest::Method::PUT, "/users/sync", Kind::Create).json(body);
        match d.send(ctx, req).await {
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
                    ctx.http().halt.halt(reason);
                    return BatchReply::Halted;
                }
                match (r.ok(), wire::parse_verdict(&r.body)) {
                    (true, Some(true)) => BatchReply::Accepted,
                    (true, Some(false)) => BatchReply::Rejected(None),
                    (true, None) => BatchReply::Rejected(Some(format!(
                        "HTTP {}, answer \"{}\" instead of true/false",
                        r.status,
                        r.excerpt()
                    ))),
                    (false, _) => {
                        BatchReply::Rejected(Some(format!("HTTP {}: {}", r.status, r.excerpt())))
                    }
                }
            }
            Err(SendError::Halted(_)) => BatchReply::Halted,
            Err(e) => {
                for p in ops.iter_mut() {
                    p.out.attempts += e.attempts();
                }
                match e {
                    SendError::Unknown { detail, .. } => BatchReply::Unknown(detail),
                    other => BatchReply::NotDone(other),
                }
            }
        }
    }

    /// A `GET /users` that began after the caller's sync ended, shared with other batches.
    async fn read_after(&self, ctx: &impl Engine) -> Result<Arc<Directory>, String> {
        let d = self.drtrack;
        d.confirmations
            .read(|| async {
                d.directory(ctx)
                    .await
                    .map(Arc::new)
                    .map_err(|e| e.halt_reason())
            })
            .await
    }

    fn took_effect(
        &self,
        dir: &Directory,
        p: &Pending,
        accepted: bool,
    ) -> Option<(Status, Option<String>)> {
        match (p.method, dir.login(&p.job.key)) {
            (Method::Add, Some(user)) => Some((Status::Created, Some(user.key.clone()))),
            (Method::Delete, None) => Some((Status::Deleted, p.out.user_id.clone())),
            (Method::Modify, Some(_)) if accepted => Some((Status::Updated, None)),
            _ => None,
        }
    }

    fn succeeded(&self, mut p: Pending, status: Status, id: Option<String>) -> (usize, Outcome) {
        if let Some(g) = &p.group {
            self.drtrack
                .accepted_groups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(g.to_lowercase());
        }
        if p.method == Method::Add {
            p.out.user_id = id;
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
        (p.job.index, p.out)
    }

    fn failed(&self, mut p: Pending, why: BatchFailure<'_, Directory>) -> (usize, Outcome) {
        let why = match why {
            BatchFailure::Unconfirmed => match p.method {
                Method::Delete => format!(
                    "DRTrack answered true, but login {} is still listed",
                    p.login
                ),
                _ => format!(
                    "DRTrack answered true, but login {} is not listed afterwards",
                    p.login
                ),
            },
            BatchFailure::Rejected { detail, seen } => self.drtrack.lone_reason(&p, detail, seen),
            BatchFailure::NoAnswer { sends, detail } => format!(
                "no answer from DRTrack to {sends} syncs ({detail}), and login {} shows no effect; giving up",
                p.login
            ),
            BatchFailure::NotDone(e) => {
                p.out.http_status = e.status().or(p.out.http_status);
                e.to_string()
            }
        };
        p.out.status = Status::Failed;
        p.out.error = Some(why);
        (p.job.index, p.out)
    }
}

impl Drtrack {
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
}
