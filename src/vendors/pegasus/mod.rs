//! Pegasus Gateway (`shared/vendors/pegasus.md`, issue 6): group → user → app access, three
//! non-atomic calls per row, each journaled with its id so a re-run does only what is missing.
//!
//! - Auth: `POST /login` → token in the `Authenticate` header; one re-login when a token
//!   that worked answers 401 (`client::Session`). Before any write, `GET /user` must show
//!   `groups`, `users` and `users.application_data` writable (or `is_staff`).
//! - Read once per target: every user (`select=id,username,email`, matched on lower-cased
//!   username) and every group (matched on exact name).
//! - Group: one per company, found by exact name or made once with `POST /groups`, shared
//!   by all its rows even when many workers reach it together (`SingleFlight`). Ledger key
//!   `group:<company>`, step `group`.
//! - User: `POST /users` with `groups: [id]`; an unknown outcome is looked up before any
//!   repeat; a 409 is adopted when the user is ours, else reported.
//! - App access: `PUT /apps/pegasus2.0?user=ID` (idempotent) in a second queue, paced by the
//!   `/apps` limits (5/s and 20/min per user), so groups and users run ahead while grants
//!   wait their turn.
//! - Audit, upsert, sync (issue 9): `list_users` pages through every user (names, e-mail,
//!   phone, groups as `company`, `is_active`). An existing user is updated when the row
//!   or the mode asks (`update`/`upsert`, `--mode upsert|sync`): `PUT /users/{id}` with only
//!   the fields that differ (and `is_active: true` for an inactive user the roster lists,
//!   not marked `disabled`), nothing at all when none does. Removal is deactivation,
//!   `PUT /users/{id}` `{"is_active": false}`: the contract documents neither a user
//!   update nor a delete, so both are assumptions (see `update`, `deactivate`).

mod client;
pub mod rules;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use tokio::sync::mpsc;

use crate::config::Credentials;
use crate::http::limiter::Limiter;
use crate::http::retry::Kind;
use crate::http::{Paced, Request};
use crate::model::StepState;
use crate::model::{Action, Field, Outcome, Problem, Row, SideId, Status};
use crate::vendors::protocol::Engine;

use super::common::{Fresh, SingleFlight, settle, written};
use super::protocol::{Create, KeepIntent, Lookup, Made, Step, Wrote};
use super::standing::{Next as Needs, next};
use super::{Job, STEP_COMPLETE, STEP_USER, Vendor, VendorError};
use crate::model::PlatformUser;
use client::{Groups, RowError, Session, Users, Window};
use wire::{readable, reply_id};

/// The journal step names of a row; the group's is `group` under key `group:<company>`.
const STEP_APP: &str = "app";
const STEP_GROUP: &str = "group";
/// The journal step of an update (`PUT /users/{id}` of what differs).
const STEP_UPDATE: &str = "update";
/// The journal step of a deactivation (`PUT /users/{id}` `is_active: false`).
const STEP_DEACTIVATE: &str = "deactivate";

/// The Pegasus connector.
pub struct Pegasus {
    session: Session,
    /// One group per company per run, whoever asks first makes it.
    groups: SingleFlight<GroupResult>,
    /// The checks after lost answers: users by lower-cased username from a whole-list read
    /// (users have no documented search) shared by every row that asked before it began.
    checks: Fresh<Result<Arc<HashMap<String, String>>, String>>,
    /// Who muster is logged in as (lower-cased username), once probed.
    me: std::sync::OnceLock<String>,
}

/// A company's group id, or why it could not be had (shared by all its rows).
type GroupResult = Result<String, GroupFailure>;

#[derive(Debug, Clone)]
struct GroupFailure {
    status: Option<u16>,
    message: String,
}

/// What exists on the platform, read once per target.
struct Existing {
    users: Users,
    /// Group ids by exact name, names by id.
    groups: Groups,
    /// The first row of each company in input order: the group's contact.
    contacts: HashMap<String, Arc<Row>>,
}

impl Existing {
    /// The company's group: the one the ledger says muster made (if the platform still has
    /// it), else the platform's group of that exact name.
    fn group(&self, ctx: &impl Engine, company: &str) -> Option<String> {
        done_id(ctx, &group_key(company), STEP_GROUP)
            .filter(|id| self.groups.has(id))
            .or_else(|| self.groups.by_name.get(company).cloned())
    }
}

/// A row whose user is there and whose app access is still to be granted.
struct Pending {
    job: Job,
    out: Outcome,
    user_id: String,
    /// A user muster did not just make (an update): its app access is read first and
    /// granted only when it differs from the row's (issue 28).
    check: bool,
}

/// The `/apps` limits: the per-second limiter every attempt passes, and the per-minute window.
struct AppsGate {
    per_second: Arc<Limiter>,
    per_minute: Option<Window>,
}

impl AppsGate {
    /// Waits for the per-minute window, saying so on the progress line.
    async fn wait(&self, ctx: &impl Engine) {
        if let Some(w) = &self.per_minute {
            w.acquire(|wait| {
                ctx.http().tell(Paced::Waiting {
                    wait,
                    why: format!("/apps limit of {} per minute", ctx.target().apps_per_minute),
                })
            })
            .await;
        }
    }

    /// The target's `/apps` limits.
    fn of(ctx: &impl Engine) -> AppsGate {
        AppsGate {
            per_second: Arc::new(Limiter::new(
                ctx.target().apps_rate,
                std::num::NonZeroU32::MIN,
            )),
            per_minute: Window::new(ctx.target().apps_per_minute, Duration::from_secs(60)),
        }
    }
}

/// What the first phase decided for a row.
enum Next {
    Done(Outcome),
    Apps(Pending),
}

impl Pegasus {
    pub fn new(credentials: Credentials) -> Pegasus {
        Pegasus {
            session: Session::new(credentials),
            groups: SingleFlight::new(),
            checks: Fresh::default(),
            me: std::sync::OnceLock::new(),
        }
    }

    async fn existing(&self, ctx: &impl Engine, jobs: &[Job]) -> Result<Existing, VendorError> {
        let users = client::read_users(ctx, &self.session).await?;
        let groups = client::read_groups(ctx, &self.session, &[]).await?;
        let mut contacts = HashMap::new();
        for job in jobs {
            if let Some(c) = wire::company(&job.row) {
                contacts
                    .entry(c.to_string())
                    .or_insert_with(|| job.row.clone());
            }
        }
        Ok(Existing {
            users,
            groups,
            contacts,
        })
    }

    /// Phase one of a row: decide, make the group and the user; hands the app step on.
    async fn first_phase(
        &self,
        ctx: &impl Engine,
        existing: &Existing,
        job: Job,
    ) -> Option<Pending> {
        match self.group_and_user(ctx, existing, &job).await {
            Ok(Next::Apps(p)) => Some(p),
            Ok(Next::Done(out)) => {
                settle(ctx, job.index, Ok(Some(out)));
                None
            }
            Err(e) => {
                settle(ctx, job.index, Err(e));
                None
            }
        }
    }

    async fn group_and_user(
        &self,
        ctx: &impl Engine,
        existing: &Existing,
        job: &Job,
    ) -> Result<Next, RowError> {
        let row = &job.row;
        let key = job.key.as_str();
        let mut out = Outcome::new(Status::Planned, job.action);
        if job.action == Action::Delete {
            return self
                .deactivate(ctx, existing, job, out)
                .await
                .map(Next::Done);
        }
        // The body first: a row muster cannot express makes nothing, not even its group.
        let body = match wire::user_body(job) {
            Ok(b) => b,
            Err(problems) => return Ok(Next::Done(Outcome::invalid(job.action, &problems))),
        };
        let company = wire::company(row);
        let known_group = company.and_then(|c| existing.group(ctx, c));

        let on_platform = existing.users.by_username.get(key).cloned();
        // Who the user is: made by muster before (ledger), or already on the platform.
        let standing = ctx.standing(key, on_platform.as_deref());
        let app_done = done_id(ctx, key, STEP_APP).filter(|_| !standing.forgotten);
        if standing.unsettled {
            ctx.settle_listed(Step::of(key, STEP_USER), standing.user_id.as_deref())
                .await?;
        }
        if standing.ours {
            if let Some(g) = &known_group {
                out.other_ids.push(side("group", g));
            }
        }
        // The app access muster granted its own user, said on a row left as it is.
        let granted = app_done
            .as_ref()
            .filter(|_| standing.ours)
            .map(|a| side("app", a));
        let user_id = match next(job.action, ctx.mode(), &standing) {
            Needs::NoUser => {
                out.status = Status::Failed;
                out.error = Some(format!(
                    "no user with username {key} on target {} to update",
                    ctx.target().name
                ));
                return Ok(Next::Done(out));
            }
            // Already there (ours and finished, or someone else's): updated where it
            // differs when the row or the mode asks for it, else left alone.
            Needs::Exists(id) => {
                out.user_id = Some(id);
                out.other_ids.extend(granted);
                out.status = Status::Exists;
                return Ok(Next::Done(out));
            }
            Needs::Update(id) => {
                out.user_id = Some(id.clone());
                out.other_ids.extend(granted);
                let id = on_platform.clone().unwrap_or(id);
                let out = self.update(ctx, existing, job, &id, out).await?;
                // Issue 28: a row naming its apps also brings the user's app access in
                // line, in phase two (paced by the `/apps` limits).
                let apps = row.get(Field::Apps).is_some_and(|a| !a.trim().is_empty());
                if !apps || ctx.dry_run() || out.status == Status::Failed {
                    return Ok(Next::Done(out));
                }
                return Ok(Next::Apps(Pending {
                    job: job.clone(),
                    out,
                    user_id: id,
                    check: true,
                }));
            }
            Needs::Finish(id) => {
                out.user_id = Some(id.clone());
                Some(id)
            }
            Needs::Create => None,
        };
        if ctx.dry_run() {
            out.status = Status::Planned;
            return Ok(Next::Done(out));
        }

        let user_id = match user_id {
            Some(id) => id,
            None => {
                let Some(company) = company else {
                    let p = Problem::field(
                        row,
                        Field::Company,
                        "is required: a Pegasus user belongs to its company's group",
                    );
                    return Ok(Next::Done(Outcome::invalid(job.action, &[p])));
                };
                let group_id = match self.group(ctx, existing, company, &mut out).await? {
                    Ok(id) => id,
                    Err(f) => {
                        out.status = Status::Failed;
                        out.http_status = f.status;
                        out.error = Some(format!(
                            "group \"{company}\" could not be had: {}",
                            f.message
                        ));
                        return Ok(Next::Done(out));
                    }
                };
                out.other_ids.push(side("group", &group_id));
                let mut body = body;
                wire::set_group(&mut body.body, &group_id);
                if let Some(pw) = &body.generated {
                    if !ctx.keep_generated_password(key, pw)? {
                        ctx.log(
                            tracing::Level::DEBUG,
                            &format!(
                                "row {}: generated password not kept: no --secrets-out",
                                job.index
                            ),
                        );
                    }
                }
                match self.create_user(ctx, job, &body.body, &mut out).await? {
                    Made::Ours { id, .. } => id,
                    // Someone else's user holds the username: left alone.
                    Made::Theirs { id, .. } => {
                        out.user_id = Some(id);
                        out.other_ids.clear();
                        out.status = Status::Exists;
                        out.http_status = Some(409);
                        return Ok(Next::Done(out));
                    }
                    Made::Failed { .. } => return Ok(Next::Done(out)),
                }
            }
        };
        out.user_id = Some(user_id.clone());
        if let Some(app) = app_done {
            // Every step done; only the final mark was missing.
            out.other_ids.push(side("app", &app));
            ctx.done_with(Step::of(key, STEP_COMPLETE), &user_id)
                .await?;
            out.status = Status::Created;
            return Ok(Next::Done(out));
        }
        Ok(Next::Apps(Pending {
            job: job.clone(),
            out,
            user_id,
            check: false,
        }))
    }

    /// The company's group: from the ledger, the platform, or made once for everyone.
    /// `Ok(Err)` is a refusal, shared by every row of the company in this run.
    async fn group(
        &self,
        ctx: &impl Engine,
        existing: &Existing,
        company: &str,
        out: &mut Outcome,
    ) -> Result<GroupResult, RowError> {
        self.groups
            .get_or_try(company, || async {
                if let Some(id) = existing.group(ctx, company) {
                    return Ok(Ok(id));
                }
                self.create_group(ctx, existing, company, out).await
            })
            .await
    }

    async fn create_group(
        &self,
        ctx: &impl Engine,
        existing: &Existing,
        company: &str,
        out: &mut Outcome,
    ) -> Result<GroupResult, RowError> {
        let key = group_key(company);
        let Some(contact) = existing.contacts.get(company) else {
            return Ok(Err(GroupFailure {
                status: None,
                message: "no row names this company".into(),
            }));
        };
        let body = wire::group_body(company, contact);
        let made = ctx
            .create(
                Create {
                    step: Step {
                        noun: "group",
                        ..Step::of(&key, STEP_GROUP)
                    },
                    request: Request::new(Method::POST, "/groups", Kind::Create).json(body),
                    maybe_ours: false,
                },
                |req| self.session.send(ctx, req),
                wire::classify_group,
                || async { Ok((self.find_group(ctx, company).await?, 0)) },
                out,
            )
            .await?;
        Ok(match made {
            // A group of that name is the company's group, whoever made it.
            Made::Ours { id, .. } | Made::Theirs { id, .. } => Ok(id),
            Made::Failed { status, reason } => Err(GroupFailure {
                status,
                message: reason,
            }),
        })
    }

    /// A group by exact name (`search.name=` is case-sensitive; matched exactly again).
    /// A read that fails halts nothing but cannot tell, so the intent stays and a re-run
    /// reconciles it.
    async fn find_group(&self, ctx: &impl Engine, company: &str) -> Result<Lookup, RowError> {
        match client::read_groups(ctx, &self.session, &[("search.name", company)]).await {
            Ok(groups) => Ok(match groups.by_name.get(company) {
                Some(id) => Lookup::Found {
                    id: id.clone(),
                    ours: None,
                },
                None => Lookup::Absent,
            }),
            Err(_) if ctx.halted() => Err(RowError::Halted),
            Err(e) => Ok(Lookup::CannotTell(format!(
                "the groups could not be read: {e}"
            ))),
        }
    }

    /// A user by lower-cased username, paging through every user (`search.` is not
    /// documented for users) in a read that began after this call, shared with the other
    /// rows checking at the same time. `Err`: the list could not be read.
    async fn find_user(
        &self,
        ctx: &impl Engine,
        key: &str,
    ) -> Result<Result<Option<String>, String>, RowError> {
        let read = self
            .checks
            .read(|| async {
                client::read_users(ctx, &self.session)
                    .await
                    .map(|users| Arc::new(users.by_username))
                    .map_err(|e| e.to_string())
            })
            .await;
        match read {
            Ok(users) => Ok(Ok(users.get(key).cloned())),
            Err(_) if ctx.halted() => Err(RowError::Halted),
            Err(e) => Ok(Err(e)),
        }
    }

    /// `POST /users` through the engine's create: an unknown outcome is looked up before
    /// any repeat, and a 409 for a username muster may have made is checked the same way.
    async fn create_user(
        &self,
        ctx: &impl Engine,
        job: &Job,
        body: &serde_json::Value,
        out: &mut Outcome,
    ) -> Result<Made, RowError> {
        let key = job.key.as_str();
        let find = || async {
            Ok((
                match self.find_user(ctx, key).await? {
                    Ok(Some(id)) => Lookup::Found { id, ours: None },
                    Ok(None) => Lookup::Absent,
                    Err(e) => Lookup::CannotTell(format!("the users could not be read: {e}")),
                },
                0,
            ))
        };
        let made = ctx
            .create(
                Create {
                    step: Step::of(key, STEP_USER),
                    request: Request::new(Method::POST, "/users", Kind::Create).json(body.clone()),
                    // An intent left by an earlier run: a user that now holds the username
                    // may be ours.
                    maybe_ours: ctx.ledger(key, STEP_USER).is_some(),
                },
                |req| self.session.send(ctx, req),
                wire::classify_user,
                find,
                out,
            )
            .await?;
        if let Made::Failed { status, reason } = &made {
            out.status = Status::Failed;
            out.http_status = status.or(out.http_status);
            out.error = Some(reason.clone());
        } else if let Made::Ours { status, .. } = &made {
            out.http_status = status.or(out.http_status);
        }
        Ok(made)
    }

    /// Update of a user that is on the platform: `PUT /users/{id}` with only the fields
    /// that differ (`wire::changes`); nothing differs → `exists`, no request.
    ///
    /// Assumption (the contract documents no user update): `PUT /users/{id}` changes the
    /// keys it is sent and leaves the others, as `PUT /sims/{id}` does in the older docs;
    /// 409 for a username/e-mail another user holds, as on create. A PUT is idempotent, so
    /// the decision is made from the platform's values, not the ledger: a re-run after it
    /// finds nothing to change.
    async fn update(
        &self,
        ctx: &impl Engine,
        existing: &Existing,
        job: &Job,
        id: &str,
        mut out: Outcome,
    ) -> Result<Outcome, RowError> {
        let key = job.key.as_str();
        out.user_id = Some(id.to_string());
        let Some(have) = existing.users.by_id.get(id) else {
            // Listed by username but not by id cannot happen; treat it as nothing to compare.
            out.status = Status::Exists;
            return Ok(out);
        };
        let names = &existing.groups.names;
        let company_group = match wire::company(&job.row) {
            Some(c) if wire::company_differs(&job.row, have, names) => {
                if ctx.dry_run() {
                    out.status = Status::Planned;
                    return Ok(out);
                }
                match self.group(ctx, existing, c, &mut out).await? {
                    Ok(g) => Some(g),
                    Err(f) => {
                        out.status = Status::Failed;
                        out.http_status = f.status;
                        out.error = Some(format!("group \"{c}\" could not be had: {}", f.message));
                        return Ok(out);
                    }
                }
            }
            _ => None,
        };
        let body = wire::changes(&job.row, have, names, company_group.as_deref());
        if body.is_empty() {
            out.status = Status::Exists;
            return Ok(out);
        }
        if ctx.dry_run() {
            out.status = Status::Planned;
            return Ok(out);
        }
        let req = Request::new(Method::PUT, format!("/users/{id}"), Kind::Idempotent)
            .json(serde_json::Value::Object(body));
        // Unknown or not: the next run compares again and sends only what still differs.
        let wrote = ctx
            .write(
                Step::of(key, STEP_UPDATE),
                req,
                KeepIntent::Never,
                |req| self.session.send(ctx, req),
                |_| id.to_string(),
                &mut out,
            )
            .await?;
        Ok(written(out, wrote, Status::Updated, readable))
    }

    /// Removal the Pegasus way: the contract documents no user delete, so a user is
    /// deactivated, `PUT /users/{id}` `{"is_active": false}` (assumed; the user stays listed,
    /// inactive, and can be re-activated). A user already inactive is `deleted` with no
    /// request, so a re-run sends nothing.
    async fn deactivate(
        &self,
        ctx: &impl Engine,
        existing: &Existing,
        job: &Job,
        mut out: Outcome,
    ) -> Result<Outcome, RowError> {
        let key = job.key.as_str();
        let Some(id) = existing
            .users
            .by_username
            .get(key)
            .or_else(|| existing.users.by_email.get(key))
            .cloned()
        else {
            out.status = Status::Failed;
            out.error = Some(format!(
                "no user with username {key} on target {}",
                ctx.target().name
            ));
            return Ok(out);
        };
        out.user_id = Some(id.clone());
        let active = existing.users.by_id.get(&id).is_none_or(|u| u.active());
        if !active {
            if ctx
                .ledger(key, STEP_DEACTIVATE)
                .is_some_and(|s| s.state != StepState::Done)
                && !ctx.dry_run()
            {
                // An intent without outcome, and the list shows it took effect.
                ctx.done_with(Step::of(key, STEP_DEACTIVATE), &id).await?;
            }
            out.status = Status::Deleted;
            out.error = Some("deleted; already inactive on Pegasus, nothing sent".into());
            return Ok(out);
        }
        if ctx.dry_run() {
            out.status = Status::Planned;
            return Ok(out);
        }
        let req = Request::new(Method::PUT, format!("/users/{id}"), Kind::Idempotent)
            .json(serde_json::json!({"is_active": false}));
        // No answer: the intent stays; the next run's list says whether it happened.
        let wrote = ctx
            .write(
                Step::of(key, STEP_DEACTIVATE),
                req,
                KeepIntent::OnUnknown,
                |req| self.session.send(ctx, req),
                |_| id.clone(),
                &mut out,
            )
            .await?;
        Ok(written(out, wrote, Status::Deleted, readable))
    }

    /// Phase two: app access for every row the first phase hands on, as the `/apps`
    /// limits allow. Runs beside phase one.
    async fn grant_all(
        &self,
        ctx: &impl Engine,
        rx: mpsc::UnboundedReceiver<Pending>,
        gate: &AppsGate,
    ) {
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) })
            .for_each_concurrent(ctx.target().concurrency, |p| self.grant(ctx, gate, p))
            .await;
    }

    async fn grant(&self, ctx: &impl Engine, gate: &AppsGate, p: Pending) {
        let Pending {
            job,
            mut out,
            user_id,
            check,
        } = p;
        // Halted: no outcome, so the row is `not_attempted` and the next run resumes it;
        // the ledger already says its user is made.
        if ctx.halted() {
            return;
        }
        if check {
            match self.app_access(ctx, gate, &user_id, &mut out).await {
                Ok(have) => {
                    let want = job.row.get(Field::Apps).unwrap_or("");
                    if crate::audit::same(Field::Apps, want, &have) {
                        settle(ctx, job.index, Ok(Some(out)));
                        return;
                    }
                }
                Err(RowError::Halted) => return,
                Err(e) => {
                    settle(ctx, job.index, Err(e));
                    return;
                }
            }
        }
        let before = out.status;
        let result = self.app_step(ctx, gate, &job, &user_id, &mut out).await;
        if check && out.status == Status::Created {
            // An existing user's access granted: the row updated it, nothing was made.
            out.status = Status::Updated;
        } else if check && out.status == Status::Partial && before == Status::Exists {
            out.status = Status::Failed;
        }
        settle(ctx, job.index, result.map(|()| Some(out)));
    }

    /// The apps user `user_id` is granted (`GET /apps/pegasus2.0?user=`, paced by the
    /// `/apps` limits; issue 28), as [`wire::granted_apps`] writes them. A failed read
    /// reads as no access, so the grant that follows is the repeatable `PUT`.
    async fn app_access(
        &self,
        ctx: &impl Engine,
        gate: &AppsGate,
        user_id: &str,
        out: &mut Outcome,
    ) -> Result<String, RowError> {
        gate.wait(ctx).await;
        let req = Request::get("/apps/pegasus2.0")
            .query("user", user_id)
            .limited_by(gate.per_second.clone());
        let reply = self.session.send(ctx, req).await;
        if ctx.halted() {
            return Err(RowError::Halted);
        }
        Ok(match reply {
            Ok(r) => {
                out.attempts += r.attempts;
                wire::granted_apps(&r).unwrap_or_default()
            }
            Err(e) => {
                out.attempts += e.attempts();
                String::new()
            }
        })
    }

    async fn app_step(
        &self,
        ctx: &impl Engine,
        gate: &AppsGate,
        job: &Job,
        user_id: &str,
        out: &mut Outcome,
    ) -> Result<(), RowError> {
        let key = job.key.as_str();
        gate.wait(ctx).await;
        let req = Request::new(Method::PUT, "/apps/pegasus2.0", Kind::Idempotent)
            .query("user", user_id)
            .json(wire::apps_body(&job.row))
            .limited_by(gate.per_second.clone());
        // The row is complete with its app access: both marks in one commit. PUT is
        // idempotent: whatever happened without an answer, repeating it later is safe.
        let also = [(STEP_COMPLETE, Some(user_id))];
        let wrote = ctx
            .write(
                Step {
                    also_done: &also,
                    ..Step::of(key, STEP_APP)
                },
                req,
                KeepIntent::Never,
                |req| self.session.send(ctx, req),
                |r| reply_id(r).unwrap_or_else(|| user_id.to_string()),
                out,
            )
            .await;
        let extra = match &wrote {
            Ok(Wrote::Done(r) | Wrote::Refused(r)) => r.attempts.saturating_sub(1),
            Ok(Wrote::Failed(e)) => e.attempts().saturating_sub(1),
            Err(_) => 0,
        };
        if let (Some(w), true) = (&gate.per_minute, extra > 0) {
            w.count(extra).await;
        }
        match wrote? {
            Wrote::Done(r) => {
                out.http_status = Some(r.status);
                let id = reply_id(&r).unwrap_or_else(|| user_id.to_string());
                out.other_ids.push(side("app", &id));
                out.status = Status::Created;
            }
            Wrote::Refused(r) => {
                out.status = Status::Partial;
                out.http_status = Some(r.status);
                out.error = Some(format!(
                    "user {user_id} is there, but app access failed: {}; a re-run grants only the app access",
                    readable(&r)
                ));
            }
            Wrote::Failed(e) => {
                out.status = Status::Partial;
                out.http_status = e.status();
                out.error = Some(format!(
                    "user {user_id} is there, but app access failed: {e}; a re-run grants only the app access"
                ));
            }
        }
        Ok(())
    }
}

impl Vendor for Pegasus {
    /// Every user of the account (paged through `GET /users`), inactive ones included
    /// (`active: false`), `company` from the names of their groups.
    async fn list_users(
        &self,
        ctx: &impl Engine,
        want: &super::Want,
    ) -> Result<Vec<PlatformUser>, VendorError> {
        let users = client::read_users(ctx, &self.session).await?;
        let groups = client::read_groups(ctx, &self.session, &[]).await?;
        let mut listed: Vec<PlatformUser> = users
            .order
            .iter()
            .filter_map(|id| users.by_id.get(id))
            .filter_map(|u| wire::platform_user(u, &groups.names))
            .collect();
        if want.has(Field::Apps) {
            // Issue 28: one `GET /apps/pegasus2.0?user=` per user, paced by the `/apps`
            // limits, only when the roster has an apps column.
            let gate = AppsGate::of(ctx);
            for user in &mut listed {
                let req = Request::get("/apps/pegasus2.0")
                    .query("user", &user.id)
                    .limited_by(gate.per_second.clone());
                gate.wait(ctx).await;
                let reply = self
                    .session
                    .send(ctx, req)
                    .await
                    .map_err(|e| VendorError::from_send("GET /apps/pegasus2.0", e))?;
                let apps = wire::granted_apps(&reply).map_err(|e| {
                    VendorError::Unavailable(format!("GET /apps/pegasus2.0?user={}: {e}", user.id))
                })?;
                user.fields.push((Field::Apps, apps));
            }
        }
        Ok(listed)
    }

    async fn probe(&self, ctx: &impl Engine) -> Result<(), VendorError> {
        self.session.login(ctx).await?;
        if let Some(me) = self.session.check_scopes(ctx).await? {
            let _ = self.me.set(me);
        }
        Ok(())
    }

    fn logged_in_as(&self) -> Option<String> {
        self.me.get().cloned()
    }

    async fn run(&self, ctx: &impl Engine, jobs: Vec<Job>) -> Result<(), VendorError> {
        let existing = self.existing(ctx, &jobs).await?;
        let gate = AppsGate::of(ctx);
        // The `/apps` limits pace every row that is granted app access.
        let paces = [
            gate.per_second.pace(),
            gate.per_minute.as_ref().map(Window::pace),
        ];
        for pace in paces.into_iter().flatten() {
            ctx.http().tell(Paced::Allowed(pace));
        }
        let (tx, rx) = mpsc::unbounded_channel::<Pending>();
        let existing = &existing;
        let users = async move {
            let tx = tx;
            ctx.for_each(jobs, |job| {
                let tx = tx.clone();
                async move {
                    if let Some(p) = self.first_phase(ctx, existing, job).await {
                        // The receiver lives until every sender is gone.
                        let _ = tx.send(p);
                    }
                }
            })
            .await;
        };
        tokio::join!(users, self.grant_all(ctx, rx, &gate));
        Ok(())
    }
}

fn group_key(company: &str) -> String {
    format!("group:{company}")
}

/// The id of a step the ledger knows as done.
fn done_id(ctx: &impl Engine, key: &str, step: &str) -> Option<String> {
    ctx.ledger(key, step)
        .filter(|s| s.state == StepState::Done)
        .and_then(|s| s.id.clone())
}

fn side(kind: &str, id: &str) -> SideId {
    SideId {
        kind: kind.into(),
        id: id.into(),
    }
}
